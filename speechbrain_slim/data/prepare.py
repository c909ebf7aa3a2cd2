"""Manifests for any folder of paired noisy/clean files, and folder resampling.

``prepare_paired_folder`` pairs ``noisy_dir/NAME`` with ``clean_dir/NAME`` (same relative
path, sub-folders allowed), checks every pair and writes a SpeechBrain JSON manifest keyed by
the name without extension: ``noisy_wav``, ``clean_wav``, ``length`` (seconds). All problems
(unmatched names, unreadable files, sample-rate or length mismatches) are collected and
reported in one ``ValueError``.

Authors
 * speechbrain-slim contributors
"""

import json
import os

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def list_audio(folder, extensions=AUDIO_EXTENSIONS):
    """Relative paths of the audio files under ``folder``, sorted.

    Example
    -------
    >>> list_audio("/nonexistent")
    Traceback (most recent call last):
    ...
    ValueError: audio folder /nonexistent does not exist
    """
    if not os.path.isdir(folder):
        raise ValueError(f"audio folder {folder} does not exist")
    out = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(tuple(extensions)) and not name.startswith(".") \
                    and not name.endswith(".tmp.wav"):
                out.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(out)


def _info(path):
    try:
        return sf.info(path), None
    except Exception as e:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        return None, f"unreadable file {path}: {str(e).strip().splitlines()[0][:120]}"


def _summarise(problems, limit=10):
    head = "\n  ".join(problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} problem(s) with the paired folders:\n  {head}{more}"


def prepare_paired_folder(noisy_dir, clean_dir, json_file, sample_rate=16000, data_root=None,
                          length_tolerance=0, extensions=AUDIO_EXTENSIONS):
    """Check a folder of noisy/clean pairs with matching names and write a JSON manifest.

    Arguments
    ---------
    noisy_dir, clean_dir : str
        Folders with the same relative file names.
    json_file : str
        Output manifest.
    sample_rate : int, optional
        Required sample rate of every file (``None``: only noisy and clean must agree).
    data_root : str, optional
        If given, paths under it are written as ``{data_root}/...``.
    length_tolerance : int
        Allowed difference in samples between noisy and clean.
    extensions : tuple of str
        Audio file extensions to consider.

    Returns
    -------
    dict
        The manifest.

    Example
    -------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> for sub in ("noisy", "clean"):
    ...     os.makedirs(os.path.join(d, sub))
    ...     sf.write(os.path.join(d, sub, "a.wav"), np.zeros(1600), 16000)
    >>> m = prepare_paired_folder(d + "/noisy", d + "/clean", d + "/m.json", data_root=d)
    >>> m["a"]["noisy_wav"], m["a"]["length"]
    ('{data_root}/noisy/a.wav', 0.1)
    """
    noisy = list_audio(noisy_dir, extensions)
    clean = list_audio(clean_dir, extensions)
    if not noisy:
        raise ValueError(f"no audio files {extensions} in noisy folder {noisy_dir}")
    problems = []
    only_noisy = sorted(set(noisy) - set(clean))
    only_clean = sorted(set(clean) - set(noisy))
    if only_noisy:
        problems.append(f"{len(only_noisy)} noisy file(s) without a clean match, e.g. "
                        f"{only_noisy[:3]}")
    if only_clean:
        problems.append(f"{len(only_clean)} clean file(s) without a noisy match, e.g. "
                        f"{only_clean[:3]}")
    manifest = {}
    for rel in sorted(set(noisy) & set(clean)):
        npath, cpath = os.path.join(noisy_dir, rel), os.path.join(clean_dir, rel)
        ninfo, nerr = _info(npath)
        cinfo, cerr = _info(cpath)
        bad = [e for e in (nerr, cerr) if e]
        if bad:
            problems.extend(bad)
            continue
        if ninfo.samplerate != cinfo.samplerate:
            problems.append(f"sample-rate mismatch for {rel}: noisy {ninfo.samplerate} Hz, "
                            f"clean {cinfo.samplerate} Hz")
            continue
        if sample_rate is not None and ninfo.samplerate != sample_rate:
            problems.append(f"{rel} is {ninfo.samplerate} Hz, expected {sample_rate} Hz "
                            "(resample first, e.g. with resample_folder)")
            continue
        if abs(ninfo.frames - cinfo.frames) > length_tolerance:
            problems.append(f"length mismatch for {rel}: noisy {ninfo.frames} samples, "
                            f"clean {cinfo.frames} samples")
            continue
        uid = os.path.splitext(rel)[0].replace(os.sep, "_")
        if uid in manifest:
            problems.append(f"duplicate utterance id {uid} (same name, different extension)")
            continue
        manifest[uid] = {
            "noisy_wav": _rooted(npath, data_root),
            "clean_wav": _rooted(cpath, data_root),
            "length": round(cinfo.frames / cinfo.samplerate, 4),
        }
    if problems:
        raise ValueError(_summarise(problems))
    write_json(manifest, json_file)
    return manifest


def _rooted(path, data_root):
    path = os.path.abspath(path)
    if data_root is None:
        return path
    root = os.path.abspath(data_root)
    if os.path.commonpath([path, root]) != root:
        return path
    return "{data_root}/" + os.path.relpath(path, root).replace(os.sep, "/")


def write_json(manifest, json_file):
    """Write a manifest atomically (a partial file never looks finished)."""
    os.makedirs(os.path.dirname(os.path.abspath(json_file)), exist_ok=True)
    tmp = json_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, json_file)


def resample_folder(in_dir, out_dir, sample_rate=16000, extensions=AUDIO_EXTENSIONS,
                    progress=False):
    """Resample every audio file of ``in_dir`` to ``out_dir`` (mono, 16-bit wav), once.

    Files already present in ``out_dir`` are skipped, so an interrupted run resumes.

    Example
    -------
    >>> import tempfile
    >>> a, b = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> sf.write(os.path.join(a, "x.wav"), np.zeros(4800), 48000)
    >>> resample_folder(a, b)
    1
    >>> sf.info(os.path.join(b, "x.wav")).frames
    1600
    """
    files = list_audio(in_dir, extensions)
    done = 0
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc=f"resampling {os.path.basename(in_dir)}")
    for rel in iterator:
        dst = os.path.join(out_dir, os.path.splitext(rel)[0] + ".wav")
        if os.path.isfile(dst):
            continue
        src = os.path.join(in_dir, rel)
        try:
            x, sr = sf.read(src, dtype="float64", always_2d=True)
        except Exception as e:
            raise ValueError(f"unreadable file {src}: {e}") from None
        x = x.mean(axis=1)
        if sr != sample_rate:
            g = np.gcd(int(sr), int(sample_rate))
            x = resample_poly(x, sample_rate // g, int(sr) // g)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".tmp.wav"
        sf.write(tmp, np.clip(x, -1, 1), sample_rate, subtype="PCM_16")
        os.replace(tmp, dst)
        done += 1
    return done
