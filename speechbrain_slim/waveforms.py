"""Checks shared by every entry point that takes waveforms, and the warning about odd audio.

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch

__all__ = ["AudioWarning", "as_batch_of_waveforms"]


class AudioWarning(UserWarning):
    """An input was enhanced, but not as it came: silent, truncated or damaged audio.

    Example
    -------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("silent input", AudioWarning)
    >>> caught[0].category.__name__
    'AudioWarning'
    """


def as_batch_of_waveforms(noisy):
    """Checks the input and returns it as a float ``[batch, time]`` tensor.

    Arguments
    ---------
    noisy : torch.Tensor
        ``[batch, time]`` or ``[batch, 1, time]`` float samples, all finite.

    Returns
    -------
    torch.Tensor
        ``[batch, time]`` (a view of ``noisy``).

    Example
    -------
    >>> as_batch_of_waveforms(torch.zeros(2, 1, 5)).shape
    torch.Size([2, 5])
    >>> as_batch_of_waveforms(torch.zeros(5))
    Traceback (most recent call last):
    ...
    ValueError: expected a waveform batch of shape [batch, time] or [batch, 1, time], got shape (5,)
    """
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
    # one cheap reduction; the exact check only when the sum is not finite
    if not math.isfinite(float(noisy.sum())) and not torch.isfinite(noisy).all():
        raise ValueError("the waveform contains NaN or Inf samples")
    return noisy
