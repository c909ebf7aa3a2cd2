"""Routed passes: wall time along a per-frame decision track vs the time its UF shares predict.

The model is the recipe's (``hparams/slim_demucs.yaml``: hidden=32, grouped GRU,
running normalisation), 10 s of audio, batch 1, one thread, inference mode. The
static passes give a wall time per UF; a track with a share ``p_j`` of its frames
at each UF is predicted to take ``sum_j p_j * time(UF_j)``, and the ratio
measured / predicted is the overhead of switching widths along the track.

Tracks (one decision per bottleneck frame, 16 ms):

* ``runs m``: piecewise constant, as a router's decisions are: run lengths drawn
  from a geometric distribution of mean ``m`` frames, each run at a UF other than
  the previous run's (uniform, or skewed toward small UFs as a router trained for
  a low target is);
* ``i.i.d.``: every frame's UF drawn independently (the worst case: a router that
  switches almost every frame).

Every pass is timed round-robin in the same run (best of ``--repeats``), so the
ratios are measured side by side under the same machine load. Wall time is the
measure; the thread's CPU time is reported next to it, as it is much less
disturbed by other processes on a shared machine.

Usage::

    python benchmarks/routed_speed.py [--seconds 10] [--repeats 5] [--json out.json]

Authors
 * speechbrain-slim contributors 2026
"""

import math
import os

import torch

from speechbrain_slim.complexity import load_model

HPARAMS = os.path.join(os.path.dirname(__file__), "..", "hparams", "slim_demucs.yaml")
TARGET = 1.3
UNIFORM = (0.25, 0.25, 0.25, 0.25)
SKEWED = (0.55, 0.25, 0.12, 0.08)
# name -> (mean run length in frames or None for i.i.d., UF probabilities, target applies)
TRACKS = {
    "runs 8": (8, UNIFORM, True),
    "runs 16": (16, UNIFORM, True),
    "runs 12, skewed low": (12, SKEWED, True),
    "i.i.d.": (None, UNIFORM, False),
}


def switching_track(ufs, frames, mean_run, probs, generator):
    """A ``[1, frames]`` track: geometric runs of mean ``mean_run`` (None: i.i.d. frames).

    Arguments
    ---------
    ufs : sequence of float
        The model's UFs.
    frames : int
        Bottleneck frames.
    mean_run : float or None
        Mean run length; each run takes a UF other than the previous run's.
    probs : sequence of float
        Probability of each UF.
    generator : torch.Generator
        Random source.

    Returns
    -------
    torch.Tensor
    """
    probs = torch.tensor(probs, dtype=torch.float64)
    if mean_run is None:
        index = torch.multinomial(probs, frames, replacement=True, generator=generator)
        return torch.tensor(ufs)[index].unsqueeze(0)
    values, previous = [], None
    while len(values) < frames:
        weights = probs.clone()
        if previous is not None:
            weights[previous] = 0
        previous = int(torch.multinomial(weights, 1, generator=generator))
        # geometric on {1, 2, ...} with mean mean_run
        uniform = float(torch.rand((), generator=generator, dtype=torch.float64))
        run = 1 + int(math.log1p(-uniform) / math.log1p(-1 / mean_run))
        values += [ufs[previous]] * run
    return torch.tensor(values[:frames]).unsqueeze(0)


def mean_run_length(track):
    """Mean length of the constant runs of a ``[1, frames]`` track."""
    changes = int((track[:, 1:] != track[:, :-1]).sum())
    return track.shape[1] / (changes + 1)


def run(seconds=10.0, repeats=5, hparams=HPARAMS):
    """Times the static passes and the routed ones round-robin; returns a dict of results."""
    from common import best_times

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = load_model(hparams).eval()
    noisy = torch.randn(1, int(seconds * 16000)) * 0.1
    frames = model.bottleneck_frames(noisy.shape[-1])
    tracks = {
        name: switching_track(model.ufs, frames, mean_run, probs, generator)
        for name, (mean_run, probs, _) in TRACKS.items()
    }
    candidates = {f"static {uf:g}": (lambda uf=uf: model(noisy, uf)) for uf in model.ufs}
    for name, track in tracks.items():
        candidates[name] = lambda track=track: model(noisy, track)
    times, cpu = best_times(candidates, repeats)
    rows = []
    for name, track in tracks.items():
        shares = [float((track == uf).float().mean()) for uf in model.ufs]
        predicted = sum(s * times[f"static {uf:g}"] for s, uf in zip(shares, model.ufs))
        predicted_cpu = sum(s * cpu[f"static {uf:g}"] for s, uf in zip(shares, model.ufs))
        measured = times[name]
        rows.append(
            {
                "track": name,
                "mean_run_frames": mean_run_length(track),
                "shares": dict(zip((f"{uf:g}" for uf in model.ufs), shares)),
                "mean_uf": float(track.mean()),
                "measured_s": measured,
                "predicted_s": predicted,
                "ratio": measured / predicted,
                "cpu_measured_s": cpu[name],
                "cpu_predicted_s": predicted_cpu,
                "cpu_ratio": cpu[name] / predicted_cpu,
                "target": TARGET if TRACKS[name][2] else None,
            }
        )
    return {
        "audio_seconds": seconds,
        "threads": 1,
        "batch": 1,
        "repeats": repeats,
        "hparams": os.path.relpath(hparams, os.path.join(os.path.dirname(__file__), "..")),
        "static_s": {f"{uf:g}": times[f"static {uf:g}"] for uf in model.ufs},
        "static_cpu_s": {f"{uf:g}": cpu[f"static {uf:g}"] for uf in model.ufs},
        "tracks": rows,
    }


def format_result(result):
    """Renders the result as markdown."""
    static = ", ".join(f"UF {uf}: {s:.3f} s" for uf, s in result["static_s"].items())
    lines = [
        f"Routed passes, `{result['hparams']}`, {result['audio_seconds']:g} s of audio, "
        f"batch {result['batch']}, {result['threads']} thread (static: {static}):",
        "",
        "| track | mean run (frames) | mean UF | measured (s) | predicted (s) | ratio "
        "| CPU-time ratio | target | met |",
        "|:--|---:|---:|---:|---:|---:|---:|---:|:--:|",
    ]
    for row in result["tracks"]:
        target = row["target"]
        met = "" if target is None else ("yes" if row["ratio"] <= target else "no")
        lines.append(
            f"| {row['track']} | {row['mean_run_frames']:.1f} | {row['mean_uf']:.3f} "
            f"| {row['measured_s']:.3f} | {row['predicted_s']:.3f} | {row['ratio']:.2f} "
            f"| {row['cpu_ratio']:.2f} "
            f"| {'' if target is None else f'<= {target}'} | {met} |"
        )
    return "\n".join(lines)


def main(argv=None):
    from common import benchmark_main

    hparams = {"default": HPARAMS, "help": "HyperPyYAML file with a `model:`"}
    benchmark_main(__doc__, run, format_result, repeats=5, argv=argv,
                   extra={"hparams": hparams})


if __name__ == "__main__":
    main()
