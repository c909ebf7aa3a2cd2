"""Rooms, microphones and noise files in the on-the-fly training mixtures."""

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_slim.data.conditions import RecordingConditions
from speechbrain_slim.data.dataset import OnTheFlyMixtures
from speechbrain_slim.data.noise import file_noise


def band_energy(x, low_hz):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    return spectrum[freqs >= low_hz].sum() / spectrum.sum()


def test_room_reverberates_and_keeps_length(tmp_path):
    h = np.zeros(4000)
    h[0], h[800:] = 1.0, 0.3 * np.exp(-np.arange(3200) / 800.0)
    sf.write(tmp_path / "room.wav", h, 16000)
    conditions = RecordingConditions(rirs=[str(tmp_path / "room.wav")], reverb_prob=1.0)
    clean = np.zeros(16000, dtype=np.float32)
    clean[1000] = 1.0
    wet = conditions.room(clean, np.random.default_rng(0))
    assert wet.shape == clean.shape
    assert np.abs(wet[2000:6000]).sum() > 10 * np.abs(wet[:900]).sum()  # a tail after the click
    dry = RecordingConditions(rirs=[str(tmp_path / "room.wav")], reverb_prob=0.0)
    assert np.array_equal(dry.room(clean, np.random.default_rng(0)), clean)
    with pytest.raises(ValueError, match="rirs"):
        RecordingConditions(reverb_prob=0.5)


def test_microphone_filters_noisy_and_clean_alike():
    rng = np.random.default_rng(1)
    clean, noise = rng.standard_normal(16000), rng.standard_normal(16000)
    conditions = RecordingConditions(colour_prob=1.0, bandlimit_prob=1.0)
    noisy_f, clean_f = conditions.microphone(clean + noise, clean, np.random.default_rng(5))
    noise_f, _ = conditions.microphone(noise, clean, np.random.default_rng(5))
    np.testing.assert_allclose(noisy_f - clean_f, noise_f, atol=1e-4)  # one linear filter
    assert band_energy(clean_f, 6500) < 5e-3 < 0.1 < band_energy(clean, 6500)


def test_file_noise_reads_long_files_in_part_and_loops_short_ones(tmp_path):
    rng = np.random.default_rng(2)
    sf.write(tmp_path / "long.wav", rng.standard_normal(64000) * 0.1, 16000)
    sf.write(tmp_path / "click.wav", np.hanning(200), 16000)
    long_part = file_noise(16000, 0, [[str(tmp_path / "long.wav")]])
    assert long_part.shape == (16000,) and np.mean(long_part**2) == pytest.approx(1.0, rel=1e-3)
    clicks = file_noise(16000, 0, [str(tmp_path / "click.wav")])
    loud = np.abs(clicks) > 0.5 * np.abs(clicks).max()
    assert 1 < np.count_nonzero(np.diff(loud.astype(int)) == 1)  # several clicks, with gaps
    sf.write(tmp_path / "cd.wav", np.zeros(100), 44100)
    with pytest.raises(ValueError, match="44100 Hz"):
        file_noise(16000, 0, [str(tmp_path / "cd.wav")])


def test_mixtures_use_noise_files_talkers_and_conditions(tmp_path):
    rng = np.random.default_rng(3)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"s{i}.wav"))
        sf.write(paths[-1], np.sin(np.arange(24000) * 0.05 * (i + 1)) * 0.3, 16000)
    sf.write(tmp_path / "n.wav", rng.standard_normal(48000) * 0.1, 16000)
    data = OnTheFlyMixtures(paths, segment_s=1.0, epoch_size=6, clean_share=0.0, easy_share=0.0,
                            noise_weights={"files": 1.0, "babble": 1.0},
                            noise_files={"n": {"wav": str(tmp_path / "n.wav"), "category": "x"}},
                            talkers=[paths[0]], conditions={"colour_prob": 1.0})
    families = {data[i]["noise"] for i in range(6)}
    assert families <= {"files", "babble"} and "files" in families
    item = data[0]
    assert torch.isfinite(item["noisy_sig"]).all() and item["noisy_sig"].shape == (16000,)
    assert torch.equal(data[0]["clean_sig"], item["clean_sig"])  # deterministic per index
