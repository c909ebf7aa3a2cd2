"""Build a training corpus of real recordings from Debian packages installed on this machine.

    sudo apt-get install -y --no-install-recommends asterisk-core-sounds-en-g722 \\
        fillets-ng-data fillets-ng-data-cs klettres-data tuxpaint-stamps-default ktuberling-data \\
        hedgewars-data ufoai-sound colobot-common-sounds bucklespring-data sonic-pi-samples
    python -m speechbrain_slim.data.real_corpus --out data/real_corpus

Every recording is decoded (OGG/WAV/FLAC with soundfile, Asterisk's G.722 prompts with the
``G722`` codec), mixed down, resampled to 16 kHz, trimmed of leading/trailing silence and written
as FLAC under ``OUT/speech/`` or ``OUT/noise/``. Speech recordings become clean training targets
only if they pass three checks (the thresholds are arguments of :func:`speech_quality`):

* **clipping**: at most ``0.1%`` of the samples at or above 0.99 of full scale;
* **noise floor**: the loudest 20 ms frames (95th percentile) at least ``30 dB`` above the
  quietest (5th percentile), measured before trimming, so hiss and hum between words are seen;
* **bandwidth**: the long-term spectrum of active frames reaches within ``50 dB`` of its peak
  up to at least ``6 kHz`` (drops telephone-rate and low-passed recordings).

Splits are made **by voice**: a recording's *group* is the speaker when the package says who
speaks (Asterisk's one voice, the Fish Fillets character named in the file name, a Hedgewars
voice pack) and the language folder otherwise (Tux Paint, KTuberling and KLettres record one
volunteer set per language). Groups are ordered by a hash of their name and the test and valid
splits filled with whole groups until each holds its share of the speech; groups larger than
``max_heldout_share`` of all speech always train. Noise recordings are split by file within each
category (``ufoai/ambience``, ``colobot/music``, ...), so no test noise is ever heard in
training. Ufo:AI's ``civilians/`` and ``soldiers/`` voices are *talkers*: babble and interfering
speech, never clean targets or plain noise. ``/usr/share/sounds/alsa`` is never read (reserved
for evaluation).

The folder then holds SpeechBrain JSON manifests keyed by id:

* ``speech_{train,valid,test}.json``: ``wav``, ``length`` (s), ``group``, ``source``, ``language``;
* ``noise_{train,valid,test}.json`` and ``talkers_{...}.json``: ``wav``, ``length``, ``category``;
* ``rir_{train,valid,test}.json``: room impulse responses simulated with pyroomacoustics;
* ``valid.json`` / ``test.json``: fixed mixtures (``noisy_wav``, ``clean_wav``, ``snr_db``,
  ``noise``, ``group``) of held-out voices in held-out noise at -2.5 ... 17.5 dB;
* ``report.json`` / ``report.md``: per package, files found, removed by each check, kept, minutes.

A second run with the same arguments does nothing.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import glob
import hashlib
import io
import json
import os
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from speechbrain_slim.data.mixing import active_speech_mask, mix_at_snr
from speechbrain_slim.data.prepare import write_json

SAMPLE_RATE = 16000
TEST_SNRS = (-2.5, 2.5, 7.5, 12.5, 17.5)
SPLITS = ("train", "valid", "test")
RESERVED_FOR_EVALUATION = "/usr/share/sounds/alsa"
UFOAI_PK3 = "/usr/share/games/ufoai/base/0snd.pk3"
DONE_FILE = "real_corpus_done.json"
APT_PACKAGES = (
    "asterisk-core-sounds-en-g722", "fillets-ng-data", "fillets-ng-data-cs", "klettres-data",
    "tuxpaint-stamps-default", "ktuberling-data", "hedgewars-data", "ufoai-sound",
    "colobot-common-sounds", "bucklespring-data", "sonic-pi-samples",
)


def _parts(path, root):
    return os.path.relpath(path, root).split(os.sep)


def _fillets_character(path, root):
    # let-m-divna.ogg: level "let", character "m" (the small fish's actor), line "divna"
    fields = os.path.basename(path)[: -len(".ogg")].split("-")
    return fields[1] if len(fields) >= 3 and fields[1] else "misc"


def _hedgewars_pack(path, root):
    pack = _parts(path, root)[0]
    return None if pack in ("Robot", "Singer") else pack


def _ktuberling_language(path, root):
    # gl, nl and sr are noisy recordings; the sr@* folders repeat sr.
    lang = _parts(path, root)[0]
    return None if lang in ("gl", "nl", "sr") or "@" in lang else lang


# name, Debian package, root folder, glob under it, group of a file (None: skip), language
SPEECH_SOURCES = (
    ("asterisk", "asterisk-core-sounds-en-g722", "/usr/share/asterisk/sounds/en_US_f_Allison",
     "**/*.g722", lambda p, r: "allison", lambda p, r: "en"),
    ("fillets-cs", "fillets-ng-data-cs", "/usr/share/games/fillets-ng/sound", "**/cs/*.ogg",
     _fillets_character, lambda p, r: "cs"),
    ("klettres", "klettres-data", "/usr/share/klettres", "*/*/*.ogg",
     lambda p, r: _parts(p, r)[0], lambda p, r: _parts(p, r)[0]),
    ("tuxpaint", "tuxpaint-stamps-default", "/usr/share/tuxpaint/stamps", "**/*_desc_*.ogg",
     lambda p, r: p.rsplit("_desc_", 1)[1][: -len(".ogg")],
     lambda p, r: p.rsplit("_desc_", 1)[1][: -len(".ogg")]),
    ("ktuberling", "ktuberling-data", "/usr/share/ktuberling/sounds", "*/*.ogg",
     _ktuberling_language, lambda p, r: _parts(p, r)[0]),
    ("hedgewars", "hedgewars-data", "/usr/share/games/hedgewars/Data/Sounds/voices", "*/*.ogg",
     _hedgewars_pack, lambda p, r: "en"),
)

# name, Debian package, root, glob, category of a file (None: skip); ufoai reads the pk3 (a zip)
NOISE_SOURCES = (
    ("colobot", "colobot-common-sounds", "/usr/share/games/colobot", "**/*.ogg",
     lambda p, r: "music" if "/music/" in p else "effects"),
    ("fillets", "fillets-ng-data", "/usr/share/games/fillets-ng/music", "*.ogg",
     lambda p, r: "music"),
    ("bucklespring", "bucklespring-data", "/usr/share/buckle/wav", "*.wav",
     lambda p, r: "keyboard"),
    ("sonic-pi", "sonic-pi-samples", "/usr/share/sonic-pi/samples", "*.flac",
     lambda p, r: os.path.basename(p).split("_")[0]),
)
UFOAI_TALKER_FOLDERS = ("civilians", "soldiers")
UFOAI_SKIP_FOLDERS = ("seq", "ui", "geoscape")  # music cues and interface beeps


def stable_hash(text):
    """A hash of ``text`` that is the same on every machine and run (0 <= h < 1).

    Example
    -------
    >>> stable_hash("tuxpaint/ro") == stable_hash("tuxpaint/ro")
    True
    """
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:12], 16) / 16**12


def decode(path, data=None):
    """Read a recording as float64 mono at its own rate; returns ``(signal, rate)``.

    ``data``: the file's bytes (a member of a zip), else ``path`` is read. ``.g722`` files
    are Asterisk's 16 kHz G.722 prompts (64 kbit/s).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.ones((100, 2)) * 0.5, 8000)
    >>> x, rate = decode(path)
    >>> x.shape, rate, float(x[0])
    ((100,), 8000, 0.5)
    """
    if path.endswith(".g722"):
        import G722

        raw = data if data is not None else open(path, "rb").read()
        samples = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(raw), dtype=np.float64)
        return samples / 32768.0, SAMPLE_RATE
    source = io.BytesIO(data) if data is not None else path
    x, rate = sf.read(source, dtype="float64", always_2d=True)
    return x.mean(axis=1), int(rate)


def to_16k(x, rate):
    """Resample to 16 kHz (polyphase, exact ratio).

    Example
    -------
    >>> to_16k(np.zeros(44100), 44100).shape
    (16000,)
    """
    if rate == SAMPLE_RATE:
        return x
    g = np.gcd(int(rate), SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, int(rate) // g)


def frame_levels_db(x, frame=320):
    """Energy of each 20 ms frame in dB (``-inf`` for silent frames)."""
    n = len(x) // frame
    if n == 0:
        return np.array([])
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(energy)


def bandwidth_hz(x, floor_db=50.0, n_fft=512):
    """Highest frequency at which the long-term spectrum of active frames is within
    ``floor_db`` of its peak (16 kHz input).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> round(bandwidth_hz(rng.standard_normal(16000)) / 1000)
    8
    >>> narrow = resample_poly(resample_poly(rng.standard_normal(16000), 1, 4), 4, 1)
    >>> bandwidth_hz(narrow) < 3000
    True
    """
    mask = active_speech_mask(x)
    if len(x) < n_fft or not mask.any():
        return 0.0
    n = len(x) // n_fft
    frames = x[: n * n_fft].reshape(n, n_fft)[mask[: n * n_fft].reshape(n, n_fft).any(axis=1)]
    spectrum = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).mean(axis=0)
    smooth = np.convolve(spectrum, np.ones(5) / 5, mode="same")
    level = 10 * np.log10(smooth + 1e-20)
    within = np.nonzero(level >= level.max() - floor_db)[0]
    return float(within.max() * SAMPLE_RATE / n_fft)


def speech_quality(x, native, clip_share=1e-3, min_range_db=30.0, min_bandwidth_hz=6000.0,
                   min_seconds=0.5):
    """The first check a speech recording fails (``None`` if it is a clean target).

    Arguments
    ---------
    x : numpy.ndarray
        The recording at 16 kHz, before trimming.
    native : numpy.ndarray
        The recording at its own rate (clipping is counted there).
    clip_share : float
        Largest share of samples at or above 0.99 of full scale.
    min_range_db : float
        Smallest distance between the 95th and 5th percentile of 20 ms frame levels.
    min_bandwidth_hz : float
        Smallest bandwidth (:func:`bandwidth_hz`).
    min_seconds : float
        Shortest recording kept.

    Returns
    -------
    str or None
        ``"clipping"``, ``"noise floor"``, ``"bandwidth"``, ``"too short"`` or ``None``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> burst = np.concatenate([np.zeros(8000), rng.standard_normal(16000) * 0.1, np.zeros(8000)])
    >>> quiet = burst + 1e-4 * rng.standard_normal(len(burst))   # floor 60 dB down
    >>> speech_quality(quiet, quiet) is None
    True
    >>> speech_quality(burst + 0.01 * rng.standard_normal(len(burst)), burst)
    'noise floor'
    """
    if len(x) < min_seconds * SAMPLE_RATE:
        return "too short"
    if np.mean(np.abs(native) >= 0.99) > clip_share:
        return "clipping"
    levels = frame_levels_db(x)
    levels = levels[np.isfinite(levels)]
    if len(levels) == 0:
        return "too short"
    if len(levels) < 10 or np.percentile(levels, 95) - np.percentile(levels, 5) < min_range_db:
        return "noise floor"
    if bandwidth_hz(x) < min_bandwidth_hz:
        return "bandwidth"
    return None


def trim(x, margin_s=0.1, threshold_db=40.0):
    """Cut leading/trailing silence (frames ``threshold_db`` below the loudest) but a margin.

    Example
    -------
    >>> x = np.concatenate([np.zeros(16000), np.ones(1600), np.zeros(16000)])
    >>> len(trim(x))
    4800
    """
    mask = active_speech_mask(x, threshold_db=threshold_db)
    if not mask.any():
        return x[:0]
    where = np.nonzero(mask)[0]
    margin = int(margin_s * SAMPLE_RATE)
    return x[max(where[0] - margin, 0) : where[-1] + 1 + margin]


def find_sources(exclude=RESERVED_FOR_EVALUATION):
    """Every installed recording: dicts with kind, source, package, path, group, language."""
    found = []
    for name, package, root, pattern, group_of, language_of in SPEECH_SOURCES:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            if path.startswith(exclude):
                continue
            group = group_of(path, root)
            if group is not None:
                found.append(dict(kind="speech", source=name, package=package, path=path,
                                  group=f"{name}/{group}", language=language_of(path, root)))
    for name, package, root, pattern, category_of in NOISE_SOURCES:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            found.append(dict(kind="noise", source=name, package=package, path=path,
                              group=f"{name}/{category_of(path, root)}"))
    if os.path.isfile(UFOAI_PK3):
        with zipfile.ZipFile(UFOAI_PK3) as pk3:
            for member in sorted(pk3.namelist()):
                parts = member.split("/")
                if not member.endswith((".ogg", ".wav")) or len(parts) < 3:
                    continue
                folder = parts[1]
                if folder in UFOAI_SKIP_FOLDERS:
                    continue
                kind = "talker" if folder in UFOAI_TALKER_FOLDERS else "noise"
                found.append(dict(kind=kind, source="ufoai", package="ufoai-sound",
                                  path=f"{UFOAI_PK3}:{member}", group=f"ufoai/{folder}"))
    return found


def _read(entry):
    path = entry["path"]
    if path.startswith(UFOAI_PK3 + ":"):
        member = path[len(UFOAI_PK3) + 1 :]
        with zipfile.ZipFile(UFOAI_PK3) as pk3:
            return decode(member, pk3.read(member))
    return decode(path)


def _process(args):
    """Decode, check, trim and write one recording; returns the entry with its outcome."""
    entry, out_dir = args
    try:
        native, rate = _read(entry)
    except Exception as error:  # a bad file in a package must not stop the build
        return {**entry, "removed": f"unreadable: {str(error)[:80]}"}
    x = to_16k(native, rate)
    if entry["kind"] == "speech":
        problem = speech_quality(x, native)
        if problem is not None:
            return {**entry, "removed": problem}
        x = trim(x)
    elif not np.any(x) or len(x) < SAMPLE_RATE // 20:
        return {**entry, "removed": "silent or too short"}
    peak = np.abs(x).max()
    if peak > 0.99:
        x = x * (0.99 / peak)
    stem = os.path.splitext(entry["path"].split(":")[-1])[0]
    name = "_".join(stem.strip("/").split("/")[-2:])
    rel = f"{entry['kind']}/{entry['group']}/{name}.flac"
    os.makedirs(os.path.dirname(os.path.join(out_dir, rel)), exist_ok=True)
    sf.write(os.path.join(out_dir, rel), x.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return {**entry, "removed": None, "wav": "{data_root}/" + rel,
            "length": round(len(x) / SAMPLE_RATE, 3), "native_rate": rate}


def split_groups(durations, shares=(("test", 0.12), ("valid", 0.08)), max_heldout_share=0.1):
    """Assign whole groups to splits: group -> split.

    Groups are taken in the order of :func:`stable_hash`; each held-out split receives groups
    until it holds its share of the total duration. Groups above ``max_heldout_share`` of the
    total always train (one big voice would otherwise be the whole test set).

    Example
    -------
    >>> durations = {f"g{i}": 10.0 for i in range(20)}
    >>> splits = split_groups(durations)
    >>> sorted(splits.values()).count("test"), sorted(splits.values()).count("valid")
    (3, 2)
    """
    total = sum(durations.values())
    assignment = {g: "train" for g in durations}
    candidates = [g for g in sorted(durations, key=stable_hash)
                  if durations[g] <= max_heldout_share * total]
    for split, share in shares:
        held = 0.0
        while candidates and held < share * total:
            group = candidates.pop(0)
            assignment[group] = split
            held += durations[group]
    return assignment


def split_files(entries, shares=(("test", 0.15), ("valid", 0.1))):
    """Assign noise files to splits by :func:`stable_hash` of their path, per category;
    a category with fewer than 3 files trains only.

    Example
    -------
    >>> files = [dict(group="c", path=f"/n/{i}.wav") for i in range(40)]
    >>> counts = {s: 0 for s in SPLITS}
    >>> for e in split_files(files): counts[e["split"]] += 1
    >>> counts["train"] > counts["test"] > 0 and counts["valid"] > 0
    True
    """
    per_category = Counter(e["group"] for e in entries)
    out = []
    for entry in entries:
        h = stable_hash(entry["path"])
        split, edge = "train", 0.0
        for name, share in shares:
            if edge <= h < edge + share:
                split = name
            edge += share
        out.append({**entry, "split": split if per_category[entry["group"]] >= 3 else "train"})
    for name, _ in shares:  # few files: a held-out split still gets one (the lowest hash)
        train = sorted((e for e in out if e["split"] == "train"),
                       key=lambda e: stable_hash(e["path"]))
        if len(train) > 1 and not any(e["split"] == name for e in out):
            train[0]["split"] = name
    return out


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


def _report(entries):
    rows = {}
    for e in entries:
        row = rows.setdefault(e["package"], {"found": 0, "kept": 0, "minutes": 0.0, "removed": {}})
        row["found"] += 1
        if e["removed"] is None:
            row["kept"] += 1
            row["minutes"] += e["length"] / 60
        else:
            reason = e["removed"].split(":")[0]
            row["removed"][reason] = row["removed"].get(reason, 0) + 1
    for row in rows.values():
        row["minutes"] = round(row["minutes"], 1)
    return rows


def _report_md(rows, splits):
    lines = ["| package | found | kept | minutes kept | removed |", "|---|---:|---:|---:|---|"]
    for package, row in sorted(rows.items()):
        removed = ", ".join(f"{k} {v}" for k, v in sorted(row["removed"].items())) or "-"
        lines.append(f"| {package} | {row['found']} | {row['kept']} | {row['minutes']} | "
                     f"{removed} |")
    lines += ["", "| split | speech groups | speech minutes | noise files | noise minutes |",
              "|---|---:|---:|---:|---:|"]
    for split, s in splits.items():
        lines.append(f"| {split} | {s['groups']} | {s['speech_minutes']} | {s['noise_files']} | "
                     f"{s['noise_minutes']} |")
    return "\n".join(lines) + "\n"


def manifest_names(out_dir, kinds):
    """``{kind}_{split}`` (and ``valid``/``test``, the fixed mixtures) -> JSON path in ``out_dir``.

    Example
    -------
    >>> sorted(manifest_names("/c", ("noise",)))
    ['noise_test', 'noise_train', 'noise_valid', 'test', 'valid']
    """
    names = {f"{kind}_{split}": os.path.join(out_dir, f"{kind}_{split}.json")
             for kind in kinds for split in SPLITS}
    names.update(valid=os.path.join(out_dir, "valid.json"), test=os.path.join(out_dir, "test.json"))
    return names


def built_with(done_file, settings):
    """Whether ``done_file`` records a finished build with these ``settings``."""
    if not os.path.isfile(done_file):
        return False
    with open(done_file, encoding="utf-8") as f:
        return json.load(f) == settings


def build_real_corpus(out_dir, seed=1234, jobs=2, n_valid=120, n_test_per_snr=40,
                      n_rirs=(300, 30, 30), sources=None, progress=True):
    """Build the corpus in ``out_dir`` (see the module docstring); returns the manifest paths.

    Arguments
    ---------
    out_dir : str
        Output folder (``{data_root}`` of every manifest).
    seed : int
        Seed of the fixed mixtures and the simulated rooms.
    jobs : int
        Decoding processes.
    n_valid : int
        Fixed valid mixtures.
    n_test_per_snr : int
        Test utterances, each mixed at every SNR of ``TEST_SNRS``.
    n_rirs : tuple of int
        Simulated rooms for train, valid and test.
    sources : list of dict, optional
        Recordings to use (default: :func:`find_sources`); tests pass a small list.
    progress : bool
        Print what is done.
    """
    out_dir = os.path.abspath(out_dir)
    settings = dict(seed=seed, n_valid=n_valid, n_test_per_snr=n_test_per_snr,
                    n_rirs=list(n_rirs))
    names = manifest_names(out_dir, ("speech", "noise", "talkers", "rir"))
    done = os.path.join(out_dir, DONE_FILE)
    if built_with(done, settings):
        return names
    entries = find_sources() if sources is None else list(sources)
    if not any(e["kind"] == "speech" for e in entries):
        raise RuntimeError("no speech recordings found: install the packages with\n  apt-get "
                           "install -y --no-install-recommends " + " ".join(APT_PACKAGES))
    if progress:
        print(f"decoding {len(entries)} recordings with {jobs} process(es) ...", flush=True)
    decoded = os.path.join(out_dir, "decoded.json")  # a rerun after a failure starts here
    results = None
    if os.path.isfile(decoded):
        with open(decoded, encoding="utf-8") as f:
            results = json.load(f)
        if [r["path"] for r in results] != [e["path"] for e in entries]:
            results = None
    if results is None:
        work = [(e, out_dir) for e in entries]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                results = list(pool.map(_process, work, chunksize=16))
        else:
            results = [_process(w) for w in work]
        write_json(results, decoded)
    kept = [r for r in results if r["removed"] is None]
    speech = [r for r in kept if r["kind"] == "speech"]
    durations = {}
    for r in speech:
        durations[r["group"]] = durations.get(r["group"], 0.0) + r["length"]
    assignment = split_groups(durations)
    others = split_files([r for r in kept if r["kind"] != "speech"])
    manifests = {name: {} for name in names}
    def uid(r):  # "{data_root}/speech/tuxpaint/ro/x.flac" -> "speech_tuxpaint_ro_x"
        return r["wav"].split("/", 1)[1][: -len(".flac")].replace("/", "_")

    for r in speech:
        key = f"speech_{assignment[r['group']]}"
        manifests[key][uid(r)] = {k: r[k] for k in ("wav", "length", "group", "source",
                                                    "language")}
    for r in others:
        kind = "talkers" if r["kind"] == "talker" else "noise"
        manifests[f"{kind}_{r['split']}"][uid(r)] = {"wav": r["wav"], "length": r["length"],
                                                     "category": r["group"]}
    for split, count in zip(SPLITS, n_rirs):
        manifests[f"rir_{split}"] = simulate_rirs(count, seed, out_dir, split)
    write_manifests(manifests, names, out_dir, seed, n_valid, n_test_per_snr)
    splits = {}
    for split in SPLITS:
        groups = {e["group"] for e in manifests[f"speech_{split}"].values()}
        splits[split] = {
            "groups": len(groups),
            "speech_minutes": round(sum(e["length"] for e in manifests[f"speech_{split}"].values())
                                    / 60, 1),
            "noise_files": len(manifests[f"noise_{split}"]),
            "noise_minutes": round(sum(e["length"] for e in manifests[f"noise_{split}"].values())
                                   / 60, 1),
            "group_names": sorted(groups),
        }
    rows = _report(results)
    write_json({"packages": rows, "splits": splits, "settings": settings},
               os.path.join(out_dir, "report.json"))
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(_report_md(rows, splits))
    write_json(settings, done)
    if progress:
        print(_report_md(rows, splits))
    return names


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--jobs", type=int, default=2, help="decoding processes")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--n-valid", type=int, default=120)
    parser.add_argument("--n-test-per-snr", type=int, default=40)
    parser.add_argument("--export-subset", metavar="DIR",
                        help="then copy one test mixture per SNR to DIR (the demo's subset)")
    args = parser.parse_args(argv)
    build_real_corpus(args.out, seed=args.seed, jobs=args.jobs, n_valid=args.n_valid,
                      n_test_per_snr=args.n_test_per_snr)
    if args.export_subset:
        print(export_subset(os.path.abspath(args.out), args.export_subset))


if __name__ == "__main__":
    main()
