"""What the benchmark scripts share: round-robin timing and the ``--seconds``, ``--repeats``,
``--json`` command line; for the quality scripts, a trained backbone, a split's mixtures
and per-run scores.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import os
import time

import numpy as np
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


def load_backbone(hparams_file, checkpoint):
    """The hparams' SlimDemucs with the weights of ``checkpoint`` (a CKPT folder or a file)."""
    from hyperpyyaml import load_hyperpyyaml

    with open(hparams_file, encoding="utf-8") as stream:
        model = load_hyperpyyaml(stream)["model"]
    path = os.path.join(checkpoint, "model.ckpt") if os.path.isdir(checkpoint) else checkpoint
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def split_model_parser(doc, manifest_help):
    """A parser for ``MANIFEST (--source HUB | --hparams H --checkpoint CKPT) [--limit N]``,
    the command line of the scripts that score a trained backbone on a split."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("manifest", help=manifest_help)
    parser.add_argument("--source", help="a hub folder (e.g. hub/slim-demucs-embedded)")
    parser.add_argument("--hparams", help="with --checkpoint: the recipe's hparams")
    parser.add_argument("--checkpoint", help="a stage's CKPT+ folder or a model.ckpt file")
    parser.add_argument("--limit", type=int, default=None)
    return parser


def model_from_args(parser, args):
    """The SlimDemucs that :func:`split_model_parser`'s ``args`` name (eval mode)."""
    if args.source:
        import tempfile

        from speechbrain_slim.cli import load_enhancer

        with tempfile.TemporaryDirectory() as savedir:
            return load_enhancer(args.source, savedir=savedir).model.eval()
    if not (args.hparams and args.checkpoint):
        parser.error("give --source, or --hparams and --checkpoint")
    return load_backbone(args.hparams, args.checkpoint)


def mixtures(manifest, limit=None):
    """``(item, noisy, clean)`` of a split's manifest (its folder is the data root),
    ``noisy`` and ``clean`` as ``[1, time]``; the first ``limit`` items if given."""
    from speechbrain_slim.data.recipe_data import paired_dataset

    data = paired_dataset(manifest, os.path.dirname(os.path.abspath(manifest)))
    for index in range(len(data) if limit is None else min(limit, len(data))):
        item = data[index]
        yield item, item["noisy_sig"].unsqueeze(0), item["clean_sig"].unsqueeze(0)


def score_runs(scores, runs, clean):
    """Adds mean UF, MACs per sample, PESQ-WB and SI-SDR of each ``name -> (enhanced, info)``
    (SlimDemucs outputs for one item) to ``scores[name]``."""
    from speechbrain_slim.metrics import pesq_wb, si_sdr

    for name, (out, info) in runs.items():
        row = scores.setdefault(name, {"mean_uf": [], "macs": [], "pesq": [], "si_sdr": []})
        row["mean_uf"].append(float(info["mean_uf"][0]))
        row["macs"].append(float(info["macs_per_sample"][0]))
        row["pesq"].append(float(pesq_wb(clean[0], out[0])))
        row["si_sdr"].append(float(si_sdr(out[0], clean[0])))


def mean_rows(scores):
    """``[{mode, <metric>: mean}]`` from :func:`score_runs`' ``scores``, in insertion order."""
    return [{"mode": name, **{key: float(np.mean(values)) for key, values in row.items()}}
            for name, row in scores.items()]
