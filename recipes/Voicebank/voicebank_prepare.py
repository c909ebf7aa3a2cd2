"""Prepare VoiceBank+DEMAND (Valentini-Botinhao et al., 2016) for speechbrain-slim.

From the extracted Edinburgh DataShare folders (https://doi.org/10.7488/ds/2117)::

    data_folder/
      clean_trainset_28spk_wav/  noisy_trainset_28spk_wav/   (48 kHz, p226_001.wav, ...)
      clean_testset_wav/         noisy_testset_wav/

this script (optionally downloading and extracting the four zip files first) resamples
every file once to 16 kHz into ``<name>_16k/`` beside the originals, and writes
``train.json``, ``valid.json`` and ``test.json`` to ``save_folder``: SpeechBrain manifests
keyed by utterance id with ``noisy_wav``, ``clean_wav`` (``{data_root}`` = ``data_folder``),
``length`` (seconds) and ``speaker``. As in SpeechBrain's Voicebank recipes, the valid set is
two speakers held out of the 28 training speakers (p226 and p287 by default). Work already
done (resampled files, manifests) is skipped.

Usage::

    python recipes/Voicebank/voicebank_prepare.py DATA_FOLDER SAVE_FOLDER [--download]

Authors
 * speechbrain-slim contributors
"""

import argparse
import json
import os
import sys

from speechbrain_slim.data.prepare import prepare_paired_folder, resample_folder, write_json

URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/2791/{}.zip"
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
    ValueError: VoiceBank+DEMAND folders missing in /nonexistent: noisy_trainset_28spk_wav, clean_trainset_28spk_wav, noisy_testset_wav, clean_testset_wav; extract the DataShare zip files there or pass download=True
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
        raise ValueError(
            f"VoiceBank+DEMAND folders missing in {data_folder}: {', '.join(missing)}; "
            "extract the DataShare zip files there or pass download=True"
        )
    manifests = {}
    for split, (noisy, clean) in FOLDERS.items():
        for name in (noisy, clean):
            resample_folder(os.path.join(data_folder, name),
                            os.path.join(data_folder, name + "_16k"), SAMPLE_RATE,
                            extensions=(".wav",), progress=progress)
        manifests[split] = prepare_paired_folder(
            os.path.join(data_folder, noisy + "_16k"), os.path.join(data_folder, clean + "_16k"),
            paths[split], sample_rate=SAMPLE_RATE, data_root=data_folder,
        )
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
