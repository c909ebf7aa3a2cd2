"""Routed passes: every way a block computes a track (slices, gathers, both) gives one result."""

import pytest
import torch

from speechbrain_slim.complexity import HookMacCounter, count_macs
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.nnet import track_planner
from speechbrain_slim.nnet.demucs_blocks import DecoderBlock, EncoderBlock
from speechbrain_slim.nnet.track_planner import track_plan

UFS = (0.125, 0.25, 0.5, 1.0)

# (slice work, chunk): all gathered, all sliced, mixed spans; small chunks split runs and groups
PATHS = {
    "gather": (1 << 62, 1 << 62),
    "slices": (0, 1 << 62),
    "mixed": (8 * 4, 12),
    "mixed-chunked": (8 * 4, 5),
}
MODEL_PATHS = {"gather": (1 << 62, 1 << 62), "slices": (0, 1 << 62), "mixed": (8 * 8, 64)}


def run_track(batch, frames, mean_run, seed):
    """A [batch, frames] track of random UFs held for random runs (1 .. 2 * mean_run - 1)."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        values = []
        while len(values) < frames:
            run = int(torch.randint(1, 2 * mean_run, (), generator=generator))
            values += [UFS[int(torch.randint(0, len(UFS), (), generator=generator))]] * run
        rows.append(values[:frames])
    return torch.tensor(rows)


@pytest.fixture(params=list(PATHS))
def path(request, monkeypatch):
    work, chunk = PATHS[request.param]
    monkeypatch.setattr(track_planner, "SLICE_WORK", work)
    monkeypatch.setattr(track_planner, "chunk_frames", lambda width: chunk)
    return request.param


def reference_encode(block, x, track, gate):
    """Every frame computed at every UF, then each frame's own UF selected."""
    out = torch.zeros(*track.shape, block.channels)
    for uf in UFS:
        hidden = torch.relu(block.conv(x, uf)) * gate.unsqueeze(-1)
        out = torch.where((track == uf).unsqueeze(-1), block.pointwise(hidden, uf), out)
    return out


def reference_decode(block, x, skip, track, gate):
    """Every frame's taps at every UF, each frame's own selected, then overlap-added."""
    conv, frames = block.conv_tr, x.shape[1]
    taps = 0
    for uf in UFS:
        hidden = block.pointwise(x + skip[:, :frames], uf) * gate.unsqueeze(-1)
        chosen = (track == uf).view(*track.shape, 1, 1)
        taps = taps + chosen * conv.frame_taps(hidden, uf)
    out = conv.output_buffer(*track.shape)
    for tap in range(conv.taps):
        out[:, tap : tap + frames] += taps[:, :, tap]
    return torch.relu(conv.finish(out, frames))


@pytest.mark.parametrize("mean_run", [1, 6, 40])
def test_blocks_follow_the_track_exactly(path, mean_run):
    torch.manual_seed(0)
    encoder, decoder = EncoderBlock(4, 8, 8, 4), DecoderBlock(8, 4, 8, 4)
    batch, frames = 3, 97
    track = run_track(batch, frames, mean_run, seed=mean_run)
    gate = 1 + torch.rand(batch, frames)
    x = torch.randn(batch, (frames - 1) * 4 + 8, 4)
    hidden, skip = torch.randn(batch, frames, 8), torch.randn(batch, frames + 1, 8)
    with torch.no_grad():
        torch.testing.assert_close(
            encoder(x, track, gate), reference_encode(encoder, x, track, gate)
        )
        torch.testing.assert_close(
            decoder(hidden, skip, track, gate),
            reference_decode(decoder, hidden, skip, track, gate),
        )


@pytest.mark.parametrize("mode", [*MODEL_PATHS, "autograd"])
def test_routed_model_counts_each_frame_at_its_width(mode, monkeypatch):
    """Every path gives the gathered output, and the hooked MACs are the track's analytic MACs."""
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running").eval()
    length = 6000
    track = run_track(2, model.bottleneck_frames(length), 4, seed=1)
    x = torch.randn(2, length)
    with torch.no_grad():
        gathered = model(x, track)[0]  # the default plan gathers every frame of this small model
        constant = [model(x, uf)[0] for uf in UFS]
    if mode in MODEL_PATHS:
        work, chunk = MODEL_PATHS[mode]
        monkeypatch.setattr(track_planner, "SLICE_WORK", work)
        monkeypatch.setattr(track_planner, "chunk_frames", lambda width: chunk)
    with HookMacCounter(model) as counter, torch.set_grad_enabled(mode == "autograd"):
        enhanced, info = model(x, track)
    expected = [count_macs(model, length, item) for item in track]
    assert counter.macs == sum(expected)
    assert info["macs"].tolist() == expected
    torch.testing.assert_close(enhanced.detach(), gathered, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # a constant track is the static pass
        for uf, static in zip(UFS, constant):
            tracked = model(x, torch.full_like(track, uf))[0]
            torch.testing.assert_close(tracked, static, rtol=1e-5, atol=1e-6)


def test_gradients_reach_the_gates_on_every_path(path):
    torch.manual_seed(0)
    encoder, decoder = EncoderBlock(4, 8, 8, 4), DecoderBlock(8, 4, 8, 4)
    track = run_track(2, 50, 6, seed=3)
    gate = torch.ones(2, 50, requires_grad=True)
    x = torch.randn(2, 49 * 4 + 8, 4)
    out = decoder(encoder(x, track, gate), torch.randn(2, 51, 8), track, gate)
    out.pow(2).sum().backward()
    assert gate.grad is not None and (gate.grad != 0).any()


def test_track_plan_covers_every_frame_once():
    track = run_track(3, 200, 5, seed=4)
    flat = track.view(-1)
    for min_run in (None, 1, 4, 12, 1000):
        for chunk, span in ((3, None), (16, 40), (1 << 62, None)):
            plan = track_plan(track, chunk, min_run, span)
            covered = torch.zeros(track.shape, dtype=torch.long)
            for item, start, end, uf in plan.runs:
                assert 0 < end - start <= chunk and (track[item, start:end] == uf).all()
                covered[item, start:end] += 1
            for begin, end, first, groups in plan.spans:
                rows = plan.rows[first : first + end - begin]
                assert (rows.sort().values == torch.arange(begin, end)).all()
                assert (rows[plan.local[begin:end]] == torch.arange(begin, end)).all()
                bounds = [first] + [b for _, b, _ in groups]
                assert [a for a, _, _ in groups] == bounds[:-1]
                assert bounds[-1] == first + end - begin
                for a, b, uf in groups:
                    assert 0 < b - a <= chunk and (flat[plan.rows[a:b]] == uf).all()
                covered.view(-1)[rows] += 1
            assert (covered == 1).all()
            if min_run is None:
                assert not plan.runs


def test_track_at_level_takes_the_deepest_frames_decision():
    model = SlimDemucs(hidden=8, depth=3)
    track = torch.rand(2, 7)
    for level in range(3):
        ratio = model.stride ** (2 - level)
        for frames in (1, 7 * ratio - 3, 7 * ratio, 7 * ratio + 5):
            index = (torch.arange(frames) // ratio).clamp(max=6)
            assert torch.equal(model.track_at_level(track, level, frames), track[:, index])


def test_a_precomputed_input_scale_changes_nothing():
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running").eval()
    x = torch.randn(2, 5000)
    track = run_track(2, model.bottleneck_frames(5000), 3, seed=5)
    with torch.no_grad():
        given = model(x, track, std=model.input_scale(x))[0]
        torch.testing.assert_close(given, model(x, track)[0], rtol=0, atol=0)
