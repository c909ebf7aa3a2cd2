"""Tests for the task loss (L1 + multi-resolution STFT) and the routing losses."""

import math

import pytest
import torch

from speechbrain_slim import losses
from speechbrain_slim.losses import EnhancementLoss, length_mask
from speechbrain_slim.routing_losses import (
    DEFAULT_UFS,
    RoutingLoss,
    balance_loss,
    efficiency_loss,
    expected_uf,
    uf_usage,
)

MACS_PER_UF = tuple(2224 + 53760 * uf for uf in DEFAULT_UFS)


@pytest.fixture(scope="module")
def task_loss():
    return EnhancementLoss()


@pytest.fixture
def signals():
    gen = torch.Generator().manual_seed(0)
    clean = torch.randn(2, 6000, generator=gen)
    enhanced = clean + 0.3 * torch.randn(2, 6000, generator=gen)
    return enhanced, clean


def test_identical_signals_give_zero_loss(task_loss, signals):
    _, clean = signals
    parts = task_loss.parts(clean, clean)
    for name in ("total", "l1", "sc", "log_mag"):
        assert parts[name].item() == pytest.approx(0.0, abs=1e-7), name


def test_different_signals_give_positive_loss(task_loss, signals):
    enhanced, clean = signals
    parts = task_loss.parts(enhanced, clean)
    for name in ("total", "l1", "sc", "log_mag"):
        assert parts[name].item() > 0, name
    expected = parts["l1"] + 0.1 * parts["sc"] + 0.1 * parts["log_mag"]
    assert parts["total"].item() == pytest.approx(expected.item())


def test_factors_and_channel_dim(signals):
    enhanced, clean = signals
    only_l1 = EnhancementLoss(l1_factor=1.0, sc_factor=0.0, mag_factor=0.0)
    assert only_l1(enhanced, clean).item() == pytest.approx(
        (enhanced - clean).abs().mean().item(), rel=1e-6
    )
    loss = EnhancementLoss()
    assert loss(enhanced.unsqueeze(1), clean.unsqueeze(1)).item() == pytest.approx(
        loss(enhanced, clean).item()
    )
    with pytest.raises(ValueError):
        loss(enhanced, clean[:, :100])


def test_length_mask():
    mask = length_mask(torch.tensor([1.0, 0.25]), 8)
    assert mask.sum(dim=1).tolist() == [8.0, 2.0]


def test_padding_is_ignored(task_loss, signals):
    enhanced, clean = signals
    lengths = torch.tensor([1.0, 0.5])
    half = clean.shape[1] // 2
    base = task_loss.parts(enhanced, clean, lengths)

    enhanced2, clean2 = enhanced.clone(), clean.clone()
    enhanced2[1, half:] = 5.0 * torch.randn(clean.shape[1] - half)
    clean2[1, half:] = -3.0
    changed = task_loss.parts(enhanced2, clean2, lengths)
    for name, value in base.items():
        assert changed[name].item() == pytest.approx(value.item(), rel=1e-5), name

    # Without lengths the same change is visible.
    assert task_loss(enhanced2, clean2).item() != pytest.approx(task_loss(enhanced, clean).item())


def test_padding_does_not_dilute_l1(signals):
    enhanced, clean = signals
    only_l1 = EnhancementLoss(sc_factor=0.0, mag_factor=0.0)
    half = clean.shape[1] // 2
    cropped = only_l1(enhanced[:1, :half], clean[:1, :half])
    masked = only_l1(enhanced[:1], clean[:1], torch.tensor([0.5]))
    assert masked.item() == pytest.approx(cropped.item(), rel=1e-6)


@pytest.mark.parametrize("lengths", [None, torch.tensor([1.0, 0.7])])
def test_silent_target_is_finite(task_loss, lengths):
    clean = torch.zeros(2, 4000)
    for start in (torch.zeros(2, 4000), 0.01 * torch.randn(2, 4000)):
        enhanced = start.clone().requires_grad_(True)
        loss = task_loss(enhanced, clean, lengths)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(enhanced.grad).all()


def test_level_invariant_loss_weighs_every_item_alike(signals):
    """With level_invariant, an item 30 dB quieter counts as much as a loud one (and its
    gradient is as large, relative to its level); without, the waveform L1 shrinks with it."""
    enhanced, clean = signals
    for lengths in (None, torch.tensor([1.0, 0.7])):
        invariant = EnhancementLoss(level_invariant=True)
        quiet = torch.tensor([[1.0], [10 ** (-30 / 20)]])
        assert invariant(enhanced * quiet, clean * quiet, lengths).item() == pytest.approx(
            invariant(enhanced, clean, lengths).item(), rel=1e-5)
        plain = EnhancementLoss()
        assert plain.parts(enhanced * quiet, clean * quiet, lengths)["l1"] < 0.65 * plain.parts(
            enhanced, clean, lengths)["l1"]
    silent = torch.zeros(2, 4000)
    start = (0.01 * torch.randn(2, 4000)).requires_grad_(True)
    loss = EnhancementLoss(level_invariant=True)(start, silent)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(start.grad).all()


def test_si_sdr_term_weighs_a_nearly_clean_item_like_a_noisy_one():
    """The SI-SDR term's pull on an item depends on its error relative to its speech, not on
    how much error there is: damaging a nearly clean item by 1 dB costs what leaving 1 dB more
    noise in a noisy one does, where the L1 hardly sees the clean item. Its ceiling keeps a
    perfect estimate finite, with a finite gradient, and padding does not count."""
    gen = torch.Generator().manual_seed(1)
    clean = torch.randn(2, 8000, generator=gen)
    noise = torch.randn(2, 8000, generator=gen)
    snr_db = torch.tensor([[0.0], [20.0]])
    enhanced = clean + noise * 10 ** (-snr_db / 20)
    loss = EnhancementLoss(l1_factor=0.0, sc_factor=0.0, mag_factor=0.0, si_sdr_factor=1.0,
                           si_sdr_max_db=60.0)
    one_db_worse = clean + noise * 10 ** (-(snr_db - 1.0) / 20)
    for item in range(2):
        worse = enhanced.clone()
        worse[item] = one_db_worse[item]
        assert (loss(worse, clean) - loss(enhanced, clean)).item() == pytest.approx(0.5, abs=0.03)
    l1 = EnhancementLoss(sc_factor=0.0, mag_factor=0.0)
    l1_cost = [l1(torch.where(torch.arange(2)[:, None] == item, one_db_worse, enhanced), clean)
               - l1(enhanced, clean) for item in range(2)]
    assert l1_cost[1] < 0.15 * l1_cost[0]

    perfect = clean.clone().requires_grad_(True)
    capped = EnhancementLoss(si_sdr_factor=1.0).parts(perfect, clean)["si_sdr"]
    capped.backward()
    assert capped.item() == pytest.approx(30.0, abs=0.01)
    assert torch.isfinite(perfect.grad).all()

    padded = torch.cat([enhanced, torch.randn(2, 2000, generator=gen)], dim=-1)
    padded_clean = torch.cat([clean, torch.zeros(2, 2000)], dim=-1)
    assert loss(padded, padded_clean, torch.tensor([0.8, 0.8])).item() == pytest.approx(
        loss(enhanced, clean).item(), abs=1e-4)


def test_short_signal_is_handled(task_loss):
    clean = torch.randn(1, 300)
    assert torch.isfinite(task_loss(clean + 0.1, clean))


def _optimise(loss_fn, target_steps=100, lr=30.0, shape=(2, 8, 4), init=None):
    logits = torch.zeros(shape) if init is None else init.clone()
    logits.requires_grad_(True)
    opt = torch.optim.SGD([logits], lr=lr)
    for _ in range(target_steps):
        opt.zero_grad()
        loss_fn(logits.softmax(-1)).backward()
        opt.step()
    return logits.detach().softmax(-1)


@pytest.mark.parametrize("target", [0.2, 0.8])
def test_efficiency_loss_pulls_mean_uf_to_target(target):
    probs = _optimise(lambda p: efficiency_loss(p, DEFAULT_UFS, target))
    assert expected_uf(probs, DEFAULT_UFS).item() == pytest.approx(target, abs=0.02)


def test_efficiency_loss_in_macs_pulls_mean_uf_to_target():
    target = 0.3
    probs = _optimise(
        lambda p: efficiency_loss(p, DEFAULT_UFS, target, macs_per_uf=MACS_PER_UF), lr=100.0
    )
    assert expected_uf(probs, DEFAULT_UFS).item() == pytest.approx(target, abs=0.02)


def test_efficiency_loss_in_macs_is_scaled_uf_loss():
    probs = torch.randn(3, 7, 4).softmax(-1)
    scale = (53760 / MACS_PER_UF[-1]) ** 2
    for target in (0.1, 0.5, 0.9):
        in_uf = efficiency_loss(probs, DEFAULT_UFS, target)
        in_macs = efficiency_loss(probs, DEFAULT_UFS, target, macs_per_uf=MACS_PER_UF)
        assert in_macs.item() == pytest.approx(scale * in_uf.item(), rel=1e-4)


def test_one_sided_efficiency_loss():
    uniform = torch.full((1, 4, 4), 0.25)  # mean UF 0.46875
    assert efficiency_loss(uniform, DEFAULT_UFS, 0.8, one_sided=True).item() == 0.0
    assert efficiency_loss(uniform, DEFAULT_UFS, 0.8).item() > 0.0
    assert efficiency_loss(uniform, DEFAULT_UFS, 0.2, one_sided=True).item() > 0.0


def test_masked_frames_do_not_count():
    probs = torch.zeros(1, 4, 4)
    probs[0, :2, 0] = 1.0  # valid frames use UF 0.125
    probs[0, 2:, 3] = 1.0  # padded frames use UF 1.0
    mask = torch.tensor([[True, True, False, False]])
    assert expected_uf(probs, DEFAULT_UFS, mask).item() == pytest.approx(0.125)
    assert uf_usage(probs, mask).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert efficiency_loss(probs, DEFAULT_UFS, 0.125, mask).item() == pytest.approx(0.0)


def test_balance_loss_minimal_at_uniform():
    uniform = torch.full((2, 5, 4), 0.25)
    assert balance_loss(uniform).item() == pytest.approx(0.0, abs=1e-7)

    two_ufs = torch.zeros(2, 5, 4)
    two_ufs[..., 0] = 0.5
    two_ufs[..., 3] = 0.5
    one_uf = torch.zeros(2, 5, 4)
    one_uf[..., 3] = 1.0
    assert balance_loss(two_ufs).item() == pytest.approx(math.log(2), rel=1e-5)
    assert balance_loss(one_uf).item() == pytest.approx(math.log(4), rel=1e-5)

    # Random non-uniform usage is strictly above the minimum.
    random = torch.randn(2, 5, 4).mul(3).softmax(-1)
    assert balance_loss(random).item() > 0


def test_balance_loss_spreads_collapsed_router():
    init = torch.zeros(2, 8, 4)
    init[..., 3] = 4.0  # almost collapsed onto UF 1.0
    start = balance_loss(init.softmax(-1)).item()
    probs = _optimise(balance_loss, init=init, lr=10.0)
    assert balance_loss(probs).item() < 0.1 * start
    assert torch.isfinite(probs).all()


def test_balance_loss_gradient_finite_when_unused():
    logits = torch.tensor([[[50.0, 0.0, 0.0, 0.0]]], requires_grad=True)
    balance_loss(logits.softmax(-1)).backward()
    assert torch.isfinite(logits.grad).all()


def test_routing_loss_combines_parts():
    routing = RoutingLoss(DEFAULT_UFS, target_uf=0.3, beta=2.0, gamma=0.5)
    probs = torch.randn(2, 6, 4).softmax(-1)
    mask = torch.ones(2, 6)
    mask[1, 4:] = 0
    total, parts = routing(probs, mask)
    expected = 2.0 * efficiency_loss(probs, DEFAULT_UFS, 0.3, mask) + 0.5 * balance_loss(
        probs, mask
    )
    assert total.item() == pytest.approx(expected.item())
    assert parts["mean_uf"].item() == pytest.approx(expected_uf(probs, DEFAULT_UFS, mask).item())
    assert parts["usage"].shape == (4,)
    with pytest.raises(ValueError):
        routing(torch.randn(2, 6, 3).softmax(-1))


def test_routing_loss_trades_efficiency_against_balance():
    """gamma > 0 keeps usage closer to uniform while still approaching the target."""
    balances = {}
    for gamma in (0.0, 0.05):
        routing = RoutingLoss(DEFAULT_UFS, target_uf=0.3, beta=1.0, gamma=gamma)
        probs = _optimise(lambda p, routing=routing: routing(p)[0], target_steps=150)
        _, parts = routing(probs)
        assert parts["mean_uf"].item() == pytest.approx(0.3, abs=0.05)
        balances[gamma] = parts["balance"].item()
    assert balances[0.05] < 0.75 * balances[0.0]


def test_losses_still_offers_the_routing_loss_the_hparams_name():
    # hparams/*.yaml build it as !new:speechbrain_slim.losses.RoutingLoss
    assert losses.RoutingLoss is RoutingLoss
