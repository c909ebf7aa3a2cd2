"""Routed passes: wall time along a per-frame decision track vs the time its MACs predict.

For the paper config, 10 s of audio, batch 1, one thread: the static passes give
a wall time per UF; a track with a share ``p_j`` of frames at each UF is predicted
to take ``sum_j p_j * time(UF_j)``. Tracks are random with runs of a given mean
length (a router that switches every frame is the worst case).

Usage::

    python benchmarks/routed_speed.py [--seconds 10] [--repeats 5]

Authors
 * speechbrain-slim contributors 2026
"""

import argparse

import torch

from speechbrain_slim.lobes.slim_demucs import SlimDemucs

PAPER = dict(hidden=32, depth=5, kernel_size=8, stride=4, resample=4, bottleneck="grouped_gru")
TARGET = 1.3


def random_track(model, length, mean_run, generator):
    """A [1, frames] track of random UFs held for runs of ``mean_run`` frames on average."""
    frames = model.bottleneck_frames(length)
    values, position = [], 0
    while position < frames:
        run = int(torch.randint(1, 2 * mean_run, (), generator=generator))
        uf = model.ufs[int(torch.randint(0, len(model.ufs), (), generator=generator))]
        values += [uf] * run
        position += run
    return torch.tensor(values[:frames]).unsqueeze(0)


def run(seconds=10.0, repeats=5):
    """Measures static and routed passes round-robin; returns rows per run length."""
    from backbone_speed import best_times

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = SlimDemucs(**PAPER).eval()
    noisy = torch.randn(1, int(seconds * 16000)) * 0.1
    tracks = {run: random_track(model, noisy.shape[-1], run, generator) for run in (1, 4, 16)}
    candidates = {f"static {uf:g}": (lambda uf=uf: model(noisy, uf)) for uf in model.ufs}
    for run_length, track in tracks.items():
        candidates[f"track {run_length}"] = lambda track=track: model(noisy, track)
    times = best_times(candidates, repeats)
    rows = []
    for run_length, track in tracks.items():
        shares = [float((track == uf).float().mean()) for uf in model.ufs]
        predicted = sum(s * times[f"static {uf:g}"] for s, uf in zip(shares, model.ufs))
        measured = times[f"track {run_length}"]
        rows.append(
            {
                "mean_run_frames": run_length,
                "mean_uf": float(track.mean()),
                "measured": measured,
                "predicted": predicted,
                "ratio": measured / predicted,
            }
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = run(args.seconds, args.repeats)
    print("| mean run (frames) | mean UF | measured (s) | predicted (s) | ratio | target |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['mean_run_frames']} | {row['mean_uf']:.3f} | {row['measured']:.3f} "
            f"| {row['predicted']:.3f} | {row['ratio']:.2f} | <= {TARGET} |"
        )


if __name__ == "__main__":
    main()
