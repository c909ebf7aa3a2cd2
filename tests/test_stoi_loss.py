"""The differentiable STOI loss: agreement with pystoi, padding, silence, gradients."""

import numpy as np
import pytest
import soundfile as sf
import torch
from pystoi import stoi
from pystoi.stoi import OBM

from speechbrain_slim.data.corpus import load_corpus
from speechbrain_slim.data.mixing import mix_at_snr
from speechbrain_slim.data.noise import make_noise
from speechbrain_slim.losses import EnhancementLoss
from speechbrain_slim.stoi_loss import STOILoss, third_octave_matrix


def speech_mixtures(count=4, seconds=2.5):
    """``(noisy, clean)`` ``[count, T]`` of test-split utterances in different noises."""
    entries = list(load_corpus("test").values())[:count]
    length = int(seconds * 16000)
    cleans, noisies = [], []
    families = ("colored", "modulated", "bursty", "hum")
    for index, (entry, family) in enumerate(zip(entries, families)):
        clean, rate = sf.read(entry["wav"], dtype="float32")
        assert rate == 16000
        clean = np.pad(clean, (0, max(0, length - len(clean))))[:length]
        noise = make_noise(family, length, seed=index)
        noisy, _ = mix_at_snr(clean, noise, snr_db=-2.0 + 5 * index)
        cleans.append(torch.from_numpy(clean))
        noisies.append(torch.as_tensor(noisy, dtype=torch.float32))
    return torch.stack(noisies), torch.stack(cleans)


def test_band_matrix_is_pystois():
    assert np.array_equal(third_octave_matrix().numpy(), OBM)


def test_matches_pystoi_on_speech_in_noise():
    noisy, clean = speech_mixtures()
    scores, scored = STOILoss().scores(noisy, clean)
    reference = [stoi(c.numpy(), n.numpy(), 16000) for n, c in zip(noisy, clean)]
    assert bool(scored.all())
    assert np.allclose(scores.numpy(), reference, atol=0.01), (scores, reference)
    # the mixtures span a real range of intelligibility, so agreement is not trivial
    assert max(reference) - min(reference) > 0.1


def test_padding_is_ignored_and_batch_equals_items():
    noisy, clean = speech_mixtures(count=2)
    loss = STOILoss()
    alone, _ = loss.scores(noisy[:1, :30000], clean[:1, :30000])
    padded_noisy = noisy.clone()
    padded_noisy[0, 30000:] = 5.0  # garbage in the padded tail must not count
    batch, _ = loss.scores(padded_noisy, clean, lengths=torch.tensor([30000 / 40000, 1.0]))
    second, _ = loss.scores(noisy[1:], clean[1:])
    assert torch.allclose(batch, torch.cat([alone, second]), atol=1e-5)


def test_items_without_a_full_segment_of_speech_are_left_out():
    noisy, clean = speech_mixtures(count=2)
    silent = torch.zeros_like(clean[:1])
    scores, scored = STOILoss().scores(torch.cat([noisy, silent]), torch.cat([clean, silent]))
    assert scored.tolist() == [True, True, False]
    assert float(STOILoss()(silent, silent)) == 0.0


def test_gradient_raises_stoi():
    noisy, clean = speech_mixtures(count=2)
    estimate = noisy.clone().requires_grad_()
    loss = STOILoss()
    start = float(loss(estimate, clean).detach())
    optimizer = torch.optim.Adam([estimate], lr=1e-3)
    for _ in range(15):
        optimizer.zero_grad()
        value = loss(estimate, clean)
        value.backward()
        assert torch.isfinite(estimate.grad).all()
        optimizer.step()
    assert float(loss(estimate, clean).detach()) < start - 0.02


@pytest.mark.parametrize("factor", [0.0, 2.0])
def test_enhancement_loss_adds_the_weighted_term(factor):
    noisy, clean = speech_mixtures(count=2)
    parts = EnhancementLoss(stoi_factor=factor).parts(noisy, clean)
    base = EnhancementLoss().parts(noisy, clean)
    expected = base["total"] + factor * float(STOILoss()(noisy, clean))
    assert torch.allclose(parts["total"], expected, atol=1e-6)
    assert ("stoi" in parts) == bool(factor)
