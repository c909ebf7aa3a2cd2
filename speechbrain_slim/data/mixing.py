"""Active-speech SNR measurement and mixing at a requested SNR.

The SNR of a mixture is measured on *active speech*: the 20 ms frames of the clean signal
whose energy is within ``threshold_db`` (default 40 dB) of its loudest frame. Speech power
and noise power are both averaged over those frames only, so pauses and leading/trailing
silence do not inflate or deflate the SNR.

Authors
 * speechbrain-slim contributors
"""

import numpy as np

SAMPLE_RATE = 16000


def active_speech_mask(clean, frame_len=320, threshold_db=40.0):
    """Per-sample boolean mask of active speech.

    Arguments
    ---------
    clean : array_like
        1-D clean speech.
    frame_len : int
        Frame length in samples (320 = 20 ms at 16 kHz).
    threshold_db : float
        Frames more than this many dB below the loudest frame are inactive.

    Returns
    -------
    numpy.ndarray
        bool, same length as ``clean``; all False for a silent signal.

    Example
    -------
    >>> x = np.concatenate([np.zeros(3200), np.ones(3200)])
    >>> m = active_speech_mask(x)
    >>> int(m.sum()), bool(m[-1]), bool(m[0])
    (3200, True, False)
    """
    x = np.asarray(clean, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {x.shape}")
    n = int(np.ceil(len(x) / frame_len))
    padded = np.zeros(n * frame_len)
    padded[: len(x)] = x
    energy = (padded.reshape(n, frame_len) ** 2).mean(axis=1)
    if n == 0 or energy.max() <= 0:
        return np.zeros(len(x), dtype=bool)
    active = energy > energy.max() * 10 ** (-threshold_db / 10)
    return np.repeat(active, frame_len)[: len(x)]


def measure_snr(clean, noise, mask=None):
    """SNR in dB of ``clean`` against ``noise`` over active-speech samples.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> s, n = rng.standard_normal(16000), rng.standard_normal(16000)
    >>> round(measure_snr(s, 0.1 * n), 1)
    20.0
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in shape")
    if mask is None:
        mask = active_speech_mask(clean)
    if not mask.any():
        raise ValueError("clean signal has no active speech; SNR is undefined")
    ps, pn = np.mean(clean[mask] ** 2), np.mean(noise[mask] ** 2)
    if pn <= 0:
        return float("inf")
    return float(10 * np.log10(ps / pn))


def mix_at_snr(clean, noise, snr_db, mask=None, speech_power=None):
    """Scale ``noise`` so the active-speech SNR equals ``snr_db``; return ``(noisy, noise)``.

    Arguments
    ---------
    clean, noise : array_like
        1-D signals of equal length.
    snr_db : float
        Requested SNR; ``float("inf")`` returns the clean signal and zero noise.
    mask : numpy.ndarray, optional
        Active-speech mask (computed from ``clean`` when omitted).
    speech_power : float, optional
        Reference speech power to use when ``clean`` has no active speech (e.g. a silent crop
        of a longer utterance); the noise power is then taken over the whole signal.

    Returns
    -------
    tuple of numpy.ndarray
        float32 noisy mixture and the scaled noise.

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> s, n = rng.standard_normal(8000), rng.standard_normal(8000)
    >>> noisy, scaled = mix_at_snr(s, n, 5.0)
    >>> round(measure_snr(s, scaled), 2)
    5.0
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape or clean.ndim != 1:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} must be equal 1-D shapes")
    if not np.isfinite(snr_db):
        if snr_db > 0:
            return clean.astype(np.float32), np.zeros_like(clean, dtype=np.float32)
        raise ValueError(f"snr_db must be finite or +inf, got {snr_db}")
    if mask is None:
        mask = active_speech_mask(clean)
    if mask.any():
        ps, pn = np.mean(clean[mask] ** 2), np.mean(noise[mask] ** 2)
    elif speech_power is not None:
        ps, pn = float(speech_power), np.mean(noise**2)
    else:
        raise ValueError("clean signal has no active speech; pass speech_power to mix anyway")
    if pn <= 0:
        raise ValueError("noise is silent where speech is active; cannot reach the SNR")
    scale = np.sqrt(ps / (pn * 10 ** (snr_db / 10)))
    scaled = noise * scale
    return (clean + scaled).astype(np.float32), scaled.astype(np.float32)


def clip_safe_gain(*signals, peak=0.99):
    """Largest gain <= 1 that keeps every signal's peak below ``peak``.

    Example
    -------
    >>> clip_safe_gain(np.array([0.5, -2.0]))
    0.495
    """
    m = max(float(np.abs(s).max()) if len(s) else 0.0 for s in signals)
    return 1.0 if m <= peak else peak / m
