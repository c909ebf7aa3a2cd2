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
from collections import defaultdict

import numpy as np
import torch

from speechbrain_slim.complexity import macs_per_uf
from speechbrain_slim.router_targets import MEASURES, frame_errors_db, router_targets


def oracle_table(model, manifest, prices, floor_db=-30.0, limit=None, measure="spectral"):
    """Rows ``{mode, mean_uf, macs, pesq, si_sdr}`` and the targets' mean UF per SNR."""
    from common import mean_rows, mixtures, score_runs

    ufs = torch.tensor(model.ufs)
    macs = macs_per_uf(model)
    scores, by_snr = {}, defaultdict(lambda: defaultdict(list))
    with torch.inference_mode():
        for item, noisy, clean in mixtures(manifest, limit):
            static = [model(noisy, uf) for uf in model.ufs]
            frames = model.bottleneck_frames(noisy.shape[-1])
            errors = frame_errors_db([out for out, _ in static], clean, model.total_stride,
                                     frames, floor_db=floor_db, measure=measure)
            runs = {f"static {uf:g}": run for uf, run in zip(model.ufs, static)}
            for price in prices:
                track = ufs[router_targets(errors, macs, price).long()]
                runs[f"targets, price {price:g} dB"] = model(noisy, track)
                by_snr[price][item.get("snr_db")].append(float(track.mean()))
            score_runs(scores, runs, clean)
    snr_table = {price: {snr: float(np.mean(v)) for snr, v in sorted(table.items())}
                 for price, table in by_snr.items()}
    return mean_rows(scores), snr_table


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
    from common import load_backbone

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
