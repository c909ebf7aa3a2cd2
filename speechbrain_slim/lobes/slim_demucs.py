"""SlimDemucs: a DEMUCS speech enhancer whose blocks run at a chosen utilization factor.

The architecture is DEMUCS (Defossez et al., 2020): sinc upsampling, ``depth``
encoder blocks ``Conv1d(K, S) -> ReLU -> Conv1d(1) -> GLU``, a recurrent
bottleneck, ``depth`` decoder blocks ``Conv1d(1) -> GLU -> ConvTranspose1d(K, S)
(-> ReLU)`` with additive skips, and sinc downsampling. Following Miccini et al.
(WASPAA 2025), a utilization factor (UF) slims the inside of every block: the
first conv of encoder block i computes only ``ceil(C_i * uf)`` channels and the
1x1 conv reads only those; in decoder block i the 1x1 conv computes only
``ceil(C_i * uf)`` channels of each GLU half and the transposed conv reads only
those. Block inputs and outputs, skips and the bottleneck keep full width, so
the MACs are affine in the UF.

This file assembles the model; the blocks, each owning its full, routed, streaming
and static computation and its MACs, are in :mod:`speechbrain_slim.nnet.demucs_blocks`
and :mod:`speechbrain_slim.nnet.recurrent`.

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch
from torch import nn

from speechbrain_slim.complexity import count_macs
from speechbrain_slim.lobes.static_demucs import StaticDemucs
from speechbrain_slim.nnet.allocator import retain_freed_memory
from speechbrain_slim.nnet.demucs_blocks import DecoderBlock, EncoderBlock
from speechbrain_slim.nnet.recurrent import GroupedGRU, LSTMBottleneck
from speechbrain_slim.nnet.resample import SincResampler
from speechbrain_slim.nnet.slimmable import (
    SlimConv1d,
    SlimConvTranspose1d,
    SlimPointwise,
    active_channels,
)
from speechbrain_slim.nnet.track_planner import track_plan
from speechbrain_slim.waveforms import as_batch_of_waveforms

# EncoderBlock, DecoderBlock and track_plan are re-exported: they were defined here.
__all__ = ["EncoderBlock", "DecoderBlock", "SlimDemucs", "track_plan", "running_mean"]

DEFAULT_UFS = (0.125, 0.25, 0.5, 1.0)


def _rename_legacy_keys(module, state_dict, prefix, *args):
    """Checkpoints written before the bottleneck module was named ``bottleneck`` (it was
    ``lstm``, whatever its type) load under the new name."""
    old = prefix + "lstm."
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[prefix + "bottleneck." + key[len(old):]] = state_dict.pop(key)


class SlimDemucs(nn.Module):
    """DEMUCS whose encoder/decoder blocks run at any utilization factor of ``ufs``.

    At ``uf=1.0`` this is exactly DEMUCS (see :meth:`from_denoiser`); at smaller UFs
    each block computes ``ceil(C * uf)`` internal channels from a prefix of the same
    weights.

    Causality and lookahead: with ``causal=True`` the convolutions look only at
    the past, except for the lookahead inherent to DEMUCS: the strided convolutions
    and their padding to a valid length, and the windowed-sinc resampling (56
    zero crossings at each rate). Measured (``tests/test_slim_demucs.py``) with
    ``normalize=False``: changing the input from sample ``t`` on leaves the output
    before ``t - lookahead`` unchanged, with ``lookahead`` given by
    :attr:`lookahead`, a bound derived from the layer arithmetic (the paper config,
    K=8, S=4, depth 5, resample 4: 766 samples, 47.9 ms at 16 kHz; the largest shift
    measured by perturbing the input is 702 samples). With ``normalize=True`` the
    offline forward divides by the standard deviation of the *whole* input, exactly
    as DEMUCS does, so the offline forward is not causal; only a streaming path
    with running statistics can be.

    Arguments
    ---------
    hidden : int
        Width of the first encoder block.
    depth : int
        Number of encoder (and decoder) blocks.
    kernel_size : int
        Kernel size of the strided convs.
    stride : int
        Stride of the strided convs.
    causal : bool
        Unidirectional bottleneck (else bidirectional + Linear).
    resample : int
        Sinc upsampling factor before the encoder (1, 2 or 4).
    growth : float
        Width growth per block.
    max_hidden : int
        Maximum block width.
    normalize : bool or str
        Divide the input by ``floor + std`` and multiply the output back: ``True`` or
        ``"global"`` uses the whole input's std (DEMUCS; not causal), ``"running"`` a
        causal running std that streaming reproduces exactly (see :meth:`input_scale`).
    glu : bool
        GLU activations after the 1x1 convs (else ReLU).
    rescale : float
        At init, divide each conv's weights by ``sqrt(std / rescale)`` (0 disables).
    floor : float
        Floor added to the std for normalization.
    sample_rate : int
        Sample rate the model works at.
    ufs : sequence of float
        Utilization factors the model supports.
    bottleneck : str
        ``"lstm"`` (DEMUCS) or ``"grouped_gru"`` (the paper).
    bottleneck_layers : int
        Layers of the recurrent bottleneck (DEMUCS's LSTM has 2).
    gru_groups : int
        Channel groups of the grouped GRU.
    norm_time_constant : float
        Time constant (s) of the ``"running"`` normalisation.
    residual : bool
        Add the input to the output, so the network predicts a correction of the noisy
        input (not in DEMUCS): every UF starts from the identity instead of having to
        learn it through its narrowest layers, which is what makes small-UF training
        converge in a CPU budget. Adds no MACs (one addition per sample).

    Example
    -------
    >>> model = SlimDemucs(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2)
    >>> noisy = torch.randn(2, 1000)
    >>> enhanced, info = model(noisy, uf=0.25)
    >>> enhanced.shape, info["mean_uf"]
    (torch.Size([2, 1000]), tensor([0.2500, 0.2500]))
    >>> bool((info["macs"] < model(noisy, uf=1.0)[1]["macs"]).all())
    True
    """

    def __init__(
        self,
        hidden=48,
        depth=5,
        kernel_size=8,
        stride=4,
        causal=True,
        resample=4,
        growth=2,
        max_hidden=10_000,
        normalize=True,
        glu=True,
        rescale=0.1,
        floor=1e-3,
        sample_rate=16_000,
        ufs=DEFAULT_UFS,
        bottleneck="lstm",
        bottleneck_layers=None,
        gru_groups=4,
        norm_time_constant=1.0,
        residual=False,
    ):
        super().__init__()
        if resample not in (1, 2, 4):
            raise ValueError(f"resample must be 1, 2 or 4, got {resample}")
        if bottleneck not in ("lstm", "grouped_gru"):
            raise ValueError(f"bottleneck must be 'lstm' or 'grouped_gru', got {bottleneck!r}")
        ufs = tuple(sorted(float(uf) for uf in ufs))
        if not ufs or ufs[0] <= 0 or ufs[-1] > 1:
            raise ValueError(f"ufs must be a non-empty set of values in (0, 1], got {ufs}")
        self.hidden = hidden
        self.depth = depth
        self.kernel_size = kernel_size
        self.stride = stride
        self.causal = causal
        self.resample = resample
        self.growth = growth
        self.max_hidden = max_hidden
        if normalize is True:
            normalize = "global"
        if normalize not in ("global", "running", False, None):
            raise ValueError(
                f"normalize must be True/'global', 'running' or False, got {normalize!r}"
            )
        self.normalize_mode = normalize or None
        self.normalize = bool(normalize)
        self.norm_time_constant = norm_time_constant
        self.residual = bool(residual)
        self.glu = glu
        self.floor = floor
        self.sample_rate = sample_rate
        self.ufs = ufs
        self.bottleneck_type = bottleneck
        if bottleneck_layers is None:
            bottleneck_layers = 2 if bottleneck == "lstm" else 1
        self.bottleneck_layers = bottleneck_layers
        self.gru_groups = gru_groups

        self.widths = []
        in_channels, channels = 1, hidden
        for _ in range(depth):
            self.widths.append((in_channels, channels))
            in_channels, channels = channels, min(int(growth * channels), max_hidden)
        self.encoder = nn.ModuleList(
            EncoderBlock(cin, c, kernel_size, stride, glu) for cin, c in self.widths
        )
        self.decoder = nn.ModuleList(
            DecoderBlock(c, cin, kernel_size, stride, glu, relu=index > 0)
            for index, (cin, c) in reversed(list(enumerate(self.widths)))
        )
        bottleneck_width = self.widths[-1][1]
        if bottleneck == "lstm":
            self.bottleneck = LSTMBottleneck(bottleneck_width, bottleneck_layers, not causal)
        else:
            self.bottleneck = GroupedGRU(bottleneck_width, gru_groups, bottleneck_layers,
                                         not causal)
        self.resampler = SincResampler(resample)
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)
        if rescale:
            self._rescale(rescale)

    def _rescale(self, reference):
        """DEMUCS's init: each conv's weight and bias divided by ``sqrt(std(w) / reference)``."""
        convs = (SlimConv1d, SlimConvTranspose1d, SlimPointwise)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, convs):
                    scale = (module.reference_weight().std() / reference) ** 0.5
                    module.weight.div_(scale)
                    module.bias.div_(scale)

    @property
    def total_stride(self):
        """Input samples per bottleneck frame."""
        return self.stride**self.depth // self.resample

    def valid_length(self, length):
        """Smallest input length >= ``length`` that every conv consumes exactly."""
        length = math.ceil(length * self.resample)
        for _ in range(self.depth):
            length = max(math.ceil((length - self.kernel_size) / self.stride) + 1, 1)
        for _ in range(self.depth):
            length = (length - 1) * self.stride + self.kernel_size
        return int(math.ceil(length / self.resample))

    @property
    def lookahead(self):
        """Bound on how many input samples past t the output at t depends on (causal configs).

        Decoder level l's output sample p sums frames up to ``p // S``; that frame's
        skip reads ``K - 1`` samples past p, and the deeper level's own lookahead
        ``A_{l+1}`` (in frames) adds ``S * A_{l+1}``, so ``A_l = K - 1 + S * A_{l+1}``
        with ``A_depth = 0`` (causal recurrence). Each sinc upsampling step reads
        ``zeros`` samples ahead at its input rate and each downsampling step
        ``2 * zeros + 1`` at its input rate.
        """
        model = 0
        for _ in range(self.depth):
            model = self.kernel_size - 1 + self.stride * model
        total = model / self.resample
        zeros = self.resampler.zeros
        for step in range(self.resampler.steps):
            total += zeros / 2**step  # upsampling, input rate 2**step
            total += (2 * zeros + 1) / 2 ** (step + 1)  # downsampling, input rate 2**(step+1)
        return math.ceil(total)

    def check_uf(self, uf):
        """Raises a ValueError unless ``uf`` is one of the model's UFs; returns it as float."""
        if isinstance(uf, torch.Tensor) or not isinstance(uf, (int, float)):
            raise TypeError(f"uf must be a number from {self.ufs}, got {type(uf).__name__}")
        if not any(math.isclose(float(uf), known) for known in self.ufs):
            raise ValueError(f"uf={uf} is not one of the model's utilization factors {self.ufs}")
        return float(uf)

    def check_track(self, track, batch, frames):
        """Checks a ``[batch, frames]`` decision track of UF values; returns it as float."""
        if track.shape != (batch, frames):
            raise ValueError(
                f"a decision track must have shape [batch, bottleneck frames] = "
                f"{[batch, frames]}, got {list(track.shape)}"
            )
        known = torch.tensor(self.ufs, dtype=torch.float32, device=track.device)
        track = track.float()
        if not torch.isclose(track.unsqueeze(-1), known).any(-1).all():
            raise ValueError(f"the decision track holds UFs outside {self.ufs}")
        return track

    def level_frames(self, length):
        """Frames of every encoder level (level 0 first) for an input of ``length`` samples."""
        frames = self.valid_length(length) * self.resample
        levels = []
        for _ in range(self.depth):
            frames = (frames - self.kernel_size) // self.stride + 1
            levels.append(frames)
        return levels

    def bottleneck_frames(self, length):
        """Number of decisions a router makes for ``length`` input samples."""
        return self.level_frames(length)[-1]

    def track_at_level(self, track, level, frames):
        """Resamples a bottleneck-rate track (``[batch, N]``) to ``frames`` frames of ``level``.

        Level-``l`` frame ``n`` takes the decision of bottleneck frame
        ``n // stride**(depth - 1 - l)``, the deepest frame it feeds (clipped).
        """
        ratio = self.stride ** (self.depth - 1 - level)
        batch, decisions = track.shape
        kept = min(decisions, -(-frames // ratio))
        out = track[:, :kept, None].expand(batch, kept, ratio).reshape(batch, kept * ratio)
        if kept * ratio < frames:
            out = torch.cat([out, track[:, -1:].expand(batch, frames - kept * ratio)], dim=1)
        return out[:, :frames]

    def input_scale(self, mix):
        """The input normalisation's per-sample std (``None`` without normalisation).

        The input is divided by ``floor + std`` and the output multiplied by ``std``, as
        DEMUCS does. ``"global"`` (DEMUCS, ``normalize=True``): the std of the whole
        input. ``"running"``: ``sqrt(s_k)`` per block of :attr:`total_stride` samples,
        with ``s_k = a * s_{k-1} + (1 - a) * mean(block_k ** 2)``,
        ``s_{-1} = mean(block_0 ** 2)`` and ``a = exp(-total_stride / (norm_time_constant *
        sample_rate))``: causal (block k uses samples up to its own end, well within the
        model's lookahead) and computed the same way when streaming.
        """
        if self.normalize_mode == "global":
            return mix.std(dim=-1, keepdim=True)
        if self.normalize_mode != "running":
            return None
        block = self.total_stride
        blocks = -(-mix.shape[-1] // block)
        padded = nn.functional.pad(mix, (0, blocks * block - mix.shape[-1]))
        power = padded.view(mix.shape[0], blocks, block).pow(2).mean(-1)
        decay = math.exp(-block / (self.norm_time_constant * self.sample_rate))
        std = running_mean(power, decay).clamp(min=0).sqrt()
        return std.repeat_interleave(block, dim=-1)[:, : mix.shape[-1]]

    def forward(self, noisy, uf=1.0, gates=None, std=None):
        """Enhances a batch of waveforms at a UF or along a per-frame decision track.

        Arguments
        ---------
        noisy : torch.Tensor
            Waveforms, ``[batch, time]`` or ``[batch, 1, time]``.
        uf : float or torch.Tensor
            One of ``self.ufs``, or a ``[batch, bottleneck_frames(time)]`` track of them
            (one decision per bottleneck frame, e.g. from the router), applied in every
            block at that block's frame rate.
        gates : torch.Tensor, optional
            ``[batch, bottleneck_frames]`` multipliers for the slimmed activations of each
            frame: the router's straight-through gates (value 1, gradient to the router).
        std : torch.Tensor, optional
            ``self.input_scale(noisy)`` when the caller has it already (the router's
            features are normalised with it); computed here otherwise.

        Returns
        -------
        enhanced : torch.Tensor
            ``[batch, time]``, the same length as the input.
        info : dict
            ``track`` (``[batch, frames]`` UFs used), ``mean_uf``, ``macs`` (spent per
            waveform) and ``macs_per_sample``, each per batch item.
        """
        mix = as_batch_of_waveforms(noisy)
        batch, length = mix.shape
        if not torch.is_grad_enabled():
            retain_freed_memory()  # once: passes reuse freed temporaries (no page faults)
        levels = self.level_frames(length)
        if isinstance(uf, torch.Tensor):
            track = self.check_track(uf, batch, levels[-1])
            per_level = [self.track_at_level(track, i, n) for i, n in enumerate(levels)]
        else:
            uf = self.check_uf(uf)
            track = torch.full((batch, levels[-1]), uf)
            per_level = [uf] * self.depth
        if gates is not None:
            gates = [self.track_at_level(gates, i, n) for i, n in enumerate(levels)]
        else:
            gates = [None] * self.depth

        raw = mix
        if std is None:
            std = self.input_scale(mix)
        if std is not None:
            mix = mix / (self.floor + std)
        x = nn.functional.pad(mix, (0, self.valid_length(length) - length))
        x = self.resampler.upsample(x).unsqueeze(-1)

        skips = []
        plans = {}  # a level's encoder and decoder blocks share their track's plan
        for block, level_uf, gate in zip(self.encoder, per_level, gates):
            x = block(x, level_uf, gate, plans)
            skips.append(x)
        x = self.bottleneck(x)
        for block, level_uf, gate in zip(self.decoder, per_level[::-1], gates[::-1]):
            x = block(x, skips.pop(), level_uf, gate, plans)

        x = self.resampler.downsample(x.squeeze(-1))[:, :length]
        if std is not None:
            x = x * std
        if self.residual:
            x = x + raw
        if isinstance(uf, torch.Tensor):
            macs = torch.tensor([count_macs(self, length, item) for item in track])
        else:  # one count for the whole batch (a track's per-level comparisons cost ~1 ms)
            macs = torch.full((batch,), count_macs(self, length, uf), dtype=torch.long)
        info = {
            "track": track,
            "mean_uf": track.mean(dim=1),
            "macs": macs,
            "macs_per_sample": macs / length,
        }
        return x, info

    def export_static(self, uf):
        """This model at ``uf`` as a plain torch :class:`StaticDemucs` holding only ``uf``'s
        weights (copies), built from the blocks' ``static(uf)`` layers; it computes
        ``self(noisy, uf)[0]`` (see :mod:`speechbrain_slim.export` to save it).

        Example
        -------
        >>> model = SlimDemucs(hidden=8, depth=2, normalize="running")
        >>> static = model.export_static(0.5)
        >>> [tuple(block.conv.weight.shape) for block in static.encoder]
        [(4, 1, 8), (8, 8, 8)]
        """
        uf = self.check_uf(uf)
        config = dict(
            widths=[tuple(w) for w in self.widths],
            active=[active_channels(c, uf) for _, c in self.widths], uf=uf,
            kernel_size=self.kernel_size, stride=self.stride, resample=self.resample,
            normalize=self.normalize_mode or "none", floor=self.floor,
            norm_block=self.total_stride,
            norm_decay=math.exp(-self.total_stride / (self.norm_time_constant * self.sample_rate)),
            glu=self.glu, bottleneck=self.bottleneck_type,
            bottleneck_layers=self.bottleneck_layers, gru_groups=self.gru_groups,
            bidirectional=not self.causal, zeros=self.resampler.zeros,
            sample_rate=self.sample_rate, residual=self.residual,
        )
        reference = next(self.parameters())
        static = StaticDemucs(**config).to(device=reference.device, dtype=reference.dtype)
        static.encoder = nn.ModuleList(block.static(uf) for block in self.encoder)
        static.decoder = nn.ModuleList(block.static(uf) for block in self.decoder)
        static.bottleneck = self.bottleneck.static()
        return static.eval()

    def to_denoiser_state_dict(self):
        """Returns the weights as a ``denoiser.demucs.Demucs`` state dict (LSTM bottleneck)."""
        from speechbrain_slim.lobes.demucs_import import to_denoiser_state_dict

        if self.residual:
            raise ValueError("a residual SlimDemucs has no denoiser.demucs.Demucs equivalent")
        return to_denoiser_state_dict(self)

    @classmethod
    def from_denoiser(cls, model_or_state_dict, **overrides):
        """Builds a SlimDemucs holding a ``denoiser.demucs.Demucs`` model's weights.

        At ``uf=1.0`` the result computes the reference's output.

        Arguments
        ---------
        model_or_state_dict : torch.nn.Module or dict
            A ``denoiser.demucs.Demucs`` or its state dict. With a state dict,
            ``stride``, ``resample``, ``normalize``, ``floor`` and ``sample_rate``
            cannot be read from the weights: they default to DEMUCS's defaults
            unless given in ``overrides``.
        **overrides
            Constructor arguments that replace the ones read from the model.

        Returns
        -------
        SlimDemucs
        """
        from speechbrain_slim.lobes.demucs_import import denoiser_config, denoiser_weights

        config = denoiser_config(model_or_state_dict)
        config.update(overrides)
        model = cls(**config)
        denoiser_weights(model, model_or_state_dict)
        return model


def running_mean(values, decay):
    """Exponential running mean along the last axis, started at the first value.

    ``out_k = decay * out_{k-1} + (1 - decay) * values_k`` with ``out_{-1} = values_0``.

    Example
    -------
    >>> running_mean(torch.tensor([[4.0, 0.0, 0.0]]), 0.5)
    tensor([[4., 2., 1.]])
    """
    from torchaudio.functional import lfilter

    numerator = values.new_tensor([1 - decay, 0.0])
    denominator = values.new_tensor([1.0, -decay])
    out = lfilter(values, denominator, numerator, clamp=False)
    steps = torch.arange(1, values.shape[-1] + 1, device=values.device, dtype=values.dtype)
    return out + values[..., :1] * decay**steps
