"""Why the shipped model denoises little: what it does to each loss term, whether it can learn,
and what it does to speech that has no noise.

Three checks on a split's fixed mixtures (the valid split, so that the test split stays unused)::

    python benchmarks/learning_diagnostics.py data/real_corpus/valid.json \
        --source hub/slim-demucs-real --json benchmarks/report/diagnostics/real_valid.json

* **loss terms**: the task loss's terms (``speechbrain_slim.losses.EnhancementLoss``: waveform
  L1, multi-resolution STFT (spectral convergence + log magnitude), 1 - STOI), each on its
  own, for the noisy input and for the model at UF 1.0 and UF 0.125, on std-normalised
  audio as in training. A model that lowers the L1 but not the STFT terms mostly scales
  its input down instead of removing noise.
* **fit**: a copy of the model trained at UF 1.0 on ``--fit-items`` two-second crops of
  the split for ``--fit-steps`` Adam steps (the recipe's loss) and scored on the same
  crops: whether the network can still move SI-SDR when it sees the same audio again
  (it can: training budget, not capacity or a stuck optimiser, limits it).
* **clean input**: each mixture's clean reference fed to the model itself, at UF 0.125 and
  UF 1.0: STOI and SI-SDR of the output against that input and its level change, overall,
  per voice source (the manifest's ``group`` up to the first ``/``) and for the worst items
  (items too short for STOI to score, which it gives ~0 even against themselves, left out).
  A model that leaves clean speech alone scores STOI ~1; what it loses here it also loses at
  high SNR.

``--checks`` picks some of ``loss_terms fit clean_input`` (default: all).

Authors
 * speechbrain-slim contributors 2026
"""

import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import mixtures, model_from_args, split_model_parser  # noqa: E402

from speechbrain_slim.losses import EnhancementLoss  # noqa: E402
from speechbrain_slim.metrics import si_sdr, stoi  # noqa: E402

TERMS = {  # each term of the recipe's task loss on its own
    "l1": EnhancementLoss(l1_factor=1.0, sc_factor=0.0, mag_factor=0.0, stoi_factor=0.0),
    "mr_stft": EnhancementLoss(l1_factor=0.0, sc_factor=1.0, mag_factor=1.0, stoi_factor=0.0),
    "one_minus_stoi": EnhancementLoss(l1_factor=0.0, sc_factor=0.0, mag_factor=0.0,
                                      stoi_factor=1.0),
}


def loss_terms(model, items):
    """Mean of each loss term for the noisy input and the model at UF 1.0 / 0.125."""
    sums = {}
    with torch.no_grad():
        for _, noisy, clean in items:
            scale = noisy.std().clamp_min(1e-8)
            outputs = {"noisy": noisy, **{f"uf{uf:g}": model(noisy, uf)[0] for uf in (1.0, 0.125)}}
            for name, out in outputs.items():
                row = sums.setdefault(name, {term: [] for term in TERMS})
                for term, loss in TERMS.items():
                    row[term].append(float(loss(out / scale, clean / scale)))
    return {name: {term: float(np.mean(values)) for term, values in row.items()}
            for name, row in sums.items()}


def fit(model, items, steps, lr, crop):
    """SI-SDR of a copy of ``model`` on ``items``' crops before and while it is trained on them."""
    noisy = torch.cat([n[:, :crop] for _, n, _ in items])
    clean = torch.cat([c[:, :crop] for _, _, c in items])
    net = copy.deepcopy(model).train()
    for parameter in net.parameters():
        parameter.requires_grad_(True)
    loss_fn = EnhancementLoss(l1_factor=1.0, sc_factor=0.1, mag_factor=0.1, stoi_factor=1.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scale = noisy.std(dim=-1, keepdim=True)
    curve = [{"step": 0, "si_sdr": float(si_sdr(noisy, clean).mean()), "what": "noisy"}]
    start = time.perf_counter()
    for step in range(1, steps + 1):
        out = net(noisy, 1.0)[0]
        loss = loss_fn(out / scale, clean / scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 1 or step % max(1, steps // 6) == 0 or step == steps:
            curve.append({"step": step, "si_sdr": float(si_sdr(out.detach(), clean).mean()),
                          "loss": float(loss), "seconds": round(time.perf_counter() - start, 1)})
    return curve


CLEAN_INPUT_UFS = (0.125, 1.0)


def clean_input(model, items, groups, worst=8):
    """What the model does to noise-free speech: its output on each clean reference, scored
    against that same input, at each of ``CLEAN_INPUT_UFS`` (means, per voice source, worst
    items)."""
    rows = []
    with torch.no_grad():
        for item, _, clean in items:
            if stoi(clean[0], clean[0]) < 0.99:  # too little speech for STOI to score at all
                continue
            for uf in CLEAN_INPUT_UFS:
                out = model(clean, uf)[0]
                rows.append({"id": item["id"], "source": groups.get(item["id"], "?").split("/")[0],
                             "uf": uf, "stoi": float(stoi(clean[0], out[0])),
                             "si_sdr": float(si_sdr(out[0], clean[0])),
                             "level_db": float(20 * torch.log10(out.norm() / clean.norm()))})
    result = {}
    for uf in CLEAN_INPUT_UFS:
        at_uf = [row for row in rows if row["uf"] == uf]
        sources = sorted({row["source"] for row in at_uf})
        result[f"uf{uf:g}"] = {
            "ids": [row["id"] for row in at_uf],
            "mean": {key: float(np.mean([row[key] for row in at_uf]))
                     for key in ("stoi", "si_sdr", "level_db")},
            "by_source": {
                source: float(np.mean([r["stoi"] for r in at_uf if r["source"] == source]))
                for source in sources},
            "worst": sorted(at_uf, key=lambda row: row["stoi"])[:worst],
        }
    return result


def clean_input_lines(result):
    """Markdown of :func:`clean_input`'s result."""
    narrowest = result[f"uf{CLEAN_INPUT_UFS[0]:g}"]
    sources = sorted(narrowest["by_source"])
    count = len(narrowest["ids"])
    lines = [f"Clean input ({count} clean references fed to the model, output scored against "
             "each):", "",
             "| UF | STOI | SI-SDR (dB) | level (dB) | " + " | ".join(sources) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(sources)]
    for name, row in result.items():
        mean = row["mean"]
        lines.append(f"| {name[2:]} | {mean['stoi']:.3f} | {mean['si_sdr']:.1f} | "
                     f"{mean['level_db']:+.2f} | "
                     + " | ".join(f"{row['by_source'][s]:.3f}" for s in sources) + " |")
    lines += ["", f"(per voice source: STOI.) Lowest STOI at UF {CLEAN_INPUT_UFS[0]:g}: "
              + ", ".join(f"{row['id']} ({row['source']}) {row['stoi']:.3f}"
                          for row in narrowest["worst"])]
    return lines


CHECKS = ("loss_terms", "fit", "clean_input")


def main(argv=None):
    parser = split_model_parser(__doc__, "a split's manifest, e.g. data/real_corpus/valid.json")
    parser.add_argument("--fit-items", type=int, default=6)
    parser.add_argument("--fit-steps", type=int, default=150)
    parser.add_argument("--fit-lr", type=float, default=1e-3)
    parser.add_argument("--json", default=None, help="write the results here (+ .md beside it)")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, default=list(CHECKS))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = model_from_args(parser, args)
    items = list(mixtures(args.manifest, args.limit))
    crop = 2 * int(model.sample_rate)
    long_enough = [item for item in items if item[1].shape[-1] >= crop]
    # every k-th long item, so that the crops span the split's SNRs and sources
    chosen = long_enough[:: max(1, len(long_enough) // args.fit_items)][: args.fit_items]
    result = {"manifest": args.manifest, "source": args.source or args.checkpoint,
              "items": len(items)}
    lines = [f"# Learning diagnostics: {result['source']} on {args.manifest}", ""]
    if "loss_terms" in args.checks:
        result["loss_terms"] = loss_terms(model, items)
        lines += [f"Loss terms (mean over {len(items)} mixtures, std-normalised audio):", "",
                  "| output | " + " | ".join(TERMS) + " |", "|---|" + "---:|" * len(TERMS)]
        for name, row in result["loss_terms"].items():
            lines.append(f"| {name} | " + " | ".join(f"{row[t]:.4f}" for t in TERMS) + " |")
        lines.append("")
    if "fit" in args.checks:
        result["fit"] = {"items": len(chosen), "seconds_each": 2.0, "lr": args.fit_lr,
                         "curve": fit(model, chosen, args.fit_steps, args.fit_lr, crop)}
        lines += [f"Fit at UF 1.0 on {len(chosen)} crops of 2 s (lr {args.fit_lr:g}):", "",
                  "| step | SI-SDR (dB) |", "|---:|---:|"]
        lines += [f"| {point['step']} | {point['si_sdr']:.2f} |"
                  for point in result["fit"]["curve"]]
        lines.append("")
    if "clean_input" in args.checks:
        with open(args.manifest, encoding="utf-8") as stream:
            groups = {key: entry.get("group", "?") for key, entry in json.load(stream).items()}
        result["clean_input"] = clean_input(model, items, groups)
        lines += clean_input_lines(result["clean_input"])
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
        with open(os.path.splitext(args.json)[0] + ".md", "w", encoding="utf-8") as stream:
            stream.write(text)


if __name__ == "__main__":
    main()
