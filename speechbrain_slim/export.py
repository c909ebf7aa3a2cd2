"""Static export: a SlimDemucs frozen at one utilization factor, as a plain torch model.

:func:`export_static` copies the weights that one UF uses out of a
:class:`~speechbrain_slim.lobes.slim_demucs.SlimDemucs` into a :class:`StaticDemucs`:
dense, contiguous tensors of the active widths only, in the standard torch layouts
(``nn.Conv1d``, ``nn.ConvTranspose1d``, ``nn.LSTM``/``nn.GRU``), so its state dict is
roughly UF times the size of the slimmed convolutions plus the (never slimmed)
recurrent bottleneck. It computes ``model(noisy, uf)[0]``: input normalisation
(``"global"``, ``"running"`` or none), windowed-sinc up/down-sampling, the encoder,
the bottleneck and the decoder.

Shapes, for encoder block ``i`` of width ``C`` (input width ``C_in``) and
``w = ceil(C * uf)`` (``ceil(round(C * uf, 6))``, the slimmable layers' rule)::

    encoder i: Conv1d(C_in, w, K, S) -> ReLU -> Conv1d(w, 2C, 1) -> GLU   ([B, C, frames])
    decoder i: x + skip -> Conv1d(C, 2w, 1) -> GLU -> ConvTranspose1d(w, C_in, K, S) (-> ReLU)

(``Conv1d(w, C, 1) -> ReLU`` and ``Conv1d(C, w, 1) -> ReLU`` without GLU). The
bottleneck keeps its full width ``C_depth`` at every UF.

This module imports nothing from ``speechbrain_slim`` at import time:
:class:`StaticDemucs` uses plain torch ops only, so ``export.py`` can be shipped on its
own, and ``torch.jit.script`` compiles it (:func:`save_torchscript` writes a file that
``torch.jit.load`` runs without this package). :func:`save_onnx` exports one fixed
input length to ONNX (see its notes).

Command line::

    python -m speechbrain_slim.export hub/slim-demucs-embedded --uf 0.25 \\
        --out model_uf0.25.pt [--onnx model_uf0.25.onnx --onnx-length 16000]

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import math
import warnings
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["StaticDemucs", "export_static", "save_torchscript", "save_onnx"]


def _active(channels: int, uf: float) -> int:
    """``ceil(channels * uf)``, at least 1 (the slimmable layers' rule, rounding included)."""
    return max(1, math.ceil(round(channels * uf, 6)))


def _half_sample_kernel(zeros: int) -> torch.Tensor:
    """The Hann-windowed sinc (``2 * zeros`` taps) that interpolates halfway between samples."""
    window = torch.hann_window(4 * zeros + 1, periodic=False, dtype=torch.float64)
    offsets = torch.linspace(-zeros + 0.5, zeros - 0.5, 2 * zeros, dtype=torch.float64)
    phase = math.pi * offsets
    return (torch.sin(phase) / phase * window[1::2]).float()


class _Encoder(nn.Module):
    """``Conv1d(C_in, w, K, S) -> ReLU -> Conv1d(w, 2C, 1) -> GLU`` on ``[B, C_in, T]``."""

    def __init__(self, in_channels, channels, active, kernel_size, stride, glu):
        super().__init__()
        self.glu = glu
        self.conv = nn.Conv1d(in_channels, active, kernel_size, stride)
        self.pointwise = nn.Conv1d(active, 2 * channels if glu else channels, 1)

    def forward(self, x):
        x = self.pointwise(torch.relu(self.conv(x)))
        return F.glu(x, dim=1) if self.glu else torch.relu(x)


class _Decoder(nn.Module):
    """``x + skip -> Conv1d(C, 2w, 1) -> GLU -> ConvTranspose1d(w, C_out, K, S) (-> ReLU)``."""

    def __init__(self, channels, out_channels, active, kernel_size, stride, glu, relu):
        super().__init__()
        self.glu = glu
        self.relu = relu
        self.pointwise = nn.Conv1d(channels, 2 * active if glu else active, 1)
        self.conv_tr = nn.ConvTranspose1d(active, out_channels, kernel_size, stride)

    def forward(self, x, skip):
        x = self.pointwise(x + skip[..., : x.shape[-1]])
        x = self.conv_tr(F.glu(x, dim=1) if self.glu else torch.relu(x))
        return torch.relu(x) if self.relu else x


class _LSTM(nn.Module):
    """DEMUCS's bottleneck on ``[B, C, frames]``: ``nn.LSTM`` (+ Linear when bidirectional)."""

    def __init__(self, channels, layers, bidirectional):
        super().__init__()
        self.lstm = nn.LSTM(
            channels, channels, num_layers=layers, bidirectional=bidirectional, batch_first=True
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else nn.Identity()

    def forward(self, x):
        out, _ = self.lstm(x.transpose(1, 2))
        return self.linear(out).transpose(1, 2)


class _GroupedGRU(nn.Module):
    """The paper's bottleneck on ``[B, C, frames]``: one ``nn.GRU`` per group of channels."""

    def __init__(self, channels, groups, layers, bidirectional):
        super().__init__()
        self.width = channels // groups
        self.grus = nn.ModuleList(
            nn.GRU(self.width, self.width, num_layers=layers, bidirectional=bidirectional,
                   batch_first=True)
            for _ in range(groups)
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else nn.Identity()

    def forward(self, x):
        x = x.transpose(1, 2)
        outs: list[torch.Tensor] = []
        for group, gru in enumerate(self.grus):
            part = x[..., group * self.width : (group + 1) * self.width].contiguous()
            out, _ = gru(part)
            outs.append(out)
        return self.linear(torch.cat(outs, dim=-1)).transpose(1, 2)


class StaticDemucs(nn.Module):
    """A SlimDemucs frozen at one UF: plain torch layers holding only that UF's weights.

    Built by :func:`export_static`; ``StaticDemucs(**static.config)`` rebuilds an empty
    one that ``load_state_dict`` fills. Scriptable with ``torch.jit.script``.

    Arguments
    ---------
    widths : list of (int, int)
        ``(C_in, C)`` of every encoder block, level 0 first.
    active : list of int
        Internal width ``ceil(C * uf)`` of every encoder (and matching decoder) block.
    uf : float
        The utilization factor the weights were taken at (informative).
    kernel_size : int
        Kernel size of the strided convs.
    stride : int
        Stride of the strided convs.
    resample : int
        Sinc up/down-sampling factor (1, 2 or 4).
    normalize : str
        ``"global"`` (whole-input std), ``"running"`` (causal running std) or ``"none"``.
    floor : float
        Added to the std before dividing the input.
    norm_block : int
        Samples per block of the running std (the model's ``total_stride``).
    norm_decay : float
        Decay per block of the running std.
    glu : bool
        GLU after the 1x1 convs (else ReLU).
    bottleneck : str
        ``"lstm"`` or ``"grouped_gru"``.
    bottleneck_layers : int
        Recurrent layers.
    gru_groups : int
        Channel groups of the grouped GRU.
    bidirectional : bool
        Bidirectional bottleneck + Linear (non-causal models).
    zeros : int
        Sinc zero crossings of the resampler.
    sample_rate : int
        Sample rate the model works at (informative).
    residual : bool
        Add the input to the output (``SlimDemucs(residual=True)``).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2).eval()
    >>> static = export_static(model, uf=0.25)
    >>> noisy = torch.randn(2, 1001)
    >>> with torch.no_grad():
    ...     diff = (static(noisy) - model(noisy, uf=0.25)[0]).abs().max()
    >>> bool(diff < 1e-5), static.encoder[0].conv.weight.shape
    (True, torch.Size([2, 1, 8]))
    >>> rebuilt = StaticDemucs(**static.config)
    >>> rebuilt.load_state_dict(static.state_dict())
    <All keys matched successfully>
    """

    def __init__(
        self,
        widths,
        active,
        uf=1.0,
        kernel_size=8,
        stride=4,
        resample=4,
        normalize="global",
        floor=1e-3,
        norm_block=256,
        norm_decay=0.0,
        glu=True,
        bottleneck="lstm",
        bottleneck_layers=2,
        gru_groups=4,
        bidirectional=False,
        zeros=56,
        sample_rate=16_000,
        residual=False,
    ):
        super().__init__()
        widths = [(int(cin), int(c)) for cin, c in widths]
        active = [int(width) for width in active]
        if len(widths) != len(active) or not widths:
            raise ValueError(f"need one active width per block, got {widths} and {active}")
        if normalize not in ("global", "running", "none"):
            raise ValueError(f"normalize must be 'global', 'running' or 'none', got {normalize!r}")
        if bottleneck not in ("lstm", "grouped_gru"):
            raise ValueError(f"bottleneck must be 'lstm' or 'grouped_gru', got {bottleneck!r}")
        steps = int(math.log2(resample)) if resample >= 1 else -1
        if resample < 1 or 2**steps != resample:
            raise ValueError(f"resample must be 1, 2, 4, ..., got {resample}")
        self.config = dict(
            widths=widths, active=active, uf=float(uf), kernel_size=kernel_size, stride=stride,
            resample=resample, normalize=normalize, floor=floor, norm_block=norm_block,
            norm_decay=norm_decay, glu=glu, bottleneck=bottleneck,
            bottleneck_layers=bottleneck_layers, gru_groups=gru_groups,
            bidirectional=bidirectional, zeros=zeros, sample_rate=sample_rate,
            residual=bool(residual),
        )
        self.residual = bool(residual)
        self.uf = float(uf)
        self.depth = len(widths)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.resample = int(resample)
        self.resample_steps = steps
        self.normalize = normalize
        self.floor = float(floor)
        self.norm_block = int(norm_block)
        self.norm_decay = float(norm_decay)
        self.sample_rate = int(sample_rate)

        self.encoder = nn.ModuleList(
            _Encoder(cin, c, w, kernel_size, stride, glu) for (cin, c), w in zip(widths, active)
        )
        self.decoder = nn.ModuleList(
            _Decoder(c, cin, w, kernel_size, stride, glu, relu=index > 0)
            for index, ((cin, c), w) in reversed(list(enumerate(zip(widths, active))))
        )
        channels = widths[-1][1]
        if bottleneck == "lstm":
            self.bottleneck = _LSTM(channels, bottleneck_layers, bidirectional)
        else:
            if channels % gru_groups:
                raise ValueError(f"{channels} channels cannot form {gru_groups} equal groups")
            self.bottleneck = _GroupedGRU(channels, gru_groups, bottleneck_layers, bidirectional)

        # Resampling filter as one GEMM per block of BLOCK outputs (a 1-channel conv1d
        # with a 112-tap kernel is far slower on CPU): windows of ``span`` input blocks
        # times a banded Toeplitz matrix of the half-sample kernel.
        self.zeros = int(zeros)
        self.block = 64
        taps = 2 * self.zeros
        self.span = 1 + -(-(taps - 1) // self.block)
        kernel = _half_sample_kernel(self.zeros)
        toeplitz = torch.zeros(self.span * self.block, self.block)
        for column in range(self.block):
            toeplitz[column : column + taps, column] = kernel
        self.register_buffer("toeplitz", toeplitz, persistent=False)

        # Running std: out_k = d * out_{k-1} + (1 - d) * p_k, computed ``norm_chunk`` blocks
        # at a time as a lower-triangular matrix product plus the carried state.
        self.norm_chunk = 64
        lags = torch.arange(self.norm_chunk, dtype=torch.float64)
        lag = lags.view(-1, 1) - lags.view(1, -1)
        decay = torch.tensor(self.norm_decay, dtype=torch.float64)
        powers = torch.where(lag >= 0, decay ** lag.clamp(min=0), torch.zeros_like(lag))
        self.register_buffer(
            "norm_matrix", ((1 - decay) * powers).t().float().contiguous(), persistent=False
        )
        self.register_buffer("norm_carry", (decay ** (lags + 1)).float(), persistent=False)

    def valid_length(self, length: int) -> int:
        """Smallest input length >= ``length`` that every conv consumes exactly."""
        length = length * self.resample
        for _ in range(self.depth):
            length = max(-((self.kernel_size - length) // self.stride) + 1, 1)
        for _ in range(self.depth):
            length = (length - 1) * self.stride + self.kernel_size
        return -((-length) // self.resample)

    def _running_mean(self, power):
        """Exponential running mean of ``power`` [B, N] along N, started at ``power[:, 0]``."""
        state = power[:, :1]
        outs: list[torch.Tensor] = []
        for start in range(0, power.shape[1], self.norm_chunk):
            part = power[:, start : start + self.norm_chunk]
            size = part.shape[1]
            out = part @ self.norm_matrix[:size, :size] + state * self.norm_carry[:size]
            outs.append(out)
            state = out[:, size - 1 :]
        return torch.cat(outs, dim=1)

    def input_scale(self, mix) -> Optional[torch.Tensor]:
        """The per-sample std the input is divided by (``None`` without normalisation)."""
        if self.normalize == "global":
            return mix.std(dim=-1, keepdim=True)
        if self.normalize != "running":
            return None
        batch, length = mix.shape
        block = self.norm_block
        blocks = -(-length // block)
        padded = F.pad(mix, (0, blocks * block - length))
        power = padded.view(batch, blocks, block).pow(2).mean(-1)
        std = self._running_mean(power).clamp(min=0).sqrt()
        return std.unsqueeze(-1).expand(batch, blocks, block).reshape(batch, -1)[:, :length]

    def _filter(self, x, shift: int):
        """``y[n] = sum_k kernel[k] * x[n + k - zeros + shift]`` for ``x`` [N, T], zero outside."""
        count, time = x.shape
        blocks = -(-time // self.block)
        left = self.zeros - shift
        padded = F.pad(x, (left, (blocks + self.span - 1) * self.block - time - left))
        view = padded.view(count, blocks + self.span - 1, self.block)
        windows = torch.cat([view[:, i : i + blocks] for i in range(self.span)], dim=-1)
        out = windows @ self.toeplitz
        return out.reshape(count, blocks * self.block)[:, :time]

    def upsample(self, x):
        """``[N, T]`` -> ``[N, resample * T]``, by windowed-sinc halving steps."""
        for _ in range(self.resample_steps):
            count, time = x.shape
            x = torch.stack([x, self._filter(x, 1)], dim=-1).reshape(count, 2 * time)
        return x

    def downsample(self, x):
        """``[N, T]`` -> ``[N, ceil(T / resample)]``."""
        for _ in range(self.resample_steps):
            if x.shape[-1] % 2 == 1:
                x = F.pad(x, (0, 1))
            even, odd = x[:, 0::2], x[:, 1::2]
            x = (even + self._filter(odd, 0)) * 0.5
        return x

    def forward(self, noisy):
        """Enhances ``noisy`` [batch, time] (or [batch, 1, time]); returns [batch, time]."""
        if noisy.dim() == 3:
            noisy = noisy[:, 0]
        length = noisy.shape[-1]
        mix = noisy
        std = self.input_scale(mix)
        if std is not None:
            mix = mix / (self.floor + std)
        x = F.pad(mix, (0, self.valid_length(length) - length))
        x = self.upsample(x).unsqueeze(1)
        skips: list[torch.Tensor] = []
        for encoder in self.encoder:
            x = encoder(x)
            skips.append(x)
        x = self.bottleneck(x)
        for decoder in self.decoder:
            x = decoder(x, skips.pop())
        x = self.downsample(x[:, 0])[:, :length]
        if std is not None:
            x = x * std
        if self.residual:
            x = x + noisy
        return x


def _dense(tensor):
    """A detached, contiguous copy that owns its storage (no view of the slim weights)."""
    return tensor.detach().clone().contiguous()


def _pointwise_halves(layer):
    """A SlimPointwise's ``[halves, out, in]`` weight and ``[halves, out]`` bias (GLU value first).

    Read through its torch-layout ``reference_weight()``, whatever its storage layout.
    """
    weight = layer.reference_weight()[..., 0]
    return (weight.reshape(layer.halves, layer.out_channels, layer.in_channels),
            layer.bias.reshape(layer.halves, layer.out_channels))


def export_static(model, uf):
    """Returns a :class:`StaticDemucs` computing ``model(noisy, uf)[0]`` with UF's weights only.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.

    Returns
    -------
    StaticDemucs
        On the model's device and dtype, in eval mode.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=2, normalize="running")
    >>> static = export_static(model, 0.5)
    >>> [tuple(block.conv.weight.shape) for block in static.encoder]
    [(4, 1, 8), (8, 8, 8)]
    >>> export_static(model, 0.3)
    Traceback (most recent call last):
    ...
    ValueError: uf=0.3 is not one of the model's utilization factors (0.125, 0.25, 0.5, 1.0)
    """
    from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    from speechbrain_slim.nnet.slimmable import active_channels

    if not isinstance(model, SlimDemucs):
        raise ValueError(f"export_static needs a SlimDemucs, got {type(model).__name__}")
    uf = model.check_uf(uf)
    active = [active_channels(c, uf) for _, c in model.widths]
    config = dict(
        widths=[tuple(w) for w in model.widths], active=active, uf=uf,
        kernel_size=model.kernel_size, stride=model.stride, resample=model.resample,
        normalize=model.normalize_mode or "none", floor=model.floor,
        norm_block=model.total_stride,
        norm_decay=math.exp(-model.total_stride / (model.norm_time_constant * model.sample_rate)),
        glu=model.glu, bottleneck=model.bottleneck_type,
        bottleneck_layers=model.bottleneck_layers, gru_groups=model.gru_groups,
        bidirectional=not model.causal, zeros=model.resampler.zeros,
        sample_rate=model.sample_rate, residual=model.residual,
    )
    static = StaticDemucs(**config)
    state = {}
    for index, (block, width) in enumerate(zip(model.encoder, active)):
        weight, bias = _pointwise_halves(block.pointwise)
        state[f"encoder.{index}.conv.weight"] = block.conv.reference_weight()[:width]
        state[f"encoder.{index}.conv.bias"] = block.conv.bias[:width]
        # [halves, C, C] -> [halves * C, w, 1]: every output, the first w inputs.
        state[f"encoder.{index}.pointwise.weight"] = weight[:, :, :width].reshape(-1, width, 1)
        state[f"encoder.{index}.pointwise.bias"] = bias.reshape(-1)
    for index, (block, width) in enumerate(zip(model.decoder, active[::-1])):
        weight, bias = _pointwise_halves(block.pointwise)
        # [halves, C, C] -> [halves * w, C, 1]: the first w outputs of each GLU half.
        channels = weight.shape[-1]
        state[f"decoder.{index}.pointwise.weight"] = weight[:, :width].reshape(-1, channels, 1)
        state[f"decoder.{index}.pointwise.bias"] = bias[:, :width].reshape(-1)
        state[f"decoder.{index}.conv_tr.weight"] = block.conv_tr.reference_weight()[:width]
        state[f"decoder.{index}.conv_tr.bias"] = block.conv_tr.bias
    if model.bottleneck_type == "lstm":
        source = {f"lstm.{k}": v for k, v in model.bottleneck.lstm.state_dict().items()}
    else:
        source = {f"grus.{k}": v for k, v in model.bottleneck.grus.state_dict().items()}
    if model.bottleneck.linear is not None:
        source.update({f"linear.{k}": v for k, v in model.bottleneck.linear.state_dict().items()})
    state.update({f"bottleneck.{k}": v for k, v in source.items()})

    reference = next(model.parameters())
    static.load_state_dict({k: _dense(v) for k, v in state.items()}, strict=True)
    return static.to(device=reference.device, dtype=reference.dtype).eval()


def save_torchscript(model, uf, path):
    """Exports ``model`` at ``uf`` and writes it with ``torch.jit.save``.

    The file runs with ``torch.jit.load(path)(noisy)`` (``[batch, time]`` -> ``[batch, time]``,
    any length), without ``speechbrain_slim``.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.
    path : str or path-like
        Output file.

    Returns
    -------
    torch.jit.ScriptModule
        The scripted static model that was saved.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> _ = save_torchscript(model, 0.25, path)
    >>> loaded = torch.jit.load(path)
    >>> noisy = torch.randn(1, 777)
    >>> with torch.no_grad():
    ...     bool((loaded(noisy) - model(noisy, 0.25)[0]).abs().max() < 1e-5)
    True
    """
    scripted = torch.jit.script(export_static(model, uf).cpu())
    torch.jit.save(scripted, str(path))
    return scripted


def save_onnx(model, uf, path, length=16_000, batch=1, opset=None):
    """Exports ``model`` at ``uf`` to ONNX for inputs of one fixed shape ``[batch, length]``.

    What works (tested with onnxruntime, max abs difference to the slim model ~1e-7):
    LSTM and grouped-GRU bottlenecks (native ONNX ``LSTM``/``GRU`` nodes, one per
    group), causal or not, with ``"global"``, ``"running"`` or no normalisation, at the
    fixed input shape given here (exporter: ``torch.onnx.export(..., dynamo=True)``).
    The graph is traced at that shape, so the padding to a valid length, the
    resampler's blocks and the running std's chunks are baked in: run other lengths
    through a graph of their own, or zero-pad them to ``length`` and crop the output
    (exact before the last ``model.lookahead`` samples for causal models with
    ``"running"`` or no normalisation; otherwise the padding changes every sample).
    A dynamic length does not export (torch 2.14: the exporter's decomposition of
    ``aten.lstm``/``aten.gru`` fails on a symbolic number of frames); for
    any-length inference use :func:`save_torchscript`.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.
    path : str or path-like
        Output ``.onnx`` file (input ``noisy`` [batch, length], output ``enhanced``).
    length : int
        Input length in samples.
    batch : int
        Batch size.
    opset : int, optional
        ONNX opset (the exporter's default if omitted).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, bottleneck="grouped_gru", gru_groups=2)
    >>> path = save_onnx(model, 0.5, os.path.join(tempfile.mkdtemp(), "m.onnx"), length=700)
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> noisy = torch.randn(1, 700)
    >>> (out,) = session.run(None, {"noisy": noisy.numpy()})
    >>> with torch.no_grad():
    ...     bool(np.abs(out - model(noisy, 0.5)[0].numpy()).max() < 1e-5)
    True
    """
    static = export_static(model, uf).cpu()
    example = torch.zeros(batch, length)
    kwargs = {} if opset is None else {"opset_version": opset}
    with torch.no_grad(), warnings.catch_warnings():
        # torch.export notes that nn.GRU/nn.LSTM re-assign their flat weight list.
        warnings.filterwarnings("ignore", message=".*_flat_weights.*")
        torch.onnx.export(
            static, (example,), str(path), input_names=["noisy"], output_names=["enhanced"],
            dynamo=True, external_data=False, verbose=False, **kwargs,
        )
    return str(path)


def main(argv=None):
    """Command line: export a pretrained EnhanceSlim's SlimDemucs at one UF.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` if omitted).

    Returns
    -------
    int
        Exit status.

    Example
    -------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_slim.export",
        description="Export a SlimDemucs at one utilization factor as a static TorchScript "
        "(and optionally ONNX) model holding only that UF's weights.",
    )
    parser.add_argument("source", help="EnhanceSlim source: a local folder or a Hub repo id")
    parser.add_argument("--uf", type=float, required=True, help="utilization factor to export")
    parser.add_argument("--out", required=True, help="TorchScript output file (.pt)")
    parser.add_argument("--savedir", default=None, help="where from_hparams puts the files")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="load a model folder whose hyperparams.yaml names other code")
    parser.add_argument("--onnx", default=None, help="also write an ONNX file here")
    parser.add_argument("--onnx-length", type=int, default=16_000,
                        help="fixed input length (samples) of the ONNX graph")
    args = parser.parse_args(argv)

    import tempfile

    from speechbrain_slim import EnhanceSlim

    # torch 2.14 marks torch.jit as deprecated; the files it writes load and run as usual.
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
    savedir = args.savedir or tempfile.mkdtemp(prefix="speechbrain_slim_export_")
    enhancer = EnhanceSlim.from_hparams(source=args.source, savedir=savedir,
                                        trust_remote_code=args.trust_remote_code)
    model = enhancer.model.cpu().eval()
    save_torchscript(model, args.uf, args.out)
    print(f"wrote {args.out} (TorchScript, UF {args.uf}, any input length)")
    if args.onnx:
        save_onnx(model, args.uf, args.onnx, length=args.onnx_length)
        print(f"wrote {args.onnx} (ONNX, input [1, {args.onnx_length}])")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
