"""StaticDemucs: a SlimDemucs frozen at one utilization factor, as a plain torch model.

:meth:`SlimDemucs.export_static` builds one from its blocks' ``static(uf)`` layers
(:mod:`speechbrain_slim.nnet.static_blocks`): dense, contiguous tensors of the
active widths only, in the standard torch layouts, so its state dict is roughly UF
times the size of the slimmed convolutions plus the (never slimmed) recurrent
bottleneck. It computes ``model(noisy, uf)[0]``: input normalisation (``"global"``,
``"running"`` or none), windowed-sinc up/down-sampling, the encoder, the bottleneck
and the decoder, with plain torch ops only, so ``torch.jit.script`` compiles it and
the scripted file runs without this package (see :mod:`speechbrain_slim.export`).

Authors
 * speechbrain-slim contributors 2026
"""

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from speechbrain_slim.nnet.resample import SincResampler
from speechbrain_slim.nnet.static_blocks import (
    StaticDecoderBlock,
    StaticEncoderBlock,
    StaticGroupedGRU,
    StaticLSTM,
)

__all__ = ["StaticDemucs"]


class StaticDemucs(nn.Module):
    """A SlimDemucs frozen at one UF: plain torch layers holding only that UF's weights.

    Built by :meth:`SlimDemucs.export_static`; ``StaticDemucs(**static.config)`` rebuilds an empty
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
    >>> static = model.export_static(0.25)
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
            StaticEncoderBlock(cin, c, w, kernel_size, stride, glu)
            for (cin, c), w in zip(widths, active)
        )
        self.decoder = nn.ModuleList(
            StaticDecoderBlock(c, cin, w, kernel_size, stride, glu, relu=index > 0)
            for index, ((cin, c), w) in reversed(list(enumerate(zip(widths, active))))
        )
        channels = widths[-1][1]
        if bottleneck == "lstm":
            self.bottleneck = StaticLSTM(channels, bottleneck_layers, bidirectional)
        else:
            if channels % gru_groups:
                raise ValueError(f"{channels} channels cannot form {gru_groups} equal groups")
            self.bottleneck = StaticGroupedGRU(
                channels, gru_groups, bottleneck_layers, bidirectional
            )

        self.zeros = int(zeros)
        self.resampler = SincResampler(self.resample, self.zeros)

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
        x = self.resampler.upsample(x).unsqueeze(1)
        skips: list[torch.Tensor] = []
        for encoder in self.encoder:
            x = encoder(x)
            skips.append(x)
        x = self.bottleneck(x)
        for decoder in self.decoder:
            x = decoder(x, skips.pop())
        x = self.resampler.downsample(x[:, 0])[:, :length]
        if std is not None:
            x = x * std
        if self.residual:
            x = x + noisy
        return x
