"""The command line every benchmark script shares: ``--seconds``, ``--repeats``, ``--json``.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json


def benchmark_main(doc, run, format_result, repeats=5, argv=None, extra=None):
    """Parses the shared options, runs ``run(seconds, repeats, **extra)``, prints the table.

    Arguments
    ---------
    doc : str
        The script's module docstring (its first line describes the command).
    run : callable
        ``run(seconds, repeats, **options)`` returning a JSON-able dict.
    format_result : callable
        Renders that dict as markdown.
    repeats : int
        Default ``--repeats``.
    argv : list of str, optional
        Command line (default: ``sys.argv``).
    extra : dict, optional
        Further options: name -> ``argparse.add_argument`` keyword arguments; their values
        are passed to ``run`` by name.

    Returns
    -------
    dict
        What ``run`` returned.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--json", help="also write the result to this JSON file")
    for name, kwargs in (extra or {}).items():
        parser.add_argument(f"--{name}", **kwargs)
    args = parser.parse_args(argv)
    options = {name: getattr(args, name) for name in (extra or {})}
    result = run(args.seconds, args.repeats, **options)
    print(format_result(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    return result
