"""Windowed-sinc resampling by 2, as DEMUCS does it around its encoder/decoder.

Upsampling keeps the input samples and inserts the half-sample interpolation
between them; downsampling averages the even samples with the half-sample
interpolation of the odd ones. The interpolator is a sinc truncated to
``2 * zeros`` taps under a Hann window, so each interpolated sample looks
``zeros`` samples ahead (at the lower rate).

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["half_sample_kernel", "SincResampler"]


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
        kernel = half_sample_kernel(zeros)
        toeplitz = torch.zeros(self.BLOCK + 2 * zeros - 1, self.BLOCK)
        for column in range(self.BLOCK):
            toeplitz[column : column + 2 * zeros, column] = kernel
        self.register_buffer("toeplitz", toeplitz, persistent=False)

    @property
    def taps(self):
        """Filter length: the MACs spent per interpolated sample."""
        return 2 * self.zeros

    def _filter(self, x, shift):
        """``y[n] = sum_k kernel[k] * x[n + k - zeros + shift]`` for x [N, T], zero outside.

        Runs as one GEMM: the signal is cut into blocks of ``BLOCK`` outputs whose
        input windows (``BLOCK + taps - 1`` samples) multiply a banded Toeplitz
        matrix of the kernel. A 1-channel ``conv1d`` with a 112-tap kernel is
        ~100x slower on CPU.
        """
        count, time = x.shape
        blocks = -(-time // self.BLOCK)
        window = self.BLOCK + self.taps - 1
        left = self.zeros - shift
        padded = F.pad(x, (left, blocks * self.BLOCK + self.taps - 1 - time - left))
        windows = padded.unfold(-1, window, self.BLOCK)
        out = windows @ self.toeplitz.to(x.dtype)
        return out.reshape(count, blocks * self.BLOCK)[:, :time]

    def upsample(self, x):
        """Upsamples ``x`` [..., T] to [..., factor * T]."""
        for _ in range(self.steps):
            *batch, time = x.shape
            flat = x.reshape(-1, time)
            x = torch.stack([flat, self._filter(flat, 1)], dim=-1).view(*batch, 2 * time)
        return x

    def downsample(self, x):
        """Downsamples ``x`` [..., T] to [..., ceil(T / factor)] (odd lengths are zero-padded)."""
        for _ in range(self.steps):
            if x.shape[-1] % 2:
                x = F.pad(x, (0, 1))
            *batch, time = x.shape
            flat = x.reshape(-1, time)
            even, odd = flat[:, ::2], flat[:, 1::2]
            x = ((even + self._filter(odd, 0)) * 0.5).view(*batch, time // 2)
        return x
