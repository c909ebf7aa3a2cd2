"""Streaming enhancement: a causal SlimDemucs (+ router) run block by block with cached state.

:class:`StreamingEnhancer` takes audio in chunks of any size and returns the
enhanced samples that are final so far. Its output is **the offline output**:
the concatenation of everything :meth:`~StreamingEnhancer.feed` and
:meth:`~StreamingEnhancer.flush` return equals ``model(noisy, uf)`` (or
``route(model, router, noisy, uf)``) of the whole signal, to float rounding
(``tests/test_streaming.py``), and has exactly the input's length.

Alignment: output sample ``i`` is input sample ``i`` enhanced. It is returned by
the call that brings the input ``lookahead_samples`` past it (the model's
lookahead, rounded to whole frames), so each call returns a few hundred samples
fewer than it was given until :meth:`~StreamingEnhancer.flush` returns the rest.

How it stays cheap. Work happens per block of ``model.total_stride`` input
samples (one bottleneck frame, 16 ms for the paper config; several blocks run
together when a long chunk arrives). Every layer computes only its *new* frames:

* running normalisation: one running power per block (as
  :meth:`SlimDemucs.input_scale`);
* sinc up-/downsampling steps: the filter's history is kept (``2 * zeros - 1``
  samples), only new samples are interpolated;
* strided convs: the last ``kernel - stride`` input frames are kept as left context;
* transposed convs: the overlap-add tail of the last frame is kept;
* recurrent bottleneck and router: their hidden states are kept;
* skips: encoder frames wait in a buffer until the decoder consumes them;
* residual models (``residual=True``): the raw input samples wait until their
  output samples are emitted, which then get them added (as ``SlimDemucs.forward``).

Each frame runs at its UF's width from prefix views of the layers' own weights,
built once per UF. Copied once: the grouped GRU's per-group weights (stacked, so
that a step is one batched GEMM) and, below UF 1, the decoder's two GLU halves'
prefixes side by side (one GEMM instead of two).

Speed (``benchmarks/streaming_speed.py``, one thread): per 16 ms frame the
paper config needs ~30 small ops per level; at UF 1 the time goes into reading
the weights (memory-bound GEMVs), at small UFs into per-op overhead.

The normalisation must be causal: ``normalize="running"`` or ``False``. DEMUCS's
``normalize=True`` divides by the std of the *whole* input, which a stream
cannot know, and is refused.

Bad chunks. Samples may be float, int16 or int32 (scaled to [-1, 1) as in
:meth:`EnhanceSlim.enhance_batch`). A chunk holding NaN or Inf is, by default
(``nonfinite="raise"``), refused with ``ValueError`` **before anything is consumed**:
the stream's state is unchanged, so the caller can send the chunk again (cleaned) and
the output stays aligned with the input. With ``nonfinite="zero"`` such samples are
replaced by zeros instead (one :class:`~speechbrain_slim.inference.AudioWarning` per
stream, the count in :attr:`StreamingEnhancer.nonfinite_samples`), so that a live
stream never falls behind.

Authors
 * speechbrain-slim contributors 2026
"""

import math
import time
import warnings

import torch
from torch.nn import functional as F

from speechbrain_slim.complexity import block_macs_per_frame, recurrent_macs_per_frame
from speechbrain_slim.lobes.router import diagonal_gru_step
from speechbrain_slim.nnet.slimmable import active_channels
from speechbrain_slim.routing import decide, parse_uf

__all__ = ["StreamingEnhancer"]


class _Frames:
    """The frames of one stream still needed later: frames ``start .. end - 1``, ``[n, C]``.

    A buffer with spare room at its end: appending copies only the new frames
    (when the room runs out, the live frames move to a new buffer twice their
    size), so a long wait (skip frames wait for the decoder's lookahead) costs
    no per-frame copy of everything waiting. Frames are always copied in, so the
    views :meth:`get` returns may be changed in place.
    """

    def __init__(self, channels, device):
        self.buffer = torch.zeros(64, channels, device=device)
        self.offset = self.size = self.start = 0  # frame `start` is buffer row `offset`

    @property
    def end(self):
        return self.start + self.size

    def append(self, frames):
        count = frames.shape[0]
        if self.offset + self.size + count > self.buffer.shape[0]:
            live = self.buffer[self.offset : self.offset + self.size]
            capacity = max(self.buffer.shape[0], 2 * (self.size + count))
            self.buffer = torch.cat((live, live.new_empty(capacity - self.size, live.shape[1])))
            self.offset = 0
        stop = self.offset + self.size
        self.buffer[stop : stop + count] = frames
        self.size += count

    def get(self, first, last):
        return self.buffer[self.offset + first - self.start : self.offset + last - self.start]

    def forget_before(self, first):
        if first > self.start:
            drop = min(first - self.start, self.size)
            self.offset += drop
            self.size -= drop
            self.start = first


def _banded(signal, matrix, hop, count):
    """The first ``count`` outputs of a banded linear map over 1-D ``signal`` (zero past its end).

    Output block ``b`` (``matrix.shape[1]`` values) is ``signal[b * hop : b * hop + span] @
    matrix`` with ``span = matrix.shape[0]``: one GEMM for any number of blocks.
    """
    span, width = matrix.shape
    blocks = -(-count // width)
    needed = (blocks - 1) * hop + span
    if signal.shape[0] < needed:
        signal = F.pad(signal, (0, needed - signal.shape[0]))
    return (signal[:needed].unfold(0, span, hop) @ matrix).view(-1)[:count]


def _resampling_matrices(resampler, block=64):
    """Banded matrices doing one x2 up- and one /2 downsampling step of ``resampler``.

    Up (``[block + taps - 1, 2 * block]``): columns ``2c, 2c + 1`` give input sample
    ``c`` (the window starts ``zeros - 1`` samples earlier) and its half-sample
    interpolation. Down (``[2 * (block + taps - 1), block]``): output ``c`` is
    ``(x[2c + 2 zeros] + sum_k kernel[k] * x[2 (c + k) + 1]) / 2``, the window starting
    ``2 zeros`` samples earlier. The kernel is the resampler's own.
    """
    zeros, taps = resampler.zeros, resampler.taps
    kernel = resampler.toeplitz[:taps, 0]
    up = kernel.new_zeros(block + taps - 1, 2 * block)
    down = kernel.new_zeros(2 * (block + taps - 1), block)
    for c in range(block):
        up[c + zeros - 1, 2 * c] = 1.0
        up[c : c + taps, 2 * c + 1] = kernel
        down[2 * (c + zeros), c] = 0.5
        down[2 * c + 1 : 2 * (c + taps) : 2, c] = 0.5 * kernel
    return up, down


class _Upsample2:
    """One x2 step of :class:`SincResampler` on a stream (pair ``j`` needs x up to j + zeros)."""

    def __init__(self, matrix, zeros):
        self.matrix, self.zeros = matrix, zeros
        self.hop = matrix.shape[1] // 2

    def reset(self):
        self.pending = self.matrix.new_zeros(self.zeros - 1)  # x[done - zeros + 1 :]
        self.received = self.done = 0

    @staticmethod
    def ready(received, zeros):
        return max(0, received - zeros)

    def push(self, x, final):
        """Adds samples; returns the new upsampled samples and the interpolations spent."""
        self.pending = torch.cat((self.pending, x))
        self.received += x.shape[0]
        total = self.received if final else self.ready(self.received, self.zeros)
        count = total - self.done
        if count <= 0:
            return x[:0], 0
        out = _banded(self.pending, self.matrix, self.hop, 2 * count)
        self.pending = self.pending[count:]
        self.done = total
        return out, count


class _Downsample2:
    """One /2 step of :class:`SincResampler` on a stream (output i reads x below 2i + 2 zeros)."""

    def __init__(self, matrix, zeros):
        self.matrix, self.zeros = matrix, zeros
        self.hop = 2 * matrix.shape[1]

    def reset(self):
        self.pending = self.matrix.new_zeros(2 * self.zeros)  # x[2 * (done - zeros) :]
        self.received = self.done = 0

    @staticmethod
    def ready(received, zeros):
        return max(0, received // 2 - zeros + 1)

    def push(self, x, final):
        """Adds samples; returns the new downsampled samples and the interpolations spent."""
        self.pending = torch.cat((self.pending, x))
        self.received += x.shape[0]
        total = -(-self.received // 2) if final else self.ready(self.received, self.zeros)
        count = total - self.done
        if count <= 0:
            return x[:0], 0
        out = _banded(self.pending, self.matrix, self.hop, count)
        self.pending = self.pending[2 * count :]
        self.done = total
        return out, count


class _EncoderLevel:
    """Streaming ``EncoderBlock``: new frames from cached input frames, at per-frame widths."""

    def __init__(self, block, ufs):
        conv, pointwise = block.conv, block.pointwise
        self.kernel, self.stride, self.in_channels = conv.kernel_size, conv.stride, conv.in_channels
        self.glu = pointwise.activation == "glu"
        self.channels = channels = block.channels
        conv_weight = conv.weight.detach().view(channels, -1)  # [C, K * in], (k, in) order
        point_weight = pointwise.weight.detach().view(-1, channels)  # [halves * C, C]
        self.views = {}
        for uf in ufs:
            width = active_channels(channels, uf)
            self.views[uf] = (
                conv.bias.detach()[:width], conv_weight[:width].t(),
                pointwise.bias.detach().view(-1), point_weight[:, :width].t(),
            )

    def reset(self):
        self.inputs = _Frames(self.in_channels, self.views[next(iter(self.views))][0].device)
        self.done = 0

    @staticmethod
    def ready(received, kernel, stride):
        return max(0, (received - kernel) // stride + 1)

    def run(self, first, last, uf):
        """Frames ``first .. last - 1`` at ``uf``: ``[last - first, C]``."""
        rows = self.inputs.get(self.stride * first, self.stride * (last - 1) + self.kernel)
        windows = rows.reshape(-1).unfold(0, self.kernel * self.in_channels,
                                          self.stride * self.in_channels)
        conv_bias, conv_weight, point_bias, point_weight = self.views[uf]
        hidden = torch.addmm(conv_bias, windows, conv_weight).relu_()
        out = torch.addmm(point_bias, hidden, point_weight)
        return F.glu(out, dim=-1) if self.glu else out.relu_()

    def combine(self, runs):
        return runs[0] if len(runs) == 1 else torch.cat(runs)

    def no_output(self):
        return self.inputs.buffer.new_zeros(0, self.channels)


class _DecoderLevel:
    """Streaming ``DecoderBlock``: new frames of ``x + skip``, overlap-added with a cached tail.

    The skip frames wait in :attr:`skips`; the deeper level's output is added onto
    them as it arrives (:meth:`add_input`), so ``x + skip`` costs no extra buffer.
    """

    def __init__(self, block, ufs):
        pointwise, conv = block.pointwise, block.conv_tr
        self.glu, self.relu = pointwise.activation == "glu", block.relu
        self.channels, self.out_channels = block.channels, conv.out_channels
        self.stride, self.kernel, self.taps = conv.stride, conv.kernel_size, conv.taps
        weight, bias = pointwise.weight.detach(), pointwise.bias.detach()
        tr_weight = conv.weight.detach().view(conv.in_channels, -1)  # [C, taps * S * out]
        self.block_bias = conv.bias.detach().repeat(conv.stride)  # [S * out]
        # The bias rides along with tap 0 in the GEMM; later taps get none.
        self.taps_bias = F.pad(self.block_bias, (0, (conv.taps - 1) * self.block_bias.shape[0]))
        self.views = {}
        for uf in ufs:
            width = active_channels(block.channels, uf)
            # both GLU halves' prefixes side by side: one GEMM (a copy once per UF below 1)
            point = weight[:, :width].reshape(-1, weight.shape[-1]).t()  # [C, halves * width]
            self.views[uf] = (bias[:, :width].reshape(-1), point, tr_weight[:width])

    def reset(self):
        self.skips = _Frames(self.channels, self.block_bias.device)
        self.received = 0  # frames of the deeper level's output added onto the skips
        self.tail = self.block_bias.new_zeros(self.taps - 1, self.block_bias.shape[0])
        self.done = 0

    def add_input(self, x):
        """Adds the deeper level's next output frames onto their skip frames."""
        self.skips.get(self.received, self.received + x.shape[0]).add_(x)
        self.received += x.shape[0]

    def run(self, first, last, uf):
        """Transposed-conv taps of frames ``first .. last - 1``: ``[frames, taps * S * out]``."""
        point_bias, point_weight, tr_weight = self.views[uf]
        hidden = torch.addmm(point_bias, self.skips.get(first, last), point_weight)
        hidden = F.glu(hidden, dim=-1) if self.glu else hidden.relu_()
        return torch.addmm(self.taps_bias, hidden, tr_weight)

    def combine(self, runs):
        """Overlap-adds the runs' taps onto the cached tail; returns the final samples."""
        return self.overlap_add(runs[0] if len(runs) == 1 else torch.cat(runs))

    def no_output(self):
        return self.tail.new_zeros(0, self.out_channels)

    def overlap_add(self, taps):
        """Adds ``[frames, taps * S * out]`` taps to the cached tail; returns final samples."""
        frames, width = taps.shape[0], self.block_bias.shape[0]
        if self.taps == 2:  # DEMUCS (K = 2 S): block n = tap 0 of frame n + tap 1 of frame n - 1
            if frames == 1:
                blocks = torch.add(taps[:, :width], self.tail)
            else:
                blocks = torch.add(taps[:, :width], torch.cat((self.tail, taps[:-1, width:])))
            self.tail = taps[-1:, width:]
            return self._activate(blocks)
        taps = taps.view(frames, self.taps, width)
        blocks = torch.cat((taps[:, 0], torch.zeros_like(self.tail)))
        blocks[: self.taps - 1] += self.tail
        for tap in range(1, self.taps):
            blocks[tap : tap + frames] += taps[:, tap]
        self.tail = blocks[frames:]
        return self._activate(blocks[:frames])

    def close(self):
        """The samples past the last frame's first block (``kernel - stride`` of them)."""
        rest = (self.tail + self.block_bias).view(-1, self.out_channels)
        return self._activate(rest[: self.kernel - self.stride])

    def _activate(self, blocks):
        if self.relu:
            blocks = blocks.clamp_(min=0)  # blocks never alias the cached tail
        return blocks.reshape(-1, self.out_channels)


class _GroupedGRUSteps:
    """Stateful steps of :class:`GroupedGRU`: one batched GEMM per step for all groups.

    The input projections ``P`` of all new frames carry every bias
    (``b_i* + b_h*``); a step's single GEMM adds ``h @ W_hh`` onto ``P``, giving
    the reset/update pre-activations and ``n_x + n_h`` at once. With
    ``n_x = P_n - b_hn`` kept aside, ``tanh(n_x + r * n_h)`` is
    ``tanh(lerp(n_x, P_n + h W_hn, r))``: four ops per step.
    """

    def __init__(self, gru):
        self.groups, self.layers = gru.groups, gru.layers
        self.width = gru.channels // gru.groups
        self.weights = []
        for layer in range(gru.layers):
            def stack(name, layer=layer):
                return torch.stack([getattr(g, f"{name}_l{layer}").detach() for g in gru.grus])

            w_ih, w_hh, b_ih, b_hh = (stack(n) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh"))
            self.weights.append((
                (b_ih + b_hh).unsqueeze(1),  # [groups, 1, 3 * width]
                w_ih.transpose(1, 2).contiguous(),  # [groups, width, 3 * width]
                w_hh.transpose(1, 2).contiguous(),
                b_hh[:, 2 * self.width :].unsqueeze(1),  # b_hn: [groups, 1, width]
            ))

    def reset(self):
        self.hidden = [self.weights[0][0].new_zeros(self.groups, 1, self.width)
                       for _ in range(self.layers)]

    def __call__(self, x):
        frames, channels = x.shape
        width = self.width
        for layer, (bias, w_ih, w_hh, b_hn) in enumerate(self.weights):
            inputs = x.view(frames, self.groups, width).transpose(0, 1)
            projected = torch.baddbmm(bias, inputs, w_ih)  # [groups, frames, 3 * width]
            n_x = projected[..., 2 * width :] - b_hn
            hidden, outputs = self.hidden[layer], []
            for frame in range(frames):
                gates = torch.baddbmm(projected[:, frame : frame + 1], hidden, w_hh)
                reset_update = gates[..., : 2 * width].sigmoid()
                candidate = torch.lerp(n_x[:, frame : frame + 1], gates[..., 2 * width :],
                                       reset_update[..., :width]).tanh_()
                hidden = torch.lerp(candidate, hidden, reset_update[..., width:])
                outputs.append(hidden)
            self.hidden[layer] = hidden
            if frames == 1:
                x = hidden.view(1, channels)
            else:
                x = torch.cat(outputs, dim=1).transpose(0, 1).reshape(frames, channels)
        return x


class _LSTMSteps:
    """Stateful steps of :class:`LSTMBottleneck`, reading its ``nn.LSTM`` weights.

    Written out (input projections of all new frames in one GEMM, then one GEMM
    per step): ``nn.LSTM`` called frame by frame is 6x (oneDNN: 50x) slower on CPU.
    """

    def __init__(self, bottleneck):
        lstm = bottleneck.lstm
        self.layers, self.hidden_size = lstm.num_layers, lstm.hidden_size
        self.weights = []
        for layer in range(self.layers):
            def weight(name, layer=layer):
                return getattr(lstm, f"{name}_l{layer}").detach()

            self.weights.append((weight("bias_ih") + weight("bias_hh"),
                                 weight("weight_ih").t(), weight("weight_hh").t()))

    def reset(self):
        zeros = self.weights[0][0].new_zeros(1, self.hidden_size)
        self.state = [(zeros, zeros) for _ in range(self.layers)]

    def __call__(self, x):
        size = self.hidden_size
        for layer, (bias, w_ih, w_hh) in enumerate(self.weights):
            projected = torch.addmm(bias, x, w_ih)  # [frames, 4 * hidden]: i, f, g, o
            hidden, cell = self.state[layer]
            outputs = []
            for frame in range(x.shape[0]):
                gates = torch.addmm(projected[frame : frame + 1], hidden, w_hh)
                sigmoid = gates.sigmoid()
                cell = torch.addcmul(sigmoid[:, size : 2 * size] * cell, sigmoid[:, :size],
                                     gates[:, 2 * size : 3 * size].tanh())
                hidden = sigmoid[:, 3 * size :] * cell.tanh()
                outputs.append(hidden)
            self.state[layer] = (hidden, cell)
            x = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
        return x


class _RouterSteps:
    """Stateful :class:`Router`: one decision per ``frame_stride`` normalised samples.

    The router's layers written out on cached weights (its conv as one GEMM over
    the frames' windows, its diagonal GRU step by step with
    :func:`~speechbrain_slim.lobes.router.diagonal_gru_step`): no module calls per frame.
    """

    def __init__(self, router, ufs, cap, shift):
        self.ufs, self.cap, self.shift = ufs, cap, shift
        self.stride, self.kernel = router.frame_stride, router.kernel_size
        conv, gru, classifier = router.conv, router.gru, router.classifier
        self.span = conv.taps * conv.stride  # a window in the conv's padded tap layout
        self.conv = (conv.bias.detach(),
                     conv.masked_weight().detach().reshape(conv.out_channels, -1).t())
        self.projection = (gru.input_proj.bias.detach(), gru.input_proj.weight.detach().t())
        self.recurrent, self.recurrent_bias = gru.recurrent.detach(), gru.recurrent_bias.detach()
        self.classifier = (classifier.bias.detach(), classifier.weight.detach().t())
        self.channels = gru.channels

    def reset(self):
        self.inputs = self.recurrent.new_zeros(0)
        self.start = self.done = 0
        self.hidden = self.recurrent.new_zeros(self.channels)

    @staticmethod
    def ready(received, kernel, stride):
        return max(0, (received - kernel) // stride + 1)

    def push(self, x, total_frames=None):
        """Adds normalised samples; returns the new decisions (up to ``total_frames`` if given)."""
        self.inputs = torch.cat((self.inputs, x))
        end = self.start + self.inputs.shape[0]
        last = total_frames or self.ready(end, self.kernel, self.stride)
        if last <= self.done:
            return []
        frames = last - self.done
        first_sample = self.stride * self.done - self.start
        needed = self.stride * (frames - 1) + self.span
        window = self.inputs[first_sample : first_sample + needed]
        if window.shape[0] < needed:  # past the stream's end, or the tap layout's padding
            window = F.pad(window, (0, needed - window.shape[0]))
        windows = window.unfold(0, self.span, self.stride)  # [frames, span]
        features = torch.addmm(self.conv[0], windows, self.conv[1]).relu_()
        projected = torch.addmm(self.projection[0], features, self.projection[1])
        projected = projected.view(frames, 3, self.channels)
        hidden, outputs = self.hidden, []
        for frame in range(frames):
            hidden = diagonal_gru_step(projected[frame], hidden, self.recurrent,
                                       self.recurrent_bias)
            outputs.append(hidden)
        self.hidden = hidden
        hidden = outputs[0].unsqueeze(0) if frames == 1 else torch.stack(outputs)
        logits = torch.addmm(self.classifier[0], hidden, self.classifier[1])
        track = decide(logits.unsqueeze(0), self.ufs, cap=self.cap, shift=self.shift)[0]
        drop = self.stride * last - self.start
        self.inputs, self.start, self.done = self.inputs[drop:], self.start + drop, last
        return track[0].tolist()


class _InputScale:
    """The running normalisation of :meth:`SlimDemucs.input_scale`, one block at a time."""

    def __init__(self, model):
        self.running = model.normalize_mode == "running"
        self.block = model.total_stride
        self.floor = model.floor
        self.decay = math.exp(-self.block / (model.norm_time_constant * model.sample_rate))

    def reset(self):
        self.power = None

    def __call__(self, samples):
        """Normalises whole blocks (the last may be partial); returns them and the block stds."""
        if not self.running or not samples.shape[0]:
            return samples, []
        stds, parts = [], []
        for start in range(0, samples.shape[0], self.block):
            block = samples[start : start + self.block]
            power = float(torch.dot(block, block)) / self.block  # zero-padded mean square
            self.power = power if self.power is None else (
                self.decay * self.power + (1 - self.decay) * power)
            stds.append(math.sqrt(max(self.power, 0.0)))
            parts.append(block / (self.floor + stds[-1]))
        return (parts[0] if len(parts) == 1 else torch.cat(parts)), stds


class StreamingEnhancer:
    """Enhances a stream chunk by chunk with a causal SlimDemucs, exactly as offline.

    Arguments
    ---------
    model : SlimDemucs
        A causal model with ``normalize="running"`` or ``False``.
    router : Router, optional
        The router (needed for ``uf="auto"`` and caps ``"max=<uf>"``).
    uf : str or float
        ``"auto"`` (the router decides every bottleneck frame as audio arrives), a
        UF of the model, or a cap ``"max=<uf>"`` (see :mod:`speechbrain_slim.routing`).
    shift : float
        Router operating-point shift (as in :func:`speechbrain_slim.routing.route`).
    nonfinite : str
        ``"raise"`` (default): a chunk with NaN/Inf samples raises ``ValueError`` and is
        not consumed (state unchanged; send it again). ``"zero"``: those samples are
        replaced by zeros, keeping the output aligned with the input.

    The stream is mono at ``model.sample_rate`` (callers resample). One block of
    ``model.total_stride`` samples is one bottleneck frame; a frame's cost is
    counted in :attr:`macs` and timed in :attr:`seconds_per_frame`.

    Threads: a frame is ~100 small ops that gain nothing from several threads,
    and with a busy core each op can wait milliseconds for it (measured: 10x
    slower with 2 threads on a shared 2-core machine). Call
    ``torch.set_num_threads(1)`` in a streaming process (the CLI does).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    >>> streamer = StreamingEnhancer(model, uf=0.5)
    >>> noisy = torch.randn(1000)
    >>> parts = [streamer.feed(noisy[i : i + 100]) for i in range(0, 1000, 100)]
    >>> enhanced = torch.cat(parts + [streamer.flush()])
    >>> offline = model(noisy.unsqueeze(0), 0.5)[0][0]
    >>> enhanced.shape, bool((enhanced - offline).abs().max() < 1e-4)
    (torch.Size([1000]), True)
    >>> streamer.mean_uf, streamer.latency_ms > 0
    (0.5, True)
    """

    def __init__(self, model, router=None, uf=1.0, shift=0.0, nonfinite="raise"):
        _check_streamable(model)
        if nonfinite not in ("raise", "zero"):
            raise ValueError(f"nonfinite must be 'raise' or 'zero', got {nonfinite!r}")
        self.nonfinite = nonfinite
        self.mode, self.value = parse_uf(uf, model.ufs)
        if self.mode != "fixed":
            _check_router(model, router, uf)
        self.model, self.router, self.shift = model, router, float(shift)
        self._residual = bool(getattr(model, "residual", False))
        self.block = model.total_stride
        self.sample_rate = model.sample_rate
        self.device = model.resampler.toeplitz.device
        ufs = model.ufs if self.mode != "fixed" else (self.value,)
        resampler = model.resampler
        up, down = _resampling_matrices(resampler)
        self._up = [_Upsample2(up, resampler.zeros) for _ in range(resampler.steps)]
        self._down = [_Downsample2(down, resampler.zeros) for _ in range(resampler.steps)]
        self._scale = _InputScale(model)
        self._encoders = [_EncoderLevel(block, ufs) for block in model.encoder]
        self._decoders = [_DecoderLevel(block, ufs) for block in model.decoder][::-1]
        self._ratios = [model.stride ** (model.depth - 1 - level) for level in range(model.depth)]
        if model.bottleneck_type == "lstm":
            self._bottleneck = _LSTMSteps(model.bottleneck)
        else:
            self._bottleneck = _GroupedGRUSteps(model.bottleneck)
        self._router = None
        if self.mode != "fixed":
            cap = self.value if self.mode == "cap" else None
            self._router = _RouterSteps(router, model.ufs, cap, self.shift)
        half = [{uf: block_macs_per_frame(model, level, uf) // 2 for uf in ufs}
                for level in range(model.depth)]
        self._level_macs = half
        self._recurrent_macs = recurrent_macs_per_frame(model)
        self._router_macs = router.macs_per_frame() if self._router is not None else 0
        self._lookahead = self._steady_lookahead()
        self.reset()

    def reset(self):
        """Forgets the stream (all cached state and statistics); the next feed starts anew."""
        for stage in (*self._up, *self._down, self._scale, *self._encoders, *self._decoders,
                      self._bottleneck):
            stage.reset()
        if self._router is not None:
            self._router.reset()
        self._raw = torch.zeros(0, device=self.device)  # input samples not yet in a whole block
        self._unanswered = self._raw  # residual models: input samples whose output is pending
        self._stds = []  # input std of each block whose output is pending
        self._std_start = 0
        self._received = self._emitted = 0
        self._decisions = []
        self.track = []
        self.macs = 0
        self.seconds = 0.0
        self.finished = False
        self.nonfinite_samples = 0  # NaN/Inf samples replaced by zeros (nonfinite="zero")

    # ---------------------------------------------------------------- public API
    @property
    def lookahead_samples(self):
        """Input samples that must follow an output sample before it is returned (block-aligned)."""
        return self._lookahead

    @property
    def latency_samples(self):
        """Algorithmic latency: lookahead plus one block of buffering (the first sample of a
        block waits for the rest of its block), like ``DemucsStreamer``'s total lag."""
        return self._lookahead + self.block

    @property
    def latency_ms(self):
        """:attr:`latency_samples` in milliseconds."""
        return 1000.0 * self.latency_samples / self.sample_rate

    @property
    def frames(self):
        """Bottleneck frames computed so far (one per ``total_stride`` input samples)."""
        return len(self.track)

    @property
    def mean_uf(self):
        """Mean UF of the bottleneck frames computed so far (``None`` before the first)."""
        return sum(self.track) / len(self.track) if self.track else None

    @property
    def seconds_per_frame(self):
        """Mean wall time per block of ``total_stride`` input samples processed so far."""
        blocks = self._received // self.block
        return self.seconds / blocks if blocks else None

    @property
    def real_time_factor(self):
        """Processing time / audio duration, over everything fed so far."""
        if not self._received:
            return None
        return self.seconds * self.sample_rate / self._received

    def stats(self):
        """Latency, mean UF, MACs, time per frame and real-time factor as a dict."""
        return {
            "latency_ms": self.latency_ms, "frames": self.frames, "mean_uf": self.mean_uf,
            "macs": self.macs, "seconds_per_frame": self.seconds_per_frame,
            "real_time_factor": self.real_time_factor,
        }

    def feed(self, chunk):
        """Adds input samples; returns the enhanced samples that are final now.

        Arguments
        ---------
        chunk : torch.Tensor or array
            ``[time]`` (or ``[1, time]``) float, int16 or int32 samples at the model's
            rate, any length.

        Returns
        -------
        torch.Tensor
            The next enhanced samples, aligned with the input (the first call's output
            starts at input sample 0), same dimensionality as ``chunk``; possibly empty.

        Raises
        ------
        ValueError
            For a chunk of the wrong shape or type, or holding NaN/Inf samples (with
            ``nonfinite="raise"``). A refused chunk is not consumed: the stream's state
            is unchanged, so sending the chunk again (cleaned) keeps the output aligned.
        """
        samples, two_dimensional = self._check_chunk(chunk)
        start = time.perf_counter()
        with torch.inference_mode():
            self._raw = torch.cat((self._raw, samples))
            if self._residual:
                self._unanswered = torch.cat((self._unanswered, samples))
            self._received += samples.shape[0]
            whole = self._raw.shape[0] // self.block * self.block
            out = samples[:0]
            if whole:
                out = self._process(self._raw[:whole], final=False)
                self._raw = self._raw[whole:]
        self.seconds += time.perf_counter() - start
        out = out.clone()  # a normal tensor (not an inference tensor) for the caller
        return out.unsqueeze(0) if two_dimensional else out

    def flush(self):
        """Ends the stream: returns every remaining output sample (zero-padded like offline).

        Afterwards the outputs of all calls have exactly the input's length; call
        :meth:`reset` to start another stream.
        """
        if self.finished:
            raise RuntimeError("the stream is already flushed: call reset() to start another")
        start = time.perf_counter()
        with torch.inference_mode():
            out = self._process(self._raw, final=True) if self._received else self._raw
            self._raw = self._raw[:0]
        self.seconds += time.perf_counter() - start
        self.finished = True
        return out.clone()

    # ---------------------------------------------------------------- internals
    def _check_chunk(self, chunk):
        if self.finished:
            raise RuntimeError("the stream is flushed: call reset() before feeding a new one")
        if not isinstance(chunk, torch.Tensor):
            chunk = torch.as_tensor(chunk)
        two_dimensional = chunk.dim() == 2
        if two_dimensional and chunk.shape[0] == 1:
            chunk = chunk[0]
        if chunk.dim() != 1:
            raise ValueError(
                f"expected a mono chunk of shape [time] or [1, time], got {tuple(chunk.shape)} "
                f"(use one streamer per channel)")
        if chunk.dtype == torch.int16:
            chunk = chunk.float() / 32768.0
        elif chunk.dtype == torch.int32:
            chunk = chunk.double().div(2.0**31)
        elif not chunk.is_floating_point():
            raise ValueError(f"expected float, int16 or int32 samples, got {chunk.dtype}")
        chunk = chunk.detach().to(self.device, torch.float32)
        # one cheap reduction; the exact check only when the sum is not finite
        if not math.isfinite(float(chunk.sum())) and not torch.isfinite(chunk).all():
            bad = ~torch.isfinite(chunk)
            if self.nonfinite == "raise":
                raise ValueError(
                    f"the chunk contains {int(bad.sum())} NaN or Inf samples; it was not "
                    "consumed (the stream is unchanged: send it again cleaned, or use "
                    "nonfinite='zero')")
            if not self.nonfinite_samples:
                from speechbrain_slim.inference import AudioWarning

                warnings.warn(f"NaN or Inf samples in the stream (first at input sample "
                              f"{self._received + int(bad.nonzero()[0, 0])}) are replaced by "
                              "zeros", AudioWarning, stacklevel=3)
            self.nonfinite_samples += int(bad.sum())
            chunk = chunk.masked_fill(bad, 0.0)
        return chunk, two_dimensional

    def _process(self, raw, final):
        """Runs every stage as far as the input allows (to the end of the stream when final)."""
        model = self.model
        normalized, std = self._scale(raw)
        self._stds += std
        if final:
            length = self._received
            normalized = F.pad(normalized, (0, model.valid_length(length) - length))
            total_frames = model.bottleneck_frames(length)
        if self._router is not None:
            new = self._router.push(normalized, total_frames if final else None)
            self._decisions += new
            self.macs += len(new) * self._router_macs
        x = normalized
        for step in self._up:
            x, interpolated = step.push(x, final)
            self.macs += interpolated * model.resampler.taps
        new = x.view(-1, 1)
        for level, encoder in enumerate(self._encoders):
            encoder.inputs.append(new)
            last = encoder.ready(encoder.inputs.end, encoder.kernel, encoder.stride)
            new = self._run_level(level, encoder, encoder.done, last, final)
            encoder.inputs.forget_before(encoder.stride * encoder.done)
            self._decoders[level].skips.append(new)
        first = self.frames
        new = self._bottleneck(new) if new.shape[0] else new
        for frame in range(first, first + new.shape[0]):
            self.track.append(self.value if self._router is None else self._decision(frame))
        self.macs += new.shape[0] * self._recurrent_macs
        for level in reversed(range(model.depth)):
            decoder = self._decoders[level]
            decoder.add_input(new)
            new = self._run_level(level, decoder, decoder.done, decoder.received, final)
            if final:
                new = torch.cat((new, decoder.close()))
            decoder.skips.forget_before(decoder.done)
        y = new.reshape(-1)
        for step in self._down:
            y, interpolated = step.push(y, final)
            self.macs += interpolated * model.resampler.taps
        return self._finish(y, final)

    def _decision(self, frame):
        return self._decisions[min(frame, len(self._decisions) - 1)]

    def _runs(self, level, first, last, final):
        """Splits frames ``first .. last - 1`` of ``level`` into ``(first, last, uf)`` runs."""
        if self._router is None:
            return [(first, last, self.value)] if first < last else []
        ratio = self._ratios[level]
        if not final:
            last = min(last, len(self._decisions) * ratio)
        runs = []
        while first < last:
            end = min(last, (first // ratio + 1) * ratio)
            uf = self._decision(first // ratio)
            if runs and runs[-1][2] == uf:
                runs[-1] = (runs[-1][0], end, uf)
            else:
                runs.append((first, end, uf))
            first = end
        return runs

    def _run_level(self, level, stage, first, last, final):
        """Computes the new frames of an encoder or decoder level, one run per UF."""
        runs = self._runs(level, first, last, final)
        if not runs:
            return stage.no_output()
        parts = []
        for start, end, uf in runs:
            parts.append(stage.run(start, end, uf))
            self.macs += (end - start) * self._level_macs[level][uf]
        stage.done = runs[-1][1]
        return stage.combine(parts)

    def _finish(self, y, final):
        """Scales the output back by the input's std (adds the raw input for residual
        models), cut to the input's length."""
        first = self._emitted
        if final:
            y = y[: self._received - first]
        last = first + y.shape[0]
        if self._stds and y.shape[0]:
            block, base = self.block, self._std_start
            for index in range(first // block, (last - 1) // block + 1):
                segment = slice(max(first, index * block) - first, (index + 1) * block - first)
                y[segment] *= self._stds[index - base]
            drop = last // block - base
            del self._stds[:drop]
            self._std_start += drop
        if self._residual and y.shape[0]:
            y += self._unanswered[: y.shape[0]]
            self._unanswered = self._unanswered[y.shape[0] :]
        self._emitted = last
        return y

    def _steady_lookahead(self):
        """Input samples past an output sample before it is final, from the stages' arithmetic."""
        def emitted(received):
            decisions = (_RouterSteps.ready(received, self._router.kernel, self._router.stride)
                         if self._router is not None else None)
            count = received
            for step in self._up:
                count = 2 * step.ready(count, step.zeros)
            frames = []
            for level, encoder in enumerate(self._encoders):
                count = encoder.ready(count, encoder.kernel, encoder.stride)
                if decisions is not None:
                    count = min(count, decisions * self._ratios[level])
                frames.append(count)
            for level in reversed(range(len(frames))):
                count = min(count, frames[level])
                if decisions is not None:
                    count = min(count, decisions * self._ratios[level])
                count *= self._decoders[level].stride
            for step in self._down:
                count = step.ready(count, step.zeros)
            return count

        start = 64 * self.block * self.model.stride
        return max(received - emitted(received)
                   for received in range(start, start + 8 * self.block, self.block))


def _check_streamable(model):
    if not getattr(model, "causal", False):
        raise ValueError("streaming needs a causal model (causal=True): this one looks ahead "
                         "through a bidirectional bottleneck")
    if model.normalize_mode == "global":
        raise ValueError(
            "streaming cannot reproduce normalize=True/'global': it divides by the std of the "
            "whole input, unknown until the stream ends. Use a model trained with "
            "normalize='running' (or False)")
    if model.kernel_size % model.stride:
        raise ValueError(f"streaming needs kernel_size ({model.kernel_size}) to be a multiple of "
                         f"stride ({model.stride})")


def _check_router(model, router, uf):
    if router is None:
        raise ValueError(f"uf={uf!r} needs a router, and none was given")
    if tuple(router.ufs) != tuple(model.ufs) or router.frame_stride != model.total_stride:
        raise ValueError(
            f"router (ufs {router.ufs}, stride {router.frame_stride}) does not match the model "
            f"(ufs {model.ufs}, stride {model.total_stride})")
