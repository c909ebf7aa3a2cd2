"""Planning a block's pass along a per-frame UF track (the routed, per-frame-width forward).

A routed SlimDemucs block computes each frame at the width of its own UF. How
it does that cheaply is planned here, once per block and track: long runs of one
UF are computed as slices of the block's input, frames of short runs are gathered
by UF and computed together (see :func:`track_plan`). The encoder and decoder
blocks of one level follow the same track at the same width, so the model hands
both a ``plans`` dict (:func:`block_plan`) and the second block reuses the first
one's plan.

The tunables (:data:`SLICE_WORK`, :data:`SPAN_CHUNKS`, :func:`chunk_frames`) are
read at call time, so tests can force every path (all slices, all gathers, both).

Authors
 * speechbrain-slim contributors 2026
"""

from typing import NamedTuple, Optional

import torch

__all__ = ["frame_runs", "TrackPlan", "track_plan", "block_plan", "chunk_frames", "min_run"]

# Frames x channels whose gather and scatter cost about one more call of a block's layers.
SLICE_WORK = 1 << 14
# Spans of this many chunks: in a gathered span, each UF's group is then about a chunk.
SPAN_CHUNKS = 2


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


def block_plan(track, block_width, plans=None):
    """The plan of a block of ``block_width`` along ``track`` (``[batch, frames]`` UFs).

    Arguments
    ---------
    track : torch.Tensor
        ``[batch, frames]`` UF of every frame of the block's level.
    block_width : int
        The block's full width (sets how many frames are computed together).
    plans : dict, optional
        Plans made so far in this forward pass, keyed by the track's identity: the
        encoder and decoder blocks of a level get the same track tensor and have the
        same width, so the second block reuses the first one's plan. The caller owns
        the dict and drops it after the pass (the tracks must stay alive and unchanged
        meanwhile).

    Returns
    -------
    TrackPlan

    Example
    -------
    >>> track, plans = torch.tensor([[0.5] * 5 + [1.0] * 5]), {}
    >>> block_plan(track, 32, plans) is block_plan(track, 32, plans)
    True
    """
    chunk = chunk_frames(block_width)
    key = (id(track), chunk, min_run(block_width), SPAN_CHUNKS)
    if plans is not None and key in plans:
        return plans[key]
    plan = track_plan(track, chunk, key[2], SPAN_CHUNKS * chunk)
    if plans is not None:
        plans[key] = plan
    return plan


def chunk_frames(block_width):
    """Most frames a block of ``block_width`` computes together (all of them with autograd).

    Example
    -------
    >>> with torch.no_grad():
    ...     chunk_frames(32)
    4096
    """
    if torch.is_grad_enabled():
        return 1 << 62
    return max(64, (1 << 17) // block_width)


def min_run(block_width):
    """Frames that pay for one more call (``None`` with autograd: gather, fewer graph nodes).

    Example
    -------
    >>> with torch.no_grad():
    ...     min_run(32)
    512
    """
    if torch.is_grad_enabled():
        return None
    return max(1, SLICE_WORK // block_width)
