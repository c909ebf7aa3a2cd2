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
from typing import NamedTuple, Optional

import torch
from torch import nn

from speechbrain_slim.nnet.recurrent import GroupedGRU, LSTMBottleneck
from speechbrain_slim.nnet.resample import SincResampler
from speechbrain_slim.nnet.slimmable import SlimConv1d, SlimConvTranspose1d, SlimPointwise

__all__ = ["EncoderBlock", "DecoderBlock", "SlimDemucs", "track_plan"]

DEFAULT_UFS = (0.125, 0.25, 0.5, 1.0)


def frame_runs(frames, chunk):
    """Splits a block's frames into ``(start, end)`` runs of at most ``chunk`` frames.

    Without autograd, runs of a few thousand frames keep every temporary in cache,
    which makes a slimmed block several times faster than one pass over the whole
    signal; with autograd one run avoids needless graph nodes.

    Example
    -------
    >>> frame_runs(10, chunk=4)
    [(0, 4), (4, 8), (8, 10)]
    """
    return [(start, min(start + chunk, frames)) for start in range(0, frames, chunk)]


class TrackPlan(NamedTuple):
    """How a block computes the frames of a UF track (see :func:`track_plan`).

    Attributes
    ----------
    runs : list of (int, int, int, float)
        ``(item, start, end, uf)``: frames ``start:end`` of batch item ``item``, all at
        ``uf``, computed as one slice of the block's input.
    rows : torch.Tensor
        Flattened indices (``item * frames + frame``) of the gathered frames, span by
        span, grouped by UF within a span, ascending within a UF.
    spans : list of (int, int, int, list)
        ``(begin, end, first, groups)``: flattened frames ``begin:end`` are gathered,
        as ``rows[first:first + end - begin]``; ``groups`` holds ``(a, b, uf)``:
        ``rows[a:b]`` are computed together at ``uf``.
    local : torch.Tensor or None
        ``[batch * frames]``: the position of each gathered frame within its span's
        rows, so ``results.index_select(0, local[begin:end])`` puts a span's results
        (in ``rows`` order) back in frame order.
    """

    runs: list
    rows: Optional[torch.Tensor]
    spans: list
    local: Optional[torch.Tensor]


def track_plan(track, chunk, min_run=None, span=None):
    """Plans a block's pass along a ``[batch, frames]`` UF track.

    The flattened frames are cut into spans of ``span`` frames. A span whose runs
    are long is computed run by run, each run as a slice of the block's input (no
    gather, no scatter), at most ``chunk`` frames at a time. In a span whose runs
    are short, the frames of each UF are gathered and computed together (at most
    ``chunk`` at a time), so a track that switches often costs a few GEMMs per UF
    rather than a few per run; temporaries stay as small as a static pass's.
    Either way, frames routed to a small UF never touch the wider channels. The
    track is piecewise constant, so planning works run by run: only the final
    gather indices have one entry per frame.

    Arguments
    ---------
    track : torch.Tensor
        ``[batch, frames]`` UF of every frame.
    chunk : int
        Largest number of frames computed together.
    min_run : int, optional
        A span is computed run by run when its runs outnumber its UFs by at most
        ``frames_in_span / min_run`` (``None``: every span is gathered).
    span : int, optional
        Frames per span (default ``chunk``).

    Returns
    -------
    TrackPlan

    Example
    -------
    >>> track = torch.tensor([[0.5, 0.5, 0.5, 1.0, 1.0, 0.5], [1.0, 0.5, 1.0, 0.5, 1.0, 1.0]])
    >>> plan = track_plan(track, chunk=4, min_run=3, span=6)
    >>> plan.runs
    [(0, 0, 3, 0.5), (0, 3, 5, 1.0), (0, 5, 6, 0.5)]
    >>> plan.spans, plan.rows.tolist()
    ([(6, 12, 0, [(0, 2, 0.5), (2, 6, 1.0)])], [7, 9, 6, 8, 10, 11])
    >>> plan.local[6:].tolist()
    [2, 0, 3, 1, 4, 5]
    """
    batch, frames = track.shape
    total = batch * frames
    device = track.device
    starts = torch.ones(batch, frames, dtype=torch.bool, device=device)
    starts[:, 1:] = track[:, 1:] != track[:, :-1]
    starts = starts.view(-1).nonzero().flatten()
    values = sorted(set(track.reshape(-1)[starts].tolist()))
    key = torch.searchsorted(track.new_tensor(values), track.reshape(-1)[starts])
    # pieces: runs cut at span boundaries (runs never cross batch items)
    span = min(span or chunk, total)
    cuts = torch.arange(0, total, span, device=device)
    piece_starts = torch.unique(torch.cat([starts, cuts]))
    lengths = torch.diff(piece_starts, append=piece_starts.new_tensor([total]))
    piece_key = key[torch.searchsorted(starts, piece_starts, right=True) - 1]
    piece_span = piece_starts // span
    bucket = piece_span * len(values) + piece_key
    frames_in = torch.full_like(cuts, span)
    frames_in[-1] = total - cuts[-1]
    if min_run is None:
        sliced = torch.zeros_like(cuts, dtype=torch.bool)
    else:
        pieces_in = torch.bincount(piece_span, minlength=len(cuts))
        present = torch.zeros(len(cuts) * len(values), dtype=torch.long, device=device)
        ufs_in = present.index_fill_(0, bucket, 1).view(len(cuts), -1).sum(1)
        sliced = (pieces_in - ufs_in) * min_run <= frames_in
    runs = []
    by_run = sliced[piece_span]
    for first, length, index in zip(
        piece_starts[by_run].tolist(), lengths[by_run].tolist(), piece_key[by_run].tolist()
    ):
        item, first = divmod(first, frames)
        runs += [(item, a, b, values[index]) for a, b in _even_pieces(first, length, chunk)]
    if bool(sliced.all()):
        return TrackPlan(runs, None, [], None)
    gathered = ~by_run
    order = torch.argsort(bucket[gathered], stable=True)
    sorted_starts, sorted_lengths = piece_starts[gathered][order], lengths[gathered][order]
    offsets = torch.cumsum(sorted_lengths, 0) - sorted_lengths
    rows = torch.repeat_interleave(sorted_starts - offsets, sorted_lengths)
    rows += torch.arange(len(rows), device=device)
    # local position of frame r of a gathered piece: offset - span's first offset + r - start
    span_first = torch.cumsum(frames_in * ~sliced, 0) - frames_in * ~sliced
    base = piece_starts.clone()
    base_gathered = torch.empty_like(offsets)
    base_gathered[order] = offsets
    base[gathered] = base_gathered - span_first[piece_span[gathered]]
    local = torch.repeat_interleave(base - piece_starts, lengths)
    local += torch.arange(total, device=device)
    counts = torch.zeros(len(cuts) * len(values), dtype=lengths.dtype, device=device)
    counts = counts.index_add_(0, bucket, lengths).view(len(cuts), -1).tolist()
    spans = []
    for index, (span_counts, is_sliced, first) in enumerate(
        zip(counts, sliced.tolist(), span_first.tolist())
    ):
        if is_sliced:
            continue
        groups, last = [], first
        for uf, count in zip(values, span_counts):
            groups += [(a, b, uf) for a, b in _even_pieces(last, count, chunk)]
            last += count
        spans.append((index * span, index * span + last - first, first, groups))
    return TrackPlan(runs, rows, spans, local)


def _even_pieces(first, count, chunk):
    """Cuts ``first:first + count`` into even ``(start, end)`` pieces of at most ``chunk``."""
    if not count:
        return []
    pieces = -(-count // chunk)
    bounds = [first + piece * count // pieces for piece in range(pieces + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _block_plan(track, block_width):
    """The plan of a block of ``block_width`` along ``track``.

    The encoder and decoder blocks of a level get one track tensor and have the same
    width: SlimDemucs marks the per-level tracks it makes (fresh tensors, never
    changed), and the first block's plan is kept on the tensor for the second.
    """
    chunk = _chunk_frames(block_width)
    key = (chunk, _min_run(block_width), _SPAN_CHUNKS)
    cached = getattr(track, _PLAN_ATTRIBUTE, False)
    if cached and cached[0] == key:
        return cached[1]
    plan = track_plan(track, chunk, key[1], _SPAN_CHUNKS * chunk)
    if cached is not False:
        setattr(track, _PLAN_ATTRIBUTE, (key, plan))
    return plan


def _chunk_frames(block_width):
    if torch.is_grad_enabled():
        return 1 << 62
    return max(64, (1 << 17) // block_width)


def _min_run(block_width):
    """Frames that pay for one more call (``None`` with autograd: gather, fewer graph nodes)."""
    if torch.is_grad_enabled():
        return None
    return max(1, _SLICE_WORK // block_width)


_PLAN_ATTRIBUTE = "_slim_demucs_plan"
# Frames x channels whose gather and scatter cost about one more call of a block's layers.
_SLICE_WORK = 1 << 14
# Spans of this many chunks: in a gathered span, each UF's group is then about a chunk.
_SPAN_CHUNKS = 2


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

    def forward(self, x, uf=1.0, gate=None):
        """Encodes ``x`` [batch, time, in] into [batch, frames, channels].

        ``uf`` is a UF or a ``[batch, frames]`` track of UFs (``gate`` its gates).
        """
        if isinstance(uf, torch.Tensor):
            return self._encode_track(x, uf, gate)
        frames = self.conv.frames(x.shape[1])
        runs = frame_runs(frames, _chunk_frames(self.channels))
        if len(runs) == 1:
            return self._encode(x, uf)
        stride, kernel = self.conv.stride, self.conv.kernel_size
        out = x.new_empty(x.shape[0], frames, self.channels)
        for start, end in runs:
            out[:, start:end] = self._encode(x[:, start * stride : (end - 1) * stride + kernel], uf)
        return out

    def _encode_track(self, x, track, gate):
        """Per-frame widths: long runs are computed as slices, other frames gathered by UF."""
        batch, frames = track.shape
        grad = torch.is_grad_enabled()
        plan = _block_plan(track, self.channels)
        stride, kernel = self.conv.stride, self.conv.kernel_size
        out = x.new_empty(batch, frames, self.channels)
        for item, start, end, uf in plan.runs:
            hidden = self.conv(x[item : item + 1, start * stride : (end - 1) * stride + kernel], uf)
            hidden = torch.relu(hidden) if grad else hidden.relu_()
            if gate is not None:
                hidden = hidden * gate[item, start:end].view(1, -1, 1)
            out[item, start:end] = self.pointwise(hidden, uf)[0]
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

    def forward(self, x, skip, uf=1.0, gate=None):
        """Decodes ``x + skip`` ([batch, frames, channels]; ``skip`` may be longer).

        ``uf`` is a UF or a ``[batch, frames]`` track of UFs (``gate`` its gates).
        """
        batch, frames = x.shape[:2]
        conv = self.conv_tr
        out = conv.output_buffer(batch, frames)
        if isinstance(uf, torch.Tensor):
            self._decode_track(x, skip, uf, gate, out)
        else:
            for start, end in frame_runs(frames, _chunk_frames(self.channels)):
                hidden = self.pointwise(x[:, start:end] + skip[:, start:end], uf)
                taps = conv.frame_taps(hidden, uf)
                for tap in range(conv.taps):
                    out[:, start + tap : end + tap] += taps[:, :, tap]
        out = conv.finish(out, frames)
        if not self.relu:
            return out
        return out.clamp_(min=0) if not torch.is_grad_enabled() else torch.relu(out)


    def _decode_track(self, x, skip, track, gate, out):
        """Per-frame widths: long runs are computed as slices, other frames gathered by UF.

        The taps of a span's gathered frames are put back in frame order (a gather,
        much cheaper than scattered adds) and overlap-added like a static pass's.
        """
        batch, frames, channels = x.shape
        conv = self.conv_tr
        plan = _block_plan(track, self.channels)
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
        from speechbrain_slim.complexity import count_macs

        mix = _as_batch_of_waveforms(noisy)
        batch, length = mix.shape
        levels = self.level_frames(length)
        if isinstance(uf, torch.Tensor):
            track = self.check_track(uf, batch, levels[-1])
            per_level = [self.track_at_level(track, i, n) for i, n in enumerate(levels)]
            for level_track in per_level:  # fresh tensors: blocks may keep their plans on them
                setattr(level_track, _PLAN_ATTRIBUTE, None)
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
        for block, level_uf, gate in zip(self.encoder, per_level, gates):
            x = block(x, level_uf, gate)
            skips.append(x)
        x = self.bottleneck(x)
        for block, level_uf, gate in zip(self.decoder, per_level[::-1], gates[::-1]):
            x = block(x, skips.pop(), level_uf, gate)

        x = self.resampler.downsample(x.squeeze(-1))[:, :length]
        if std is not None:
            x = x * std
        if self.residual:
            x = x + raw
        macs = torch.tensor([count_macs(self, length, item) for item in track])
        info = {
            "track": track,
            "mean_uf": track.mean(dim=1),
            "macs": macs,
            "macs_per_sample": macs / length,
        }
        return x, info

    def export_static(self, uf):
        """A plain torch model (``StaticDemucs``) computing ``self(noisy, uf)[0]`` with only
        ``uf``'s weights; see :func:`speechbrain_slim.export.export_static`."""
        from speechbrain_slim.export import export_static

        return export_static(self, uf)

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
