"""Training on a user's own clean/noise/RIR folders (LibriSpeech + MUSAN + RIRS_NOISES layouts)."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from speechbrain_slim.data.corpus import CORPUS_DIR
from speechbrain_slim.data.folders import prepare_folders

SPEECH = sorted(os.path.join(CORPUS_DIR, "train", f)
                for f in os.listdir(os.path.join(CORPUS_DIR, "train")))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """LibriSpeech-style speech (speaker/chapter/utt), MUSAN-style noise, a RIR folder."""
    root = tmp_path_factory.mktemp("user")
    rng = np.random.default_rng(0)
    for speaker in range(10):
        chapter = root / "LibriSpeech" / f"{100 + speaker}" / "7"
        chapter.mkdir(parents=True)
        for utt in range(2):
            x, _ = sf.read(SPEECH[2 * speaker + utt])
            sf.write(chapter / f"{100 + speaker}-7-{utt:04d}.flac", x, 16000)
    for kind in ("free-sound", "sound-bible"):
        (root / "musan" / "noise" / kind).mkdir(parents=True)
        for i in range(8):
            sf.write(root / "musan" / "noise" / kind / f"n{i}.wav",
                     0.1 * rng.standard_normal(24000), 16000)
    (root / "rirs" / "smallroom").mkdir(parents=True)
    for i in range(12):  # files split by a hash of their path: with 4, a tmp folder name
        h = np.exp(-np.arange(2000) / 300.0) * rng.standard_normal(2000)  # could hold them all out
        h[0] = 1.0
        sf.write(root / "rirs" / "smallroom" / f"r{i}.wav", h / np.abs(h).max(), 16000)
    return root


def test_speakers_never_cross_splits(folders, tmp_path):
    names = prepare_folders(folders / "LibriSpeech", folders / "musan" / "noise", tmp_path,
                            rir_folder=folders / "rirs", n_valid=4, n_test_per_snr=1)
    speakers = {}
    for split in ("train", "valid", "test"):
        entries = json.loads(open(names[f"speech_{split}"]).read()).values()
        speakers[split] = {e["group"] for e in entries}
        assert speakers[split], split
    assert not speakers["train"] & speakers["valid"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["valid"] & speakers["test"]
    assert sum(len(s) for s in speakers.values()) == 10
    test = json.loads(open(names["test"]).read())
    assert {e["group"] for e in test.values()} <= speakers["test"] and len(test) == 5
    assert json.loads(open(names["rir_train"]).read())


def test_a_file_at_another_rate_is_named(folders, tmp_path):
    sf.write(folders / "musan" / "noise" / "free-sound" / "cd.wav", np.zeros(4410), 44100)
    try:
        with pytest.raises(ValueError, match=r"cd\.wav is 44100 Hz.*resample_folder"):
            prepare_folders(folders / "LibriSpeech", folders / "musan" / "noise", tmp_path)
    finally:
        os.remove(folders / "musan" / "noise" / "free-sound" / "cd.wav")


def test_recipe_trains_and_evaluates_on_folders(folders, tmp_path):
    from test_recipe import run_recipe

    run_recipe(tmp_path, "--dataset=folders", f"--data_folder={tmp_path / 'data'}",
               f"--clean_folder={folders / 'LibriSpeech'}",
               f"--noise_folder={folders / 'musan' / 'noise'}",
               f"--rir_folder={folders / 'rirs'}", "--stage=backbone",
               "--schedule={backbone: {epochs: 1, lr: 0.001}}",
               "--mixing={noise_weights: {files: 1.0}, conditions: {reverb_prob: 0.5}}")
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["stage"] == "backbone" and set(results["modes"]) == {"0.125", "0.25", "0.5",
                                                                          "1.0"}
    assert len(json.loads((tmp_path / "data" / "test.json").read_text())) == 5  # 1 per SNR
    assert len(json.loads((tmp_path / "data" / "valid.json").read_text())) == 2
