"""Which backbone training step buys the most quality per CPU-second: equal wall time per rule.

    python benchmarks/training_rules.py hparams/slim_demucs_real.yaml \
        --init hub/slim-demucs-embedded --minutes 8 --limit 60 --out benchmarks/report/rules

From the same initial weights, the same optimiser settings and the same on-the-fly training
items (the recipe's training set, item ``i`` the same for every rule), each rule trains the
backbone for the same wall time, one process and one thread, with :class:`SlimBrain`'s own
``fit_batch``:

* ``all``: every UF every step (the task loss averaged over the four UFs);
* ``sandwich``: the smallest, the largest and one random other UF per step;
* ``sandwich+distill``: the sandwich rule with in-place distillation (the narrower UFs learn
  the widest UF's output instead of the clean target, ``inplace_distillation: 1.0``).

Then every UF is scored on the first ``--limit`` mixtures of the recipe's valid split (PESQ-WB,
SI-SDR). Reported: steps, seconds of audio trained per second, valid PESQ/SI-SDR per UF and
their mean. Rules run one after the other, so give the machine to this script alone.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

RULES = {
    "all": {"train_uf_rule": "all", "inplace_distillation": 0.0},
    "sandwich": {"train_uf_rule": "sandwich", "inplace_distillation": 0.0},
    "sandwich+distill": {"train_uf_rule": "sandwich", "inplace_distillation": 1.0},
}


def train_for(hparams, model, train_set, rule, seconds, lr):
    """Trains ``model`` (in place) with one rule for ``seconds``; returns steps and audio."""
    import speechbrain as sb
    from speechbrain.dataio.batch import PaddedBatch

    from speechbrain_slim.brain import SlimBrain

    brain = SlimBrain(
        modules={"model": model, "router": hparams["router"]},
        opt_class=lambda params: torch.optim.Adam(params, lr=lr),
        hparams={**hparams, "stage": "backbone", **RULES[rule]},
        run_opts={"device": "cpu"},
    )
    brain.on_fit_start()
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    batch_size = hparams["batch_size"]
    torch.manual_seed(0)
    steps, audio, start = 0, 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        items = [train_set[(steps * batch_size + k) % len(train_set)] for k in range(batch_size)]
        brain.fit_batch(PaddedBatch(items))
        steps += 1
        audio += sum(item["clean_sig"].shape[-1] for item in items) / hparams["sample_rate"]
    return {"steps": steps, "seconds": time.perf_counter() - start,
            "audio_per_second": audio / (time.perf_counter() - start)}


def score(model, manifest, limit):
    """Mean valid PESQ-WB and SI-SDR of every static UF."""
    from common import mixtures, score_runs

    scores = {}
    with torch.no_grad():
        for _, noisy, clean in mixtures(manifest, limit):
            score_runs(scores, {f"uf{uf:g}": model(noisy, uf) for uf in model.ufs}, clean)
    return {name: {"pesq": float(np.mean(row["pesq"])), "si_sdr": float(np.mean(row["si_sdr"]))}
            for name, row in scores.items()}


def run(hparams_file, init, minutes, limit, rules, lr=None, overrides=None):
    """Trains a copy of the initial model per rule and scores each; returns the report."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_slim.data.recipe_data import prepare_datasets
    from train import load_initial_weights

    with open(hparams_file, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    torch.set_num_threads(1)
    datasets = prepare_datasets(hparams)
    if init:
        load_initial_weights({"model": hparams["model"], "router": hparams["router"]}, init)
    initial = copy.deepcopy(hparams["model"].state_dict())
    lr = lr or hparams["schedule"]["backbone"]["lr"]
    valid = datasets["manifests"]["valid"]
    report = {"hparams": hparams_file, "init": init, "minutes": minutes, "lr": lr,
              "valid_items": limit, "rules": {}}
    model = hparams["model"]
    model.load_state_dict(initial)
    report["initial"] = score(model.eval(), valid, limit)
    for rule in rules:
        model.load_state_dict(initial)
        stats = train_for(hparams, model.train(), datasets["train"], rule, minutes * 60, lr)
        stats["valid"] = score(model.eval(), valid, limit)
        stats["mean_pesq"] = float(np.mean([v["pesq"] for v in stats["valid"].values()]))
        report["rules"][rule] = stats
        print(rule, json.dumps(stats), flush=True)
    return report


def format_report(report):
    """Markdown table of a :func:`run` report."""
    ufs = list(report["initial"])
    lines = [f"{report['minutes']} min per rule from `{report['init']}` ({report['hparams']}, "
             f"lr {report['lr']}), valid PESQ on {report['valid_items']} mixtures.", "",
             "| rule | steps | audio s / s | " + " | ".join(f"PESQ {u}" for u in ufs)
             + " | mean PESQ |", "|---|---:|---:|" + "---:|" * (len(ufs) + 1)]
    initial = report["initial"]
    lines.append("| (initial) | 0 | | " + " | ".join(f"{initial[u]['pesq']:.3f}" for u in ufs)
                 + f" | {np.mean([initial[u]['pesq'] for u in ufs]):.3f} |")
    for rule, stats in report["rules"].items():
        lines.append(f"| {rule} | {stats['steps']} | {stats['audio_per_second']:.1f} | "
                     + " | ".join(f"{stats['valid'][u]['pesq']:.3f}" for u in ufs)
                     + f" | {stats['mean_pesq']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hparams")
    parser.add_argument("--init", help="hub folder whose weights every rule starts from")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--limit", type=int, default=60, help="valid mixtures scored")
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    parser.add_argument("--lr", type=float, default=None, help="default: the backbone stage's")
    parser.add_argument("--out", default=os.path.join(HERE, "report", "rules"))
    parser.add_argument("--output_folder", default="results/training_rules")
    args = parser.parse_args(argv)
    report = run(args.hparams, args.init, args.minutes, args.limit, args.rules, args.lr,
                 overrides={"output_folder": args.output_folder})
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "training_rules.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    table = format_report(report)
    with open(os.path.join(args.out, "training_rules.md"), "w", encoding="utf-8") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
