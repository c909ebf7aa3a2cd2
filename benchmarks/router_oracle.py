"""What the per-frame router targets ask for: quality and MACs of the oracle tracks.

    python benchmarks/router_oracle.py hparams/slim_demucs_embedded.yaml \
        results/slim_demucs_embedded/1234/save/backbone/CKPT+... \
        results/slim_demucs_embedded/1234/data/valid.json --prices 1 2 3 4 6

For a trained backbone and a set of mixtures (use the valid split: this picks
``router_price_db``), every static UF and, for each price, the track of per-frame
targets (:mod:`speechbrain_slim.router_targets`, computed with the clean reference,
so an upper bound for a router that only hears the noisy input) are run and scored:
PESQ-WB, SI-SDR, mean UF and MACs per sample, plus the targets' mean UF per SNR.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import os
from collections import defaultdict

import numpy as np
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_slim.complexity import macs_per_uf
from speechbrain_slim.data.recipe_data import paired_dataset
from speechbrain_slim.metrics import pesq_wb, si_sdr
from speechbrain_slim.router_targets import MEASURES, frame_errors_db, router_targets


def load_backbone(hparams_file, checkpoint):
    """The hparams' SlimDemucs with the weights of ``checkpoint`` (a CKPT folder or a file)."""
    with open(hparams_file, encoding="utf-8") as stream:
        model = load_hyperpyyaml(stream)["model"]
    path = os.path.join(checkpoint, "model.ckpt") if os.path.isdir(checkpoint) else checkpoint
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def oracle_table(model, manifest, prices, floor_db=-30.0, limit=None, measure="spectral"):
    """Rows ``{mode, mean_uf, macs, pesq, si_sdr}`` and the targets' mean UF per SNR."""
    ufs = torch.tensor(model.ufs)
    macs = macs_per_uf(model)
    data = paired_dataset(manifest, os.path.dirname(os.path.abspath(manifest)))
    scores, by_snr = defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list))
    with torch.inference_mode():
        for index in range(len(data) if limit is None else min(limit, len(data))):
            item = data[index]
            noisy, clean = item["noisy_sig"].unsqueeze(0), item["clean_sig"].unsqueeze(0)
            static = [model(noisy, uf) for uf in model.ufs]
            frames = model.bottleneck_frames(noisy.shape[-1])
            errors = frame_errors_db([out for out, _ in static], clean, model.total_stride,
                                     frames, floor_db=floor_db, measure=measure)
            runs = {f"static {uf:g}": run for uf, run in zip(model.ufs, static)}
            for price in prices:
                track = ufs[router_targets(errors, macs, price).long()]
                runs[f"targets, price {price:g} dB"] = model(noisy, track)
                by_snr[price][item.get("snr_db")].append(float(track.mean()))
            for name, (out, info) in runs.items():
                row = scores[name]
                row["mean_uf"].append(float(info["mean_uf"][0]))
                row["macs"].append(float(info["macs_per_sample"][0]))
                row["pesq"].append(float(pesq_wb(clean[0], out[0])))
                row["si_sdr"].append(float(si_sdr(out[0], clean[0])))
    rows = [{"mode": name, **{k: float(np.mean(v)) for k, v in row.items()}}
            for name, row in scores.items()]
    snr_table = {price: {snr: float(np.mean(v)) for snr, v in sorted(table.items())}
                 for price, table in by_snr.items()}
    return rows, snr_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hparams")
    parser.add_argument("checkpoint", help="a stage's CKPT+ folder or a model.ckpt file")
    parser.add_argument("manifest", help="valid.json (or test.json) of the embedded data")
    parser.add_argument("--prices", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0, 6.0])
    parser.add_argument("--floor_db", type=float, default=-30.0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--measure", choices=MEASURES, default="spectral")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = load_backbone(args.hparams, args.checkpoint)
    rows, snr_table = oracle_table(
        model, args.manifest, args.prices, args.floor_db, args.limit, args.measure
    )
    print("| mode | mean UF | MACs/sample | PESQ | SI-SDR |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['mode']} | {row['mean_uf']:.3f} | {row['macs']:,.0f} | "
              f"{row['pesq']:.3f} | {row['si_sdr']:.2f} |")
    print("\ntargets' mean UF per SNR (dB):")
    for price, table in snr_table.items():
        print(f"  price {price:g}: " + ", ".join(f"{s:g}: {u:.3f}" for s, u in table.items()))


if __name__ == "__main__":
    main()
