"""Windowed-sinc resampling by 2, as DEMUCS does it around its encoder/decoder.

Upsampling keeps the input samples and inserts the half-sample interpolation
between them; downsampling averages the even samples with the half-sample
interpolation of the odd ones. :meth:`SincResampler.streaming` gives the same steps
for a stream (:class:`UpsampleStream`, :class:`DownsampleStream`), which keep the
filter's history and interpolate only new samples. The interpolator is a sinc truncated to
``2 * zeros`` taps under a Hann window, so each interpolated sample looks
``zeros`` samples ahead (at the lower rate).

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "half_sample_kernel",
    "SincResampler",
    "UpsampleStream",
    "DownsampleStream",
    "resampling_matrices",
    "banded",
]


def half_sample_kernel(zeros=56):
    """Returns the ``2 * zeros``-tap filter that interpolates halfway between samples.

    Arguments
    ---------
    zeros : int
        Number of sinc zero crossings kept on each side.

    Returns
    -------
    torch.Tensor
        The filter, shape ``[2 * zeros]``.

    Example
    -------
    >>> kernel = half_sample_kernel(56)
    >>> kernel.shape, round(float(kernel.sum()), 3)
    (torch.Size([112]), 1.0)
    """
    window = torch.hann_window(4 * zeros + 1, periodic=False, dtype=torch.float64)
    odd_window = window[1::2]
    offsets = torch.linspace(-zeros + 0.5, zeros - 0.5, 2 * zeros, dtype=torch.float64)
    phase = math.pi * offsets
    return (torch.sin(phase) / phase * odd_window).float()


class SincResampler(nn.Module):
    """Up- or down-samples a waveform by 2, 4, ... with repeated windowed-sinc halving steps.

    Arguments
    ---------
    factor : int
        Resampling factor: 1, 2 or 4 (any power of two works).
    zeros : int
        Half-length of the sinc filter in zero crossings.

    Example
    -------
    >>> resampler = SincResampler(4)
    >>> x = torch.randn(2, 100)
    >>> resampler.upsample(x).shape, resampler.downsample(resampler.upsample(x)).shape
    (torch.Size([2, 400]), torch.Size([2, 100]))
    """

    BLOCK = 64

    def __init__(self, factor=4, zeros=56):
        super().__init__()
        steps = int(math.log2(factor)) if factor >= 1 else -1
        if factor < 1 or 2**steps != factor:
            raise ValueError(f"resampling factor must be 1, 2, 4, ..., got {factor}")
        self.factor = factor
        self.steps = steps
        self.zeros = zeros
        self.block = self.BLOCK  # an instance attribute, as torch.jit.script wants
        kernel = half_sample_kernel(zeros)
        toeplitz = torch.zeros(self.BLOCK + 2 * zeros - 1, self.BLOCK)
        for column in range(self.BLOCK):
            toeplitz[column : column + 2 * zeros, column] = kernel
        self.register_buffer("toeplitz", toeplitz, persistent=False)

    def streaming(self):
        """Stateful steps for a stream: ``(upsampling steps, downsampling steps)``, one
        :class:`UpsampleStream` / :class:`DownsampleStream` per x2 step."""
        up, down = resampling_matrices(self)
        return ([UpsampleStream(up, self.zeros) for _ in range(self.steps)],
                [DownsampleStream(down, self.zeros) for _ in range(self.steps)])

    @property
    def taps(self):
        """Filter length: the MACs spent per interpolated sample."""
        return 2 * self.zeros

    def _filter(self, x, shift: int):
        """``y[n] = sum_k kernel[k] * x[n + k - zeros + shift]`` for x [N, T], zero outside.

        Runs as one GEMM: the signal is cut into blocks of ``BLOCK`` outputs whose
        input windows (``BLOCK + taps - 1`` samples) multiply a banded Toeplitz
        matrix of the kernel. A 1-channel ``conv1d`` with a 112-tap kernel is
        ~100x slower on CPU.
        """
        count, time = x.shape
        block, taps = self.block, 2 * self.zeros
        blocks = -(-time // block)
        left = self.zeros - shift
        padded = F.pad(x, (left, blocks * block + taps - 1 - time - left))
        windows = padded.unfold(-1, block + taps - 1, block)
        out = windows @ self.toeplitz.to(x.dtype)
        return out.reshape(count, blocks * block)[:, :time]

    def upsample(self, x):
        """Upsamples ``x`` [..., T] to [..., factor * T]."""
        for _ in range(self.steps):
            time = x.shape[-1]
            flat = x.reshape(-1, time)
            pairs = torch.stack([flat, self._filter(flat, 1)], dim=-1)
            x = pairs.view(list(x.shape[:-1]) + [2 * time])
        return x

    def downsample(self, x):
        """Downsamples ``x`` [..., T] to [..., ceil(T / factor)] (odd lengths are zero-padded)."""
        for _ in range(self.steps):
            if x.shape[-1] % 2:
                x = F.pad(x, (0, 1))
            time = x.shape[-1]
            flat = x.reshape(-1, time)
            even, odd = flat[:, ::2], flat[:, 1::2]
            x = ((even + self._filter(odd, 0)) * 0.5).view(list(x.shape[:-1]) + [time // 2])
        return x


def banded(signal, matrix, hop, count):
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


def resampling_matrices(resampler, block=64):
    """Banded matrices doing one x2 up- and one /2 downsampling step of ``resampler``.

    Up (``[block + taps - 1, 2 * block]``): columns ``2c, 2c + 1`` give input sample
    ``c`` (the window starts ``zeros - 1`` samples earlier) and its half-sample
    interpolation. Down (``[2 * (block + taps - 1), block]``): output ``c`` is
    ``(x[2c + 2 zeros] + sum_k kernel[k] * x[2 (c + k) + 1]) / 2``, the window starting
    ``2 zeros`` samples earlier. The kernel is the resampler's own.

    Example
    -------
    >>> up, down = resampling_matrices(SincResampler(2, zeros=4), block=8)
    >>> up.shape, down.shape
    (torch.Size([15, 16]), torch.Size([30, 8]))
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


class UpsampleStream:
    """One x2 step of :class:`SincResampler` on a stream (pair ``j`` needs x up to j + zeros).

    Arguments
    ---------
    matrix : torch.Tensor
        The up matrix of :func:`resampling_matrices`.
    zeros : int
        The resampler's zero crossings.

    Example
    -------
    >>> resampler, x = SincResampler(2), torch.randn(300)
    >>> (stream,), _ = resampler.streaming()
    >>> stream.reset()
    >>> out = torch.cat([stream.push(x[:100], final=False)[0], stream.push(x[100:], final=True)[0]])
    >>> torch.allclose(out, resampler.upsample(x[None])[0], atol=1e-6)
    True
    """

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
        out = banded(self.pending, self.matrix, self.hop, 2 * count)
        self.pending = self.pending[count:]
        self.done = total
        return out, count


class DownsampleStream:
    """One /2 step of :class:`SincResampler` on a stream (output i reads x below 2i + 2 zeros).

    Arguments
    ---------
    matrix : torch.Tensor
        The down matrix of :func:`resampling_matrices`.
    zeros : int
        The resampler's zero crossings.

    Example
    -------
    >>> resampler, x = SincResampler(2), torch.randn(300)
    >>> _, (stream,) = resampler.streaming()
    >>> stream.reset()
    >>> out = torch.cat([stream.push(x[:100], final=False)[0], stream.push(x[100:], final=True)[0]])
    >>> torch.allclose(out, resampler.downsample(x[None])[0], atol=1e-6)
    True
    """

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
        out = banded(self.pending, self.matrix, self.hop, count)
        self.pending = self.pending[2 * count :]
        self.done = total
        return out, count
