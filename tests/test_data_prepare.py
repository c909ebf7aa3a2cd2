"""Tests of the paired-folder preparer and the VoiceBank+DEMAND preparer on fake folders."""

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from speechbrain_slim.data import voicebank as vb
from speechbrain_slim.data.prepare import prepare_paired_folder


def _write(path, n, sr, seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal(n)
    sf.write(path, x, sr, subtype="PCM_16")


def _paired(tmp_path, names, sr=16000, n=1600):
    for i, name in enumerate(names):
        _write(str(tmp_path / "noisy" / name), n, sr, i)
        _write(str(tmp_path / "clean" / name), n, sr, i + 100)
    return str(tmp_path / "noisy"), str(tmp_path / "clean")


def test_paired_folder_ok(tmp_path):
    from speechbrain.dataio.dataset import DynamicItemDataset

    noisy, clean = _paired(tmp_path, ["a.wav", "b.wav", "sub/c.flac"])
    out = str(tmp_path / "m.json")
    m = prepare_paired_folder(noisy, clean, out, data_root=str(tmp_path))
    assert sorted(m) == ["a", "b", "sub_c"]
    assert m["a"]["clean_wav"] == "{data_root}/clean/a.wav" and m["a"]["length"] == 0.1
    ds = DynamicItemDataset.from_json(out, replacements={"data_root": str(tmp_path)})
    assert len(ds) == 3


def test_paired_folder_unmatched_names(tmp_path):
    noisy, clean = _paired(tmp_path, ["a.wav", "b.wav"])
    _write(os.path.join(noisy, "only_noisy.wav"), 1600, 16000)
    _write(os.path.join(clean, "only_clean.wav"), 1600, 16000)
    with pytest.raises(ValueError, match="without a clean match") as e:
        prepare_paired_folder(noisy, clean, str(tmp_path / "m.json"))
    assert "only_noisy.wav" in str(e.value) and "only_clean.wav" in str(e.value)
    assert not os.path.exists(tmp_path / "m.json")


def test_paired_folder_length_rate_and_unreadable(tmp_path):
    noisy, clean = _paired(tmp_path, ["a.wav", "b.wav", "c.wav", "d.wav"])
    _write(os.path.join(clean, "a.wav"), 1500, 16000)  # length mismatch
    _write(os.path.join(noisy, "b.wav"), 1600, 8000)  # rate mismatch
    with open(os.path.join(noisy, "c.wav"), "wb") as f:  # unreadable
        f.write(b"not audio at all")
    _write(os.path.join(noisy, "d.wav"), 4800, 48000)
    _write(os.path.join(clean, "d.wav"), 4800, 48000)  # consistent but wrong rate
    with pytest.raises(ValueError) as e:
        prepare_paired_folder(noisy, clean, str(tmp_path / "m.json"))
    msg = str(e.value)
    assert "4 problem(s)" in msg
    assert "length mismatch for a.wav" in msg
    assert "sample-rate mismatch for b.wav" in msg
    assert "unreadable file" in msg and "c.wav" in msg
    assert "d.wav is 48000 Hz, expected 16000 Hz" in msg
    with pytest.raises(ValueError, match="does not exist"):
        prepare_paired_folder(str(tmp_path / "nope"), clean, str(tmp_path / "m.json"))


def _fake_voicebank(root):
    train = {"p226": 2, "p287": 2, "p230": 3, "p231": 2}
    test = {"p232": 2, "p257": 2}
    for speakers, (noisy, clean) in ((train, ("noisy_trainset_28spk_wav",
                                               "clean_trainset_28spk_wav")),
                                     (test, ("noisy_testset_wav", "clean_testset_wav"))):
        for spk, n in speakers.items():
            for k in range(1, n + 1):
                name = f"{spk}_{k:03d}.wav"
                length = 48000 // 4 + 480 * k
                _write(os.path.join(root, noisy, name), length, 48000, k)
                _write(os.path.join(root, clean, name), length, 48000, k + 7)


def test_voicebank_prepare_on_fake_folder(tmp_path):
    from speechbrain.dataio.dataset import DynamicItemDataset

    data, save = str(tmp_path / "vb"), str(tmp_path / "save")
    _fake_voicebank(data)
    paths = vb.prepare_voicebank(data, save, progress=False)
    m = {s: json.load(open(p)) for s, p in paths.items()}
    assert {e["speaker"] for e in m["valid"].values()} == {"p226", "p287"}
    assert {e["speaker"] for e in m["train"].values()} == {"p230", "p231"}
    assert {e["speaker"] for e in m["test"].values()} == {"p232", "p257"}
    assert len(m["train"]) == 5 and len(m["valid"]) == 4 and len(m["test"]) == 4
    entry = m["test"]["p232_001"]
    wav = entry["noisy_wav"].replace("{data_root}", data)
    info = sf.info(wav)
    assert info.samplerate == 16000 and info.frames == (12000 + 480) // 3
    assert entry["length"] == pytest.approx(info.frames / 16000, abs=1e-3)
    mtime = os.path.getmtime(wav)
    vb.prepare_voicebank(data, save, progress=False)  # second run skips everything
    assert os.path.getmtime(wav) == mtime
    for p in paths.values():
        assert len(DynamicItemDataset.from_json(p, replacements={"data_root": data})) > 0


def test_voicebank_prepare_broken_inputs(tmp_path):
    data = str(tmp_path / "vb")
    with pytest.raises(ValueError, match="folders missing"):
        vb.prepare_voicebank(data, str(tmp_path / "s1"))
    _fake_voicebank(data)
    os.remove(os.path.join(data, "clean_testset_wav", "p257_002.wav"))
    with pytest.raises(ValueError, match="without a clean match"):
        vb.prepare_voicebank(data, str(tmp_path / "s2"), progress=False)
    with pytest.raises(ValueError, match="not among the training speakers"):
        _write(os.path.join(data, "clean_testset_wav", "p257_002.wav"), 12960, 48000)
        vb.prepare_voicebank(data, str(tmp_path / "s3"), valid_speakers=("p999",),
                             progress=False)


def test_voicebank_errors_name_folders_files_and_real_options(tmp_path):
    data = tmp_path / "vb"
    _fake_voicebank(str(data))
    shutil.rmtree(data / "clean_testset_wav")
    with pytest.raises(ValueError) as error:
        vb.prepare_voicebank(str(data), str(tmp_path / "s"), progress=False)
    message = str(error.value)
    assert f"folders missing in {data}: clean_testset_wav" in message
    assert str(data / "clean_testset_wav") in message
    assert "python -m speechbrain_slim.data.voicebank" in message and "--download" in message
    assert "https://doi.org/10.7488/ds/2117" in message
    nested = tmp_path / "outer"
    nested.mkdir()
    shutil.move(str(data), str(nested / "DS_10283_2791"))
    with pytest.raises(ValueError, match=r"noisy_trainset_28spk_wav is in .*DS_10283_2791: use "
                                         "that folder"):
        vb.prepare_voicebank(str(nested), str(tmp_path / "s"), progress=False)


def test_voicebank_a_clean_file_without_its_noisy_twin_is_named_with_its_folder(tmp_path):
    data = tmp_path / "vb"
    _fake_voicebank(str(data))
    os.remove(data / "noisy_trainset_28spk_wav" / "p230_002.wav")
    with pytest.raises(ValueError) as error:
        vb.prepare_voicebank(str(data), str(tmp_path / "s"), progress=False)
    clean = data / "clean_trainset_28spk_wav" / "p230_002.wav"
    noisy = data / "noisy_trainset_28spk_wav" / "p230_002.wav"
    assert f"clean file {clean} without its noisy twin ({noisy} is missing)" in str(error.value)
    assert not (data / "noisy_trainset_28spk_wav_16k").exists()  # found before any resampling


def test_the_recipe_script_is_the_package_preparer(tmp_path, load_script):
    """recipes/Voicebank/voicebank_prepare.py runs the importable package code."""
    script = load_script("recipes", "Voicebank", "voicebank_prepare.py")
    assert script.prepare_voicebank is vb.prepare_voicebank and script.main is vb.main
    with pytest.raises(SystemExit, match="folders missing"):
        script.main([str(tmp_path / "vb"), str(tmp_path / "save")])
