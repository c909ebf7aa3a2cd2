"""Per-frame router targets: which UF pays for itself, and a router that learns them."""

import torch

from speechbrain_slim.complexity import macs_per_uf
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.router_targets import RouterTargetLoss, frame_errors_db, router_targets


def test_padding_is_ignored_and_errors_are_relative_to_the_clean_power():
    clean = torch.ones(2, 8)
    out = clean.clone()
    out[:, 4:] += 10.0  # a huge error, but only in item 1's valid samples
    errors = frame_errors_db([out], clean, frame_stride=4, frames=2,
                             lengths=torch.tensor([1.0, 0.5]), measure="waveform")
    assert errors[1, 1, 0] == errors[1, 0, 0] == errors[0, 0, 0]  # padding: floor only
    assert errors[0, 1, 0] > 19.0
    quiet = frame_errors_db([out * 1e-3], clean * 1e-3, 4, 2, measure="waveform")
    loud = frame_errors_db([out], clean, 4, 2, measure="waveform")
    torch.testing.assert_close(quiet, loud - 60.0)


def test_spectral_errors_find_the_frame_that_differs_and_ignore_the_level():
    torch.manual_seed(0)
    clean = torch.randn(1, 64 * 10)
    out = clean.clone()
    out[:, 64 * 6 : 64 * 7] += 0.5 * torch.randn(64)  # frame 6 only
    errors = frame_errors_db([out], clean, frame_stride=64, frames=10)[0, :, 0]
    assert int(errors.argmax()) == 6 and errors[6] > errors[2] + 10
    scaled = frame_errors_db([out * 100], clean * 100, 64, 10)[0, :, 0]
    torch.testing.assert_close(scaled, errors + 20 * 0.3 * 2, atol=1e-3, rtol=0)


def test_equal_outputs_go_to_the_smallest_uf_and_the_price_sets_the_trade():
    errors = torch.tensor([[[-20.0, -20.0, -20.0, -20.0], [-20.0, -21.0, -22.0, -24.0]]])
    macs = (1.0, 2.0, 4.0, 8.0)
    assert router_targets(errors, macs, price_db=3.0).tolist() == [[0, 3]]
    assert router_targets(errors, macs, price_db=10.0).tolist() == [[0, 0]]
    assert router_targets(errors, macs, price_db=0.0).tolist() == [[0, 3]]


def test_a_router_trained_on_the_targets_spends_where_the_large_uf_helps():
    """Noise bursts that only the largest UF removes, in clean speech: the router finds them."""
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running")
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8)
    stride, frames = model.total_stride, 24
    length = stride * frames
    loss = RouterTargetLoss(macs_per_uf(model), price_db=3.0)
    optimizer = torch.optim.Adam(router.parameters(), lr=0.02)

    def batch():
        time = torch.arange(length) / 16000.0
        clean = 0.3 * torch.sin(2 * torch.pi * 220 * time).expand(8, length)
        loud = (torch.rand(8, frames // 4) < 0.5).repeat_interleave(4 * stride, dim=1)
        noise = torch.randn(8, length) * torch.where(loud, 0.5, 0.0)
        outputs = [clean + noise] * 3 + [clean + 0.1 * noise]
        return clean + noise, outputs, clean, loud.view(8, frames, stride)[..., 0]

    for _ in range(80):
        noisy, outputs, clean, _ = batch()
        total, _ = loss(router(noisy, frames), outputs, clean, stride)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    noisy, outputs, clean, loud = batch()
    with torch.no_grad():
        _, parts = loss(router(noisy, frames), outputs, clean, stride)
    # the spectral window reaches half a frame into each neighbour: judge quiet frames
    # away from the bursts
    near_burst = loud | torch.roll(loud, 1, dims=1) | torch.roll(loud, -1, dims=1)
    assert parts["target_index"][loud].eq(3).all()
    assert parts["target_index"][~near_burst].eq(0).all()
    assert parts["agreement"] > 0.9
