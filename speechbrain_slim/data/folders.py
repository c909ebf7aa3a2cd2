"""Train on your own folders: clean speech + noise (+ room impulse responses), mixed on the fly.

    python train.py hparams/slim_demucs_real.yaml --dataset=folders \\
        --clean_folder=/data/LibriSpeech/train-clean-100 --noise_folder=/data/musan/noise \\
        [--rir_folder=/data/RIRS_NOISES/simulated_rirs] --data_folder=results/my_folders

Layouts of LibriSpeech (``speaker/chapter/utt.flac``), MUSAN (``noise/free-sound/*.wav``), the
DNS Challenge (``clean/*.wav``, ``noise/*.wav``) and RIRS_NOISES work as they are. Several
folders can be given, separated by commas. Every file must be 16 kHz (``prepare.resample_folder``
converts a folder).

Speech is split **by speaker**: a file's speaker is its first sub-folder under the clean folder
(LibriSpeech, VCTK) or, for files directly in it, the file name up to the first ``_`` or ``-``
(DNS ``book_00001_chp_0001_reader_00002...`` files then group by book). Whole speakers go to
valid and test (10% of the speech each, :func:`~speechbrain_slim.data.corpus_splits.split_groups`);
noise files are split by file within each sub-folder, impulse responses likewise. The folder
``data_folder`` receives the manifests ``real_corpus`` writes (``speech_*.json``, ``noise_*.json``,
``rir_*.json`` and the fixed ``valid.json``/``test.json`` mixtures), so training and evaluation
run as on the corpus built from Debian packages.

Authors
 * speechbrain-slim contributors 2026
"""

import os
import re

import soundfile as sf

from speechbrain_slim.data.corpus_splits import (
    SAMPLE_RATE,
    built_with,
    manifest_names,
    split_files,
    split_groups,
)
from speechbrain_slim.data.fixed_mixtures import write_manifests
from speechbrain_slim.data.prepare import list_audio, write_json

DONE_FILE = "folders_done.json"


def _speaker(relative):
    parts = relative.split(os.sep)
    if len(parts) > 1:
        return parts[0]
    return re.split(r"[_\-]", os.path.splitext(parts[0])[0])[0]


def _scan(folders, role):
    """Entries (path, group, length) of every audio file under ``folders``, checked."""
    entries, problems = [], []
    for folder in folders:
        folder = os.path.abspath(folder)
        for relative in list_audio(folder):
            path = os.path.join(folder, relative)
            try:
                info = sf.info(path)
            except Exception as error:  # soundfile raises several types
                problems.append(f"unreadable {role} file {path}: {str(error)[:80]}")
                continue
            if info.samplerate != SAMPLE_RATE:
                problems.append(f"{role} file {path} is {info.samplerate} Hz, expected "
                                f"{SAMPLE_RATE} (convert with speechbrain_slim.data.prepare."
                                "resample_folder)")
                continue
            if info.frames == 0:
                problems.append(f"empty {role} file {path}")
                continue
            group = _speaker(relative) if role == "clean" else os.path.dirname(relative) or "."
            entries.append({"path": path, "group": f"{os.path.basename(folder)}/{group}",
                            "length": round(info.frames / SAMPLE_RATE, 3)})
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(f"{len(problems)} problem(s) in the {role} folders:\n  "
                         + "\n  ".join(problems[:10]) + more)
    if not entries:
        raise ValueError(f"no audio files (.wav/.flac/.ogg) in the {role} folder(s) {folders}")
    return entries


def _as_list(folders):
    if folders is None:
        return []
    if isinstance(folders, (str, os.PathLike)):
        return [f for f in str(folders).split(",") if f]
    return [str(f) for f in folders]


def prepare_folders(clean_folder, noise_folder, out_dir, rir_folder=None, seed=1234,
                    n_valid=100, n_test_per_snr=20):
    """Write train/valid/test manifests and fixed mixtures for speech and noise folders.

    Arguments
    ---------
    clean_folder, noise_folder : str or list of str
        Folders (or comma-separated folders) of 16 kHz clean speech and noise.
    out_dir : str
        Where the manifests and the fixed valid/test mixtures go.
    rir_folder : str or list of str, optional
        Folders of 16 kHz room impulse responses.
    seed : int
        Seed of the fixed mixtures.
    n_valid : int
        Fixed valid mixtures.
    n_test_per_snr : int
        Test utterances, each mixed at every test SNR.

    Returns
    -------
    dict
        Manifest name (``speech_train``, ..., ``valid``, ``test``) -> JSON path.

    Example
    -------
    >>> import json, tempfile, numpy as np
    >>> root = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> for spk in range(10):
    ...     os.makedirs(f"{root}/clean/{spk}", exist_ok=True)
    ...     sf.write(f"{root}/clean/{spk}/u.wav", rng.standard_normal(32000) * 0.1, 16000)
    >>> os.makedirs(f"{root}/noise/street")
    >>> for i in range(10):
    ...     sf.write(f"{root}/noise/street/{i}.wav", rng.standard_normal(16000) * 0.1, 16000)
    >>> names = prepare_folders(f"{root}/clean", f"{root}/noise", f"{root}/out", n_valid=4)
    >>> len(json.load(open(names["valid"])))
    4
    """
    out_dir = os.path.abspath(out_dir)
    settings = dict(clean=_as_list(clean_folder), noise=_as_list(noise_folder),
                    rir=_as_list(rir_folder), seed=seed, n_valid=n_valid,
                    n_test_per_snr=n_test_per_snr)
    names = manifest_names(out_dir, ("speech", "noise", "rir"))
    done = os.path.join(out_dir, DONE_FILE)
    if built_with(done, settings):
        return names
    speech = _scan(settings["clean"], "clean")
    durations = {}
    for e in speech:
        durations[e["group"]] = durations.get(e["group"], 0.0) + e["length"]
    if len(durations) < 3:
        raise ValueError(f"the clean folders hold {len(durations)} speaker(s); at least 3 are "
                         "needed to hold whole speakers out for valid and test")
    assignment = split_groups(durations, shares=(("test", 0.1), ("valid", 0.1)),
                              max_heldout_share=0.34)
    manifests = {name: {} for name in names}
    for e in speech:
        uid = os.path.relpath(e["path"], out_dir).replace(os.sep, "_").replace(".", "_")
        manifests[f"speech_{assignment[e['group']]}"][uid] = {
            "wav": e["path"], "length": e["length"], "group": e["group"]}
    for kind, role in (("noise", "noise"), ("rir", "impulse response")):
        found = _scan(settings[kind], role) if settings[kind] else []
        for e in split_files(found):
            uid = os.path.relpath(e["path"], out_dir).replace(os.sep, "_").replace(".", "_")
            manifests[f"{kind}_{e['split']}"][uid] = {"wav": e["path"], "length": e["length"],
                                                     "category": e["group"]}
    for split in ("valid", "test"):
        if not manifests[f"speech_{split}"] or not manifests[f"noise_{split}"]:
            raise ValueError(f"no {split} speakers or noise files: give more speakers or "
                             "noise files")
    write_manifests(manifests, names, out_dir, seed, n_valid, n_test_per_snr)
    write_json(settings, done)
    return names
