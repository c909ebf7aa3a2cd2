"""Test-set evaluation: every static UF and the routed model, overall and per SNR bucket.

For each utterance the noisy input and every mode (static UFs, ``"auto"``, and
any cap such as ``"max=0.5"``) are scored with PESQ-WB, STOI and SI-SDR (DNSMOS on
request), together with the mean UF and the MACs per sample actually spent
(router included). The routed model is also run on the *clean* inputs to see
whether it saves compute on noise-free speech. Results go to ``results.json``,
``results.md`` and a Pareto plot ``pareto.png`` (PESQ vs MACs/sample: static
UFs as a line, routed modes as points).

Authors
 * speechbrain-slim contributors 2026
"""

import json
import os

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_slim.metrics import dnsmos, pesq_wb, si_sdr, stoi
from speechbrain_slim.quality_stats import summarise_rows
from speechbrain_slim.routing import route

__all__ = ["evaluate", "format_results", "paired_gain", "pareto_plot", "evaluate_experiment",
           "score_signal", "summarise_scores"]

METRICS = ("pesq", "stoi", "si_sdr")


def score_signal(clean, signal, sample_rate, with_dnsmos=False):
    """The quality scores of one enhanced (or noisy) signal against its clean reference.

    Arguments
    ---------
    clean : torch.Tensor
        ``[time]`` clean reference.
    signal : torch.Tensor
        ``[time]`` signal to score.
    sample_rate : int
        Sample rate of both.
    with_dnsmos : bool
        Add DNSMOS overall (``dnsmos_ovrl``; needs the optional ONNX model).

    Returns
    -------
    dict
        ``pesq`` (PESQ-WB), ``stoi``, ``si_sdr`` (dB) and, on request, ``dnsmos_ovrl``.

    Example
    -------
    >>> clean = torch.sin(torch.arange(16000) * 0.05) * torch.rand(16000)
    >>> scores = score_signal(clean, clean + 0.01 * torch.randn(16000), 16000)
    >>> sorted(scores), scores["si_sdr"] > 20
    (['pesq', 'si_sdr', 'stoi'], True)
    """
    scores = {
        "pesq": float(pesq_wb(clean, signal, sample_rate)),
        "stoi": float(stoi(clean, signal, sample_rate)),
        "si_sdr": float(si_sdr(signal, clean)),
    }
    if with_dnsmos:
        scores["dnsmos_ovrl"] = float(dnsmos(signal, sample_rate)["ovrl_mos"])
    return scores


def summarise_scores(rows):
    """Mean of every numeric score over ``rows`` (one dict per item), with the item count.

    ``snr_db`` and ``id`` are not scores; a score that is NaN for some items (a metric
    that failed) is averaged over the others and its failures counted in
    ``<key>_failed``.

    Arguments
    ---------
    rows : list of dict
        Per-item scores, e.g. from :func:`score_signal`.

    Returns
    -------
    dict
        ``count`` and the mean of each score.

    Example
    -------
    >>> summarise_scores([{"snr_db": 0, "pesq": 2.0}, {"snr_db": 5, "pesq": float("nan")}])
    {'count': 2, 'pesq': 2.0, 'pesq_failed': 1}
    """
    keys = sorted({k for row in rows for k, v in row.items()
                   if k not in ("snr_db", "id") and isinstance(v, (int, float))})
    return summarise_rows(rows, keys)


def paired_gain(rows, noisy_rows, key, resamples=2000, seed=0):
    """Mean per-item gain ``rows[i][key] - noisy_rows[i][key]`` with a 95% bootstrap interval.

    Items are resampled with replacement (``resamples`` times, seeded), so the interval
    says how sure the mean gain is for this many items; a gain whose interval excludes 0
    is one the split can tell apart from no change.

    Example
    -------
    >>> noisy = [{"stoi": 0.8}, {"stoi": 0.7}, {"stoi": 0.9}, {"stoi": 0.6}]
    >>> better = [{"stoi": r["stoi"] + 0.01} for r in noisy]
    >>> gain = paired_gain(better, noisy, "stoi")
    >>> round(gain["mean"], 3), [round(v, 3) for v in gain["ci95"]]
    (0.01, [0.01, 0.01])
    """
    gains = np.array([row[key] - base[key] for row, base in zip(rows, noisy_rows)], dtype=float)
    gains = gains[~np.isnan(gains)]
    if len(gains) == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")]}
    rng = np.random.default_rng(seed)
    means = gains[rng.integers(0, len(gains), size=(resamples, len(gains)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(gains.mean()), "ci95": [float(low), float(high)]}


def evaluate(model, router, dataset, modes=(0.125, 0.25, 0.5, 1.0, "auto"), limit=None,
             with_dnsmos=False, progress=True):
    """Scores the noisy input and every mode on ``dataset``.

    Arguments
    ---------
    model : SlimDemucs
        The backbone.
    router : Router or None
        The router (needed for routed modes).
    dataset : iterable
        Items with ``id``, ``noisy_sig``, ``clean_sig`` and optionally ``snr_db``.
    modes : sequence
        UF specs (see :func:`speechbrain_slim.routing.parse_uf`).
    limit : int, optional
        Evaluate only the first ``limit`` items.
    with_dnsmos : bool
        Also score DNSMOS (slow: seconds per clip).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"noisy": summary, "modes": {mode: summary}, "by_snr": {mode: {snr: summary}},
        "gain_over_noisy": {mode: {metric: paired_gain}}, "clean_input": {...}}``; a
        summary holds the means of every metric, ``mean_uf`` and ``macs_per_sample``;
        ``clean_input`` is the first routed mode run on each clean reference itself (its
        mean UF, the share of frames at the smallest UF, and the scores of its output
        against that input: what the model does to noise-free speech).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    >>> import math
    >>> t = torch.arange(16000) / 16000
    >>> clean = 0.3 * torch.sin(2 * math.pi * 220 * t) * (t > 0.2)
    >>> item = {"id": "x", "noisy_sig": clean + 0.01 * torch.randn(16000), "clean_sig": clean}
    >>> results = evaluate(model, None, [item], modes=(1.0,), progress=False)
    >>> sorted(results["modes"]["1.0"])[:3]
    ['count', 'macs_per_sample', 'mean_uf']
    """
    sample_rate = model.sample_rate
    count = len(dataset) if limit is None else min(limit, len(dataset))
    items = [dataset[index] for index in range(count)]
    per_mode = {str(mode): [] for mode in modes}
    noisy_rows, clean_rows = [], []
    routed = [m for m in modes if str(m) == "auto" or str(m).startswith("max=")]
    device = next(model.parameters()).device  # scored on the CPU, enhanced where the model is
    with torch.inference_mode():
        for item in tqdm(items, desc="evaluating", disable=not progress):
            noisy, clean = item["noisy_sig"].float(), item["clean_sig"].float()
            snr = item.get("snr_db")
            noisy_rows.append(
                {"snr_db": snr, **score_signal(clean, noisy, sample_rate, with_dnsmos)})
            for mode in modes:
                enhanced, info = route(model, router, noisy.unsqueeze(0).to(device), mode)
                row = score_signal(clean, enhanced[0].cpu(), sample_rate, with_dnsmos)
                row.update(
                    snr_db=snr,
                    mean_uf=float(info["mean_uf"][0]),
                    macs_per_sample=float(info["macs_per_sample"][0]),
                )
                per_mode[str(mode)].append(row)
            if routed and float(clean.abs().max()) > 0:
                # what the routed model does to noise-free speech: its width and its damage
                kept, info = route(model, router, clean.unsqueeze(0).to(device), routed[0])
                track = info["track"][0].cpu()
                clean_rows.append(
                    {
                        "mean_uf": float(track.mean()),
                        "smallest_uf_share": float((track == min(model.ufs)).float().mean()),
                        **score_signal(clean, kept[0].cpu(), sample_rate, False),
                    }
                )
    results = {
        "noisy": summarise_scores(noisy_rows),
        "modes": {mode: summarise_scores(rows) for mode, rows in per_mode.items()},
        "by_snr": {},
        "gain_over_noisy": {
            mode: {key: paired_gain(rows, noisy_rows, key) for key in METRICS}
            for mode, rows in per_mode.items()
        },
        "clean_input": summarise_scores(clean_rows) if clean_rows else {},
    }
    snrs = sorted({row["snr_db"] for row in noisy_rows if row["snr_db"] is not None})
    for mode, rows in [("noisy", noisy_rows), *per_mode.items()]:
        results["by_snr"][mode] = {
            f"{snr:g}": summarise_scores([r for r in rows if r["snr_db"] == snr]) for snr in snrs
        }
    return results


def format_results(results):
    """Markdown tables: overall per mode, and PESQ / mean UF per SNR bucket."""
    lines = [
        "| input | PESQ | STOI | SI-SDR (dB) | mean UF | MACs/sample |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    noisy = results["noisy"]
    lines.append(
        f"| noisy | {noisy['pesq']:.3f} | {noisy['stoi']:.3f} | {noisy['si_sdr']:.2f} | | |"
    )
    for mode, row in results["modes"].items():
        label = f"UF {mode}" if mode[0].isdigit() else mode
        lines.append(
            f"| {label} | {row['pesq']:.3f} | {row['stoi']:.3f} | {row['si_sdr']:.2f} "
            f"| {row['mean_uf']:.3f} | {row['macs_per_sample']:,.0f} |"
        )
    snrs = list(next(iter(results["by_snr"].values()), {}))
    if snrs:
        lines += ["", "PESQ (mean UF) per SNR bucket (dB):", ""]
        lines.append("| input | " + " | ".join(snrs) + " |")
        lines.append("|---|" + "---:|" * len(snrs))
        for mode, buckets in results["by_snr"].items():
            cells = []
            for snr in snrs:
                bucket = buckets[snr]
                uf = bucket.get("mean_uf")
                cells.append(f"{bucket['pesq']:.2f}" + ("" if uf is None else f" ({uf:.2f})"))
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    gains = results.get("gain_over_noisy")
    if gains:
        lines += ["", "Gain over the noisy input, mean [95% bootstrap interval over items]:", ""]
        lines += ["| input | PESQ | STOI | SI-SDR (dB) |", "|---|---:|---:|---:|"]
        for mode, row in gains.items():
            cells = [f"{row[k]['mean']:+.3f} [{row[k]['ci95'][0]:+.3f}, {row[k]['ci95'][1]:+.3f}]"
                     for k in METRICS]
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    clean = results.get("clean_input")
    if clean:
        lines += [
            "",
            f"Router on noise-free input: mean UF {clean['mean_uf']:.3f}, "
            f"{100 * clean['smallest_uf_share']:.0f}% of frames at the smallest UF"
            + (f"; output against the input: STOI {clean['stoi']:.3f}, SI-SDR "
               f"{clean['si_sdr']:.1f} dB." if "stoi" in clean else "."),
        ]
    return "\n".join(lines)


def pareto_plot(results, path, oracle=None):
    """PESQ vs MACs/sample: static UFs as a line, routed modes as points, and ``oracle``
    (``[(macs, pesq), ...]``, e.g. the per-utterance bound of
    ``benchmarks/utterance_oracle.py``) as a dashed line when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    static = [(r["macs_per_sample"], r["pesq"], m) for m, r in results["modes"].items()
              if m[0].isdigit()]
    routed = [(r["macs_per_sample"], r["pesq"], m) for m, r in results["modes"].items()
              if not m[0].isdigit()]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    if static:
        static.sort()
        axes.plot([s[0] for s in static], [s[1] for s in static], "o-", label="static UF")
        for x, y, mode in static:
            axes.annotate(mode, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
    # "auto" last and smaller, so that a cap which routes the same (e.g. max=0.5) stays visible
    for x, y, mode in sorted(routed, key=lambda r: r[2] == "auto"):
        axes.plot(x, y, "*" if mode == "auto" else "X", markersize=8 if mode == "auto" else 11,
                  label=f"routed {mode}")
    if oracle:
        axes.plot([m for m, _ in oracle], [p for _, p in oracle], "--", color="black",
                  linewidth=1, label="per-utterance oracle")
    axes.axhline(results["noisy"]["pesq"], color="grey", linestyle=":", label="noisy input")
    axes.set_xlabel("MACs per input sample")
    axes.set_ylabel("PESQ-WB")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def recover_best(hparams):
    """Loads the best checkpoint of the latest trained stage into ``hparams``' modules.

    Returns ``(stage, checkpoint)`` (a SpeechBrain ``Checkpoint``), ``(None, None)`` when
    no stage has checkpoints; the modules are left in eval mode.
    """
    from speechbrain.utils.checkpoints import Checkpointer

    from speechbrain_slim.brain import STAGES, select_key

    modules = {"model": hparams["model"], "router": hparams["router"]}
    stage = checkpoint = None
    for candidate in reversed(STAGES):
        checkpointer = Checkpointer(
            os.path.join(hparams["save_folder"], candidate), recoverables=modules
        )
        if checkpointer.list_checkpoints():
            checkpoint = checkpointer.recover_if_possible(max_key=select_key(hparams))
            stage = candidate
            break
    for module in modules.values():
        module.eval()
    return stage, checkpoint


def router_was_trained(hparams, stage):
    """Whether the checkpoint's router is a trained one: a routed stage trained it, or
    ``init_from`` (a hub folder with ``router.*`` weights) supplied it to a backbone run."""
    from speechbrain_slim.brain import ROUTED_STAGES

    if stage in ROUTED_STAGES:
        return True
    source = hparams.get("init_from")
    if not source:
        return False
    state = torch.load(os.path.join(source, "enhance_model.ckpt"), map_location="cpu",
                       weights_only=True)
    return any(key.startswith("router.") for key in state)


def evaluate_experiment(hparams, datasets):
    """Evaluates the best checkpoint of the latest trained stage; writes the reports."""
    stage, _ = recover_best(hparams)
    modes = list(hparams["model"].ufs)
    router = None
    if router_was_trained(hparams, stage):
        router = hparams["router"]
        modes += list(hparams.get("eval_routed_modes") or ["auto"])
    results = evaluate(
        hparams["model"],
        router,
        datasets["test"],
        modes=modes,
        limit=hparams.get("eval_limit"),
        with_dnsmos=hparams.get("eval_dnsmos", False),
    )
    results["stage"] = stage
    folder = hparams["output_folder"]
    with open(os.path.join(folder, "results.json"), "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=2)
    table = format_results(results)
    with open(os.path.join(folder, "results.md"), "w", encoding="utf-8") as stream:
        stream.write(table + "\n")
    pareto_plot(results, os.path.join(folder, "pareto.png"))
    print(table)
    return results
