"""Why the shipped model denoises little: what it does to each loss term, and whether it can learn.

Two checks on a split's fixed mixtures (the valid split, so that the test split stays unused)::

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
from speechbrain_slim.metrics import si_sdr  # noqa: E402

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


def main(argv=None):
    parser = split_model_parser(__doc__, "a split's manifest, e.g. data/real_corpus/valid.json")
    parser.add_argument("--fit-items", type=int, default=6)
    parser.add_argument("--fit-steps", type=int, default=150)
    parser.add_argument("--fit-lr", type=float, default=1e-3)
    parser.add_argument("--json", default=None, help="write the results here (+ .md beside it)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = model_from_args(parser, args)
    items = list(mixtures(args.manifest, args.limit))
    crop = 2 * int(model.sample_rate)
    long_enough = [item for item in items if item[1].shape[-1] >= crop]
    # every k-th long item, so that the crops span the split's SNRs and sources
    chosen = long_enough[:: max(1, len(long_enough) // args.fit_items)][: args.fit_items]
    result = {
        "manifest": args.manifest, "source": args.source or args.checkpoint,
        "items": len(items), "loss_terms": loss_terms(model, items),
        "fit": {"items": len(chosen), "seconds_each": 2.0, "lr": args.fit_lr,
                "curve": fit(model, chosen, args.fit_steps, args.fit_lr, crop)},
    }
    lines = [f"# Learning diagnostics: {result['source']} on {args.manifest}", "",
             f"Loss terms (mean over {len(items)} mixtures, std-normalised audio):", "",
             "| output | " + " | ".join(TERMS) + " |", "|---|" + "---:|" * len(TERMS)]
    for name, row in result["loss_terms"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[t]:.4f}" for t in TERMS) + " |")
    lines += ["", f"Fit at UF 1.0 on {len(chosen)} crops of 2 s (lr {args.fit_lr:g}):", "",
              "| step | SI-SDR (dB) |", "|---:|---:|"]
    lines += [f"| {point['step']} | {point['si_sdr']:.2f} |" for point in result["fit"]["curve"]]
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
