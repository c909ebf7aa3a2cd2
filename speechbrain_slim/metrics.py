"""Objective speech quality metrics for evaluating enhancement.

* :func:`si_sdr`: scale-invariant signal-to-distortion ratio (dB), torch or numpy, batched.
* :func:`pesq_wb`: wide-band PESQ (ITU-T P.862.2) through the ``pesq`` package; NaN when
  PESQ cannot score a pair (silence, too short) instead of raising.
* :func:`stoi`: short-time objective intelligibility through ``pystoi``.
* :func:`dnsmos`: DNSMOS P.835 / P.808 through the optional ``speechmos`` package.

Summaries over many items (:func:`finite_mean`, :class:`QualityStats`) live in
:mod:`speechbrain_slim.quality_stats` and are re-exported here.

Argument order follows each metric's convention: ``si_sdr(estimate, reference)``
but ``pesq_wb(reference, degraded)`` and ``stoi(reference, degraded)``.

Authors
 * speechbrain-slim contributors 2025
"""

import math
import warnings

import numpy as np
import torch

from speechbrain_slim.quality_stats import QualityStats, finite_mean  # noqa: F401 (re-exported)

PESQ_SAMPLE_RATE = 16000
DNSMOS_INSTALL = "pip install speechmos onnxruntime librosa"


def si_sdr(estimate, reference, lengths=None, zero_mean=True, eps=1e-8, max_db=None):
    """Scale-invariant SDR in dB (Le Roux et al., 2019).

    ``s_t = (<s_hat, s> / ||s||^2) * s``, ``e = s_hat - s_t`` and
    ``SI-SDR = 10 * log10((||s_t||^2 + eps) / (||e||^2 + eps))``, after removing
    each signal's mean (``zero_mean``). Computed in float64.

    Arguments
    ---------
    estimate : torch.Tensor or numpy.ndarray
        Estimated signal, ``[T]`` or ``[B, T]`` (or any ``[..., T]``).
    reference : torch.Tensor or numpy.ndarray
        Reference signal, same shape.
    lengths : torch.Tensor or numpy.ndarray, optional
        Relative lengths ``[B]`` in [0, 1] (SpeechBrain convention); padding is ignored.
    zero_mean : bool
        Remove the mean (over valid samples) before scoring.
    eps : float
        Regulariser of both energies.
    max_db : float, optional
        Soft ceiling: the error energy gets ``10 ** (-max_db / 10) * ||s_t||^2`` added, so
        the value approaches ``max_db`` instead of infinity as the error vanishes (the
        thresholded SNR of Wisdom et al., 2020). A training loss uses it so that nearly clean
        items keep a bounded gradient.

    Returns
    -------
    torch.Tensor or numpy.ndarray or float
        SI-SDR per signal, shape ``[...]``: a tensor for torch inputs, an array
        for numpy inputs (a float for 1-D numpy inputs).

    Example
    -------
    >>> ref = torch.sin(torch.arange(8000) * 0.05)
    >>> bool(si_sdr(0.5 * ref, ref) > 100)
    True
    >>> noise = torch.randn(8000, generator=torch.Generator().manual_seed(0))
    >>> round(float(si_sdr(ref + noise, ref)))  # signal power 0.5, noise power 1
    -3
    >>> si_sdr(np.stack([ref.numpy(), noise.numpy()]), np.stack([ref.numpy(), ref.numpy()])).shape
    (2,)
    >>> round(float(si_sdr(ref, ref, max_db=30.0)))
    30
    """
    is_numpy = not torch.is_tensor(estimate)
    est = torch.as_tensor(np.asarray(estimate) if is_numpy else estimate).double()
    ref = torch.as_tensor(np.asarray(reference) if is_numpy else reference).to(est)
    if est.shape != ref.shape:
        raise ValueError(f"shape mismatch: {tuple(est.shape)} vs {tuple(ref.shape)}")
    mask = torch.ones_like(ref)
    if lengths is not None:
        lengths = torch.as_tensor(np.asarray(lengths) if is_numpy else lengths).to(est)
        n_valid = torch.round(lengths * ref.shape[-1])
        positions = torch.arange(ref.shape[-1], device=ref.device, dtype=est.dtype)
        mask = (positions < n_valid[..., None]).to(est).expand_as(ref)
    count = mask.sum(-1, keepdim=True).clamp(min=1.0)
    if zero_mean:
        est = est - (est * mask).sum(-1, keepdim=True) / count
        ref = ref - (ref * mask).sum(-1, keepdim=True) / count
    est, ref = est * mask, ref * mask
    scale = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * ref
    error = est - target
    target_energy = target.pow(2).sum(-1)
    error_energy = error.pow(2).sum(-1)
    if max_db is not None:
        error_energy = error_energy + 10 ** (-max_db / 10) * target_energy
    ratio = (target_energy + eps) / (error_energy + eps)
    value = 10 * torch.log10(ratio)
    if is_numpy:
        value = value.numpy()
        return float(value) if value.ndim == 0 else value
    return value.to(estimate.dtype if estimate.is_floating_point() else torch.float32)


def _ndim(signal):
    """Number of dimensions of a tensor, array or sequence."""
    return signal.dim() if torch.is_tensor(signal) else np.ndim(signal)


def _to_numpy_1d(signal):
    """Converts a 1-D tensor or array (or ``[1, T]``) to a float64 numpy vector."""
    if torch.is_tensor(signal):
        signal = signal.detach().cpu().numpy()
    signal = np.asarray(signal, dtype=np.float64).squeeze()
    if signal.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {signal.shape}")
    return signal


def _resample(signal, orig_rate, new_rate):
    """Polyphase resampling of a numpy vector (no-op if the rates match)."""
    if orig_rate == new_rate:
        return signal
    from scipy.signal import resample_poly

    common = math.gcd(int(orig_rate), int(new_rate))
    return resample_poly(signal, int(new_rate) // common, int(orig_rate) // common)


def _per_item(metric, reference, degraded, lengths, **kwargs):
    """Applies a 1-D metric to each row of ``[B, T]`` inputs (trimming to ``lengths``)."""
    ref = reference.detach().cpu().numpy() if torch.is_tensor(reference) else reference
    deg = degraded.detach().cpu().numpy() if torch.is_tensor(degraded) else degraded
    ref, deg = np.asarray(ref), np.asarray(deg)
    if lengths is None:
        lengths = np.ones(ref.shape[0])
    elif torch.is_tensor(lengths):
        lengths = lengths.detach().cpu().numpy()
    scores = []
    for row_ref, row_deg, rel_len in zip(ref, deg, lengths):
        n_valid = int(round(float(rel_len) * ref.shape[-1]))
        scores.append(metric(row_ref[:n_valid], row_deg[:n_valid], **kwargs))
    return np.asarray(scores, dtype=np.float64)


_MISSING_PESQ_WARNED = []


def pesq_wb(reference, degraded, sample_rate=PESQ_SAMPLE_RATE, lengths=None):
    """Wide-band PESQ (MOS-LQO, about 1.04 to 4.64); NaN when it cannot be computed.

    Signals at other rates are resampled to 16 kHz; both are trimmed to the
    shorter length. Returns NaN (with no exception) for silent or all-zero
    signals, signals too short for PESQ, or any other error the ``pesq``
    package reports.

    Arguments
    ---------
    reference : torch.Tensor or numpy.ndarray
        Clean reference, ``[T]``, or ``[B, T]`` for a batch.
    degraded : torch.Tensor or numpy.ndarray
        Signal to score (e.g. the enhanced one), same layout.
    sample_rate : int
        Sample rate of both signals.
    lengths : torch.Tensor or numpy.ndarray, optional
        Relative lengths ``[B]`` of a batch; each row is trimmed before scoring.

    Returns
    -------
    float or numpy.ndarray
        The score (a ``[B]`` array for batched inputs).

    Example
    -------
    >>> t = np.arange(16000) / 16000
    >>> ref = np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 4
    >>> round(pesq_wb(ref, ref), 2)
    4.64
    >>> math.isnan(pesq_wb(np.zeros(16000), ref))
    True
    """
    if _ndim(reference) == 2 or lengths is not None:
        return _per_item(pesq_wb, reference, degraded, lengths, sample_rate=sample_rate)
    try:
        from pesq import pesq
    except ImportError:  # e.g. a GPU box where it does not build: scored as failed, said once
        if not _MISSING_PESQ_WARNED:
            _MISSING_PESQ_WARNED.append(True)
            warnings.warn("the 'pesq' package is not installed: PESQ scores are NaN (counted as "
                          "failed in every summary); pip install pesq", stacklevel=2)
        return float("nan")

    ref = _resample(_to_numpy_1d(reference), sample_rate, PESQ_SAMPLE_RATE)
    deg = _resample(_to_numpy_1d(degraded), sample_rate, PESQ_SAMPLE_RATE)
    n_samples = min(len(ref), len(deg))
    ref, deg = ref[:n_samples], deg[:n_samples]
    if n_samples == 0 or not np.any(ref) or not np.any(deg):
        return float("nan")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(deg))):
        return float("nan")
    try:
        score = float(pesq(PESQ_SAMPLE_RATE, ref, deg, "wb"))
    except Exception:  # the pesq package raises several unrelated types
        return float("nan")
    return score if score > 0 else float("nan")


def stoi(reference, degraded, sample_rate=16000, extended=False, lengths=None):
    """Short-time objective intelligibility (0 to 1) via ``pystoi``.

    ``pystoi`` resamples to 10 kHz internally and drops silent frames; both
    signals are trimmed to the shorter length. Returns NaN if ``pystoi`` fails.

    Arguments
    ---------
    reference : torch.Tensor or numpy.ndarray
        Clean reference, ``[T]``, or ``[B, T]`` for a batch.
    degraded : torch.Tensor or numpy.ndarray
        Signal to score, same layout.
    sample_rate : int
        Sample rate of both signals.
    extended : bool
        Compute extended STOI (ESTOI) instead.
    lengths : torch.Tensor or numpy.ndarray, optional
        Relative lengths ``[B]`` of a batch.

    Returns
    -------
    float or numpy.ndarray
        The score (a ``[B]`` array for batched inputs).

    Example
    -------
    >>> noise = np.random.default_rng(0).standard_normal(16000)
    >>> round(stoi(noise, noise), 3)
    1.0
    """
    if _ndim(reference) == 2 or lengths is not None:
        return _per_item(
            stoi, reference, degraded, lengths, sample_rate=sample_rate, extended=extended
        )
    from pystoi import stoi as pystoi_stoi

    ref, deg = _to_numpy_1d(reference), _to_numpy_1d(degraded)
    n_samples = min(len(ref), len(deg))
    try:
        return float(pystoi_stoi(ref[:n_samples], deg[:n_samples], sample_rate, extended=extended))
    except Exception:  # too short, or no speech frames at all
        return float("nan")


def dnsmos_available():
    """Tells whether :func:`dnsmos` can run (``speechmos``, ``onnxruntime``, ``librosa``).

    Returns
    -------
    bool

    Example
    -------
    >>> isinstance(dnsmos_available(), bool)
    True
    """
    try:
        import librosa  # noqa: F401
        import onnxruntime  # noqa: F401
        from speechmos import dnsmos as _  # noqa: F401
    except ImportError:
        return False
    return True


def dnsmos(signal, sample_rate=16000):
    """DNSMOS scores of one signal, through the optional ``speechmos`` package.

    ``speechmos`` ships the Microsoft DNS-challenge ONNX models and scores
    16 kHz audio offline; install it with
    ``pip install speechmos onnxruntime librosa`` (it does not declare the
    last two). Other rates are resampled to 16 kHz; samples are clipped to
    [-1, 1] as the models require. Clips shorter than the models' 9 s window
    are repeated by ``speechmos``.

    Arguments
    ---------
    signal : torch.Tensor or numpy.ndarray
        Signal ``[T]``.
    sample_rate : int
        Its sample rate.

    Returns
    -------
    dict
        ``ovrl_mos``, ``sig_mos``, ``bak_mos`` (P.835) and ``p808_mos`` (P.808),
        all NaN for an empty or all-zero signal.

    Raises
    ------
    ImportError
        If ``speechmos``, ``onnxruntime`` or ``librosa`` is missing.

    Example
    -------
    >>> keys = ["bak_mos", "ovrl_mos", "p808_mos", "sig_mos"]
    >>> scores = dnsmos(np.zeros(16000)) if dnsmos_available() else dict.fromkeys(keys, math.nan)
    >>> sorted(scores), all(math.isnan(v) for v in scores.values())  # silence: no model run
    (['bak_mos', 'ovrl_mos', 'p808_mos', 'sig_mos'], True)
    """
    if not dnsmos_available():
        raise ImportError(f"dnsmos() needs speechmos, onnxruntime and librosa: {DNSMOS_INSTALL}")
    from speechmos import dnsmos as speechmos_dnsmos

    audio = _resample(_to_numpy_1d(signal), sample_rate, PESQ_SAMPLE_RATE)
    keys = ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")
    if audio.size == 0 or not np.any(audio):
        return dict.fromkeys(keys, float("nan"))
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    result = speechmos_dnsmos.run(audio, sr=PESQ_SAMPLE_RATE)
    return {key: float(result[key]) for key in keys}
