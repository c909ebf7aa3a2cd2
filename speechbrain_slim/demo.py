"""The README's main job on the embedded default: ``make demo``.

Builds the paper's SlimDemucs from ``hparams/slim_demucs.yaml``, prints its
complexity table, mixes a held-out test utterance of the embedded corpus with
generated noise, runs the backbone at every UF and prints the measured MACs
and wall time per UF.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from speechbrain_slim.complexity import complexity_table, format_table, load_model

DEFAULT_HPARAMS = Path(__file__).resolve().parents[1] / "hparams" / "slim_demucs.yaml"


def noisy_test_utterance(snr_db=5.0, seed=0):
    """A held-out test utterance of the embedded corpus mixed with generated noise."""
    from speechbrain.dataio.dataio import read_audio

    from speechbrain_slim.data.corpus import load_corpus
    from speechbrain_slim.data.mixing import mix_at_snr
    from speechbrain_slim.data.noise import NoiseGenerator

    test = load_corpus("test")
    uid = sorted(test)[0]
    clean = read_audio(test[uid]["wav"]).numpy().astype(np.float32)
    noise, family = NoiseGenerator()(len(clean), np.random.default_rng(seed))
    noisy, _ = mix_at_snr(clean, noise, snr_db)
    return uid, family, torch.as_tensor(np.asarray(noisy, dtype=np.float32)).unsqueeze(0)


def main(argv=None):
    """Prints the complexity table and runs the backbone at each UF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hparams", default=str(DEFAULT_HPARAMS))
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = load_model(args.hparams).eval()
    print(f"SlimDemucs from {args.hparams}\n")
    print(format_table(complexity_table(model)))

    uid, family, noisy = noisy_test_utterance()
    seconds = noisy.shape[-1] / model.sample_rate
    print(f"\nForward pass on test utterance {uid} ({seconds:.1f} s) + {family} noise at 5 dB")
    print("(untrained weights: this checks shapes, MACs and speed, not quality)\n")
    print("| UF | MACs spent | MACs/sample | wall time (ms) | real-time factor |")
    print("|---:|---:|---:|---:|---:|")
    with torch.inference_mode():
        model(noisy, 1.0)  # warm-up
        for uf in model.ufs:
            start = time.perf_counter()
            enhanced, info = model(noisy, uf)
            elapsed = time.perf_counter() - start
            assert enhanced.shape == noisy.shape and torch.isfinite(enhanced).all()
            print(
                f"| {uf:g} | {info['macs']:,} | {info['macs_per_sample']:,.0f} "
                f"| {1000 * elapsed:.1f} | {elapsed / seconds:.3f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
