"""The fixed held-out mixtures and simulated rooms of a built corpus.

:func:`fixed_mixtures` mixes held-out utterances with stretches of held-out noise at the
active-speech SNRs of :data:`TEST_SNRS` (the valid and test sets every model is scored on);
:func:`write_manifests` adds them to a corpus's manifests and writes them all;
:func:`simulate_rirs` simulates room impulse responses (pyroomacoustics);
:func:`export_subset` copies a few test mixtures (the demo's ``real_demo`` subset).

Authors
 * speechbrain-slim contributors 2026
"""

import json
import os

import numpy as np
import soundfile as sf

from speechbrain_slim.data.corpus_splits import SAMPLE_RATE, SPLITS, stable_hash
from speechbrain_slim.data.mixing import mix_at_snr
from speechbrain_slim.data.prepare import write_json

__all__ = ["TEST_SNRS", "export_subset", "fixed_mixtures", "simulate_rirs", "write_manifests"]

TEST_SNRS = (-2.5, 2.5, 7.5, 12.5, 17.5)


def simulate_rirs(count, seed, out_dir, split):
    """Room impulse responses of random shoebox rooms (pyroomacoustics, image method).

    Rooms of 3-10 m x 3-8 m x 2.4-4 m, RT60 0.15-0.9 s, source and microphone at random
    places at least 0.5 m from the walls; written as 16 kHz FLAC, trimmed at -60 dB.
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, SPLITS.index(split)])
    manifest = {}
    folder = os.path.join(out_dir, "rir", split)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        while True:  # a large room cannot be as dry as a small one: draw again
            dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.4, 4.0)])
            rt60 = rng.uniform(0.15, 0.9)
            try:
                absorption, max_order = pra.inverse_sabine(rt60, dims)
                break
            except ValueError:
                continue
        room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption),
                           max_order=min(max_order, 20))
        source, mic = (rng.uniform(0.5, dims - 0.5) for _ in range(2))
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        energy = np.cumsum(h[::-1] ** 2)[::-1]
        keep = np.nonzero(energy > energy[0] * 1e-6)[0]
        h = h[: keep[-1] + 1] / np.abs(h).max()
        rel = f"rir/{split}/room{i:04d}.flac"
        sf.write(os.path.join(out_dir, rel), h.astype(np.float32), SAMPLE_RATE, subtype="PCM_24")
        manifest[f"{split}_room{i:04d}"] = {"wav": "{data_root}/" + rel,
                                             "length": round(len(h) / SAMPLE_RATE, 4),
                                             "rt60": round(float(rt60), 3)}
    return manifest


def _noise_segment(noise_files, length, rng, out_dir):
    """A random stretch of a noise file of a random category, looped to ``length`` samples."""
    categories = sorted({e["category"] for e in noise_files})
    category = categories[int(rng.integers(len(categories)))]
    in_category = [e for e in noise_files if e["category"] == category]
    entry = in_category[int(rng.integers(len(in_category)))]
    x, _ = sf.read(entry["wav"].replace("{data_root}", out_dir), dtype="float64")
    if len(x) < length:
        x = np.tile(x, int(np.ceil(length / len(x))) + 1)
    start = int(rng.integers(0, len(x) - length + 1))
    return x[start : start + length], entry["category"]


def fixed_mixtures(split, speech, noise, out_dir, seed, n_total=None, n_per_snr=None,
                   min_seconds=1.5):
    """Write the fixed mixtures of a held-out split; returns their manifest.

    Utterances of at least ``min_seconds`` are taken voice by voice in turn (so a capped set
    still covers every voice); each is mixed with a stretch of a held-out noise recording at
    the active-speech SNRs of ``TEST_SNRS`` (all of them with ``n_per_snr``, in turn with
    ``n_total``) and a random level between -25 and -1 dB peak.
    """
    by_group = {}
    for uid in sorted(speech, key=stable_hash):
        if speech[uid]["length"] >= min_seconds:
            by_group.setdefault(speech[uid]["group"], []).append(uid)
    order, depth = [], 0
    while any(depth < len(v) for v in by_group.values()):
        order += [v[depth] for _, v in sorted(by_group.items()) if depth < len(v)]
        depth += 1
    if not order:
        raise ValueError(f"no {split} utterance is {min_seconds} s or longer")
    if n_total is None:
        chosen = order[:n_per_snr] if n_per_snr else order
        pairs = [(u, s) for u in chosen for s in TEST_SNRS]
    else:
        pairs = [(order[i % len(order)], TEST_SNRS[i % len(TEST_SNRS)]) for i in range(n_total)]
    noise_files = [noise[k] for k in sorted(noise)]
    manifest = {}
    for d in ("noisy", "clean"):
        os.makedirs(os.path.join(out_dir, split, d), exist_ok=True)
    for i, (uid, snr) in enumerate(pairs):
        rng = np.random.default_rng([seed, SPLITS.index(split), i])
        clean, _ = sf.read(speech[uid]["wav"].replace("{data_root}", out_dir), dtype="float64")
        noise_signal, category = _noise_segment(noise_files, len(clean), rng, out_dir)
        if not np.any(noise_signal):
            noise_signal, category = _noise_segment(noise_files, len(clean), rng, out_dir)
        noisy, _ = mix_at_snr(clean, noise_signal + 1e-6 * rng.standard_normal(len(clean)), snr)
        peak = max(float(np.abs(noisy).max()), float(np.abs(clean).max()), 1e-9)
        gain = 10 ** (rng.uniform(-25.0, -1.0) / 20) / peak
        key = f"{split}_{i:04d}_snr{snr:g}"
        rel = {d: f"{split}/{d}/{key}.wav" for d in ("noisy", "clean")}
        sf.write(os.path.join(out_dir, rel["noisy"]), noisy * gain, SAMPLE_RATE, subtype="PCM_16")
        sf.write(os.path.join(out_dir, rel["clean"]), clean * gain, SAMPLE_RATE, subtype="PCM_16")
        manifest[key] = {"noisy_wav": "{data_root}/" + rel["noisy"],
                         "clean_wav": "{data_root}/" + rel["clean"],
                         "length": speech[uid]["length"], "snr_db": float(snr),
                         "noise": category, "group": speech[uid]["group"], "utterance": uid}
    return manifest


def write_manifests(manifests, names, out_dir, seed, n_valid, n_test_per_snr):
    """Adds the fixed valid/test mixtures to ``manifests`` and writes every manifest."""
    manifests["valid"] = fixed_mixtures("valid", manifests["speech_valid"],
                                        manifests["noise_valid"], out_dir, seed, n_total=n_valid)
    manifests["test"] = fixed_mixtures("test", manifests["speech_test"], manifests["noise_test"],
                                       out_dir, seed, n_per_snr=n_test_per_snr)
    for name, path in names.items():
        write_json(manifests[name], path)

def export_subset(corpus_dir, out_dir, split="test", per_snr=1):
    """Copy a few fixed mixtures (one voice each, ``per_snr`` per SNR) with a manifest.

    The repository ships such a subset (``speechbrain_slim/data/real_demo``) for the demo and
    the tests; the corpus itself is built, not committed. Returns the manifest path.
    """
    with open(os.path.join(corpus_dir, f"{split}.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    chosen, voices = {}, set()
    for snr in TEST_SNRS:
        for uid, entry in sorted(manifest.items(), key=lambda kv: stable_hash(kv[0])):
            if entry["snr_db"] == snr and entry["group"] not in voices:
                chosen[uid] = entry
                voices.add(entry["group"])
                if sum(e["snr_db"] == snr for e in chosen.values()) == per_snr:
                    break
    os.makedirs(out_dir, exist_ok=True)
    subset = {}
    for uid, entry in chosen.items():
        row = dict(entry)
        for key in ("noisy_wav", "clean_wav"):
            x, rate = sf.read(entry[key].replace("{data_root}", corpus_dir), dtype="int16")
            name = f"{uid}_{key.split('_')[0]}.flac"
            sf.write(os.path.join(out_dir, name), x, rate, subtype="PCM_16")
            row[key] = "{data_root}/" + name
        subset[uid] = row
    path = os.path.join(out_dir, f"{split}.json")
    write_json(subset, path)
    return path
