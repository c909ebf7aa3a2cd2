"""Write the embedded corpus's manifests and its fixed valid/test mixtures.

    python -m speechbrain_slim.data.embedded --out DIR

writes, in ``DIR``:

* ``train.json``: the clean training utterances (absolute paths into the installed package),
  for ``OnTheFlyMixtures``;
* ``valid.json`` + ``valid/{noisy,clean}/*.wav``: ``n_valid`` mixtures of valid-split voices;
* ``test.json`` + ``test/{noisy,clean}/*.wav``: every test-split utterance at each SNR of
  ``TEST_SNRS`` (-2.5, 2.5, 7.5, 12.5, 17.5 dB; equally many per SNR), noise families in turn.

Manifests are SpeechBrain JSON keyed by id: ``noisy_wav``, ``clean_wav`` (with a
``{data_root}`` placeholder = ``DIR``), ``length`` (seconds), ``snr_db``, ``noise``, ``voice``.
Babble in valid/test is made from other voices of the same split, so no test voice is ever
heard in training, not even as background. A second run with the same settings does nothing.

Authors
 * speechbrain-slim contributors
"""

import argparse
import hashlib
import json
import os
import shutil

import numpy as np
import soundfile as sf
from tqdm import tqdm

from speechbrain_slim.data.corpus import CORPUS_DIR, load_corpus
from speechbrain_slim.data.mixing import mix_at_snr
from speechbrain_slim.data.noise import NOISE_FAMILIES, NoiseGenerator

SAMPLE_RATE = 16000
TEST_SNRS = (-2.5, 2.5, 7.5, 12.5, 17.5)
DONE_FILE = "embedded_done.json"


def _corpus_hash(corpus_dir):
    with open(os.path.join(corpus_dir, "corpus.json"), "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def mixture_plan(split, n_per_snr=None, n_total=None, snrs=TEST_SNRS, corpus_dir=CORPUS_DIR):
    """List the mixtures of a fixed set: dicts with id, utterance, voice, snr_db, noise.

    ``test`` style (``n_per_snr``): each utterance (up to ``n_per_snr``) at every SNR.
    ``valid`` style (``n_total``): ``n_total`` mixtures cycling over utterances and SNRs.

    Example
    -------
    >>> plan = mixture_plan("test", n_per_snr=2)
    >>> len(plan), sorted({p["snr_db"] for p in plan})
    (10, [-2.5, 2.5, 7.5, 12.5, 17.5])
    """
    corpus = load_corpus(split, corpus_dir)
    # Interleave voices so a capped plan still covers many voices.
    by_voice = {}
    for uid, e in corpus.items():
        by_voice.setdefault(e["voice"], []).append(uid)
    utts, depth = [], 0
    while len(utts) < len(corpus):
        for v in sorted(by_voice):
            if depth < len(by_voice[v]):
                utts.append(by_voice[v][depth])
        depth += 1
    plan = []
    if n_total is None:
        chosen = utts if n_per_snr is None else utts[:n_per_snr]
        pairs = [(u, s) for s in snrs for u in chosen]
    else:
        pairs = [(utts[i % len(utts)], snrs[i % len(snrs)]) for i in range(n_total)]
    for i, (uid, snr) in enumerate(pairs):
        fam = NOISE_FAMILIES[i % len(NOISE_FAMILIES)]
        plan.append(dict(id=f"{split}_{i:04d}_{uid}_snr{snr:g}_{fam}", utterance=uid,
                         voice=corpus[uid]["voice"], wav=corpus[uid]["wav"],
                         snr_db=float(snr), noise=fam))
    return plan


def _write_fixed_set(split, plan, out_dir, seed, bar):
    corpus = load_corpus(split)
    manifest = {}
    for d in ("noisy", "clean"):
        os.makedirs(os.path.join(out_dir, split, d), exist_ok=True)
    for i, item in enumerate(plan):
        rng = np.random.default_rng([seed, {"valid": 1, "test": 2}[split], i])
        clean, sr = sf.read(item["wav"], dtype="float32")
        pool = [e["wav"] for e in corpus.values() if e["voice"] != item["voice"]]
        noise, family = NoiseGenerator(speech_pool=pool)(len(clean), rng, family=item["noise"])
        noisy, _ = mix_at_snr(clean, noise, item["snr_db"])
        peak = max(float(np.abs(noisy).max()), float(np.abs(clean).max()), 1e-9)
        gain = 10 ** (rng.uniform(-20.0, -1.0) / 20) / peak
        rel = {d: f"{split}/{d}/{item['id']}.wav" for d in ("noisy", "clean")}
        sf.write(os.path.join(out_dir, rel["noisy"]), noisy * gain, sr, subtype="PCM_16")
        sf.write(os.path.join(out_dir, rel["clean"]), clean * gain, sr, subtype="PCM_16")
        manifest[item["id"]] = {
            "noisy_wav": "{data_root}/" + rel["noisy"],
            "clean_wav": "{data_root}/" + rel["clean"],
            "length": round(len(clean) / sr, 4),
            "snr_db": item["snr_db"],
            "noise": family,
            "voice": item["voice"],
        }
        bar.update(1)
    return manifest


def prepare_embedded(out_dir, seed=1234, n_valid=100, n_test_per_snr=None, progress=True):
    """Write train/valid/test manifests and the fixed mixtures of the embedded corpus.

    Arguments
    ---------
    out_dir : str
        Output folder (``{data_root}`` of the manifests).
    seed : int
        Seed of the fixed sets.
    n_valid : int
        Number of valid mixtures.
    n_test_per_snr : int, optional
        Test utterances per SNR (default: every test utterance at every SNR).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict
        ``{"train": path, "valid": path, "test": path}`` of the JSON manifests.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = prepare_embedded(d, n_valid=2, n_test_per_snr=1, progress=False)
    ...     sorted(paths), len(json.load(open(paths["test"])))
    (['test', 'train', 'valid'], 5)
    """
    if n_valid < 1 or (n_test_per_snr is not None and n_test_per_snr < 1):
        raise ValueError("n_valid and n_test_per_snr must be at least 1")
    os.makedirs(out_dir, exist_ok=True)
    paths = {s: os.path.join(out_dir, f"{s}.json") for s in ("train", "valid", "test")}
    config = dict(seed=seed, n_valid=n_valid, n_test_per_snr=n_test_per_snr,
                  snrs=list(TEST_SNRS), corpus=_corpus_hash(CORPUS_DIR), version=1)
    done = os.path.join(out_dir, DONE_FILE)
    if os.path.isfile(done) and all(os.path.isfile(p) for p in paths.values()):
        with open(done, encoding="utf-8") as f:
            if json.load(f) == config:
                if progress:
                    print(f"embedded data already prepared in {out_dir}; nothing to do")
                return paths
    for split in ("valid", "test"):
        shutil.rmtree(os.path.join(out_dir, split), ignore_errors=True)
    if os.path.isfile(done):
        os.remove(done)

    train = {uid: {"clean_wav": e["wav"], "length": e["duration"], "voice": e["voice"]}
             for uid, e in load_corpus("train").items()}
    plans = {"valid": mixture_plan("valid", n_total=n_valid),
             "test": mixture_plan("test", n_per_snr=n_test_per_snr)}
    manifests = {"train": train}
    total = sum(len(p) for p in plans.values())
    with tqdm(total=total, desc="embedded valid/test mixtures", disable=not progress) as bar:
        for split, plan in plans.items():
            manifests[split] = _write_fixed_set(split, plan, out_dir, seed, bar)
    for split, manifest in manifests.items():
        with open(paths[split], "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
    with open(done, "w", encoding="utf-8") as f:
        json.dump(config, f)
    return paths


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description="Write the embedded corpus's manifests and fixed valid/test mixtures.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--n-valid", type=int, default=100)
    parser.add_argument("--n-test-per-snr", type=int, default=None,
                        help="test utterances per SNR (default: all test utterances)")
    args = parser.parse_args(argv)
    paths = prepare_embedded(args.out, args.seed, args.n_valid, args.n_test_per_snr)
    for split, path in paths.items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
