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

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch
from torch import nn

from speechbrain_slim.nnet.recurrent import GroupedGRU, LSTMBottleneck
from speechbrain_slim.nnet.resample import SincResampler
from speechbrain_slim.nnet.slimmable import SlimConv1d, SlimConvTranspose1d, SlimPointwise

__all__ = ["EncoderBlock", "DecoderBlock", "SlimDemucs"]

DEFAULT_UFS = (0.125, 0.25, 0.5, 1.0)


def frame_spans(frames, uf, chunk):
    """Splits ``frames`` frames into ``(start, end, uf)`` runs of at most ``chunk`` frames.

    Blocks process their frames run by run: without autograd, runs of a few
    thousand frames keep every temporary in cache (and below the allocator's mmap
    threshold), which makes a slimmed block several times faster than one pass over
    the whole signal; with autograd a single run avoids needless graph nodes.

    Example
    -------
    >>> frame_spans(10, 0.5, chunk=4)
    [(0, 4, 0.5), (4, 8, 0.5), (8, 10, 0.5)]
    """
    return [(start, min(start + chunk, frames), uf) for start in range(0, frames, chunk)]


def _chunk_frames(block_width):
    if torch.is_grad_enabled():
        return 1 << 62
    return max(64, (1 << 17) // block_width)


class EncoderBlock(nn.Module):
    """``Conv1d(chin, C, K, S) -> ReLU -> Conv1d(C, 2C, 1) -> GLU``, slimmed inside.

    Arguments
    ---------
    in_channels : int
        Block input width (never slimmed).
    channels : int
        Block width ``C`` (its output width; the internal width is slimmed).
    kernel_size : int
        Kernel size of the strided conv.
    stride : int
        Stride of the strided conv.
    glu : bool
        GLU after the 1x1 conv (else ReLU, with a ``C``-wide 1x1 conv).

    Example
    -------
    >>> block = EncoderBlock(1, 32, 8, 4)
    >>> block(torch.randn(2, 40, 1), uf=0.25).shape
    torch.Size([2, 9, 32])
    """

    def __init__(self, in_channels, channels, kernel_size, stride, glu=True):
        super().__init__()
        self.channels = channels
        self.conv = SlimConv1d(in_channels, channels, kernel_size, stride, slim_out=True)
        self.pointwise = SlimPointwise(
            channels, channels, slim_in=True, activation="glu" if glu else "relu"
        )

    def _encode(self, x, uf):
        hidden = self.conv(x, uf)
        hidden = hidden.relu_() if not torch.is_grad_enabled() else torch.relu(hidden)
        return self.pointwise(hidden, uf)

    def forward(self, x, uf=1.0):
        """Encodes ``x`` [batch, time, in] into [batch, frames, channels]."""
        frames = self.conv.frames(x.shape[1])
        spans = frame_spans(frames, uf, _chunk_frames(self.channels))
        if len(spans) == 1:
            return self._encode(x, uf)
        stride, kernel = self.conv.stride, self.conv.kernel_size
        out = x.new_empty(x.shape[0], frames, self.channels)
        for start, end, span_uf in spans:
            out[:, start:end] = self._encode(
                x[:, start * stride : (end - 1) * stride + kernel], span_uf
            )
        return out


class DecoderBlock(nn.Module):
    """``Conv1d(C, 2C, 1) -> GLU -> ConvTranspose1d(C, chout, K, S) (-> ReLU)``, slimmed inside.

    The block adds its skip connection to its input itself (``x + skip``), run by
    run, so the sum never exists at full length.

    Arguments
    ---------
    channels : int
        Block input width ``C`` (never slimmed; the internal width is).
    out_channels : int
        Block output width.
    kernel_size : int
        Kernel size of the transposed conv.
    stride : int
        Stride of the transposed conv.
    glu : bool
        GLU after the 1x1 conv (else ReLU).
    relu : bool
        ReLU on the output (all decoder blocks but the last).

    Example
    -------
    >>> block = DecoderBlock(32, 1, 8, 4, relu=False)
    >>> x, skip = torch.randn(2, 9, 32), torch.randn(2, 11, 32)
    >>> block(x, skip, uf=0.25).shape
    torch.Size([2, 40, 1])
    """

    def __init__(self, channels, out_channels, kernel_size, stride, glu=True, relu=True):
        super().__init__()
        self.channels = channels
        self.pointwise = SlimPointwise(
            channels, channels, slim_out=True, activation="glu" if glu else "relu"
        )
        self.conv_tr = SlimConvTranspose1d(
            channels, out_channels, kernel_size, stride, slim_in=True
        )
        self.relu = relu

    def forward(self, x, skip, uf=1.0):
        """Decodes ``x + skip`` ([batch, frames, channels]; ``skip`` may be longer)."""
        frames = x.shape[1]
        conv = self.conv_tr
        out = conv.output_buffer(x.shape[0], frames)
        for start, end, span_uf in frame_spans(frames, uf, _chunk_frames(self.channels)):
            hidden = self.pointwise(x[:, start:end] + skip[:, start:end], span_uf)
            taps = conv.frame_taps(hidden, span_uf)
            for tap in range(conv.taps):
                out[:, start + tap : end + tap] += taps[:, :, tap]
        out = conv.finish(out, frames)
        if not self.relu:
            return out
        return out.clamp_(min=0) if not torch.is_grad_enabled() else torch.relu(out)


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
    normalize : bool
        Divide the input by ``floor + std`` and multiply the output back.
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

    Example
    -------
    >>> model = SlimDemucs(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2)
    >>> noisy = torch.randn(2, 1000)
    >>> enhanced, info = model(noisy, uf=0.25)
    >>> enhanced.shape, info["uf"]
    (torch.Size([2, 1000]), 0.25)
    >>> info["macs"] < model(noisy, uf=1.0)[1]["macs"]
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
        self.normalize = normalize
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
            self.lstm = LSTMBottleneck(bottleneck_width, bottleneck_layers, not causal)
        else:
            self.lstm = GroupedGRU(bottleneck_width, gru_groups, bottleneck_layers, not causal)
        self.resampler = SincResampler(resample)
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

    def forward(self, noisy, uf=1.0):
        """Enhances a batch of waveforms at utilization factor ``uf``.

        Arguments
        ---------
        noisy : torch.Tensor
            Waveforms, ``[batch, time]`` or ``[batch, 1, time]``.
        uf : float
            One of ``self.ufs``.

        Returns
        -------
        enhanced : torch.Tensor
            ``[batch, time]``, the same length as the input.
        info : dict
            ``uf``, ``macs`` (spent per waveform) and ``macs_per_sample``.
        """
        from speechbrain_slim.complexity import count_macs

        uf = self.check_uf(uf)
        mix = _as_batch_of_waveforms(noisy)
        length = mix.shape[-1]
        if self.normalize:
            std = mix.std(dim=-1, keepdim=True)
            mix = mix / (self.floor + std)
        x = nn.functional.pad(mix, (0, self.valid_length(length) - length))
        x = self.resampler.upsample(x).unsqueeze(-1)

        skips = []
        for block in self.encoder:
            x = block(x, uf)
            skips.append(x)
        x = self.lstm(x)
        for block in self.decoder:
            x = block(x, skips.pop(), uf)

        x = self.resampler.downsample(x.squeeze(-1))[:, :length]
        if self.normalize:
            x = x * std
        macs = count_macs(self, length, uf)
        return x, {"uf": uf, "macs": macs, "macs_per_sample": macs / length}

    def to_denoiser_state_dict(self):
        """Returns the weights as a ``denoiser.demucs.Demucs`` state dict (LSTM bottleneck)."""
        from speechbrain_slim.lobes.demucs_import import to_denoiser_state_dict

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


def _as_batch_of_waveforms(noisy):
    """Checks the input and returns it as a float [batch, time] tensor."""
    if not isinstance(noisy, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor waveform batch, got {type(noisy).__name__}")
    if noisy.dim() == 3 and noisy.shape[1] == 1:
        noisy = noisy[:, 0]
    if noisy.dim() != 2:
        raise ValueError(
            f"expected a waveform batch of shape [batch, time] or [batch, 1, time], "
            f"got shape {tuple(noisy.shape)}"
        )
    if noisy.shape[-1] == 0 or noisy.shape[0] == 0:
        raise ValueError(f"empty waveform batch of shape {tuple(noisy.shape)}")
    if not noisy.is_floating_point():
        raise TypeError(f"expected floating point samples, got {noisy.dtype}")
    if not torch.isfinite(noisy).all():
        raise ValueError("the waveform contains NaN or Inf samples")
    return noisy
