"""Router, decision tracks and routed forward passes."""

import pytest
import torch

from speechbrain_slim.complexity import HookMacCounter, count_macs
from speechbrain_slim.lobes.router import DiagonalGRU, Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.routing import decide, parse_uf, random_track, route

UFS = (0.125, 0.25, 0.5, 1.0)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running").eval()
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    return model, router


def iid_track(model, batch, length, seed=0):
    """A track whose every frame takes a UF drawn independently (the hardest case)."""
    generator = torch.Generator().manual_seed(seed)
    frames = model.bottleneck_frames(length)
    index = torch.randint(0, len(model.ufs), (batch, frames), generator=generator)
    return torch.tensor(model.ufs)[index]


def test_constant_track_equals_static_uf(pair):
    model, _ = pair
    x = torch.randn(2, 5000)
    frames = model.bottleneck_frames(5000)
    for uf in model.ufs:
        with torch.no_grad():
            static = model(x, uf)[0]
            tracked = model(x, torch.full((2, frames), uf))[0]
        torch.testing.assert_close(tracked, static, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("grad", [False, True])
def test_each_frame_is_computed_at_its_own_width(pair, grad):
    """The MACs counted during a routed pass equal the track's analytic MACs."""
    model, _ = pair
    length = 7000
    track = iid_track(model, 2, length)
    with HookMacCounter(model) as counter, torch.set_grad_enabled(grad):
        _, info = model(torch.randn(2, length), track)
    expected = [count_macs(model, length, item) for item in track]
    assert counter.macs == sum(expected)
    assert info["macs"].tolist() == expected
    assert expected[0] < count_macs(model, length, 1.0)


def test_track_shape_and_values_are_checked(pair):
    model, _ = pair
    frames = model.bottleneck_frames(3000)
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(1, 3000), torch.full((1, frames + 1), 0.5))
    with pytest.raises(ValueError, match="outside"):
        model(torch.randn(1, 3000), torch.full((1, frames), 0.3))


def test_parse_uf_specs():
    assert parse_uf("auto", UFS) == ("auto", None)
    assert parse_uf("0.5", UFS) == ("fixed", 0.5)
    assert parse_uf(1, UFS) == ("fixed", 1.0)
    assert parse_uf(" MAX=0.25", UFS) == ("cap", 0.25)
    for bad in ("0.3", "max=2", "fast", ""):
        with pytest.raises(ValueError, match="uf"):
            parse_uf(bad, UFS)


def test_decide_cap_and_shift():
    logits = torch.randn(3, 50, 4)
    auto = decide(logits, UFS)[0]
    capped = decide(logits, UFS, cap=0.25)[0]
    assert (capped <= 0.25).all() and (capped == torch.clamp(auto, max=0.25)).all()
    assert decide(logits, UFS, shift=-100.0)[0].eq(0.125).all()
    assert decide(logits, UFS, shift=100.0)[0].eq(1.0).all()
    low, high = decide(logits, UFS, shift=-0.5)[0], decide(logits, UFS, shift=0.5)[0]
    assert low.mean() < auto.mean() < high.mean()


def test_training_decisions_are_hard_with_straight_through_gates():
    logits = torch.randn(2, 30, 4, requires_grad=True)
    track, gates, probs = decide(logits, UFS, training=True)
    assert set(track.unique().tolist()) <= set(UFS)
    torch.testing.assert_close(gates, torch.ones_like(gates))
    gates.sum().backward()
    assert logits.grad.abs().sum() > 0


def test_routed_pass_modes(pair):
    model, router = pair
    x = torch.randn(2, 6000)
    with torch.no_grad():
        auto, info = route(model, router, x, "auto")
        assert info["probs"].shape == (2, model.bottleneck_frames(6000), 4)
        capped, capped_info = route(model, router, x, "max=0.25")
        assert (capped_info["track"] <= 0.25).all()
        fixed, fixed_info = route(model, router, x, 0.5)
        torch.testing.assert_close(fixed, model(x, 0.5)[0])
    router_macs = router.macs_per_frame() * model.bottleneck_frames(6000)
    expected = count_macs(model, 6000, info["track"][0]) + router_macs
    assert int(info["macs"][0]) == expected
    assert "probs" not in fixed_info  # the router did not run


def test_gradients_reach_the_router(pair):
    model, router = pair
    model.train(), router.train()
    try:
        enhanced, info = route(model, router, torch.randn(2, 6000), "auto", training=True)
        enhanced.pow(2).mean().backward()
        for name, parameter in router.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    finally:
        model.eval(), router.eval()
        model.zero_grad(), router.zero_grad()


def test_router_is_causal_and_cheap(pair):
    model, router = pair
    frames = 40
    x = torch.randn(1, router.input_length(frames))
    with torch.no_grad():
        base = router(x, frames)
        changed = x.clone()
        changed[:, 20 * router.frame_stride + router.kernel_size :] += 1.0
        diff = (router(changed, frames) - base).abs().sum(-1)[0]
    assert diff[:21].max() == 0 and diff[21:].min() > 0
    paper = SlimDemucs(hidden=32, bottleneck="grouped_gru")
    default = Router(paper.ufs, frame_stride=paper.total_stride)
    per_sample = default.macs_per_frame() / paper.total_stride
    assert per_sample < 0.01 * count_macs(paper, 16000, 0.125) / 16000


def test_diagonal_gru_state_carries_over():
    gru = DiagonalGRU(6)
    x = torch.randn(2, 10, 6)
    whole, _ = gru(x)
    first, state = gru(x[:, :4])
    second, _ = gru(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_efficiency_loss_moves_the_routers_mean_uf_to_the_target(pair):
    """Training the router with L_eff alone pulls its mean UF toward the target."""
    from speechbrain_slim.routing_losses import RoutingLoss

    model, _ = pair
    torch.manual_seed(0)
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8)
    routing_loss = RoutingLoss(model.ufs, target_uf=0.125, beta=1.0, gamma=0.0)
    optimizer = torch.optim.Adam(router.parameters(), lr=0.02)
    x = torch.randn(4, 6000)
    frames = model.bottleneck_frames(6000)

    def mean_uf():
        with torch.no_grad():
            return float(decide(router(x, frames), model.ufs)[0].mean())

    before = mean_uf()
    for _ in range(40):
        _, _, probs = decide(router(x, frames), model.ufs, training=True)
        loss, _ = routing_loss(probs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = mean_uf()
    assert before > 0.3 and after < 0.15


def test_random_tracks_mix_every_uf_in_runs_of_the_mean_length():
    ufs = (0.125, 0.25, 0.5, 1.0)
    track = random_track(64, 400, ufs, mean_run=8.0, generator=torch.Generator().manual_seed(0))
    shares = torch.stack([(track == uf).float().mean() for uf in ufs])
    assert torch.allclose(shares, torch.full((4,), 0.25), atol=0.03)
    changes = (track[:, 1:] != track[:, :-1]).float().mean()
    # a new run every 8 frames on average; 3 in 4 new runs draw a different UF
    assert float(changes) == pytest.approx(0.75 / 8, rel=0.15)
