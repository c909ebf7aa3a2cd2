"""Tests for the quality metrics and QualityStats."""

import math

import numpy as np
import pytest
import torch

from speechbrain_slim import metrics
from speechbrain_slim.metrics import QualityStats, dnsmos, pesq_wb, si_sdr, stoi

RATE = 16000


def speech_like(seconds=2.0, rate=RATE, seed=0):
    """Voiced-speech stand-in: harmonics of a wobbling pitch, syllable-rate envelope, pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2
    return 0.1 * voiced * envelope + 1e-4 * rng.standard_normal(t.size)


@pytest.fixture(scope="module")
def clean():
    return speech_like()


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(1).standard_normal(2 * RATE)


def scaled_noise(clean, noise, snr_db):
    gain = np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    return gain * noise


# --------------------------------------------------------------------- SI-SDR
def test_si_sdr_identity_scale_and_noise(clean, noise):
    assert si_sdr(clean, clean) > 80
    assert si_sdr(0.25 * clean, clean) > 80
    assert si_sdr(noise, clean) < -20

    noisy = clean + scaled_noise(clean, noise, 10.0)
    value = si_sdr(noisy, clean)
    assert isinstance(value, float)
    assert value == pytest.approx(10.0, abs=0.5)
    for gain in (0.1, 3.0, -2.0):
        assert si_sdr(gain * noisy, clean) == pytest.approx(value, abs=1e-6)


def test_si_sdr_batch_torch_and_numpy(clean, noise):
    noisy = clean + scaled_noise(clean, noise, 5.0)
    est = np.stack([noisy, clean, noise])
    ref = np.stack([clean, clean, clean])
    batch_np = si_sdr(est, ref)
    assert isinstance(batch_np, np.ndarray) and batch_np.shape == (3,)
    batch_t = si_sdr(torch.from_numpy(est).float(), torch.from_numpy(ref).float())
    assert torch.is_tensor(batch_t) and batch_t.dtype == torch.float32
    assert batch_t[0].item() == pytest.approx(batch_np[0], abs=1e-3)
    for row in range(3):
        assert batch_np[row] == pytest.approx(si_sdr(est[row], ref[row]))
    with pytest.raises(ValueError):
        si_sdr(est[:, :100], ref)


def test_si_sdr_lengths_ignore_padding(clean, noise):
    half = clean.size // 2
    noisy = clean + scaled_noise(clean, noise, 0.0)
    est = torch.from_numpy(np.stack([noisy, noisy])).double()
    ref = torch.from_numpy(np.stack([clean, clean])).double()
    est[1, half:] = 7.0
    ref[1, half:] = -1.0
    values = si_sdr(est, ref, lengths=torch.tensor([1.0, 0.5]))
    assert values[0].item() == pytest.approx(si_sdr(noisy, clean), abs=1e-9)
    assert values[1].item() == pytest.approx(si_sdr(noisy[:half], clean[:half]), abs=1e-9)


def test_si_sdr_is_differentiable(clean, noise):
    est = torch.tensor(clean + 0.1 * noise, dtype=torch.float32, requires_grad=True)
    si_sdr(est, torch.tensor(clean, dtype=torch.float32)).backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0


# ----------------------------------------------------------------------- PESQ
def test_pesq_identity_and_degradation(clean, noise):
    assert pesq_wb(clean, clean) == pytest.approx(4.64, abs=0.01)
    degraded = pesq_wb(clean, clean + scaled_noise(clean, noise, 5.0))
    assert 1.0 <= degraded < 3.5


def test_pesq_nan_instead_of_errors(clean):
    assert math.isnan(pesq_wb(np.zeros_like(clean), clean))  # silent reference
    assert math.isnan(pesq_wb(clean, np.zeros_like(clean)))  # all-zero degraded
    assert math.isnan(pesq_wb(clean[:100], clean[:100]))  # too short


def test_pesq_resamples_and_batches(clean, noise):
    slow = speech_like(rate=8000)
    assert pesq_wb(torch.tensor(slow), torch.tensor(slow), sample_rate=8000) == pytest.approx(
        4.64, abs=0.01
    )
    ref = torch.tensor(np.stack([clean, clean]))
    deg = ref.clone()
    deg[1, RATE:] = 0.0  # the zeroed second half lies beyond the length of item 1
    scores = pesq_wb(ref, deg, lengths=torch.tensor([1.0, 0.5]))
    assert scores.shape == (2,)
    assert scores == pytest.approx([4.64, 4.64], abs=0.01)


# ----------------------------------------------------------------------- STOI
def test_stoi(clean, noise):
    assert stoi(clean, clean) == pytest.approx(1.0, abs=1e-6)
    noisy = clean + scaled_noise(clean, noise, -5.0)
    value = stoi(clean, noisy)
    assert 0.0 < value < 0.95
    batch = stoi(np.stack([clean, clean]), np.stack([clean, noisy]), RATE)
    assert batch.shape == (2,)
    assert batch[1] == pytest.approx(value)


# --------------------------------------------------------------------- DNSMOS
def test_dnsmos_import_error_names_pip_command(monkeypatch):
    monkeypatch.setattr(metrics, "dnsmos_available", lambda: False)
    with pytest.raises(ImportError, match="pip install speechmos"):
        dnsmos(np.zeros(RATE))


@pytest.mark.skipif(not metrics.dnsmos_available(), reason="speechmos not installed")
def test_dnsmos_scores(clean):
    scores = dnsmos(torch.tensor(clean[:RATE]), RATE)
    assert set(scores) == {"ovrl_mos", "sig_mos", "bak_mos", "p808_mos"}
    assert all(1.0 <= value <= 5.0 for value in scores.values())


# --------------------------------------------------------------- QualityStats
def test_quality_stats_groups_and_means():
    stats = QualityStats()
    stats.append("u1", {"pesq": 2.0, "stoi": 0.8}, snr="0-5", uf=0.25)
    stats.append("u2", {"pesq": 3.0, "stoi": float("nan")}, snr="0-5", uf=1.0)
    stats.append("u3", {"pesq": torch.tensor(4.0), "stoi": 0.9}, snr="5-10", uf=1.0)
    assert len(stats) == 3

    overall = stats.summarize()
    # the item STOI could not score is counted, not silently dropped from the mean
    assert overall == {"all": {"count": 3, "pesq": 3.0, "stoi": pytest.approx(0.85),
                               "stoi_failed": 1}}

    by_snr = stats.summarize("snr")
    assert list(by_snr) == ["0-5", "5-10"]
    assert by_snr["0-5"] == {"count": 2, "pesq": 2.5, "stoi": pytest.approx(0.8), "stoi_failed": 1}
    assert "stoi_failed" not in by_snr["5-10"]

    by_both = stats.summarize(("snr", "uf"))
    assert by_both[("0-5", 1.0)]["pesq"] == 3.0
    assert math.isnan(by_both[("0-5", 1.0)]["stoi"])  # only NaN values: NaN mean
    assert "(1 failed)" in stats.to_markdown("snr")

    stats.clear()
    assert len(stats) == 0 and stats.summarize() == {}


def test_quality_stats_append_batch_and_missing_keys():
    stats = QualityStats()
    stats.append_batch(
        ["a", "b", "c"],
        {"si_sdr": torch.tensor([10.0, 12.0, 20.0]), "pesq": np.array([2.0, 3.0, 4.0])},
        uf=torch.tensor([0.5, 0.5, 1.0]),
        split="test",
    )
    stats.append("d", {"si_sdr": 0.0})  # no group labels, no pesq
    by_uf = stats.summarize("uf")
    assert by_uf[0.5] == {"count": 2, "si_sdr": 11.0, "pesq": 2.5}
    assert by_uf[None]["count"] == 1 and math.isnan(by_uf[None]["pesq"])
    assert stats.summarize("split")["test"]["count"] == 3


def test_quality_stats_markdown():
    stats = QualityStats()
    stats.append("a", {"pesq": 2.0, "si_sdr": 10.0}, snr=0, uf=0.5)
    stats.append("b", {"pesq": 3.0, "si_sdr": 14.0}, snr=5, uf=0.5)
    table = stats.to_markdown(("uf", "snr"), precision=1).splitlines()
    assert table[0] == "| uf / snr | count | pesq | si_sdr |"
    assert table[1] == "|---|---|---|---|"
    assert table[2:] == ["| 0.5 / 0 | 1 | 2.0 | 10.0 |", "| 0.5 / 5 | 1 | 3.0 | 14.0 |"]
    assert stats.to_markdown().splitlines()[2] == "| all | 2 | 2.50 | 12.00 |"


def test_pesq_without_the_pesq_package_is_nan_and_warns_once(monkeypatch):
    import sys

    import speechbrain_slim.metrics as metrics

    monkeypatch.setitem(sys.modules, "pesq", None)  # import fails as if not installed
    monkeypatch.setattr(metrics, "_MISSING_PESQ_WARNED", [])
    signal = np.sin(np.arange(16000) / 5.0)
    with pytest.warns(UserWarning, match="'pesq' package is not installed"):
        assert math.isnan(metrics.pesq_wb(signal, signal))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert math.isnan(metrics.pesq_wb(signal, signal))
    assert not caught  # said once per process
