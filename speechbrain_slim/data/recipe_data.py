"""Datasets of the training recipe: embedded corpus, real recordings, your folders, VoiceBank.

``dataset: embedded`` mixes training items on the fly (:class:`OnTheFlyMixtures`) and
reads the fixed valid/test mixtures that :func:`prepare_embedded` writes once;
``dataset: real`` does the same with the corpus of real recordings that
:func:`~speechbrain_slim.data.real_corpus.build_real_corpus` builds from Debian packages
in ``data_folder`` (real voices; real noise files, interfering talkers and simulated rooms
mixed on the fly with ``conditions``); ``dataset: folders`` with your own ``clean_folder``,
``noise_folder`` and optional ``rir_folder`` (:mod:`speechbrain_slim.data.folders`);
``dataset: voicebank`` prepares the DataShare folders in ``data_folder``
(:mod:`speechbrain_slim.data.voicebank`) and trains on random ``segment_seconds`` crops of
its noisy/clean pairs.

Authors
 * speechbrain-slim contributors 2026
"""

import json

import speechbrain as sb
import torch
from speechbrain.dataio.dataio import read_audio
from speechbrain.utils.distributed import run_on_main

from speechbrain_slim.data.dataset import OnTheFlyMixtures
from speechbrain_slim.data.embedded import prepare_embedded
from speechbrain_slim.data.folders import prepare_folders
from speechbrain_slim.data.real_corpus import build_real_corpus
from speechbrain_slim.data.voicebank import prepare_voicebank

__all__ = ["paired_dataset", "prepare_datasets"]


def paired_dataset(manifest, data_root, crop_samples=None):
    """A ``DynamicItemDataset`` of ``noisy_sig``/``clean_sig`` from a SpeechBrain manifest.

    Arguments
    ---------
    manifest : str
        JSON manifest with ``noisy_wav`` and ``clean_wav`` (``{data_root}`` allowed).
    data_root : str
        Replacement of ``{data_root}``.
    crop_samples : int, optional
        Random crop of this many samples (shorter pairs are kept whole).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset

    Example
    -------
    >>> import json, tempfile, soundfile
    >>> folder = tempfile.mkdtemp()
    >>> soundfile.write(f"{folder}/a.wav", [0.1] * 800, 16000)
    >>> json.dump({"a": {"noisy_wav": "{data_root}/a.wav", "clean_wav": "{data_root}/a.wav"}},
    ...           open(f"{folder}/m.json", "w"))
    >>> data = paired_dataset(f"{folder}/m.json", folder, crop_samples=400)
    >>> data[0]["noisy_sig"].shape
    torch.Size([400])
    """
    data = sb.dataio.dataset.DynamicItemDataset.from_json(
        manifest, replacements={"data_root": data_root}
    )

    @sb.utils.data_pipeline.takes("noisy_wav", "clean_wav")
    @sb.utils.data_pipeline.provides("noisy_sig", "clean_sig")
    def audio_pipeline(noisy_wav, clean_wav):
        noisy, clean = read_audio(noisy_wav), read_audio(clean_wav)
        if noisy.shape != clean.shape:
            raise ValueError(f"{noisy_wav} and {clean_wav} differ in length")
        if crop_samples is not None and noisy.shape[0] > crop_samples:
            start = int(torch.randint(0, noisy.shape[0] - crop_samples + 1, ()))
            noisy, clean = noisy[start : start + crop_samples], clean[start : start + crop_samples]
        yield noisy
        yield clean

    sb.dataio.dataset.add_dynamic_item([data], audio_pipeline)
    keys = ["id", "noisy_sig", "clean_sig"]
    if data.data and all("snr_db" in entry for entry in data.data.values()):
        keys.append("snr_db")
    sb.dataio.dataset.set_output_keys([data], keys)
    return data


def _has_entries(manifest):
    with open(manifest, encoding="utf-8") as stream:
        return bool(json.load(stream))


def prepare_datasets(hparams):
    """Prepares (on the main process) and returns ``train``/``valid``/``test`` datasets.

    Reads ``dataset``, ``data_folder``, ``manifest_folder``, ``segment_seconds``,
    ``epoch_size``, ``n_valid``, ``n_test_per_snr``, ``mixing`` (keyword arguments of
    :class:`OnTheFlyMixtures`) and ``seed`` from ``hparams``. Also returns the
    manifest paths under ``manifests``.
    """
    dataset = hparams["dataset"]
    segment = int(hparams["segment_seconds"] * hparams["sample_rate"])
    if dataset == "embedded":
        folder = hparams["data_folder"]
        kwargs = {
            "out_dir": folder,
            "n_valid": hparams["n_valid"],
            "n_test_per_snr": hparams.get("n_test_per_snr"),
        }
        run_on_main(prepare_embedded, kwargs=kwargs)
        manifests = prepare_embedded(**kwargs, progress=False)
        train = OnTheFlyMixtures(
            manifests["train"],
            segment_s=hparams["segment_seconds"],
            epoch_size=hparams["epoch_size"],
            seed=hparams["seed"],
            **(hparams.get("mixing") or {}),
        )
    elif dataset in ("real", "folders"):
        folder = hparams["data_folder"]
        if dataset == "real":
            prepare, kwargs = build_real_corpus, {"out_dir": folder, "progress": False}
        else:
            prepare, kwargs = prepare_folders, {
                "clean_folder": hparams.get("clean_folder"),
                "noise_folder": hparams.get("noise_folder"),
                "rir_folder": hparams.get("rir_folder"),
                "out_dir": folder,
                "n_valid": hparams["n_valid"],
                "n_test_per_snr": hparams.get("n_test_per_snr") or 20,
            }
        run_on_main(prepare, kwargs=kwargs)
        manifests = prepare(**kwargs)
        mixing = dict(hparams.get("mixing") or {})
        conditions = dict(mixing.pop("conditions", None) or {})
        if not _has_entries(manifests["rir_train"]):
            conditions["reverb_prob"] = 0.0
        else:
            conditions["rirs"] = manifests["rir_train"]
        train = OnTheFlyMixtures(
            manifests["speech_train"],
            segment_s=hparams["segment_seconds"],
            epoch_size=hparams["epoch_size"],
            seed=hparams["seed"],
            data_root=folder,
            noise_files=manifests["noise_train"],
            talkers=manifests.get("talkers_train"),
            conditions=conditions,
            **mixing,
        )
    elif dataset == "voicebank":
        folder = hparams["data_folder"]
        kwargs = {"data_folder": folder, "save_folder": hparams["manifest_folder"]}
        run_on_main(prepare_voicebank, kwargs=kwargs)
        manifests = prepare_voicebank(**kwargs, progress=False)
        train = paired_dataset(manifests["train"], folder, crop_samples=segment)
    else:
        raise ValueError(
            f"dataset must be 'embedded', 'real', 'folders' or 'voicebank', got {dataset!r}")
    return {
        "train": train,
        "valid": paired_dataset(manifests["valid"], folder),
        "test": paired_dataset(manifests["test"], folder),
        "manifests": manifests,
        "data_root": folder,
    }
