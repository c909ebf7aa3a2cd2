"""Backbone speed: wall time per UF next to the MAC ratio, and UF 1.0 against denoiser's Demucs.

One forward pass over 10 s of 16 kHz audio, batch 1, one thread, inference mode.
All models are timed round-robin in the same run (best of ``--repeats``), so
the ratios are measured side by side under the same machine load.

Usage::

    python benchmarks/backbone_speed.py [--seconds 10] [--repeats 5] [--json out.json]

Authors
 * speechbrain-slim contributors 2026
"""


import torch

from speechbrain_slim.complexity import macs_per_sample
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

PAPER = dict(hidden=32, depth=5, kernel_size=8, stride=4, resample=4, bottleneck="grouped_gru")
TARGET_RATIOS = {0.125: 0.40, 0.25: 0.50, 0.5: 0.70}
TARGET_VS_REFERENCE = 1.1


def run(seconds=10.0, repeats=5):
    """Runs the benchmark; returns a dict of results."""
    from common import best_times

    torch.set_num_threads(1)
    torch.manual_seed(0)
    noisy = torch.randn(1, int(seconds * 16000)) * 0.1
    paper = SlimDemucs(**PAPER).eval()
    candidates = {f"paper uf={uf:g}": (lambda uf=uf: paper(noisy, uf)) for uf in paper.ufs}

    reference = None
    try:
        from denoiser.demucs import Demucs

        reference = Demucs(hidden=48).eval()  # dns48
    except ImportError:
        print("denoiser is not installed: skipping the reference comparison")
    references = {}
    if reference is not None:
        references = {"dns48": reference, "hidden=32": Demucs(hidden=32).eval()}
    for name, demucs in references.items():
        slim = SlimDemucs.from_denoiser(demucs).eval()
        candidates[f"{name} slim uf=1"] = lambda slim=slim: slim(noisy, 1.0)
        candidates[f"{name} denoiser.Demucs"] = lambda demucs=demucs: demucs(noisy.unsqueeze(1))

    times, _ = best_times(candidates, repeats)
    full_time = times["paper uf=1"]
    full_macs = macs_per_sample(paper, 1.0)["total"]
    rows = []
    for uf in paper.ufs:
        rows.append(
            {
                "uf": uf,
                "seconds": times[f"paper uf={uf:g}"],
                "time_ratio": times[f"paper uf={uf:g}"] / full_time,
                "macs_per_sample": macs_per_sample(paper, uf)["total"],
                "mac_ratio": macs_per_sample(paper, uf)["total"] / full_macs,
                "target": TARGET_RATIOS.get(uf),
            }
        )
    result = {"audio_seconds": seconds, "threads": 1, "paper": rows}
    for name in references:
        result[name] = {
            "slim_seconds": times[f"{name} slim uf=1"],
            "reference_seconds": times[f"{name} denoiser.Demucs"],
            "ratio": times[f"{name} slim uf=1"] / times[f"{name} denoiser.Demucs"],
            "target": TARGET_VS_REFERENCE,
        }
    return result


def format_result(result):
    """Renders the result as markdown."""
    lines = [
        f"Paper config (hidden=32, grouped GRU), {result['audio_seconds']:g} s of audio, 1 thread:",
        "",
        "| UF | MACs/sample | wall time (s) | real-time factor | time / time(UF 1) "
        "| MACs / MACs(UF 1) | target | met |",
        "|---:|---:|---:|---:|---:|---:|---:|:--:|",
    ]
    for row in result["paper"]:
        target = row["target"]
        met = "" if target is None else ("yes" if row["time_ratio"] <= target else "no")
        lines.append(
            f"| {row['uf']:g} | {row['macs_per_sample']:,.0f} | {row['seconds']:.3f} "
            f"| {row['seconds'] / result['audio_seconds']:.4f} | {row['time_ratio']:.2f} "
            f"| {row['mac_ratio']:.2f} | {'' if target is None else f'<= {target:.2f}'} | {met} |"
        )
    references = [name for name in ("dns48", "hidden=32") if name in result]
    if references:
        lines += [
            "",
            "UF 1.0 vs `denoiser.demucs.Demucs` with the same weights (LSTM bottleneck), same "
            "input:",
            "",
            "| config | SlimDemucs (s) | denoiser Demucs (s) | ratio | target | met |",
            "|---|---:|---:|---:|---:|:--:|",
        ]
    for name in references:
        ref = result[name]
        met = "yes" if ref["ratio"] <= ref["target"] else "no"
        lines.append(
            f"| {name} | {ref['slim_seconds']:.3f} | {ref['reference_seconds']:.3f} "
            f"| {ref['ratio']:.2f} | <= {ref['target']:.1f} | {met} |"
        )
    return "\n".join(lines)


def main(argv=None):
    from common import benchmark_main

    benchmark_main(__doc__, run, format_result, repeats=5, argv=argv)


if __name__ == "__main__":
    main()
