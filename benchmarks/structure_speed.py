"""Which backbone structure lets the UFs save time: CPU time per UF for several SlimDemucs
shapes (random weights), offline and streaming, side by side.

Issue 17 asks for time(UF 0.125) / time(UF 1) <= 0.35 (0.30 for the paper config) and, where
a hidden=16 model cannot get there, for the structure that does. The MACs a UF saves are in
the slimmed convolutions; what it cannot save is the fixed part (input normalisation, the x4
sinc resampling, the never-slimmed bottleneck, the full-width block outputs the paper's method
keeps, per-op overhead). Wider blocks make the slimmed part larger; no resampling removes the
level that runs at 64 kHz. For every candidate this script times, round-robin in one run:

* offline: one pass of ``model(noisy, uf)`` over ``--seconds`` of audio, batch 1, every UF
  (CPU time of this thread, best of ``--repeats``);
* streaming: :class:`~speechbrain_slim.streaming.StreamingEnhancer` fed 256-sample chunks
  (16 ms, one bottleneck frame of every candidate here), median time per feed at UF 0.125
  and 1, as a real-time factor;

next to MACs per sample, parameters and the streaming latency.

Usage::

    python benchmarks/structure_speed.py [--seconds 10] [--repeats 5] [--json out.json]

(``benchmarks/report/structure.json`` and ``structure.md`` are its committed output.)

Authors
 * speechbrain-slim contributors 2026
"""

import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import benchmark_main, best_times  # noqa: E402
from streaming_speed import slim_candidate  # noqa: E402

from speechbrain_slim.complexity import macs_per_uf  # noqa: E402
from speechbrain_slim.lobes.slim_demucs import SlimDemucs  # noqa: E402
from speechbrain_slim.streaming import StreamingEnhancer  # noqa: E402

__all__ = ["CANDIDATES", "run", "format_result", "main"]

RATE = 16000
CHUNK = 256
COMMON = dict(kernel_size=8, stride=4, causal=True, growth=2, normalize="running", residual=True,
              bottleneck="grouped_gru", bottleneck_layers=1, ufs=[0.125, 0.25, 0.5, 1.0])
CANDIDATES = {  # name -> hidden, depth, resample, GRU groups
    "shipped (16, depth 5, x4)": dict(hidden=16, depth=5, resample=4, gru_groups=4),
    "paper (32, depth 5, x4)": dict(hidden=32, depth=5, resample=4, gru_groups=4),
    "32, depth 4, x1": dict(hidden=32, depth=4, resample=1, gru_groups=4),
    "48, depth 4, x1": dict(hidden=48, depth=4, resample=1, gru_groups=4),
    "48, depth 4, x1, 8 groups": dict(hidden=48, depth=4, resample=1, gru_groups=8),
    "64, depth 4, x1, 8 groups": dict(hidden=64, depth=4, resample=1, gru_groups=8),
    "64, depth 4, x1, 16 groups": dict(hidden=64, depth=4, resample=1, gru_groups=16),
    "96, depth 4, x1, 16 groups": dict(hidden=96, depth=4, resample=1, gru_groups=16),
}
TARGET = 0.35


def build(shape):
    """A random-weight SlimDemucs of ``shape`` (see :data:`CANDIDATES`), in eval mode."""
    torch.manual_seed(0)
    return SlimDemucs(**COMMON, **shape).eval()


def streaming_seconds(model, uf, noisy, repeats):
    """Median CPU seconds per 256-sample feed (the first 8 feeds, which fill the lookahead,
    left out), best of ``repeats`` streams (``streaming_speed.slim_candidate``'s timing)."""
    stream, _, _ = slim_candidate(model, uf=uf)
    chunks = noisy[: noisy.shape[0] // CHUNK * CHUNK].split(CHUNK)
    return min(statistics.median(stream(chunks)[1][8:]) for _ in range(repeats))


def run(seconds=10.0, repeats=5, stream_seconds=4.0):
    """Times every candidate; returns a JSON-able dict (``rows``: one per candidate)."""
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    noisy = 0.1 * torch.randn(1, int(seconds * RATE), generator=generator)
    models = {name: build(shape) for name, shape in CANDIDATES.items()}
    offline = {f"{name}|{uf}": (lambda m=model, uf=uf: m(noisy, uf))
               for name, model in models.items() for uf in model.ufs}
    _, cpu = best_times(offline, repeats)
    stream_input = noisy[0, : int(stream_seconds * RATE)]
    rows = []
    for name, model in models.items():
        with torch.inference_mode():
            stream = {uf: streaming_seconds(model, uf, stream_input, max(1, repeats // 2))
                      for uf in (0.125, 1.0)}
        times = {uf: cpu[f"{name}|{uf}"] for uf in model.ufs}
        macs = dict(zip(model.ufs, macs_per_uf(model)))
        rows.append({
            "name": name, **CANDIDATES[name],
            "parameters": sum(p.numel() for p in model.parameters()),
            "latency_ms": StreamingEnhancer(model, uf=1.0).latency_ms,
            "macs_per_sample": {str(uf): macs[uf] for uf in model.ufs},
            "offline_ms": {str(uf): 1000 * times[uf] for uf in model.ufs},
            "offline_ratio": times[0.125] / times[1.0],
            "macs_ratio": macs[0.125] / macs[1.0],
            "stream_rtf": {str(uf): stream[uf] * RATE / CHUNK for uf in stream},
            "stream_ratio": stream[0.125] / stream[1.0],
        })
    return {"seconds": seconds, "repeats": repeats, "stream_seconds": stream_seconds,
            "threads": 1, "target_ratio": TARGET, "rows": rows}


def format_result(result):
    """The result as a markdown table."""
    lines = [
        f"Random-weight SlimDemucs shapes, {result['seconds']:g} s of audio, batch 1, 1 thread, "
        f"CPU time best of {result['repeats']} (offline, every UF round-robin); streaming: "
        f"256-sample feeds over {result['stream_seconds']:g} s, median feed. Target: time(UF "
        f"0.125) / time(UF 1) <= {result['target_ratio']}.",
        "",
        "| structure | params | MACs/sample UF 1 | MACs 0.125 / 1 | offline ms UF 0.125 / 1 "
        "| offline time 0.125 / 1 | stream RTF UF 0.125 / 1 | stream time 0.125 / 1 "
        "| latency ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        off, rtf = row["offline_ms"], row["stream_rtf"]
        lines.append(
            f"| {row['name']} | {row['parameters'] / 1e6:.2f} M "
            f"| {row['macs_per_sample']['1.0']:,.0f} | {row['macs_ratio']:.2f} "
            f"| {off['0.125']:.1f} / {off['1.0']:.1f} | {row['offline_ratio']:.2f} "
            f"| {rtf['0.125']:.3f} / {rtf['1.0']:.3f} | {row['stream_ratio']:.2f} "
            f"| {row['latency_ms']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    """Command line: see the module docstring."""
    return benchmark_main(__doc__, run, format_result, argv=argv,
                          extra={"stream_seconds": {"type": float, "default": 4.0}})


if __name__ == "__main__":
    main()
