"""The corpus of real recordings: quality checks, voice-disjoint splits, manifests, mixtures."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from speechbrain_slim.data.corpus import CORPUS_DIR
from speechbrain_slim.data.corpus_splits import SPLITS, split_groups
from speechbrain_slim.data.mixing import active_speech_mask, measure_snr
from speechbrain_slim.data.real_corpus import build_real_corpus
from speechbrain_slim.data.real_recordings import bandwidth_hz, speech_quality

SPEECH = sorted(os.path.join(CORPUS_DIR, "train", f)
                for f in os.listdir(os.path.join(CORPUS_DIR, "train")))


def speech(index):
    """A TTS utterance between 0.5 s pauses, over a quiet floor (60 dB under its peak)."""
    x, rate = sf.read(SPEECH[index], dtype="float64")
    assert rate == 16000
    x = np.concatenate([np.zeros(8000), x / np.abs(x).max() * 0.5, np.zeros(8000)])
    return x + 5e-4 * np.random.default_rng(index).standard_normal(len(x))


def test_quality_checks_catch_clipping_noise_and_narrow_band():
    rng = np.random.default_rng(0)
    x = speech(0)
    assert speech_quality(x, x) is None
    clipped = np.clip(x * 8, -1, 1)
    assert speech_quality(clipped, clipped) == "clipping"
    hiss = x + 0.01 * rng.standard_normal(len(x))
    assert speech_quality(hiss, hiss) == "noise floor"
    phone = resample_poly(resample_poly(x, 1, 2), 2, 1)  # 8 kHz channel
    assert bandwidth_hz(phone) <= 4500 < 7000 <= bandwidth_hz(x)
    assert speech_quality(phone, phone) == "bandwidth"
    assert speech_quality(x[:4000], x[:4000]) == "too short"


def test_split_groups_holds_out_whole_groups_and_keeps_big_ones_in_train():
    durations = {f"g{i}": 10.0 for i in range(30)}
    durations["big"] = 200.0
    splits = split_groups(durations)
    assert splits["big"] == "train"
    total = sum(durations.values())
    for split, share in (("test", 0.12), ("valid", 0.08)):
        held = sum(d for g, d in durations.items() if splits[g] == split)
        assert share * total <= held < share * total + 10.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small corpus from 12 voices (2 files each) plus 3 unusable takes and 3 noise kinds."""
    root = tmp_path_factory.mktemp("packages")
    rng = np.random.default_rng(1)
    sources = []
    for voice in range(12):
        for take in range(2):
            path = root / f"v{voice}_{take}.wav"
            sf.write(path, speech(2 * voice + take), 16000)
            sources.append(dict(kind="speech", source="pkg", package="pkg-speech",
                                path=str(path), group=f"pkg/v{voice}", language="xx"))
    bad = {"clipped": np.clip(speech(30) * 8, -1, 1),
           "hissy": speech(31) + 0.01 * rng.standard_normal(len(speech(31))),
           "phone": resample_poly(resample_poly(speech(32), 1, 2), 2, 1)}
    for name, x in bad.items():
        sf.write(root / f"{name}.wav", x, 16000)
        sources.append(dict(kind="speech", source="pkg", package="pkg-speech",
                            path=str(root / f"{name}.wav"), group="pkg/bad", language="xx"))
    for category in ("hum", "hiss", "clicks"):
        for i in range(12):
            path = root / f"{category}{i}.wav"
            sf.write(path, 0.1 * rng.standard_normal(24000), 44100)
            sources.append(dict(kind="noise", source="noise", package="pkg-noise",
                                path=str(path), group=f"noise/{category}"))
    out = tmp_path_factory.mktemp("corpus")
    names = build_real_corpus(out, jobs=1, n_valid=6, n_test_per_snr=2, n_rirs=(3, 1, 1),
                              sources=sources, progress=False)
    return out, names


def test_build_removes_bad_takes_and_reports_why(corpus):
    out, _ = corpus
    report = json.loads((out / "report.json").read_text())
    speech_row = report["packages"]["pkg-speech"]
    assert speech_row["found"] == 27 and speech_row["kept"] == 24
    assert speech_row["removed"] == {"clipping": 1, "noise floor": 1, "bandwidth": 1}
    assert "| pkg-speech | 27 | 24 |" in (out / "report.md").read_text()


def test_splits_are_voice_disjoint_and_noise_files_unique(corpus):
    out, names = corpus
    groups, noise = {}, {}
    for split in SPLITS:
        speech_manifest = json.loads(open(names[f"speech_{split}"]).read())
        groups[split] = {e["group"] for e in speech_manifest.values()}
        noise[split] = {e["wav"] for e in json.loads(open(names[f"noise_{split}"]).read()).values()}
        assert groups[split] and noise[split], split
        for entry in speech_manifest.values():
            info = sf.info(entry["wav"].replace("{data_root}", str(out)))
            assert info.samplerate == 16000
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        assert not groups[a] & groups[b] and not noise[a] & noise[b]


def test_fixed_mixtures_hit_their_snr_with_held_out_voices(corpus):
    out, names = corpus
    test = json.loads(open(names["test"]).read())
    test_groups = {e["group"] for e in json.loads(open(names["speech_test"]).read()).values()}
    assert len(test) == 2 * 5 and {e["group"] for e in test.values()} <= test_groups
    for entry in test.values():
        clean, _ = sf.read(entry["clean_wav"].replace("{data_root}", str(out)))
        noisy, _ = sf.read(entry["noisy_wav"].replace("{data_root}", str(out)))
        snr = measure_snr(clean, noisy - clean, active_speech_mask(clean))
        assert snr == pytest.approx(entry["snr_db"], abs=0.3)  # 16-bit rounding
    assert len(json.loads(open(names["valid"]).read())) == 6
    assert len(json.loads(open(names["rir_train"]).read())) == 3


def test_second_build_does_nothing(corpus):
    out, names = corpus
    stamp = os.path.getmtime(names["test"])
    assert build_real_corpus(out, jobs=1, n_valid=6, n_test_per_snr=2, n_rirs=(3, 1, 1),
                             sources=[], progress=False) == names
    assert os.path.getmtime(names["test"]) == stamp
