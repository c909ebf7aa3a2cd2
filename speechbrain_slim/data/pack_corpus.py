"""Pack the training part of the real corpus small enough to travel (e.g. to a lent GPU machine).

    python -m speechbrain_slim.data.pack_corpus --corpus data/real_corpus --out device_pack \\
        --budget-mib 17

The built corpus (:mod:`speechbrain_slim.data.real_corpus`) holds ~390 MB of FLAC; a machine that
receives the repository's working tree with a size limit (64 MiB, the tracked files included)
cannot take it. This writes a lossy copy of what ``train.py`` reads for training and validation:

* ``speech_train`` (clean targets) and ``talkers_train`` (babble) as OGG Opus at
  ``speech_kbps`` (default 40 kbit/s: wideband, ~20 dB median waveform SNR of the round trip,
  lower on noise-like sounds such as fricatives, whose waveform a perceptual codec does not keep);
* ``noise_train`` as OGG Opus at ``noise_kbps`` (default 16; noise is only ever an input, and
  its share of energy above 6 kHz stays within ~2 dB at 12-24 kbit/s);
* the 120 fixed ``valid`` mixtures (noisy and clean, same length as before) at ``valid_kbps``
  (default 32: they only rank checkpoints);
* ``rir_train`` as 16-bit FLAC (lossless enough for impulse responses; a lossy codec smears them).

How much is kept is chosen to fit ``budget_mib`` (the pack's bytes, manifests included), by
deterministic rules, so every voice group and every noise category stays:

* rooms: every ``k``-th simulated room of ``rir_train`` (``k = ceil(300 / rirs)``);
* talkers and the valid mixtures: all of them;
* speech: each voice group keeps every ``k_g``-th of its utterances (sorted by id; the first one
  always), ``k_g = ceil(group seconds / cap)``, so a group is thinned only when it holds more
  than ``cap`` seconds (large voices shrink, small ones stay whole: the kept speech is more
  balanced across voices and languages than the full corpus);
* noise: every file is kept, files longer than ``cap`` seconds as their middle ``cap`` seconds;

where each ``cap`` is the largest that fits that part's share of the budget (``speech_share`` of
what the rooms, talkers and valid mixtures leave), found by bisection on the measured bytes of
the encoded files. The manifests keep the corpus's format (``{data_root}`` paths, ``length`` of
the decoded audio) with ``wav`` pointing into the pack; the held-out ``*_valid``/``*_test``
source manifests are written empty (training never reads them), ``test.json`` is a copy of
``valid.json`` (``train.py`` loads a test set, an empty one fails; not a test split) and the
corpus's ``real_corpus_done.json`` is copied, so ``train.py --data_folder=PACK`` reads the pack
as a finished build. ``pack.json`` records the codec, the bitrates, the rules, what was kept
(files, minutes, bytes per part) and a decode check (lengths, sample rates, levels and the
round trip's SNR on a few files of each part).

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import io
import json
import math
import os
import shutil

import numpy as np
import soundfile as sf

__all__ = ["choose_codec", "encode", "every_kth", "pack_corpus", "main"]

SAMPLE_RATE = 16000
PARTS = ("speech_train", "talkers_train", "noise_train", "rir_train", "valid")
EMPTY = ("speech_valid", "speech_test", "noise_valid", "noise_test", "talkers_valid",
         "talkers_test", "rir_valid", "rir_test")
DONE_FILE = "real_corpus_done.json"
MIB = 1024 * 1024


def choose_codec():
    """``"OPUS"`` if this libsndfile writes OGG Opus, else ``"VORBIS"``.

    Example
    -------
    >>> choose_codec() in ("OPUS", "VORBIS")
    True
    """
    subtypes = sf.available_subtypes("OGG")
    if "OPUS" in subtypes:
        return "OPUS"
    if "VORBIS" in subtypes:
        return "VORBIS"
    raise RuntimeError("this libsndfile writes neither OGG Opus nor OGG Vorbis")


def compression_level(codec, kbps):
    """libsndfile's ``compression_level`` (0..1) for about ``kbps`` kbit/s.

    Opus: libsndfile maps the level linearly onto 256 .. 6 kbit/s. Vorbis: the level is a
    quality setting; at 16 kHz mono 0.5 gives ~55 kbit/s and 1.0 ~36 (measured), so the
    bitrate is only approximated there (the budget is met on measured bytes either way).

    Example
    -------
    >>> compression_level("OPUS", 32)
    0.896
    """
    if codec == "OPUS":
        return round(min(max(1.0 - (kbps - 6.0) / 250.0, 0.0), 1.0), 4)
    return round(min(max(0.5 + (55.0 - kbps) / 38.0, 0.0), 1.0), 4)


def encode(audio, codec, kbps):
    """Encoded bytes (OGG ``codec``, 16 kHz mono) of a float ``audio`` array.

    Example
    -------
    >>> x = np.sin(np.arange(16000) / 10).astype("float32") * 0.3
    >>> data = encode(x, choose_codec(), 32)
    >>> y, rate = sf.read(io.BytesIO(data), dtype="float32")
    >>> rate, len(y) == len(x), len(data) < 16000
    (16000, True, True)
    """
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, dtype=np.float32), SAMPLE_RATE, format="OGG",
             subtype=codec, compression_level=compression_level(codec, kbps))
    return buffer.getvalue()


def every_kth(ids, seconds, cap):
    """The ids a group keeps: every ``k``-th (the first always), ``k = ceil(seconds / cap)``.

    Example
    -------
    >>> every_kth(["a", "b", "c", "d", "e"], 50.0, 20.0)
    ['a', 'd']
    >>> every_kth(["a", "b"], 10.0, 20.0)
    ['a', 'b']
    """
    step = max(1, math.ceil(seconds / cap)) if cap > 0 else len(ids)
    return sorted(ids)[::step]


def _path(entry_path, root):
    return entry_path.replace("{data_root}", root)


def _read(path):
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return audio.mean(axis=1)


def _packed_name(wav, extension):
    """``{data_root}/speech/a/b.flac`` -> ``speech/a/b.<extension>`` (relative to the pack)."""
    relative = wav.split("/", 1)[1] if wav.startswith("{data_root}/") else os.path.basename(wav)
    return os.path.splitext(relative)[0] + extension


class _Encoder:
    """Encodes source files once per setting (the bisection re-reads only the sizes)."""

    def __init__(self, corpus, codec):
        self.corpus, self.codec, self.cache = corpus, codec, {}

    def get(self, wav, kbps, window=None):
        key = (wav, kbps, window)
        if key not in self.cache:
            audio = _read(_path(wav, self.corpus))
            if window is not None:
                audio = audio[window[0] : window[1]]
            self.cache[key] = encode(audio, self.codec, kbps)
        return self.cache[key]


def _noise_window(seconds, cap):
    """The middle ``cap`` seconds of a longer file (sample indices), else None (whole file)."""
    total = int(round(seconds * SAMPLE_RATE))
    keep = int(cap * SAMPLE_RATE)
    if cap <= 0 or total <= keep:
        return None
    start = (total - keep) // 2
    return (start, start + keep)


def _bisect_cap(size_of, budget, high, steps=14):
    """Largest cap in [0, high] (seconds) whose ``size_of(cap)`` fits ``budget`` bytes."""
    if size_of(high) <= budget:
        return high
    low = 0.0
    for _ in range(steps):
        middle = (low + high) / 2
        if size_of(middle) <= budget:
            low = middle
        else:
            high = middle
    return low


def _snr_db(reference, decoded):
    n = min(len(reference), len(decoded))
    error = float(np.sum((reference[:n] - decoded[:n]) ** 2))
    power = float(np.sum(reference[:n] ** 2))
    if power == 0:
        return float("nan")
    return 10 * math.log10(power / max(error, 1e-20))


def _rms_db(x):
    return 20 * math.log10(max(float(np.sqrt(np.mean(np.square(x)))), 1e-10))


def pack_corpus(corpus, out, budget_mib=17.0, speech_kbps=40, noise_kbps=16, valid_kbps=32,
                rirs=150, speech_share=0.6, check_files=4, codec=None, progress=True):
    """Writes the pack (see the module docstring) to ``out``; returns its ``pack.json`` record.

    Arguments
    ---------
    corpus : str
        A built real corpus (``real_corpus_done.json`` and the manifests in it).
    out : str
        Output folder (replaced if it is an earlier pack).
    budget_mib : float
        Size of the whole pack in MiB (manifests included).
    speech_kbps, noise_kbps, valid_kbps : float
        Bitrates of speech and talkers, of noise, of the valid mixtures.
    rirs : int
        Rooms to keep from ``rir_train`` (every k-th).
    speech_share : float
        Share of what is left after rooms, talkers and valid mixtures that goes to speech.
    check_files : int
        Files of each part decoded again and compared with their source for ``pack.json``.
    codec : str, optional
        ``"OPUS"`` or ``"VORBIS"`` (default: :func:`choose_codec`).
    progress : bool
        Print what is done.
    """
    corpus, out = os.path.abspath(corpus), os.path.abspath(out)
    if not os.path.isfile(os.path.join(corpus, DONE_FILE)):
        raise FileNotFoundError(f"{corpus} is not a finished build (no {DONE_FILE}): build it "
                                "with python -m speechbrain_slim.data.real_corpus")
    if os.path.isdir(out):
        if not os.path.isfile(os.path.join(out, "pack.json")) and os.listdir(out):
            raise FileExistsError(f"{out} exists and is not a pack: choose another --out")
        shutil.rmtree(out)
    codec = codec or choose_codec()
    manifests = {}
    for part in PARTS:
        with open(os.path.join(corpus, f"{part}.json"), encoding="utf-8") as stream:
            manifests[part] = json.load(stream)
    encoder = _Encoder(corpus, codec)
    budget = int(budget_mib * MIB)
    files, kept = {}, {part: {} for part in PARTS}  # files: pack-relative path -> bytes

    def say(message):
        if progress:
            print(message, flush=True)

    # Rooms: every k-th, lossless 16-bit FLAC.
    step = max(1, math.ceil(len(manifests["rir_train"]) / max(rirs, 1)))
    for uid in sorted(manifests["rir_train"])[::step]:
        entry = dict(manifests["rir_train"][uid])
        buffer = io.BytesIO()
        sf.write(buffer, _read(_path(entry["wav"], corpus)), SAMPLE_RATE, format="FLAC",
                 subtype="PCM_16")
        name = _packed_name(entry["wav"], ".flac")
        files[name] = buffer.getvalue()
        entry["wav"] = "{data_root}/" + name
        kept["rir_train"][uid] = entry
    # Talkers (babble) whole, at the speech bitrate.
    for uid, entry in sorted(manifests["talkers_train"].items()):
        name = _packed_name(entry["wav"], ".ogg")
        files[name] = encoder.get(entry["wav"], speech_kbps)
        kept["talkers_train"][uid] = {**entry, "wav": "{data_root}/" + name}
    # Valid mixtures whole (noisy and clean at the same bitrate: equal lengths).
    for uid, entry in sorted(manifests["valid"].items()):
        row = dict(entry)
        for key in ("noisy_wav", "clean_wav"):
            name = _packed_name(entry[key], ".ogg")
            files[name] = encoder.get(entry[key], valid_kbps)
            row[key] = "{data_root}/" + name
        kept["valid"][uid] = row
    fixed = sum(len(data) for data in files.values())
    manifest_allowance = MIB * 3 // 4  # manifests + pack.json (~0.5 MiB); checked at the end
    left = budget - fixed - manifest_allowance
    if left <= 0:
        raise ValueError(f"rooms, talkers and valid mixtures alone take {fixed / MIB:.1f} MiB: "
                         f"raise --budget-mib above {budget_mib}")
    say(f"codec OGG {codec}; rooms, talkers, valid: {fixed / MIB:.2f} MiB; "
        f"{left / MIB:.2f} MiB left for speech and noise")

    # Speech: per voice group, every k_g-th utterance under a common cap (seconds per group).
    speech = manifests["speech_train"]
    groups = {}
    for uid, entry in speech.items():
        groups.setdefault(entry["group"], []).append(uid)
    group_seconds = {g: sum(speech[u]["length"] for u in ids) for g, ids in groups.items()}

    def speech_choice(cap):
        return [u for g, ids in sorted(groups.items()) for u in every_kth(ids, group_seconds[g],
                                                                           cap)]

    def speech_size(cap):  # an estimate from the bitrate (+ ~900 bytes of headers a file)
        return sum(int(speech[u]["length"] * speech_kbps * 125) + 900 for u in speech_choice(cap))

    def speech_size_measured(cap):
        return sum(len(encoder.get(speech[u]["wav"], speech_kbps)) for u in speech_choice(cap))

    speech_budget = int(left * speech_share)
    say(f"speech: {len(speech)} utterances, {len(groups)} voice groups, fitting "
        f"{speech_budget / MIB:.2f} MiB ...")
    speech_cap = _bisect_cap(speech_size, speech_budget, max(group_seconds.values()))
    for _ in range(8):  # the estimate is close: correct it on the measured bytes
        measured = speech_size_measured(speech_cap)
        if measured <= speech_budget:
            break
        speech_cap *= 0.98 * speech_budget / measured
    for uid in speech_choice(speech_cap):
        entry = speech[uid]
        name = _packed_name(entry["wav"], ".ogg")
        files[name] = encoder.get(entry["wav"], speech_kbps)
        kept["speech_train"][uid] = {**entry, "wav": "{data_root}/" + name}

    # Noise: every file, the longer ones cut to their middle `cap` seconds.
    noise = manifests["noise_train"]
    noise_budget = left - sum(len(files[_packed_name(e["wav"], ".ogg")])
                              for e in kept["speech_train"].values())

    def noise_size(cap):
        total = 0
        for entry in noise.values():
            window = _noise_window(entry["length"], cap)
            # estimate from the bitrate first; encode only near the answer
            seconds = entry["length"] if window is None else cap
            total += int(seconds * noise_kbps * 125) + 900
        return total

    def noise_size_measured(cap):
        return sum(len(encoder.get(e["wav"], noise_kbps, _noise_window(e["length"], cap)))
                   for e in noise.values())

    longest = max(e["length"] for e in noise.values())
    noise_cap = _bisect_cap(noise_size, noise_budget, longest)
    for _ in range(6):  # the estimate is close: correct it on measured bytes
        measured = noise_size_measured(noise_cap)
        if measured <= noise_budget:
            break
        noise_cap *= 0.97 * noise_budget / measured
    say(f"noise: {len(noise)} files, capped at {noise_cap:.1f} s each")
    noise_windows = {}
    for uid, entry in sorted(noise.items()):
        window = _noise_window(entry["length"], noise_cap)
        name = _packed_name(entry["wav"], ".ogg")
        files[name] = encoder.get(entry["wav"], noise_kbps, window)
        row = dict(entry)
        if window is not None:
            noise_windows[uid] = [window[0] / SAMPLE_RATE, window[1] / SAMPLE_RATE]
        kept["noise_train"][uid] = {**row, "wav": "{data_root}/" + name}

    # Write the audio, then the manifests with the decoded lengths.
    for name, data in files.items():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(data)
    frames = {}
    for part in PARTS:
        for entry in kept[part].values():
            for key in ("wav", "noisy_wav", "clean_wav"):
                if key in entry:
                    info = sf.info(_path(entry[key], out))
                    if info.samplerate != SAMPLE_RATE or info.frames <= 0:
                        raise RuntimeError(f"{entry[key]}: decodes to {info.frames} frames at "
                                           f"{info.samplerate} Hz")
                    frames[entry[key]] = info.frames
            if "wav" in entry:
                digits = 4 if part == "rir_train" else 3
                entry["length"] = round(frames[entry["wav"]] / SAMPLE_RATE, digits)
            elif frames[entry["noisy_wav"]] != frames[entry["clean_wav"]]:
                raise RuntimeError(f"{entry['noisy_wav']}: noisy and clean decode to different "
                                   "lengths")
        _write_json(kept[part], os.path.join(out, f"{part}.json"))
    for name in EMPTY:
        _write_json({}, os.path.join(out, f"{name}.json"))
    # train.py loads a test set (an empty one fails): the valid mixtures stand in; never report
    # scores on it (the real test split stays with the full corpus)
    _write_json(kept["valid"], os.path.join(out, "test.json"))
    shutil.copyfile(os.path.join(corpus, DONE_FILE), os.path.join(out, DONE_FILE))

    record = {
        "corpus": corpus,
        "codec": f"OGG {codec}" if codec else None,
        "bitrate_kbps": {"speech_train": speech_kbps, "talkers_train": speech_kbps,
                         "noise_train": noise_kbps, "valid": valid_kbps,
                         "rir_train": "FLAC 16 bit"},
        "compression_level": {"speech": compression_level(codec, speech_kbps),
                              "noise": compression_level(codec, noise_kbps),
                              "valid": compression_level(codec, valid_kbps)},
        "budget_mib": budget_mib,
        "rules": {
            "rir_train": f"every {step}-th room (sorted by id)",
            "talkers_train": "all",
            "valid": "all fixed mixtures, noisy and clean",
            "speech_train": f"per voice group every ceil(group seconds / {speech_cap:.1f})-th "
                            "utterance (sorted by id, the first always)",
            "noise_train": f"every file; longer than {noise_cap:.1f} s: its middle "
                           f"{noise_cap:.1f} s",
        },
        "speech_cap_seconds": round(speech_cap, 2),
        "noise_cap_seconds": round(noise_cap, 2),
        "noise_windows_seconds": noise_windows,
        "parts": {},
        "check": _check(kept, manifests, noise_windows, corpus, out, check_files),
    }
    for part in PARTS:
        source, packed = manifests[part], kept[part]
        names = [entry[key] for entry in packed.values()
                 for key in ("wav", "noisy_wav", "clean_wav") if key in entry]
        row = {
            "items": len(packed), "source_items": len(source),
            "minutes": round(sum(e["length"] for e in packed.values()) / 60, 2),
            "source_minutes": round(sum(e["length"] for e in source.values()) / 60, 2),
            "bytes": sum(len(files[n[len("{data_root}/"):]]) for n in names),
        }
        if part == "speech_train":
            row["groups"] = len({e["group"] for e in packed.values()})
            row["source_groups"] = len(groups)
        if part in ("noise_train", "talkers_train"):
            row["categories"] = len({e["category"] for e in packed.values()})
            row["source_categories"] = len({e["category"] for e in source.values()})
        record["parts"][part] = row
    _write_json(record, os.path.join(out, "pack.json"))
    total = _folder_bytes(out)
    record["total_bytes"] = total
    record["total_mib"] = round(total / MIB, 3)
    _write_json(record, os.path.join(out, "pack.json"))
    if total > budget:
        raise RuntimeError(f"the pack takes {total / MIB:.2f} MiB, over its budget of "
                           f"{budget_mib} MiB")
    say(json.dumps({"total_mib": record["total_mib"], "parts": record["parts"],
                    "check": record["check"]["summary"]}, indent=1))
    return record


def _check(kept, manifests, noise_windows, corpus, out, count):
    """Decodes ``count`` files of each part again: lengths, levels, the round trip's SNR."""
    rows = []
    for part in PARTS:
        uids = sorted(kept[part])
        picks = uids[:: max(1, len(uids) // max(count, 1))][:count]
        for uid in picks:
            entry, source = kept[part][uid], manifests[part][uid]
            for key in ("wav", "noisy_wav", "clean_wav"):
                if key not in entry:
                    continue
                original = _read(_path(source[key], corpus))
                if uid in noise_windows:
                    start, stop = (int(round(s * SAMPLE_RATE)) for s in noise_windows[uid])
                    original = original[start:stop]
                decoded = _read(_path(entry[key], out))
                rows.append({
                    "part": part, "id": uid, "key": key,
                    "source_samples": len(original), "decoded_samples": len(decoded),
                    "snr_db": round(_snr_db(original, decoded), 2),
                    "rms_db_source": round(_rms_db(original), 2),
                    "rms_db_decoded": round(_rms_db(decoded), 2),
                    "peak_decoded": round(float(np.max(np.abs(decoded))), 3),
                })
    summary = {}
    for part in PARTS:
        part_rows = [r for r in rows if r["part"] == part]
        if not part_rows:
            continue
        snrs = [r["snr_db"] for r in part_rows if np.isfinite(r["snr_db"])]
        summary[part] = {
            "files": len(part_rows),
            "snr_db_median": round(float(np.median(snrs)), 2) if snrs else None,
            "snr_db_min": round(float(np.min(snrs)), 2) if snrs else None,
            "lengths_equal": all(r["source_samples"] == r["decoded_samples"] for r in part_rows),
            "max_level_change_db": round(max(abs(r["rms_db_decoded"] - r["rms_db_source"])
                                             for r in part_rows), 2),
        }
    return {"summary": summary, "files": rows}


def _write_json(data, path):
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")


def _folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(folder) for name in names)


def main(argv=None):
    """``python -m speechbrain_slim.data.pack_corpus --corpus DIR --out DIR [--budget-mib N]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/real_corpus", help="a built real corpus")
    parser.add_argument("--out", required=True, help="output folder (the pack)")
    parser.add_argument("--budget-mib", type=float, default=17.0,
                        help="size of the whole pack in MiB (default 17)")
    parser.add_argument("--speech-kbps", type=float, default=40,
                        help="speech and talkers bitrate")
    parser.add_argument("--noise-kbps", type=float, default=16, help="noise bitrate")
    parser.add_argument("--valid-kbps", type=float, default=32, help="valid mixtures bitrate")
    parser.add_argument("--rirs", type=int, default=150, help="rooms kept (every k-th)")
    parser.add_argument("--speech-share", type=float, default=0.6,
                        help="share of the budget left after rooms/talkers/valid for speech")
    parser.add_argument("--codec", choices=("OPUS", "VORBIS"), default=None,
                        help="default: Opus if this libsndfile writes it")
    args = parser.parse_args(argv)
    pack_corpus(args.corpus, args.out, budget_mib=args.budget_mib, speech_kbps=args.speech_kbps,
                noise_kbps=args.noise_kbps, valid_kbps=args.valid_kbps, rirs=args.rirs,
                speech_share=args.speech_share, codec=args.codec)


if __name__ == "__main__":
    main()
