"""Streaming steps of the SlimDemucs blocks (what the blocks' ``streaming(ufs)`` return).

A stream computes only a block's *new* frames as input arrives: a strided conv keeps
its last ``kernel - stride`` input frames as left context, a transposed conv the
overlap-add tail of its last frame. Every run of frames is computed at its UF's
width from prefix views of the block's own weights, built once per UF (copied once:
below UF 1, the decoder's two GLU halves' prefixes side by side, one GEMM instead of
two). :class:`~speechbrain_slim.streaming.StreamingEnhancer` drives them.

Authors
 * speechbrain-slim contributors 2026
"""

import torch
from torch.nn import functional as F

from speechbrain_slim.nnet.slimmable import active_channels

__all__ = ["FrameBuffer", "EncoderStream", "DecoderStream"]

# F.glu without its Python wrapper (a stream calls it ~10 times per 16 ms frame)
_glu = getattr(torch._C._nn, "glu", F.glu)


class FrameBuffer:
    """The frames of one stream still needed later: frames ``start .. end - 1``, ``[n, C]``.

    A buffer with spare room at its end: appending copies only the new frames
    (when the room runs out, the live frames move to a new buffer twice their
    size), so a long wait (skip frames wait for the decoder's lookahead) costs
    no per-frame copy of everything waiting. Frames are always copied in, so the
    views :meth:`get` returns may be changed in place.

    Arguments
    ---------
    channels : int
        Width of a frame.
    device : torch.device
        Where the buffer lives.

    Example
    -------
    >>> buffer = FrameBuffer(2, "cpu")
    >>> buffer.append(torch.arange(6.0).view(3, 2))
    >>> buffer.forget_before(1)
    >>> buffer.start, buffer.end, buffer.get(1, 3).tolist()
    (1, 3, [[2.0, 3.0], [4.0, 5.0]])
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


class EncoderStream:
    """One stream through an :class:`EncoderBlock`: new frames from cached input frames.

    Each run of frames is computed at its UF's width from prefix views of the block's
    own weights, built once per UF; the last ``kernel - stride`` input frames wait in
    :attr:`inputs` as left context.

    Arguments
    ---------
    block : EncoderBlock
        The block (its weights are read, not copied).
    ufs : sequence of float
        The UFs the stream may run at.

    Example
    -------
    >>> from speechbrain_slim.nnet.demucs_blocks import EncoderBlock
    >>> block, x = EncoderBlock(1, 8, 8, 4), torch.randn(40, 1)
    >>> stream = block.streaming([0.5])
    >>> stream.reset()
    >>> stream.inputs.append(x)
    >>> frames = stream.ready(stream.inputs.end, stream.kernel, stream.stride)
    >>> torch.allclose(stream.run(0, frames, 0.5), block(x[None], 0.5)[0], atol=1e-6)
    True
    """

    def __init__(self, block, ufs):
        conv, pointwise = block.conv, block.pointwise
        self.kernel, self.stride, self.in_channels = conv.kernel_size, conv.stride, conv.in_channels
        self.glu = pointwise.activation == "glu"
        self.channels = channels = block.channels
        conv_weight = conv.weight.detach().view(channels, -1)  # [C, K * in], (k, in) order
        point_weight = pointwise.weight.detach().view(-1, channels)  # [halves * C, C]
        self.views = {}
        self.macs = {uf: block.macs_per_frame(uf) for uf in ufs}
        for uf in ufs:
            width = active_channels(channels, uf)
            self.views[uf] = (
                conv.bias.detach()[:width], conv_weight[:width].t(),
                pointwise.bias.detach().view(-1), point_weight[:, :width].t(),
            )

    def reset(self):
        self.inputs = FrameBuffer(self.in_channels, self.views[next(iter(self.views))][0].device)
        self.done = 0

    @staticmethod
    def ready(received, kernel, stride):
        return max(0, (received - kernel) // stride + 1)

    def run(self, first, last, uf):
        """Frames ``first .. last - 1`` at ``uf``: ``[last - first, C]``."""
        rows = self.inputs.get(self.stride * first, self.stride * (last - 1) + self.kernel)
        if last - first == 1:  # one window: the rows themselves
            windows = rows.reshape(1, -1)
        else:
            windows = rows.reshape(-1).unfold(0, self.kernel * self.in_channels,
                                              self.stride * self.in_channels)
        conv_bias, conv_weight, point_bias, point_weight = self.views[uf]
        hidden = torch.addmm(conv_bias, windows, conv_weight).relu_()
        out = torch.addmm(point_bias, hidden, point_weight)
        return _glu(out, -1) if self.glu else out.relu_()

    def combine(self, runs):
        return runs[0] if len(runs) == 1 else torch.cat(runs)

    def no_output(self):
        return self.inputs.buffer.new_zeros(0, self.channels)


class DecoderStream:
    """One stream through a :class:`DecoderBlock`: new frames of ``x + skip``, overlap-added
    with a cached tail.

    The skip frames wait in :attr:`skips`; the deeper level's output is added onto
    them as it arrives (:meth:`add_input`), so ``x + skip`` costs no extra buffer.
    Each run is computed at its UF's width from prefix views of the block's weights.

    Arguments
    ---------
    block : DecoderBlock
        The block.
    ufs : sequence of float
        The UFs the stream may run at.

    Example
    -------
    >>> from speechbrain_slim.nnet.demucs_blocks import DecoderBlock
    >>> block, x, skip = DecoderBlock(8, 1, 8, 4), torch.randn(9, 8), torch.randn(9, 8)
    >>> stream = block.streaming([0.5])
    >>> stream.reset()
    >>> stream.skips.append(skip)
    >>> stream.add_input(x)
    >>> out = torch.cat([stream.combine([stream.run(0, 9, 0.5)]), stream.close()])
    >>> torch.allclose(out, block(x[None], skip[None], 0.5)[0], atol=1e-6)
    True
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
        self.macs = {uf: block.macs_per_frame(uf) for uf in ufs}
        for uf in ufs:
            width = active_channels(block.channels, uf)
            # both GLU halves' prefixes side by side: one GEMM (a copy once per UF below 1)
            point = weight[:, :width].reshape(-1, weight.shape[-1]).t()  # [C, halves * width]
            self.views[uf] = (bias[:, :width].reshape(-1), point, tr_weight[:width])

    def reset(self):
        self.skips = FrameBuffer(self.channels, self.block_bias.device)
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
        hidden = _glu(hidden, -1) if self.glu else hidden.relu_()
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
