"""The encoder and decoder blocks of SlimDemucs, slimmed inside by a utilization factor.

Encoder block: ``Conv1d(C_in, C, K, S) -> ReLU -> Conv1d(C, 2C, 1) -> GLU``; decoder
block: ``x + skip -> Conv1d(C, 2C, 1) -> GLU -> ConvTranspose1d(C, C_out, K, S) (-> ReLU)``
(DEMUCS, Defossez et al., 2020). At a UF only ``ceil(C * uf)`` internal channels are
computed; block inputs and outputs keep full width.

Each block owns everything that is computed from it, so a change to a block is made
here once:

* ``forward``: a whole signal at one UF, or each frame at the UF of a per-frame
  track (the routed pass, planned by :mod:`speechbrain_slim.nnet.track_planner`);
* ``streaming(ufs)``: a stream's new frames from cached state
  (:mod:`speechbrain_slim.nnet.block_streams`, driven by
  :class:`~speechbrain_slim.streaming.StreamingEnhancer`);
* ``static(uf)``: the block at one UF as plain torch layers
  (:mod:`speechbrain_slim.nnet.static_blocks`, assembled into a
  :class:`~speechbrain_slim.lobes.static_demucs.StaticDemucs`);
* ``macs_per_frame(uf)`` and ``parameters_at(uf)``: what
  :mod:`speechbrain_slim.complexity` adds up.

The recurrent bottlenecks (:mod:`speechbrain_slim.nnet.recurrent`) do the same.

Authors
 * speechbrain-slim contributors 2026
"""

import torch
from torch import nn

from speechbrain_slim.nnet import track_planner
from speechbrain_slim.nnet.block_streams import DecoderStream, EncoderStream
from speechbrain_slim.nnet.slimmable import (
    SlimConv1d,
    SlimConvTranspose1d,
    SlimPointwise,
    active_channels,
)
from speechbrain_slim.nnet.static_blocks import StaticDecoderBlock, StaticEncoderBlock, load_copies

__all__ = ["EncoderBlock", "DecoderBlock"]


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

    def macs_per_frame(self, uf):
        """MACs per output frame at ``uf``: ``C_in * w * K + w * halves * C``, ``w = ceil(C * uf)``.

        Example
        -------
        >>> EncoderBlock(1, 32, 8, 4).macs_per_frame(0.25)
        576
        """
        width = active_channels(self.channels, uf)
        conv = self.conv.in_channels * width * self.conv.kernel_size
        return conv + width * self.pointwise.halves * self.channels

    def parameters_at(self, uf):
        """Weights and biases a pass at ``uf`` reads.

        Example
        -------
        >>> block = EncoderBlock(1, 32, 8, 4)
        >>> block.parameters_at(1.0) == sum(p.numel() for p in block.parameters())
        True
        """
        width, halves = active_channels(self.channels, uf), self.pointwise.halves
        conv = self.conv.in_channels * width * self.conv.kernel_size + width
        return conv + width * halves * self.channels + halves * self.channels

    def static(self, uf):
        """This block at ``uf`` as a plain torch :class:`StaticEncoderBlock` (weights copied).

        Example
        -------
        >>> block = EncoderBlock(1, 32, 8, 4)
        >>> static, x = block.static(0.25), torch.randn(2, 40, 1)
        >>> torch.allclose(static(x.transpose(1, 2)).transpose(1, 2), block(x, 0.25), atol=1e-6)
        True
        """
        width = active_channels(self.channels, uf)
        conv, pointwise = self.conv, self.pointwise
        static = StaticEncoderBlock(conv.in_channels, self.channels, width, conv.kernel_size,
                                    conv.stride, glu=pointwise.activation == "glu")
        weight, bias = _pointwise_halves(pointwise)
        return load_copies(static, {
            "conv.weight": conv.reference_weight()[:width],
            "conv.bias": conv.bias[:width],
            # [halves, C, C] -> [halves * C, w, 1]: every output, the first w inputs.
            "pointwise.weight": weight[:, :, :width].reshape(-1, width, 1),
            "pointwise.bias": bias.reshape(-1),
        }, like=conv.weight)

    def streaming(self, ufs):
        """An :class:`~speechbrain_slim.nnet.block_streams.EncoderStream` of this block at
        ``ufs``: its new frames as input frames arrive."""
        return EncoderStream(self, ufs)

    def _encode(self, x, uf, out=None):
        hidden = self.conv(x, uf)
        hidden = hidden.relu_() if not torch.is_grad_enabled() else torch.relu(hidden)
        return self.pointwise(hidden, uf, out=out)

    def forward(self, x, uf=1.0, gate=None, plans=None):
        """Encodes ``x`` [batch, time, in] into [batch, frames, channels].

        ``uf`` is a UF or a ``[batch, frames]`` track of UFs (``gate`` its gates);
        ``plans`` is the pass's plan cache
        (:func:`speechbrain_slim.nnet.track_planner.block_plan`).
        """
        if isinstance(uf, torch.Tensor):
            return self._encode_track(x, uf, gate, plans)
        frames = self.conv.frames(x.shape[1])
        runs = track_planner.frame_runs(frames, track_planner.chunk_frames(self.channels))
        if len(runs) == 1:
            return self._encode(x, uf)
        stride, kernel = self.conv.stride, self.conv.kernel_size
        out = x.new_empty(x.shape[0], frames, self.channels)
        for start, end in runs:  # each run's output written straight into the block's output
            self._encode(x[:, start * stride : (end - 1) * stride + kernel], uf, out[:, start:end])
        return out

    def _encode_track(self, x, track, gate, plans):
        """Per-frame widths: long runs are computed as slices, other frames gathered by UF."""
        batch, frames = track.shape
        grad = torch.is_grad_enabled()
        plan = track_planner.block_plan(track, self.channels, plans)
        stride, kernel = self.conv.stride, self.conv.kernel_size
        out = x.new_empty(batch, frames, self.channels)
        for item, start, end, uf in plan.runs:
            hidden = self.conv(x[item : item + 1, start * stride : (end - 1) * stride + kernel], uf)
            hidden = torch.relu(hidden) if grad else hidden.relu_()
            if gate is not None:
                hidden = hidden * gate[item, start:end].view(1, -1, 1)
            if grad:
                out[item, start:end] = self.pointwise(hidden, uf)[0]
            else:
                self.pointwise(hidden, uf, out=out[item : item + 1, start:end])
        if not plan.spans:
            return out
        blocks, _ = self.conv.input_blocks(x)
        blocks = blocks.reshape(-1, blocks.shape[-1])
        # frame n of item b starts at block b * (frames + taps - 1) + n
        first_blocks = plan.rows + plan.rows // frames * (self.conv.taps - 1)
        flat_gate = None if gate is None else gate.reshape(-1)
        flat_out = out.view(batch * frames, self.channels)
        for begin, end, first, groups in plan.spans:
            gathered = x.new_empty(end - begin, self.channels)
            for a, b, uf in groups:
                hidden = self.conv.gathered_frames(blocks, first_blocks[a:b], uf)
                hidden = torch.relu(hidden) if grad else hidden.relu_()
                if gate is not None:
                    hidden = hidden * flat_gate.index_select(0, plan.rows[a:b]).unsqueeze(-1)
                gathered[a - first : b - first] = self.pointwise(hidden.unsqueeze(0), uf)[0]
            if grad:  # a scatter whose backward is a gather
                flat_out.index_copy_(0, plan.rows[first : first + end - begin], gathered)
            else:
                torch.index_select(gathered, 0, plan.local[begin:end], out=flat_out[begin:end])
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

    def macs_per_frame(self, uf):
        """MACs per input frame at ``uf``: ``C * halves * w + w * C_out * K``, ``w = ceil(C * uf)``.

        Example
        -------
        >>> DecoderBlock(32, 1, 8, 4).macs_per_frame(0.25)
        576
        """
        width = active_channels(self.channels, uf)
        pointwise = self.channels * self.pointwise.halves * width
        return pointwise + width * self.conv_tr.out_channels * self.conv_tr.kernel_size

    def parameters_at(self, uf):
        """Weights and biases a pass at ``uf`` reads.

        Example
        -------
        >>> block = DecoderBlock(32, 1, 8, 4)
        >>> block.parameters_at(1.0) == sum(p.numel() for p in block.parameters())
        True
        """
        width, halves = active_channels(self.channels, uf), self.pointwise.halves
        conv = self.conv_tr
        pointwise = self.channels * halves * width + halves * width
        return pointwise + width * conv.out_channels * conv.kernel_size + conv.out_channels

    def static(self, uf):
        """This block at ``uf`` as a plain torch :class:`StaticDecoderBlock` (weights copied).

        Example
        -------
        >>> block = DecoderBlock(32, 1, 8, 4, relu=False)
        >>> static, x, skip = block.static(0.25), torch.randn(2, 9, 32), torch.randn(2, 11, 32)
        >>> out = static(x.transpose(1, 2), skip.transpose(1, 2)).transpose(1, 2)
        >>> torch.allclose(out, block(x, skip, 0.25), atol=1e-6)
        True
        """
        width = active_channels(self.channels, uf)
        pointwise, conv = self.pointwise, self.conv_tr
        static = StaticDecoderBlock(self.channels, conv.out_channels, width, conv.kernel_size,
                                    conv.stride, glu=pointwise.activation == "glu",
                                    relu=self.relu)
        weight, bias = _pointwise_halves(pointwise)
        return load_copies(static, {
            # [halves, C, C] -> [halves * w, C, 1]: the first w outputs of each GLU half.
            "pointwise.weight": weight[:, :width].reshape(-1, self.channels, 1),
            "pointwise.bias": bias[:, :width].reshape(-1),
            "conv_tr.weight": conv.reference_weight()[:width],
            "conv_tr.bias": conv.bias,
        }, like=conv.weight)

    def streaming(self, ufs):
        """A :class:`~speechbrain_slim.nnet.block_streams.DecoderStream` of this block at
        ``ufs``: its new samples as frames arrive."""
        return DecoderStream(self, ufs)

    def forward(self, x, skip, uf=1.0, gate=None, plans=None):
        """Decodes ``x + skip`` ([batch, frames, channels]; ``skip`` may be longer).

        ``uf`` is a UF or a ``[batch, frames]`` track of UFs (``gate`` its gates);
        ``plans`` is the pass's plan cache
        (:func:`speechbrain_slim.nnet.track_planner.block_plan`).
        """
        batch, frames = x.shape[:2]
        conv = self.conv_tr
        if isinstance(uf, torch.Tensor):
            plans = {} if plans is None else plans
            plan = track_planner.block_plan(uf, self.channels, plans)
            if self._fast_overlap_add() and not plan.spans:
                return self._decode_runs(x, skip, plan.runs, gate, batch)
            out = conv.output_buffer(batch, frames)
            self._decode_track(x, skip, uf, gate, out, plans)
        elif self._fast_overlap_add():
            chunk = track_planner.chunk_frames(self.channels)
            runs = [(None, start, end, uf)
                    for start, end in track_planner.frame_runs(frames, chunk)]
            return self._decode_runs(x, skip, runs, None, batch)
        else:
            out = conv.output_buffer(batch, frames)
            chunk = track_planner.chunk_frames(self.channels)
            for start, end in track_planner.frame_runs(frames, chunk):
                hidden = self.pointwise(x[:, start:end] + skip[:, start:end], uf)
                taps = conv.frame_taps(hidden, uf)
                for tap in range(conv.taps):
                    out[:, start + tap : end + tap] += taps[:, :, tap]
        out = conv.finish(out, frames)
        if not self.relu:
            return out
        return out.clamp_(min=0) if not torch.is_grad_enabled() else torch.relu(out)

    def _fast_overlap_add(self):
        """Runs are overlap-added straight into the output (no autograd, two taps: K = 2 S)."""
        return self.conv_tr.taps == 2 and not torch.is_grad_enabled()

    def _decode_runs(self, x, skip, runs, gate, batch):
        """Decodes ``runs`` (``(item, start, end, uf)``, ``item`` None for the whole batch),
        which cover every item's frames in order, without a buffer holding the bias.

        Block ``n`` of a run is written once as ``tap0(n) + tap1(n - 1)`` (the previous
        run's last tap 1 is carried), then gets the bias and the ReLU while in cache; the
        block past an item's last frame is its last tap 1 plus the bias.
        """
        conv = self.conv_tr
        frames = x.shape[1]
        out = x.new_empty(batch, frames + 1, conv.stride * conv.out_channels)
        bias = conv.bias.repeat(conv.stride)
        carry = None
        for item, start, end, uf in runs:
            rows = slice(None) if item is None else slice(item, item + 1)
            hidden = self.pointwise(x[rows, start:end] + skip[rows, start:end], uf)
            if gate is not None:
                hidden = hidden * gate[item, start:end].view(1, -1, 1)
            taps = conv.frame_taps(hidden, uf)
            blocks = out[rows, start:end]
            if start == 0:
                blocks[:, 0] = taps[:, 0, 0]
            else:
                torch.add(taps[:, 0, 0], carry, out=blocks[:, 0])
            torch.add(taps[:, 1:, 0], taps[:, :-1, 1], out=blocks[:, 1:])
            carry = taps[:, -1, 1]
            if end == frames:
                out[rows, frames] = carry
            blocks = out[rows, start : end + (end == frames)].add_(bias)
            if self.relu:
                blocks.clamp_(min=0)
        return conv.finish(out, frames)

    def _decode_track(self, x, skip, track, gate, out, plans):
        """Per-frame widths: long runs are computed as slices, other frames gathered by UF.

        The taps of a span's gathered frames are put back in frame order (a gather,
        much cheaper than scattered adds) and overlap-added like a static pass's.
        """
        batch, frames, channels = x.shape
        conv = self.conv_tr
        plan = track_planner.block_plan(track, self.channels, plans)
        for item, start, end, uf in plan.runs:
            hidden = self.pointwise(
                x[item : item + 1, start:end] + skip[item : item + 1, start:end], uf
            )
            if gate is not None:
                hidden = hidden * gate[item, start:end].view(1, -1, 1)
            taps = conv.frame_taps(hidden, uf)
            for tap in range(conv.taps):
                out[item : item + 1, start + tap : end + tap] += taps[:, :, tap]
        if not plan.spans:
            return
        skip_frames = skip.shape[1]
        flat_x = x.reshape(batch * frames, channels)
        flat_skip = skip.reshape(batch * skip_frames, channels)
        skip_rows = plan.rows + plan.rows // frames * (skip_frames - frames)
        flat_gate = None if gate is None else gate.reshape(-1)
        width = conv.stride * conv.out_channels
        for begin, end, first, groups in plan.spans:
            gathered = x.new_empty(end - begin, conv.taps, width)
            for a, b, uf in groups:
                inputs = flat_x.index_select(0, plan.rows[a:b])
                inputs += flat_skip.index_select(0, skip_rows[a:b])
                hidden = self.pointwise(inputs.unsqueeze(0), uf)
                if gate is not None:
                    hidden = hidden * flat_gate.index_select(0, plan.rows[a:b]).view(1, -1, 1)
                gathered[a - first : b - first] = conv.frame_taps(hidden, uf)[0]
            if torch.is_grad_enabled():  # scattered adds, whose backward is a gather
                blocks = out.view(-1, width)
                rows = plan.rows[first : first + end - begin]
                rows = rows + rows // frames * (conv.taps - 1)
                for tap in range(conv.taps):
                    blocks.index_add_(0, rows + tap, gathered[:, tap])
                continue
            taps = gathered.index_select(0, plan.local[begin:end])
            # overlap-add, item by item (a span may cross items)
            for item in range(begin // frames, (end - 1) // frames + 1):
                low, high = max(begin, item * frames), min(end, (item + 1) * frames)
                start, stop = low - item * frames, high - item * frames
                for tap in range(conv.taps):
                    out[item, start + tap : stop + tap] += taps[low - begin : high - begin, tap]


def _pointwise_halves(layer):
    """A SlimPointwise's ``[halves, out, in]`` weight and ``[halves, out]`` bias (GLU value first).

    Read through its torch-layout ``reference_weight()``, whatever its storage layout.
    """
    weight = layer.reference_weight()[..., 0]
    return (weight.reshape(layer.halves, layer.out_channels, layer.in_channels),
            layer.bias.reshape(layer.halves, layer.out_channels))
