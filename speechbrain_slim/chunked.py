"""Chunked enhancement of long signals: :class:`ChunkedRunner` and :class:`StreamResampler`.

:class:`~speechbrain_slim.inference.EnhanceSlim` enhances signals of any length through
these two: :class:`StreamResampler` converts a stream between the input's and the model's
sample rate block by block, :class:`ChunkedRunner` enhances the model-rate stream window by
window, so that memory stays bounded.

Chunking and its exactness. The model rate signal is cut into hops of
``chunk_seconds``; each hop is enhanced from a window that adds
``context_seconds`` of left context and, on the right, a crossfade region plus
the model's :attr:`~SlimDemucs.lookahead` (rounded up, + 2 bottleneck frames).
Windows start on the bottleneck-frame grid (multiples of ``total_stride``), so
every convolution, the running-normalisation blocks and the router's frames
line up with the whole-signal computation. The input normalisation is made
exact: for ``normalize="running"`` the running power is carried from window
to window; for ``normalize=True`` (global) the std of the whole signal is
computed first (a pre-pass for files). What is *not* exact is the state of
the recurrent layers (bottleneck GRU/LSTM, router GRU): each window starts them
from zero ``context_seconds`` early, and their influence fades over that
context; consecutive hops are crossfaded over ``crossfade_seconds``. The
difference to a whole-signal pass is measured in ``tests/test_inference.py``.

Authors
 * speechbrain-slim contributors 2026
"""

import contextlib
import math

import torch
import torchaudio

from speechbrain_slim.lobes.slim_demucs import running_mean
from speechbrain_slim.routing import route

__all__ = ["StreamResampler", "ChunkedRunner"]


class StreamResampler:
    """Resamples a ``[batch, time]`` stream block by block, matching a whole-signal resample.

    Blocks are resampled with enough margin on both sides, on the grid where input
    and output samples coincide, so the output equals
    ``torchaudio.functional.resample`` of the whole signal (to float rounding).

    Arguments
    ---------
    orig_freq : int
        Input sample rate.
    new_freq : int
        Output sample rate.

    Example
    -------
    >>> x = torch.randn(2, 9000)
    >>> stream = StreamResampler(22050, 16000)
    >>> parts = [stream.push(x[:, :4000]), stream.push(x[:, 4000:], final=True)]
    >>> whole = torchaudio.functional.resample(x, 22050, 16000)
    >>> bool(torch.allclose(torch.cat(parts, -1), whole, atol=1e-5))
    True
    """

    def __init__(self, orig_freq, new_freq):
        self.orig, self.new = int(orig_freq), int(new_freq)
        gcd = math.gcd(self.orig, self.new)
        self.p_in, self.p_out = self.orig // gcd, self.new // gcd
        width = math.ceil(6 * self.p_in / (min(self.p_in, self.p_out) * 0.99)) + 2
        self.margin = math.ceil(width / self.p_in) * self.p_in + self.p_in
        self.buffer = None
        self.start = 0  # input index of buffer[0], a multiple of p_in
        self.emitted = 0  # next output index to emit
        self.total = 0

    def push(self, x, final=False):
        """Adds ``x`` [batch, n]; returns the output samples that are now final."""
        if self.orig == self.new:
            return x
        self.buffer = x if self.buffer is None else torch.cat([self.buffer, x], dim=-1)
        self.total += x.shape[-1]
        if final:
            safe_end = math.ceil(self.total * self.new / self.orig)
        else:
            safe_end = (self.total - self.margin) * self.new // self.orig
        if safe_end <= self.emitted or self.buffer.shape[-1] == 0:
            return self.buffer.new_zeros(self.buffer.shape[0], 0)
        out = torchaudio.functional.resample(self.buffer, self.orig, self.new)
        first = self.start // self.p_in * self.p_out
        out = out[:, self.emitted - first : safe_end - first]
        self.emitted = safe_end
        keep = (self.emitted * self.orig // self.new - self.margin) // self.p_in * self.p_in
        if keep > self.start:
            self.buffer = self.buffer[:, keep - self.start :]
            self.start = keep
        return out


class ChunkedRunner:
    """Enhances a ``[batch, time]`` model-rate stream window by window (see the module doc).

    Arguments
    ---------
    model : SlimDemucs
        The backbone.
    router : Router or None
        The router.
    uf : str or float
        UF spec (``"auto"``, a UF, ``"max=<uf>"``).
    shift : float
        Router operating-point shift.
    chunk : int
        Hop in samples (rounded up to ``model.total_stride``).
    context : int
        Left context in samples (rounded up likewise).
    crossfade : int
        Crossfade in samples (rounded up likewise, at most one hop).
    global_std : torch.Tensor, optional
        ``[batch, 1]`` whole-signal std, required for ``normalize=True`` models.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    >>> runner = ChunkedRunner(model, None, 1.0, chunk=800, context=400, crossfade=64)
    >>> with torch.no_grad():
    ...     out = torch.cat(runner.push(torch.randn(1, 3000), final=True), -1)
    >>> out.shape, runner.routing()["track"][0].shape
    (torch.Size([1, 3000]), torch.Size([749]))
    """

    def __init__(self, model, router, uf, shift=0.0, chunk=480_000, context=64_000,
                 crossfade=800, global_std=None):
        self.model, self.router, self.uf, self.shift = model, router, uf, shift
        stride = model.total_stride
        self.stride = stride
        self.hop = max(1, math.ceil(chunk / stride)) * stride
        self.left = math.ceil(context / stride) * stride
        self.fade = min(self.hop, math.ceil(crossfade / stride) * stride)
        self.right = (math.ceil(model.lookahead / stride) + 2) * stride
        self.mode = model.normalize_mode
        if self.mode == "global" and global_std is None:
            raise ValueError("a normalize=True model needs the whole signal's std (global_std)")
        self.global_std = global_std
        self.buffer, self.buffer_start, self.total, self.index = None, 0, 0, 0
        self.tail, self.power_state = None, None
        self.tracks, self.macs = [], None

    def _scale(self, window, start):
        """Normalisation std of ``window`` (starting at ``start``), carrying the running power."""
        if self.mode == "global":
            return self.global_std
        if self.mode != "running":
            return None
        batch, length = window.shape
        blocks = -(-length // self.stride)
        padded = torch.nn.functional.pad(window, (0, blocks * self.stride - length))
        power = padded.view(batch, blocks, self.stride).pow(2).mean(-1)
        decay = math.exp(-self.stride / (self.model.norm_time_constant * self.model.sample_rate))
        if self.power_state is None or start == 0:
            smooth = running_mean(power, decay)
        else:
            smooth = running_mean(torch.cat([self.power_state, power], dim=-1), decay)[:, 1:]
        next_start = max(0, (self.index + 1) * self.hop - self.left)
        block = (next_start - start) // self.stride - 1
        if next_start > 0 and 0 <= block < blocks:
            self.power_state = smooth[:, block : block + 1]
        std = smooth.clamp(min=0).sqrt().repeat_interleave(self.stride, dim=-1)
        return std[:, :length]

    def _enhance(self, window, start):
        std = self._scale(window, start)
        x = window if std is None else window / (self.model.floor + std)
        with _bare_network(self.model):
            enhanced, info = route(self.model, self.router, x, self.uf, self.shift)
        if std is not None:
            enhanced = enhanced * std
        if getattr(self.model, "residual", False):
            enhanced = enhanced + window
        return enhanced, info

    def push(self, x, final=False):
        """Adds ``x`` [batch, n]; returns a list of enhanced blocks now final."""
        self.buffer = x if self.buffer is None else torch.cat([self.buffer, x], dim=-1)
        self.total += x.shape[-1]
        outputs = []
        while True:
            start = self.index * self.hop
            end = start + self.hop
            needed = end + self.fade + self.right
            if start >= self.total or (self.total < needed and not final):
                break
            window_start = max(0, start - self.left)
            window_end = min(self.total, needed)
            offset = self.buffer_start
            window = self.buffer[:, window_start - offset : window_end - offset]
            enhanced, info = self._enhance(window, window_start)
            keep_end = min(end, self.total)
            block = enhanced[:, start - window_start : keep_end - window_start].clone()
            if self.tail is not None:
                n = min(self.tail.shape[-1], block.shape[-1])
                ramp = (torch.arange(n, device=block.device) + 0.5) / self.tail.shape[-1]
                block[:, :n] = torch.lerp(self.tail[:, :n], block[:, :n], ramp)
            self.tail = None
            if end < self.total:
                self.tail = enhanced[:, end - window_start : min(end + self.fade, self.total)
                                     - window_start].clone()
            first = (start - window_start) // self.stride
            last = None if keep_end == self.total else (keep_end - window_start) // self.stride
            self.tracks.append(info["track"][:, first:last])
            self.macs = info["macs"] if self.macs is None else self.macs + info["macs"]
            outputs.append(block)
            self.index += 1
            drop = max(0, self.index * self.hop - self.left) - self.buffer_start
            if drop > 0:
                self.buffer = self.buffer[:, drop:]
                self.buffer_start += drop
        return outputs

    def routing(self):
        """Routing of everything pushed so far: ``track`` (list), ``mean_uf``, ``macs`` ..."""
        track = torch.cat(self.tracks, dim=-1)
        return {
            "track": list(track),
            "mean_uf": track.mean(dim=-1),
            "macs": self.macs.double(),
            "macs_per_sample": self.macs / max(self.total, 1),
        }


@contextlib.contextmanager
def _bare_network(model):
    """Runs the model on pre-normalised input without its residual connection (the runner
    applies both, since the residual adds the *raw* input after the de-normalisation)."""
    mode, residual = model.normalize_mode, getattr(model, "residual", False)
    model.normalize_mode, model.residual = None, False
    try:
        yield
    finally:
        model.normalize_mode, model.residual = mode, residual
