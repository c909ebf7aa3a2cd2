"""A differentiable, batched short-time objective intelligibility (STOI) loss.

STOI (Taal et al., 2011) compares the clean and enhanced signals' one-third-octave band
envelopes over 384 ms segments: both are resampled to 10 kHz, framed (256-sample Hann
windows, hop 128, FFT 512), frames more than 40 dB below the loudest clean frame are
dropped, the enhanced envelope of each segment of N = 30 frames is scaled to the clean
one's energy and clipped at ``(1 + 10^(15/20))`` times it, and STOI is the mean
correlation of the two envelopes over bands and segments. This module computes the same
quantities with torch operations (silent frames are dropped by moving the active frames
of each item to the front, so every item of a batch is scored in one pass) and returns
``1 - STOI``. It follows ``pystoi`` to about 0.01 (the resampler and the frame-dropping
differ in detail; see the tests); it is a training objective, evaluation uses ``pystoi``.

Authors
 * speechbrain-slim contributors 2026
"""

import functools

import torch
import torchaudio

STOI_RATE = 10000
FRAME = 256
HOP = 128
NFFT = 512
BANDS = 15
MIN_FREQ = 150.0
SEGMENT = 30
CLIP = 10 ** (15 / 20)
DYNAMIC_RANGE_DB = 40.0
SILENT_DB = -120.0  # an item whose loudest frame is below this has no speech to score


@functools.cache
def third_octave_matrix(sample_rate=STOI_RATE, n_fft=NFFT, bands=BANDS, min_freq=MIN_FREQ):
    """``[bands, n_fft // 2 + 1]`` 0/1 matrix summing FFT bins into one-third octave bands.

    Band ``k`` spans the bins nearest to ``min_freq * 2 ** ((2k - 1) / 6)`` (included) and
    ``min_freq * 2 ** ((2k + 1) / 6)`` (excluded), as in STOI.

    Example
    -------
    >>> matrix = third_octave_matrix()
    >>> tuple(matrix.shape), int(matrix[0].sum()), int(matrix[-1].sum())
    ((15, 257), 2, 45)
    """
    freqs = torch.linspace(0, sample_rate, n_fft + 1, dtype=torch.float64)[: n_fft // 2 + 1]
    matrix = torch.zeros(bands, len(freqs))
    for band in range(bands):
        low = min_freq * 2.0 ** ((2 * band - 1) / 6)
        high = min_freq * 2.0 ** ((2 * band + 1) / 6)
        first = int(torch.argmin((freqs - low) ** 2))
        last = int(torch.argmin((freqs - high) ** 2))
        matrix[band, first:last] = 1.0
    return matrix


class STOILoss(torch.nn.Module):
    """``1 - STOI(enhanced, clean)``, batched and differentiable in ``enhanced``.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the signals (resampled to 10 kHz inside).
    eps : float
        Guards the norms of all-zero envelopes.

    Example
    -------
    >>> loss = STOILoss()
    >>> generator = torch.Generator().manual_seed(0)
    >>> clean = torch.randn(2, 16000, generator=generator)
    >>> float(loss(clean, clean)) < 1e-4
    True
    >>> noisy = clean + torch.randn(2, 16000, generator=generator)
    >>> 0.1 < float(loss(noisy, clean)) < 1.0
    True
    """

    def __init__(self, sample_rate=16000, eps=1e-8):
        super().__init__()
        self.sample_rate = sample_rate
        self.eps = eps
        self.register_buffer("bands", third_octave_matrix(), persistent=False)
        self.register_buffer("window", torch.hann_window(FRAME + 2)[1:-1], persistent=False)

    def envelopes(self, frames):
        """``[B, bands, frames]`` one-third octave band magnitudes of :meth:`frames`' output."""
        spec = torch.fft.rfft(frames, n=NFFT)  # [B, frames, bins]
        power = spec.abs().pow(2).transpose(1, 2)
        return torch.sqrt(self.bands.to(power) @ power + 1e-14)

    def frames(self, signal):
        """``[B, frames, 256]`` Hann-windowed frames, hop 128."""
        return signal.unfold(-1, FRAME, HOP) * self.window.to(signal)

    def active_frames(self, frames, num_samples):
        """``[B, frames]`` bool for the clean signal's :meth:`frames`: within 40 dB of each
        item's loudest frame and inside its ``num_samples`` (``[B]``); none for an all-silent
        item."""
        energy_db = 20 * torch.log10(frames.norm(dim=-1) + self.eps)
        starts = torch.arange(frames.shape[1], device=frames.device) * HOP
        inside = starts[None, :] + FRAME <= num_samples[:, None]
        energy_db = energy_db.masked_fill(~inside, -float("inf"))
        loudest = energy_db.max(dim=1, keepdim=True).values
        return inside & (energy_db > loudest - DYNAMIC_RANGE_DB) & (loudest > SILENT_DB)

    def scores(self, enhanced, clean, lengths=None):
        """Per-item STOI ``[B]`` and whether the item had one full segment of speech ``[B]``.

        Arguments
        ---------
        enhanced, clean : torch.Tensor
            ``[B, T]`` waveforms at ``sample_rate``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` (SpeechBrain convention).
        """
        if lengths is None:
            lengths = torch.ones(clean.shape[0], device=clean.device)
        if self.sample_rate != STOI_RATE:
            enhanced = torchaudio.functional.resample(enhanced, self.sample_rate, STOI_RATE)
            clean = torchaudio.functional.resample(clean, self.sample_rate, STOI_RATE)
        num_samples = torch.round(lengths.to(clean.device) * clean.shape[-1])
        clean_frames = self.frames(clean)
        active = self.active_frames(clean_frames, num_samples)
        # Active frames first, in time order: dropping silence without a per-item loop.
        order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)
        n_active = active.sum(dim=1)
        gather = order[:, None, :].expand(-1, BANDS, -1)
        target = torch.gather(self.envelopes(clean_frames), 2, gather)
        estimate = torch.gather(self.envelopes(self.frames(enhanced)), 2, gather)

        target = target.unfold(2, SEGMENT, 1)  # [B, bands, segments, N]
        estimate = estimate.unfold(2, SEGMENT, 1)
        scale = target.norm(dim=-1, keepdim=True) / (estimate.norm(dim=-1, keepdim=True) + self.eps)
        estimate = torch.minimum(estimate * scale, target * (1 + CLIP))
        target = target - target.mean(dim=-1, keepdim=True)
        estimate = estimate - estimate.mean(dim=-1, keepdim=True)
        correlation = (target * estimate).sum(-1) / (
            target.norm(dim=-1) * estimate.norm(dim=-1) + self.eps
        )  # [B, bands, segments]
        segments = torch.arange(correlation.shape[-1], device=clean.device)
        valid = (segments[None, :] + SEGMENT <= n_active[:, None]).to(correlation.dtype)
        count = valid.sum(dim=1)
        per_item = (correlation.mean(dim=1) * valid).sum(dim=1) / count.clamp(min=1.0)
        return per_item, count > 0

    def forward(self, enhanced, clean, lengths=None):
        """``1 - mean STOI`` over the items with at least one segment of speech (0 if none)."""
        per_item, scored = self.scores(enhanced, clean, lengths)
        if not bool(scored.any()):
            return enhanced.sum() * 0.0
        return 1.0 - per_item[scored].mean()
