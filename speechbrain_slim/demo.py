"""The README's main job on the embedded default: ``make demo``.

Loads the shipped model (:data:`speechbrain_slim.cli.DEFAULT_SOURCE`) with
:class:`EnhanceSlim`, enhances its example file and the five real test mixtures shipped in
``speechbrain_slim/data/real_demo`` (real voices and real noises the model never heard in
training, one per test SNR) with the router deciding (``uf="auto"``), writes the enhanced
files to ``demo_out/`` in the current folder and prints, per file, the mean UF, the MACs
spent, the real-time factor and PESQ / SI-SDR before and after; then the same averages for
every static UF. Installed from a wheel, it runs as ``python -m speechbrain_slim.demo``.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from speechbrain_slim.cli import DEFAULT_SOURCE

DEFAULT_OUT = Path("demo_out")  # in the current folder (the repository's for `make demo`)
DEMO_MIXTURES = Path(__file__).resolve().parent / "data" / "real_demo"


def _test_mixtures(folder=DEMO_MIXTURES):
    """The shipped real test mixtures (with clean references)."""
    with open(folder / "test.json", encoding="utf-8") as stream:
        manifest = json.load(stream)
    for uid, entry in sorted(manifest.items(), key=lambda kv: kv[1]["snr_db"]):
        yield (
            uid,
            entry["noisy_wav"].replace("{data_root}", str(folder)),
            entry["clean_wav"].replace("{data_root}", str(folder)),
            f"{entry['snr_db']:g} dB, {entry['group']} in {entry['noise']}",
        )


def _scores(clean, signal):
    from speechbrain_slim.metrics import pesq_wb, si_sdr

    return float(pesq_wb(clean, signal)), float(si_sdr(signal, clean))


def main(argv=None):
    """Enhances the example files with the shipped model and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="hub folder or repo id")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where enhanced files go")
    args = parser.parse_args(argv)
    if os.path.sep in args.source and not os.path.isdir(args.source):
        print(f"no model folder at {args.source}", file=sys.stderr)
        return 2

    from speechbrain.dataio.dataio import read_audio

    from speechbrain_slim import EnhanceSlim

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    enhancer = EnhanceSlim.from_hparams(source=args.source, savedir=str(out / "model"))
    model = enhancer.model
    print(f"model: {args.source} ({type(model).__name__}, hidden={model.hidden}, UFs {model.ufs})")

    files = list(_test_mixtures())
    example = Path(args.source) / "example.wav"
    if example.is_file():
        files.insert(0, ("example", str(example), None, "hub example"))

    print("\nRouted (uf=auto), one thread:\n")
    print("| file | condition | seconds | mean UF | MACs/sample | RTF | PESQ in -> out "
          "| SI-SDR in -> out |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    per_mode = {mode: [] for mode in (0.125, 0.25, 0.5, 1.0, "auto")}
    for uid, noisy_path, clean_path, condition in files:
        noisy = read_audio(noisy_path)
        start = time.perf_counter()
        enhanced = enhancer.enhance_file(noisy_path, output_filename=str(out / f"{uid}.wav"))
        elapsed = time.perf_counter() - start
        routing = enhancer.last_routing
        seconds = noisy.shape[-1] / model.sample_rate
        quality = "| | "
        if clean_path is not None:
            clean = read_audio(clean_path)
            enhanced = read_audio(enhanced) if isinstance(enhanced, str) else enhanced
            enhanced = enhanced.reshape(-1)[: clean.shape[-1]]
            before, after = _scores(clean, noisy), _scores(clean, enhanced)
            quality = (f"| {before[0]:.2f} -> {after[0]:.2f} "
                       f"| {before[1]:.1f} -> {after[1]:.1f} ")
            for mode in per_mode:
                result = enhancer.enhance_batch(noisy.unsqueeze(0), uf=mode)[0]
                per_mode[mode].append(
                    (*_scores(clean, result), float(enhancer.last_routing["mean_uf"].mean()),
                     float(enhancer.last_routing["macs_per_sample"].mean()))
                )
        print(
            f"| {uid} | {condition} | {seconds:.1f} | {float(routing['mean_uf'].mean()):.3f} "
            f"| {float(routing['macs_per_sample'].mean()):,.0f} | {elapsed / seconds:.3f} "
            f"{quality}|"
        )

    print(f"\nAverages over the {len(per_mode['auto'])} test mixtures, per mode:\n")
    print("| mode | PESQ | SI-SDR (dB) | mean UF | MACs/sample |")
    print("|---|---:|---:|---:|---:|")
    for mode, rows in per_mode.items():
        if rows:
            pesq, sdr, uf, macs = np.nanmean(np.array(rows), axis=0)
            label = f"UF {mode:g}" if mode != "auto" else "auto (router)"
            print(f"| {label} | {pesq:.2f} | {sdr:.1f} | {uf:.3f} | {macs:,.0f} |")
    print(f"\nEnhanced files are in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
