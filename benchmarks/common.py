"""What the benchmark scripts share: round-robin timing and the ``--seconds``, ``--repeats``,
``--json`` command line.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import time

import torch


def best_times(candidates, repeats):
    """Times every ``name -> fn`` round-robin ``repeats`` times (after one warm-up each).

    Returns
    -------
    tuple of dict
        The best wall time and the best CPU time (this thread's) of each name, in seconds.
    """
    wall = {name: float("inf") for name in candidates}
    cpu = dict(wall)
    with torch.inference_mode():
        for fn in candidates.values():
            fn()  # warm-up
        for _ in range(repeats):
            for name, fn in candidates.items():
                start_wall, start_cpu = time.perf_counter(), time.thread_time()
                fn()
                cpu[name] = min(cpu[name], time.thread_time() - start_cpu)
                wall[name] = min(wall[name], time.perf_counter() - start_wall)
    return wall, cpu


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
