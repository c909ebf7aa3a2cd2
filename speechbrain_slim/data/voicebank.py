"""Prepare VoiceBank+DEMAND (Valentini-Botinhao et al., 2016) for speechbrain-slim.

From the extracted Edinburgh DataShare folders (https://doi.org/10.7488/ds/2117)::

    data_folder/
      clean_trainset_28spk_wav/  noisy_trainset_28spk_wav/   (48 kHz, p226_001.wav, ...)
      clean_testset_wav/         noisy_testset_wav/

this module (optionally downloading and extracting the four zip files first) resamples
every file once to 16 kHz into ``<name>_16k/`` beside the originals, and writes
``train.json``, ``valid.json`` and ``test.json`` to ``save_folder``: SpeechBrain manifests
keyed by utterance id with ``noisy_wav``, ``clean_wav`` (``{data_root}`` = ``data_folder``),
``length`` (seconds) and ``speaker``. As in SpeechBrain's Voicebank recipes, the valid set is
two speakers held out of the 28 training speakers (p226 and p287 by default). Work already
done (resampled files, manifests) is skipped.

Usage (``recipes/Voicebank/voicebank_prepare.py`` in a checkout is the same command)::

    python -m speechbrain_slim.data.voicebank DATA_FOLDER SAVE_FOLDER [--download]

The recipe (``dataset: voicebank``) calls :func:`prepare_voicebank` itself.

Authors
 * speechbrain-slim contributors
"""

import argparse
import json
import os
import sys

from speechbrain_slim.data.prepare import prepare_paired_folder, resample_folder, write_json

__all__ = ["prepare_voicebank", "download_voicebank", "check_pairs", "main"]

URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/2791/{}.zip"
DATASHARE = "https://doi.org/10.7488/ds/2117"
COMMAND = "python -m speechbrain_slim.data.voicebank"
FOLDERS = {
    "train": ("noisy_trainset_28spk_wav", "clean_trainset_28spk_wav"),
    "test": ("noisy_testset_wav", "clean_testset_wav"),
}
VALID_SPEAKERS = ("p226", "p287")
SAMPLE_RATE = 16000


def download_voicebank(data_folder):
    """Download and extract the four DataShare zip files into ``data_folder`` (~2.5 GB)."""
    from speechbrain.utils.data_utils import download_file

    os.makedirs(data_folder, exist_ok=True)
    for pair in FOLDERS.values():
        for name in pair:
            if os.path.isdir(os.path.join(data_folder, name)):
                continue
            download_file(URL.format(name), os.path.join(data_folder, name + ".zip"),
                          unpack=True, dest_unpack=data_folder)


def _speaker(uid):
    return uid.split("_")[0]


def _wav_names(folder):
    return {name for name in os.listdir(folder)
            if name.lower().endswith(".wav") and not name.startswith(".")}


def check_pairs(data_folder, limit=5):
    """Every noisy file has its clean twin and vice versa, named with their folders.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ("noisy_testset_wav", "clean_testset_wav"):
    ...     os.makedirs(os.path.join(root, name))
    >>> open(os.path.join(root, "clean_testset_wav", "p1_001.wav"), "w").close()
    >>> check_pairs(root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: VoiceBank+DEMAND pairs incomplete in ...: clean file .../clean_testset_wav/p1_001.wav without its noisy twin (.../noisy_testset_wav/p1_001.wav is missing)
    """  # noqa: E501
    problems = []
    for noisy, clean in FOLDERS.values():
        noisy_dir, clean_dir = (os.path.join(data_folder, n) for n in (noisy, clean))
        if not (os.path.isdir(noisy_dir) and os.path.isdir(clean_dir)):
            continue
        noisy_names, clean_names = _wav_names(noisy_dir), _wav_names(clean_dir)
        for name in sorted(noisy_names - clean_names):
            problems.append(f"noisy file {os.path.join(noisy_dir, name)} without a clean match "
                            f"({os.path.join(clean_dir, name)} is missing)")
        for name in sorted(clean_names - noisy_names):
            problems.append(f"clean file {os.path.join(clean_dir, name)} without its noisy twin "
                            f"({os.path.join(noisy_dir, name)} is missing)")
    if problems:
        more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
        raise ValueError(f"VoiceBank+DEMAND pairs incomplete in {data_folder}: "
                         f"{'; '.join(problems[:limit])}{more}")


def prepare_voicebank(data_folder, save_folder, valid_speakers=VALID_SPEAKERS, download=False,
                      skip_prep=False, progress=True):
    """Resample VoiceBank+DEMAND to 16 kHz once and write train/valid/test manifests.

    Arguments
    ---------
    data_folder : str
        Folder holding (or to hold) the four extracted DataShare folders.
    save_folder : str
        Where ``train.json``, ``valid.json`` and ``test.json`` go.
    valid_speakers : sequence of str
        Training speakers held out for validation.
    download : bool
        Download and extract missing folders first (needs network).
    skip_prep : bool
        Do nothing (SpeechBrain convention).
    progress : bool
        Show progress bars while resampling.

    Returns
    -------
    dict
        ``{"train": path, "valid": path, "test": path}``.

    Example
    -------
    >>> prepare_voicebank("/nonexistent", "/tmp/x")
    Traceback (most recent call last):
    ...
    ValueError: VoiceBank+DEMAND folders missing in /nonexistent: noisy_trainset_28spk_wav, clean_trainset_28spk_wav, noisy_testset_wav, clean_testset_wav (expected /nonexistent/noisy_trainset_28spk_wav ...). Extract the four DataShare zip files (https://doi.org/10.7488/ds/2117) into /nonexistent, or download them there with: python -m speechbrain_slim.data.voicebank /nonexistent /tmp/x --download (download=True from Python)
    """  # noqa: E501
    paths = {s: os.path.join(save_folder, f"{s}.json") for s in ("train", "valid", "test")}
    if skip_prep:
        return paths
    config = {"valid_speakers": sorted(valid_speakers), "data_folder": os.path.abspath(
        data_folder)}
    done = os.path.join(save_folder, "voicebank_prepare.json")
    if all(os.path.isfile(p) for p in paths.values()) and os.path.isfile(done):
        with open(done, encoding="utf-8") as f:
            if json.load(f) == config:
                return paths
    missing = [n for pair in FOLDERS.values() for n in pair
               if not os.path.isdir(os.path.join(data_folder, n))]
    if missing and download:
        download_voicebank(data_folder)
        missing = [n for n in missing if not os.path.isdir(os.path.join(data_folder, n))]
    if missing:
        nested = [os.path.join(data_folder, name) for name in (
            sorted(os.listdir(data_folder)) if os.path.isdir(data_folder) else [])
            if os.path.isdir(os.path.join(data_folder, name, missing[0]))]
        hint = f" ({missing[0]} is in {nested[0]}: use that folder)" if nested else ""
        raise ValueError(
            f"VoiceBank+DEMAND folders missing in {data_folder}: {', '.join(missing)} "
            f"(expected {os.path.join(data_folder, missing[0])} ...){hint}. Extract the four "
            f"DataShare zip files ({DATASHARE}) into {data_folder}, or download them there "
            f"with: {COMMAND} {data_folder} {save_folder} --download (download=True "
            "from Python)"
        )
    check_pairs(data_folder)
    manifests = {}
    for split, (noisy, clean) in FOLDERS.items():
        for name in (noisy, clean):
            resample_folder(os.path.join(data_folder, name),
                            os.path.join(data_folder, name + "_16k"), SAMPLE_RATE,
                            extensions=(".wav",), progress=progress)
        noisy_16k, clean_16k = (os.path.join(data_folder, n + "_16k") for n in (noisy, clean))
        try:
            manifests[split] = prepare_paired_folder(
                noisy_16k, clean_16k, paths[split], sample_rate=SAMPLE_RATE,
                data_root=data_folder,
            )
        except ValueError as error:  # its file names are relative to these folders
            raise ValueError(f"noisy folder {noisy_16k}, clean folder {clean_16k} (resampled "
                             f"copies; delete them to redo): {error}") from None
        for uid, entry in manifests[split].items():
            entry["speaker"] = _speaker(uid)
    train_speakers = {e["speaker"] for e in manifests["train"].values()}
    unknown = sorted(set(valid_speakers) - train_speakers)
    if unknown:
        raise ValueError(f"valid speakers {unknown} are not among the training speakers "
                         f"{sorted(train_speakers)}")
    full_train = manifests.pop("train")
    manifests["train"] = {u: e for u, e in full_train.items()
                          if e["speaker"] not in valid_speakers}
    manifests["valid"] = {u: e for u, e in full_train.items() if e["speaker"] in valid_speakers}
    if not manifests["train"]:
        raise ValueError("no training utterances left after holding out the valid speakers")
    for split, manifest in manifests.items():
        write_json(manifest, paths[split])
    write_json(config, done)
    return paths


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Prepare VoiceBank+DEMAND at 16 kHz.")
    parser.add_argument("data_folder")
    parser.add_argument("save_folder")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--valid-speakers", nargs="+", default=list(VALID_SPEAKERS))
    args = parser.parse_args(argv)
    try:
        paths = prepare_voicebank(args.data_folder, args.save_folder, args.valid_speakers,
                                  download=args.download)
    except ValueError as e:
        sys.exit(f"error: {e}")
    for split, path in paths.items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
