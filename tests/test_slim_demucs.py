"""SlimDemucs: shapes, equivalence to denoiser's DEMUCS at UF 1, causality, input checks."""

import pytest
import torch

from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.nnet.recurrent import GroupedGRU

PAPER = dict(hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=4)


def relative_error(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return SlimDemucs(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2).eval()


@pytest.mark.parametrize("length", [1, 7, 256, 1001, 16000])
def test_output_length_equals_input_length(small, length):
    with torch.no_grad():
        out, info = small(torch.randn(2, length), uf=0.5)
    assert out.shape == (2, length)
    assert info["track"].shape == (2, small.bottleneck_frames(length))
    assert (info["mean_uf"] == 0.5).all() and (info["macs"] > 0).all()


def test_accepts_channel_dimension(small):
    x = torch.randn(3, 1, 2000)
    with torch.no_grad():
        torch.testing.assert_close(small(x)[0], small(x[:, 0])[0])


@pytest.mark.parametrize(
    "config",
    [dict(hidden=48), dict(hidden=32), dict(hidden=16, causal=False, resample=2)],
    ids=["dns48", "hidden32", "noncausal16"],
)
def test_uf1_is_the_reference_demucs(config):
    demucs = pytest.importorskip("denoiser.demucs")
    torch.manual_seed(0)
    reference = demucs.Demucs(**config).eval()
    model = SlimDemucs.from_denoiser(reference).eval()
    x = torch.randn(2, 16000 + 37)
    with torch.no_grad():
        expected = reference(x.unsqueeze(1))[:, 0]
        assert relative_error(model(x, uf=1.0)[0], expected) <= 1e-5
        # the chunked inference path and the autograd path agree as well
    with torch.enable_grad():
        assert relative_error(model(x, uf=1.0)[0].detach(), expected) <= 1e-5


def test_from_state_dict_and_back():
    demucs = pytest.importorskip("denoiser.demucs")
    torch.manual_seed(0)
    reference = demucs.Demucs(hidden=32).eval()
    state = reference.state_dict()
    model = SlimDemucs.from_denoiser(state).eval()
    x = torch.randn(1, 8000)
    with torch.no_grad():
        assert relative_error(model(x)[0], reference(x.unsqueeze(1))[:, 0]) <= 1e-5
    back = model.to_denoiser_state_dict()
    assert back.keys() == state.keys()
    for key in state:
        torch.testing.assert_close(back[key], state[key])


def test_from_denoiser_overrides_and_bad_state():
    torch.manual_seed(0)
    state = SlimDemucs(hidden=8, depth=2).to_denoiser_state_dict()
    model = SlimDemucs.from_denoiser(state, normalize=False, ufs=(0.5, 1.0))
    assert model.normalize is False and model.ufs == (0.5, 1.0)
    broken = dict(state)
    del broken["encoder.1.2.weight"]
    with pytest.raises(KeyError, match="encoder.1.2.weight"):
        SlimDemucs.from_denoiser(broken)
    with pytest.raises(ValueError, match="unexpected keys"):
        SlimDemucs.from_denoiser({**state, "extra.weight": torch.zeros(1)})


def test_every_uf_shares_one_set_of_weights(small):
    x = torch.randn(1, 4000)
    storage = {name: value.data_ptr() for name, value in small.state_dict().items()}
    with torch.no_grad():
        outputs = {uf: small(x, uf)[0] for uf in small.ufs}
    assert {name: value.data_ptr() for name, value in small.state_dict().items()} == storage
    # the same parameter tensors train at every UF; a narrower UF reaches fewer of their entries
    used = {}
    for uf in small.ufs:
        small.zero_grad()
        small(x, uf)[0].pow(2).sum().backward()
        used[uf] = {name: int(p.grad.ne(0).sum()) for name, p in small.named_parameters()
                    if p.grad is not None}
    small.zero_grad()
    assert all(set(used[uf]) == set(used[1.0]) for uf in small.ufs)
    for narrow, wide in zip(small.ufs, small.ufs[1:]):
        assert used[narrow]["encoder.1.conv.weight"] < used[wide]["encoder.1.conv.weight"]
        assert sum(used[narrow].values()) < sum(used[wide].values()), (narrow, wide)
    for uf in (0.125, 0.25, 0.5):
        assert not torch.allclose(outputs[uf], outputs[1.0])
    macs = [int(small(x, uf)[1]["macs"]) for uf in small.ufs]
    assert macs == sorted(macs) and len(set(macs)) == 4


@pytest.mark.parametrize(
    "config",
    [
        dict(PAPER, normalize=False),
        dict(PAPER, normalize="running"),
        dict(hidden=8, depth=4, resample=2, normalize=False),
        dict(hidden=8, depth=3, resample=1, normalize=False),
    ],
    ids=["paper", "paper-running-norm", "resample2", "resample1"],
)
def test_causal_within_the_stated_lookahead(config):
    torch.manual_seed(0)
    model = SlimDemucs(**config).eval()
    lookahead = model.lookahead
    length = 12000
    x = torch.randn(1, length)
    worst = 0
    with torch.no_grad():
        base = model(x, uf=0.25)[0]
        for t in range(3000, length - 500, 331):
            changed = x.clone()
            changed[:, t:] += torch.randn(1, length - t)
            diff = (model(changed, uf=0.25)[0] - base).abs()[0]
            # float rounding only (1e-8 seen on some CPUs' kernels); a leak would be ~1e-2
            rounding = 1e-6 * float(base.abs().max())
            assert diff[: max(0, t - lookahead)].max() <= rounding, (
                f"output before t-L changed (t={t})")
            start = max(0, t - lookahead)
            first = start + int((diff[start:] > 0).nonzero()[0])
            worst = max(worst, t - first)
    # the bound holds and is not loose (the farthest sinc taps are so small that
    # their effect is lost in float32 rounding, so it is never quite reached)
    assert 0.6 * lookahead <= worst <= lookahead


def test_running_normalisation_is_level_invariant():
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running").eval()
    x = torch.randn(1, 8000) * 0.1
    with torch.no_grad():
        quiet, loud = model(x)[0], model(x * 30)[0]
    # equal up to the floor added to the std (1e-3 against a std of 0.1)
    assert relative_error(loud, quiet * 30) < 0.02


def test_residual_adds_the_input_to_the_network_output():
    torch.manual_seed(0)
    plain = SlimDemucs(hidden=8, depth=3, normalize="running").eval()
    residual = SlimDemucs(hidden=8, depth=3, normalize="running", residual=True).eval()
    residual.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3000) * 0.1
    with torch.no_grad():
        for uf in plain.ufs:
            torch.testing.assert_close(residual(x, uf)[0], plain(x, uf)[0] + x)
    with pytest.raises(ValueError, match="residual"):
        residual.to_denoiser_state_dict()


def test_paper_lookahead_is_documented():
    assert SlimDemucs(**PAPER).lookahead == 766


def test_chunked_inference_equals_one_pass():
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=2, resample=1).eval()
    x = torch.randn(2, 200_000)  # long enough for several runs of frames per block
    with torch.no_grad():
        chunked = model(x, 0.5)[0]
    with torch.enable_grad():
        single = model(x, 0.5)[0].detach()
    torch.testing.assert_close(chunked, single, rtol=1e-5, atol=1e-6)


def test_grouped_gru_scan_matches_torch_gru():
    torch.manual_seed(0)
    gru = GroupedGRU(64, groups=4, layers=2)
    x = torch.randn(3, 20, 64)
    expected = torch.cat(
        [g(chunk.contiguous())[0] for g, chunk in zip(gru.grus, x.chunk(4, dim=-1))], dim=-1
    )
    torch.testing.assert_close(gru(x), expected, rtol=1e-5, atol=1e-6)


def test_gradients_reach_every_parameter(small):
    small.train()
    out, _ = small(torch.randn(2, 3000), uf=1.0)
    out.pow(2).mean().backward()
    missing = [n for n, p in small.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    small.zero_grad()
    small.eval()
    assert not missing


@pytest.mark.parametrize(
    "bad,error,message",
    [
        (torch.randn(2, 3, 100), ValueError, r"\[batch, time\]"),
        (torch.randn(100), ValueError, r"\[batch, time\]"),
        (torch.zeros(1, 0), ValueError, "empty"),
        (torch.tensor([[0.0, float("nan"), 0.1]]), ValueError, "NaN"),
        (torch.tensor([[0.0, float("inf"), 0.1]]), ValueError, "NaN or Inf"),
        (torch.zeros(1, 10, dtype=torch.int16), TypeError, "floating point"),
        ([[0.0, 0.1]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_a_clear_error(small, bad, error, message):
    with pytest.raises(error, match=message):
        small(bad)


@pytest.mark.parametrize("uf", [0.3, 0.0, 2.0])
def test_uf_outside_the_set_is_rejected(small, uf):
    with pytest.raises(ValueError, match="not one of the model's utilization factors"):
        small(torch.randn(1, 100), uf=uf)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="resample"):
        SlimDemucs(resample=3)
    with pytest.raises(ValueError, match="bottleneck"):
        SlimDemucs(bottleneck="transformer")
    with pytest.raises(ValueError, match="groups"):
        SlimDemucs(hidden=6, depth=1, bottleneck="grouped_gru", gru_groups=4)


def test_checkpoints_with_the_old_bottleneck_name_load(small):
    """Checkpoints written before the rename (``lstm.*`` for any bottleneck type) load."""
    legacy = {key.replace("bottleneck.", "lstm.", 1): value
              for key, value in small.state_dict().items()}
    assert any(key.startswith("lstm.grus.") for key in legacy)
    fresh = SlimDemucs(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2).eval()
    fresh.load_state_dict(legacy)  # strict
    x = torch.randn(1, 4000)
    with torch.no_grad():
        assert torch.equal(fresh(x, 0.5)[0], small(x, 0.5)[0])
