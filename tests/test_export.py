"""Static export: StaticDemucs equals SlimDemucs at its UF, is smaller, scripts and exports."""

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from speechbrain_slim.export import StaticDemucs, export_static, main, save_onnx, save_torchscript
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

SHIPPED = Path(__file__).resolve().parents[1] / "hub" / "slim-demucs-embedded"
TOLERANCE = 5e-7  # measured up to 2.4e-7 (float rounding, inputs of unit std)
# Lengths that are and are not multiples of the total stride, shorter than one frame too.
LENGTHS = (1024, 1001, 257)

CONFIGS = {
    "running-gru": dict(normalize="running", bottleneck="grouped_gru", gru_groups=2,
                        norm_time_constant=0.01),
    "global-lstm": dict(normalize=True, bottleneck="lstm"),
    "none-gru-2layers": dict(normalize=False, bottleneck="grouped_gru", gru_groups=4,
                             bottleneck_layers=2),
    "global-lstm-noncausal": dict(normalize="global", bottleneck="lstm", causal=False),
    "running-gru-noncausal": dict(normalize="running", bottleneck="grouped_gru", causal=False,
                                  resample=2),
    "none-lstm-noglu": dict(normalize=False, bottleneck="lstm", glu=False, resample=1),
    "running-gru-residual": dict(normalize="running", bottleneck="grouped_gru", gru_groups=2,
                                 residual=True),
}


def small(name, seed=0):
    torch.manual_seed(seed)
    return SlimDemucs(hidden=8, depth=3, **CONFIGS[name]).eval()


def max_diff(static, model, uf, noisy):
    with torch.no_grad():
        return float((static(noisy) - model(noisy, uf)[0]).abs().max())


def state_bytes(module):
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return len(buffer.getvalue())


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: extra threads only add contention (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    from speechbrain_slim import EnhanceSlim

    enhancer = EnhanceSlim.from_hparams(
        source=str(SHIPPED), savedir=str(tmp_path_factory.mktemp("shipped"))
    )
    return enhancer.model.eval()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_static_equals_slim_at_every_uf(name):
    model = small(name)
    generator = torch.Generator().manual_seed(1)
    for uf in model.ufs:
        static = export_static(model, uf)
        for length in LENGTHS:
            noisy = torch.randn(2, length, generator=generator)
            assert max_diff(static, model, uf, noisy) <= TOLERANCE, (uf, length)


@pytest.mark.parametrize("uf", [0.125, 1.0])
def test_static_equals_shipped_model(shipped, uf):
    static = export_static(shipped, uf)
    generator = torch.Generator().manual_seed(2)
    for length in (8000, 6001):
        noisy = 0.1 * torch.randn(1, length, generator=generator)
        assert max_diff(static, shipped, uf, noisy) <= TOLERANCE, length


def test_static_holds_only_the_active_weights(shipped):
    sizes = {uf: state_bytes(export_static(shipped, uf)) for uf in shipped.ufs}
    assert list(sizes.values()) == sorted(sizes.values()) and len(set(sizes.values())) == 4
    full = state_bytes(shipped)
    assert sizes[1.0] <= full * 1.01
    assert sizes[0.125] < 0.25 * full, sizes
    static = export_static(shipped, 0.125)
    shapes = [tuple(block.conv.weight.shape) for block in static.encoder]
    assert shapes == [(2, 1, 8), (4, 16, 8), (8, 32, 8), (16, 64, 8), (32, 128, 8)]
    for tensor in static.state_dict().values():
        assert tensor.is_contiguous()
        # Dense copies: no tensor is a view into a larger storage.
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()


def test_static_is_independent_of_the_slim_weights():
    model = small("global-lstm")
    static = export_static(model, 0.5)
    noisy = torch.randn(1, 1000)
    with torch.no_grad():
        before = static(noisy)
        for parameter in model.parameters():
            parameter.add_(1.0)
        assert torch.equal(static(noisy), before)


def test_rebuilt_from_config_and_state_dict():
    model = small("running-gru")
    static = export_static(model, 0.25)
    rebuilt = StaticDemucs(**static.config)
    rebuilt.load_state_dict(static.state_dict(), strict=True)
    noisy = torch.randn(2, 1001)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(noisy), static(noisy))


def test_accepts_batch_channel_time_input():
    model = small("none-gru-2layers")
    static = export_static(model, 1.0)
    noisy = torch.randn(2, 1, 999)
    with torch.no_grad():
        assert torch.allclose(static(noisy), model(noisy, 1.0)[0], atol=TOLERANCE)


def test_clear_errors():
    model = small("global-lstm")
    with pytest.raises(ValueError, match="not one of the model's utilization factors"):
        export_static(model, 0.3)
    with pytest.raises(ValueError, match="needs a SlimDemucs"):
        export_static(torch.nn.Linear(2, 2), 0.5)


def test_torchscript_roundtrip_runs_without_the_package(shipped, tmp_path):
    path = tmp_path / "static.pt"
    scripted = save_torchscript(shipped, 0.125, path)
    noisy = 0.1 * torch.randn(2, 5003)
    with torch.no_grad():
        expected = shipped(noisy, 0.125)[0]
        assert float((scripted(noisy) - expected).abs().max()) <= TOLERANCE
        assert float((torch.jit.load(str(path))(noisy) - expected).abs().max()) <= TOLERANCE
    torch.save(noisy, tmp_path / "noisy.pt")
    # A fresh interpreter in which importing speechbrain_slim fails.
    script = (
        "import sys; sys.modules['speechbrain_slim'] = None\n"
        "import torch\n"
        f"model = torch.jit.load({str(path)!r})\n"
        f"noisy = torch.load({str(tmp_path / 'noisy.pt')!r})\n"
        "with torch.no_grad():\n"
        f"    torch.save(model(noisy), {str(tmp_path / 'out.pt')!r})\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    out = torch.load(tmp_path / "out.pt")
    assert float((out - expected).abs().max()) <= TOLERANCE


def test_torchscript_small_configs(tmp_path):
    for name in ("global-lstm-noncausal", "none-lstm-noglu"):
        model = small(name)
        path = tmp_path / f"{name}.pt"
        save_torchscript(model, 0.25, path)
        loaded = torch.jit.load(str(path))
        for length in (1001, 300):
            noisy = torch.randn(1, length)
            assert max_diff(loaded, model, 0.25, noisy) <= TOLERANCE, (name, length)


def run_onnx(path, noisy):
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"noisy": noisy.numpy()})
    return torch.from_numpy(out)


def onnx_export_available():
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e .[dev])"
    return None


@pytest.mark.skipif(onnx_export_available() is not None, reason=str(onnx_export_available()))
def test_onnx_shipped_model_fixed_length(shipped, tmp_path):
    """ONNX at a fixed input length (the supported case), run by onnxruntime."""
    path = save_onnx(shipped, 0.125, tmp_path / "shipped.onnx", length=4000)
    noisy = 0.1 * torch.randn(1, 4000)
    with torch.no_grad():
        expected = shipped(noisy, 0.125)[0]
    assert float((run_onnx(path, noisy) - expected).abs().max()) <= TOLERANCE


@pytest.mark.skipif(onnx_export_available() is not None, reason=str(onnx_export_available()))
def test_onnx_lstm_global_batch(tmp_path):
    model = small("global-lstm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = save_onnx(model, 0.5, tmp_path / "lstm.onnx", length=1001, batch=2)
    noisy = torch.randn(2, 1001)
    with torch.no_grad():
        expected = model(noisy, 0.5)[0]
    assert float((run_onnx(path, noisy) - expected).abs().max()) <= TOLERANCE


def test_cli_writes_a_torchscript_file(shipped, tmp_path, capsys):
    out = tmp_path / "model_uf0.25.pt"
    assert main([str(SHIPPED), "--uf", "0.25", "--out", str(out),
                 "--savedir", str(tmp_path / "save")]) == 0
    assert "wrote" in capsys.readouterr().out
    noisy = 0.1 * torch.randn(1, 3000)
    assert max_diff(torch.jit.load(str(out)), shipped, 0.25, noisy) <= TOLERANCE
