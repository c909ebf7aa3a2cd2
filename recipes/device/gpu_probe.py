#!/usr/bin/env python3
"""Time the backbone stage's training step and validation on this machine, then plan the epochs.

    python recipes/device/gpu_probe.py hparams/slim_demucs_real.yaml --out probe.json \\
        --budget 480 --batch 64 --workers 12 [--device cuda:0] [train.py overrides ...]

Builds the model, the on-the-fly training set and the valid set exactly as ``train.py`` does
(``load_hyperpyyaml`` + :func:`~speechbrain_slim.data.recipe_data.prepare_datasets`, the
overrides given), runs ``--steps`` training steps of the backbone stage (augmentation, the
sandwich rule's three UFs, the task loss, Adam) and one pass over the valid set at
``valid_ufs``, and writes what one step, one item of loading and one validation take, with the
schedule that fits ``--budget`` seconds of ``train.py``: ``epochs`` epochs of ``epoch_size``
items, each followed by its validation, plus ``--startup`` seconds. ``train_gpu.sh`` passes
that schedule to ``train.py``. Only timing: the weights it trains are thrown away.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch

from speechbrain_slim.brain import step_ufs
from speechbrain_slim.data.recipe_data import prepare_datasets


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hparams")
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds of train.py")
    parser.add_argument("--startup", type=float, default=60.0,
                        help="seconds train.py spends outside epochs (imports, data, saving)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--epochs", type=int, default=12, help="epochs to plan")
    parser.add_argument("--min-epoch-size", type=int, default=256)
    args, rest = parser.parse_known_args(argv)
    overrides = {}
    for item in rest:  # train.py style --key=value overrides (plain values only)
        key, _, value = item.lstrip("-").partition("=")
        overrides[key] = value
    begin = time.time()
    with open(args.hparams, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, "\n".join(f"{k}: {v}" for k, v in overrides.items())
                                   if overrides else None)
    datasets = prepare_datasets(hparams)
    device = torch.device(args.device)
    model, task_loss = hparams["model"].to(device), hparams["task_loss"].to(device)
    augment = hparams.get("augment")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = torch.utils.data.DataLoader(
        datasets["train"], batch_size=args.batch, shuffle=True, num_workers=args.workers,
        collate_fn=PaddedBatch, persistent_workers=False)
    setup = time.time() - begin
    times, waits = [], []
    last = time.time()
    for step, batch in enumerate(loader):
        if step >= args.steps:
            break
        got = time.time()
        batch = batch.to(device)
        noisy, lengths = batch.noisy_sig
        clean, _ = batch.clean_sig
        if augment is not None:
            noisy, clean = augment(noisy, clean)
        losses = [task_loss(model(noisy, uf)[0], clean, lengths)
                  for uf in step_ufs(hparams["train_ufs"], hparams.get("train_uf_rule", "all"))]
        loss = torch.stack(losses).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sync(device)
        now = time.time()
        waits.append(got - last)
        times.append(now - last)
        last = now
    warm = times[min(5, len(times) - 1):]
    step_s = statistics.median(warm)
    wait_s = statistics.median(waits[min(5, len(waits) - 1):])
    # Validation: every valid item at every valid UF, batches as the valid loader's.
    valid = torch.utils.data.DataLoader(datasets["valid"], collate_fn=PaddedBatch,
                                        batch_size=hparams["valid_loader_kwargs"]["batch_size"])
    start = time.time()
    with torch.no_grad():
        for batch in valid:
            batch = batch.to(device)
            noisy, _ = batch.noisy_sig
            for uf in hparams.get("valid_ufs") or hparams["train_ufs"]:
                model(noisy, uf)
    sync(device)
    valid_s = time.time() - start
    usable = args.budget - args.startup - args.epochs * valid_s
    steps_per_epoch = max(1, int(usable / args.epochs / step_s))
    epoch_size = max(args.min_epoch_size, steps_per_epoch * args.batch)
    record = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "batch": args.batch, "workers": args.workers, "steps_timed": len(warm),
        "step_seconds": round(step_s, 4), "loader_wait_seconds": round(wait_s, 4),
        "audio_seconds_per_second": round(args.batch * hparams["segment_seconds"] / step_s, 1),
        "valid_seconds": round(valid_s, 2), "setup_seconds": round(setup, 1),
        "budget": args.budget, "startup": args.startup,
        "epochs": args.epochs, "epoch_size": epoch_size,
        "planned_seconds": round(args.startup + args.epochs * (valid_s + math.ceil(
            epoch_size / args.batch) * step_s), 1),
    }
    with open(args.out, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2)
    print(json.dumps(record, indent=2), flush=True)


if __name__ == "__main__":
    sys.exit(main())
