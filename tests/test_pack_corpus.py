"""speechbrain_slim.data.pack_corpus on a tiny generated corpus in the real corpus's format."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from speechbrain_slim.data.pack_corpus import DONE_FILE, EMPTY, PARTS, pack_corpus

RATE = 16000


def _write(folder, relative, audio):
    path = os.path.join(folder, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, audio.astype(np.float32), RATE, subtype="PCM_16")
    return "{data_root}/" + relative


def _voice(rng, seconds, pitch):
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * pitch * t) + 0.5 * np.sin(2 * np.pi * 2.7 * pitch * t)
    return 0.2 * tone * (1 + np.sin(2 * np.pi * 3 * t)) / 2 + 0.003 * rng.standard_normal(len(t))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("corpus"))
    rng = np.random.default_rng(0)
    manifests = {part: {} for part in PARTS}
    for group, count, seconds in (("big/a", 8, 1.5), ("small/b", 2, 0.8)):
        for index in range(count):
            uid = f"speech_{group.replace('/', '_')}_{index}"
            wav = _write(root, f"speech/{group}/{index}.flac", _voice(rng, seconds, 150 + index))
            manifests["speech_train"][uid] = {"wav": wav, "length": seconds, "group": group,
                                              "source": group.split("/")[0], "language": "en"}
    for category, seconds in (("music/x", 12.0), ("clicks/y", 0.5)):
        uid = f"noise_{category.replace('/', '_')}"
        wav = _write(root, f"noise/{category}.flac", 0.1 * rng.standard_normal(int(seconds * RATE)))
        manifests["noise_train"][uid] = {"wav": wav, "length": seconds, "category": category}
    wav = _write(root, "talker/t/0.flac", _voice(rng, 1.0, 210))
    manifests["talkers_train"]["talker_t_0"] = {"wav": wav, "length": 1.0, "category": "t"}
    for index in range(4):
        rir = np.zeros(3000)
        rir[0] = 1.0
        rir[1:] = 0.3 * rng.standard_normal(2999) * np.exp(-np.arange(2999) / 400)
        wav = _write(root, f"rir/train/room{index:04d}.flac", rir)
        manifests["rir_train"][f"train_room{index:04d}"] = {"wav": wav, "length": 0.1875,
                                                           "rt60": 0.3}
    for index in range(2):
        clean = _voice(rng, 1.2, 180)
        noisy = clean + 0.05 * rng.standard_normal(len(clean))
        uid = f"valid_{index:04d}_snr5"
        manifests["valid"][uid] = {
            "noisy_wav": _write(root, f"valid/noisy/{uid}.wav", noisy),
            "clean_wav": _write(root, f"valid/clean/{uid}.wav", clean),
            "length": 1.2, "snr_db": 5.0, "noise": "music/x", "group": "big/a",
            "utterance": "speech_big_a_0",
        }
    for part, manifest in manifests.items():
        with open(os.path.join(root, f"{part}.json"), "w", encoding="utf-8") as stream:
            json.dump(manifest, stream)
    with open(os.path.join(root, DONE_FILE), "w", encoding="utf-8") as stream:
        json.dump({"seed": 1234}, stream)
    return root, manifests


def test_pack_fits_and_decodes(corpus, tmp_path):
    root, manifests = corpus
    out = str(tmp_path / "pack")
    budget = 0.85  # MiB: room, talker and valid (~0.05) + the 0.75 MiB allowance + a bit
    record = pack_corpus(root, out, budget_mib=budget, rirs=2, check_files=2, progress=False)
    assert record["total_bytes"] <= budget * 1024 * 1024
    assert record["codec"] in ("OGG OPUS", "OGG VORBIS")
    for name in (*PARTS, *EMPTY, "test"):
        assert os.path.isfile(os.path.join(out, f"{name}.json"))
    with open(os.path.join(out, "test.json"), encoding="utf-8") as stream:
        assert set(json.load(stream)) == set(manifests["valid"])  # a stand-in, never empty
    with open(os.path.join(out, DONE_FILE), encoding="utf-8") as stream:
        assert json.load(stream) == {"seed": 1234}
    packed = {}
    for part in PARTS:
        with open(os.path.join(out, f"{part}.json"), encoding="utf-8") as stream:
            packed[part] = json.load(stream)
    # the rules: every 2nd room, every talker and valid mixture, every voice group, every noise
    assert sorted(packed["rir_train"]) == ["train_room0000", "train_room0002"]
    assert set(packed["valid"]) == set(manifests["valid"])
    assert set(packed["talkers_train"]) == set(manifests["talkers_train"])
    assert {e["group"] for e in packed["speech_train"].values()} == {"big/a", "small/b"}
    assert set(packed["noise_train"]) == set(manifests["noise_train"])
    assert 0 < len(packed["speech_train"]) <= len(manifests["speech_train"])
    for part, manifest in packed.items():
        for entry in manifest.values():
            for key in ("wav", "noisy_wav", "clean_wav"):
                if key not in entry:
                    continue
                assert entry[key].startswith("{data_root}/")
                path = entry[key].replace("{data_root}", out)
                audio, rate = sf.read(path, dtype="float32")
                assert rate == RATE and np.all(np.isfinite(audio))
                assert 0.001 < np.sqrt(np.mean(audio**2)) < 1.0
                if key == "wav":
                    assert abs(len(audio) / RATE - entry["length"]) < 1e-3
                    assert path.endswith(".flac" if part == "rir_train" else ".ogg")
    for entry in packed["valid"].values():
        noisy = sf.info(entry["noisy_wav"].replace("{data_root}", out)).frames
        clean = sf.info(entry["clean_wav"].replace("{data_root}", out)).frames
        assert noisy == clean == int(1.2 * RATE)
    summary = record["check"]["summary"]
    assert all(row["lengths_equal"] for row in summary.values())
    assert summary["rir_train"]["snr_db_median"] > 40  # 16-bit FLAC: near lossless


def test_too_small_budget_is_refused(corpus, tmp_path):
    root, _ = corpus
    with pytest.raises(ValueError, match="budget"):
        pack_corpus(root, str(tmp_path / "pack"), budget_mib=0.5, progress=False)
