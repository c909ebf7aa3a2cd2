"""Training objectives: the DEMUCS task loss (L1 + multi-resolution STFT, optional STOI, SI-SDR).

Task loss (as described for DEMUCS, Defossez et al. 2020)::

    L_task = l1_factor * L1(x_hat, x) + sc_factor * SC + mag_factor * LogMag

where ``SC`` and ``LogMag`` are averaged over three STFT resolutions
(FFT 512/1024/2048, hop 50/120/240, Hann window 240/600/1200). With
``X = |STFT(x)|`` and ``Y = |STFT(x_hat)|`` (clamped from below before any log)::

    SC     = ||X - Y||_F / (||X||_F + eps)          (over the whole batch)
    LogMag = mean |log X - log Y|                   (over valid frames and bins)

The router's auxiliary losses (``RoutingLoss`` and its parts) are in
:mod:`speechbrain_slim.routing_losses`; they are importable from here too, as the recipes'
``hparams/*.yaml`` name them (``speechbrain_slim.losses.RoutingLoss``).

Authors
 * speechbrain-slim contributors 2025
"""

import torch
import torch.nn.functional as F

from speechbrain_slim.metrics import si_sdr
from speechbrain_slim.routing_losses import (  # re-exported: the hparams name them from here
    DEFAULT_UFS,
    RoutingLoss,
    balance_loss,
    efficiency_loss,
    expected_uf,
    uf_usage,
)
from speechbrain_slim.stoi_loss import STOILoss

__all__ = ["EnhancementLoss", "STFTLoss", "length_mask", "DEFAULT_UFS", "RoutingLoss",
           "balance_loss", "efficiency_loss", "expected_uf", "uf_usage"]


def length_mask(lengths, max_len, device=None):
    """Returns a ``[B, max_len]`` float mask from SpeechBrain relative lengths.

    Item ``b`` keeps its first ``round(lengths[b] * max_len)`` positions.

    Arguments
    ---------
    lengths : torch.Tensor
        Relative lengths in [0, 1], shape ``[B]``.
    max_len : int
        Number of positions (samples or frames) of the padded batch.
    device : torch.device, optional
        Device of the mask (default: that of ``lengths``).

    Returns
    -------
    torch.Tensor
        Float mask, 1 on valid positions, 0 on padding.

    Example
    -------
    >>> length_mask(torch.tensor([1.0, 0.5]), 4)
    tensor([[1., 1., 1., 1.],
            [1., 1., 0., 0.]])
    """
    lengths = torch.as_tensor(lengths, device=device)
    n_valid = torch.round(lengths.float() * max_len).long()
    positions = torch.arange(max_len, device=lengths.device)
    return (positions[None, :] < n_valid[:, None]).float()


def _as_batch(wav):
    """Brings ``[T]``, ``[B, T]`` or ``[B, 1, T]`` waveforms to ``[B, T]``."""
    if wav.dim() == 1:
        return wav.unsqueeze(0)
    if wav.dim() == 3 and wav.shape[1] == 1:
        return wav.squeeze(1)
    if wav.dim() != 2:
        raise ValueError(f"expected [T], [B, T] or [B, 1, T] waveforms, got {tuple(wav.shape)}")
    return wav


class STFTLoss(torch.nn.Module):
    """Spectral convergence and log-magnitude L1 at one STFT resolution.

    ``SC = ||X - Y||_F / (||X||_F + eps)`` and ``LogMag = mean |log X - log Y|``
    with ``X``, ``Y`` the clean and enhanced magnitudes, clamped to
    ``sqrt(mag_floor)`` so that the log and its gradient stay finite. Frames
    lying entirely in the padding (given by ``sample_mask``) are left out of
    both terms. The STFT pads with zeros (``center=True``), which works for
    any signal length and matches the zeroed padded tails.

    Arguments
    ---------
    n_fft : int
        FFT size.
    hop_length : int
        Hop between frames, in samples.
    win_length : int
        Length of the Hann window (centred in the FFT frame).
    mag_floor : float
        Lower clamp of the power spectrum before the square root and log.
    eps : float
        Added to the SC denominator.

    Example
    -------
    >>> loss = STFTLoss(512, 50, 240)
    >>> clean = torch.randn(2, 4000)
    >>> sc, mag = loss(clean, clean)
    >>> float(sc), float(mag)
    (0.0, 0.0)
    """

    def __init__(self, n_fft, hop_length, win_length, mag_floor=1e-7, eps=1e-7):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.mag_floor = mag_floor
        self.eps = eps
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    def magnitude(self, wav):
        """Returns clamped STFT magnitudes ``[B, frames, bins]`` of ``[B, T]`` waveforms."""
        spec = torch.stft(
            wav,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(device=wav.device, dtype=wav.dtype),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.pow(2) + spec.imag.pow(2)
        return power.clamp(min=self.mag_floor).sqrt().transpose(1, 2)

    def frame_mask(self, sample_mask, num_frames):
        """Marks frames whose window touches at least one valid sample.

        With ``center=True``, frame ``t`` spans samples
        ``[t * hop - n_fft / 2, t * hop + n_fft / 2)``.
        """
        n_valid = sample_mask.sum(dim=1)
        starts = torch.arange(num_frames, device=sample_mask.device) * self.hop_length
        starts = starts - self.n_fft // 2
        return (starts[None, :] < n_valid[:, None]).to(sample_mask.dtype)

    def forward(self, enhanced, clean, sample_mask=None):
        """Computes (SC, LogMag) for ``[B, T]`` waveforms.

        Arguments
        ---------
        enhanced : torch.Tensor
            Model output, ``[B, T]``.
        clean : torch.Tensor
            Target, ``[B, T]``.
        sample_mask : torch.Tensor, optional
            ``[B, T]`` mask of valid samples; the inputs must already be
            zero on the padding.

        Returns
        -------
        sc : torch.Tensor
            Spectral convergence (scalar).
        log_mag : torch.Tensor
            Mean absolute log-magnitude difference (scalar).
        """
        est_mag = self.magnitude(enhanced)
        ref_mag = self.magnitude(clean)
        if sample_mask is None:
            frames = torch.ones(est_mag.shape[:2], device=est_mag.device, dtype=est_mag.dtype)
        else:
            frames = self.frame_mask(sample_mask, est_mag.shape[1]).to(est_mag.dtype)
        frames = frames.unsqueeze(-1)
        diff = (ref_mag - est_mag) * frames
        sc = torch.linalg.vector_norm(diff) / (
            torch.linalg.vector_norm(ref_mag * frames) + self.eps
        )
        log_diff = (torch.log(ref_mag) - torch.log(est_mag)).abs() * frames
        n_bins = est_mag.shape[-1]
        log_mag = log_diff.sum() / (frames.sum() * n_bins).clamp(min=1.0)
        return sc, log_mag


class EnhancementLoss(torch.nn.Module):
    """DEMUCS task loss: waveform L1 plus multi-resolution STFT loss.

    ``L = l1_factor * L1 + sc_factor * mean_r SC_r + mag_factor * mean_r LogMag_r
    + stoi_factor * (1 - STOI) - si_sdr_factor * mean_b SI-SDR_b`` over the resolutions ``r``
    (see :class:`STFTLoss`; the STOI term, off by default, is
    :class:`speechbrain_slim.stoi_loss.STOILoss`; the SI-SDR term, off by default, is
    :func:`speechbrain_slim.metrics.si_sdr` in dB with a soft ceiling at ``si_sdr_max_db``).
    The L1 and spectral terms measure the error in absolute terms, so a nearly clean item, with
    little error to remove, hardly counts in a batch; the SI-SDR term counts every item's
    improvement in dB alike, so damage done to a clean input costs as much as noise left in a
    noisy one. With relative
    ``lengths``, the padded tail of both signals is zeroed before the STFT and
    excluded from the L1 mean, so the padding never changes the loss.

    Arguments
    ---------
    l1_factor : float
        Weight of the waveform L1 term.
    sc_factor : float
        Weight of the spectral convergence term (DEMUCS: 0.1 for causal models).
    mag_factor : float
        Weight of the log-magnitude term (DEMUCS: 0.1 for causal models).
    stoi_factor : float
        Weight of the intelligibility term ``1 - STOI`` (0: not computed).
    si_sdr_factor : float
        Weight of the negative SI-SDR in dB, averaged over items (0: not computed).
    si_sdr_max_db : float
        Soft ceiling of the SI-SDR term: items already this clean stop pulling.
    fft_sizes : tuple of int
        FFT size per resolution.
    hop_sizes : tuple of int
        Hop per resolution.
    win_lengths : tuple of int
        Hann window length per resolution.
    mag_floor : float
        Lower clamp of the power spectrum before the log.
    eps : float
        Added to the SC denominator.
    level_invariant : bool
        Divide both signals of an item by their joint RMS (clean and enhanced together, over
        the valid length, no gradient; the enhanced signal keeps a mostly silent target from
        being blown up) before the loss. The spectral and STOI terms do not depend on the level;
        the waveform L1 does, so without this an item 30 dB quieter weighs ~30x less in
        the step (the recipes draw levels over 30 dB, and a model with input normalisation
        handles every level alike).

    Example
    -------
    >>> loss = EnhancementLoss()
    >>> clean = torch.randn(2, 8000)
    >>> float(loss(clean, clean))
    0.0
    >>> noisy = clean + 0.1 * torch.randn(2, 8000)
    >>> bool(loss(noisy, clean, lengths=torch.tensor([1.0, 0.6])) > 0)
    True
    >>> sorted(loss.parts(noisy, clean))
    ['l1', 'log_mag', 'sc', 'total']
    >>> sorted(EnhancementLoss(stoi_factor=1.0).parts(noisy, clean))
    ['l1', 'log_mag', 'sc', 'stoi', 'total']
    >>> parts = EnhancementLoss(si_sdr_factor=0.01).parts(noisy, clean)
    >>> round(float(parts["si_sdr"]))  # signal power 1, noise power 0.01: 20 dB
    20
    >>> invariant = EnhancementLoss(level_invariant=True)
    >>> torch.isclose(invariant(noisy, clean), invariant(0.01 * noisy, 0.01 * clean))
    tensor(True)
    """

    def __init__(
        self,
        l1_factor=1.0,
        sc_factor=0.1,
        mag_factor=0.1,
        stoi_factor=0.0,
        si_sdr_factor=0.0,
        si_sdr_max_db=30.0,
        fft_sizes=(512, 1024, 2048),
        hop_sizes=(50, 120, 240),
        win_lengths=(240, 600, 1200),
        mag_floor=1e-7,
        eps=1e-7,
        level_invariant=False,
    ):
        super().__init__()
        if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must have equal lengths")
        self.l1_factor = l1_factor
        self.sc_factor = sc_factor
        self.mag_factor = mag_factor
        self.stoi_factor = stoi_factor
        self.si_sdr_factor = si_sdr_factor
        self.si_sdr_max_db = si_sdr_max_db
        self.level_invariant = bool(level_invariant)
        self.stoi = STOILoss() if stoi_factor else None
        self.resolutions = torch.nn.ModuleList(
            STFTLoss(n, h, w, mag_floor=mag_floor, eps=eps)
            for n, h, w in zip(fft_sizes, hop_sizes, win_lengths)
        )

    def parts(self, enhanced, clean, lengths=None):
        """Returns the weighted total and its unweighted parts.

        Arguments
        ---------
        enhanced : torch.Tensor
            Model output, ``[B, T]`` (or ``[B, 1, T]`` / ``[T]``).
        clean : torch.Tensor
            Target waveform, same shape.
        lengths : torch.Tensor, optional
            Relative lengths in [0, 1], shape ``[B]``.

        Returns
        -------
        dict
            ``total`` (weighted sum), ``l1``, ``sc``, ``log_mag`` and, with a
            ``stoi_factor``, ``stoi`` (``1 - STOI``), with an ``si_sdr_factor``, ``si_sdr``
            (mean SI-SDR in dB, which the total subtracts) (scalars).
        """
        enhanced = _as_batch(enhanced)
        clean = _as_batch(clean)
        if enhanced.shape != clean.shape:
            raise ValueError(f"shape mismatch: {tuple(enhanced.shape)} vs {tuple(clean.shape)}")
        mask = None
        if lengths is not None:
            mask = length_mask(lengths, clean.shape[-1], device=clean.device).to(clean.dtype)
            enhanced = enhanced * mask
            clean = clean * mask
        if self.level_invariant:
            valid = clean.shape[-1] if mask is None else mask.sum(-1, keepdim=True)
            power = (clean.detach().pow(2) + enhanced.detach().pow(2)).sum(-1, keepdim=True)
            scale = (2 * valid / power.clamp(min=1e-10)).sqrt()
            enhanced, clean = enhanced * scale, clean * scale
        if mask is None:
            l1 = F.l1_loss(enhanced, clean)
        else:
            l1 = (enhanced - clean).abs().sum() / mask.sum().clamp(min=1.0)

        sc = log_mag = clean.new_zeros(())
        for resolution in self.resolutions:
            sc_r, mag_r = resolution(enhanced, clean, mask)
            sc = sc + sc_r
            log_mag = log_mag + mag_r
        sc = sc / len(self.resolutions)
        log_mag = log_mag / len(self.resolutions)
        total = self.l1_factor * l1 + self.sc_factor * sc + self.mag_factor * log_mag
        parts = {"l1": l1, "sc": sc, "log_mag": log_mag}
        if self.stoi is not None:
            parts["stoi"] = self.stoi(enhanced, clean, lengths)
            total = total + self.stoi_factor * parts["stoi"]
        if self.si_sdr_factor:
            parts["si_sdr"] = si_sdr(enhanced, clean, lengths, max_db=self.si_sdr_max_db).mean()
            total = total - self.si_sdr_factor * parts["si_sdr"]
        return {"total": total, **parts}

    def forward(self, enhanced, clean, lengths=None):
        """Returns the scalar loss (see :meth:`parts` for the arguments)."""
        return self.parts(enhanced, clean, lengths)["total"]
