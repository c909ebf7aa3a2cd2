"""DEMUCS training augmentations as batch-level torch modules.

DEMUCS (Defossez et al., 2020) augments a batch of (noisy, clean) pairs by treating it as
two sources, noise = noisy - clean and clean, and

* ``Remix``: pairing each clean signal with another item's noise (a batch permutation);
* ``BandMask``: removing one random frequency band from both sources alike; here
  ``speechbrain.augment.time_domain.DropFreq``, which draws one notch filter per call,
  applied to noise and clean stacked in one call so both get the same band;
* ``Shift``: a random time offset per item (the output is ``shift`` samples shorter);
* ``RevEcho``: a decaying train of echoes added to both sources; the echo of the clean
  speech goes to the noise (only ``keep_clean`` of it stays in the target).

``DemucsAugment`` chains them. All modules draw from torch's global RNG (seeded by the Brain)
or from ``generator`` when given. Inputs and outputs are ``[batch, time]`` tensors.

Authors
 * speechbrain-slim contributors
"""

import torch
from speechbrain.augment.time_domain import DropFreq
from torchaudio.functional import fftconvolve


class Remix(torch.nn.Module):
    """Re-pair noises and clean signals across the batch by a random permutation.

    Example
    -------
    >>> noise, clean = torch.randn(4, 100), torch.randn(4, 100)
    >>> n2, c2 = Remix()(noise, clean, torch.Generator().manual_seed(0))
    >>> bool(torch.equal(c2, clean)), sorted(n2.sum(1).tolist()) == sorted(noise.sum(1).tolist())
    (True, True)
    """

    def forward(self, noise, clean, generator=None):
        """Return ``(noise[perm], clean)``."""
        perm = torch.randperm(noise.shape[0], generator=generator, device="cpu")
        return noise[perm.to(noise.device)], clean


class BandMask(torch.nn.Module):
    """Remove the same random frequency band(s) from noise and clean (via SpeechBrain DropFreq).

    Arguments
    ---------
    drop_freq_count : tuple of int
        Range of the number of notches per call.
    drop_freq_width : float
        Notch width, as a fraction of the Nyquist frequency.

    Example
    -------
    >>> noise, clean = torch.randn(2, 1600), torch.randn(2, 1600)
    >>> n2, c2 = BandMask()(noise, clean)
    >>> n2.shape, c2.shape
    (torch.Size([2, 1600]), torch.Size([2, 1600]))
    """

    def __init__(self, drop_freq_count=(1, 3), drop_freq_width=0.05):
        super().__init__()
        self.drop = DropFreq(
            drop_freq_count_low=drop_freq_count[0],
            drop_freq_count_high=drop_freq_count[1],
            drop_freq_width=drop_freq_width,
        )

    def forward(self, noise, clean, generator=None):
        """Return both sources with the same band removed."""
        b = noise.shape[0]
        out = self.drop(torch.cat([noise, clean], dim=0))
        return out[:b], out[b:]


class Shift(torch.nn.Module):
    """Random per-item time offset in ``[0, shift)``; output is ``shift`` samples shorter.

    Arguments
    ---------
    shift : int
        Maximum offset in samples (DEMUCS: 8000).
    same : bool
        If True, noise and clean of an item get the same offset (DEMUCS ``shift_same``);
        otherwise the noise is shifted independently of the speech.

    Example
    -------
    >>> noise, clean = torch.randn(3, 1000), torch.randn(3, 1000)
    >>> n2, c2 = Shift(100)(noise, clean)
    >>> n2.shape
    torch.Size([3, 900])
    """

    def __init__(self, shift=8000, same=True):
        super().__init__()
        self.shift = int(shift)
        self.same = same

    def _crop(self, x, offsets, shift):
        length = x.shape[-1] - shift
        idx = offsets[:, None].to(x.device) + torch.arange(length, device=x.device)[None]
        return torch.gather(x, 1, idx)

    def forward(self, noise, clean, generator=None):
        """Crop each item at a random offset.

        Batches no longer than twice the shift (short utterances) are shifted by at most
        half their length, so no batch is ever cropped to nothing.
        """
        shift = min(self.shift, noise.shape[-1] // 2)
        if shift <= 0:
            return noise, clean
        b = noise.shape[0]
        off_c = torch.randint(0, shift, (b,), generator=generator)
        off_n = off_c if self.same else torch.randint(0, shift, (b,), generator=generator)
        return self._crop(noise, off_n, shift), self._crop(clean, off_c, shift)


class RevEcho(torch.nn.Module):
    """Add a decaying train of echoes (a crude room) to noise and clean, with probability ``p``.

    The echo of the clean speech is added to the noise; ``keep_clean`` of it stays in the
    clean target, so the model learns to remove most reverberation.

    Arguments
    ---------
    p : float
        Probability of applying it to a batch.
    initial : float
        Gain of the first echo relative to the dry signal.
    rt60 : tuple of float
        Range of reverberation time (s) over which echoes decay by 60 dB.
    first_delay : tuple of float
        Range of the delay (s) of the first echo.
    repeat : int
        Echo trains summed (each with its own delay).
    jitter : float
        Relative jitter of each echo's delay.
    keep_clean : float
        Share of the clean echo left in the target.
    sample_rate : int
        Sample rate of the signals.

    Example
    -------
    >>> noise, clean = torch.zeros(1, 4000), torch.zeros(1, 4000)
    >>> clean[0, 0] = 1.0
    >>> n2, c2 = RevEcho(p=1.0)(noise, clean, torch.Generator().manual_seed(0))
    >>> bool(n2.abs().sum() > 0), float(c2[0, 0])
    (True, 1.0)
    """

    def __init__(self, p=0.5, initial=0.3, rt60=(0.3, 1.3), first_delay=(0.01, 0.03), repeat=3,
                 jitter=0.1, keep_clean=0.1, sample_rate=16000):
        super().__init__()
        self.p, self.initial, self.rt60, self.first_delay = p, initial, rt60, first_delay
        self.repeat, self.jitter, self.keep_clean, self.sr = repeat, jitter, keep_clean, sample_rate

    def _uniform(self, lo, hi, generator):
        return lo + (hi - lo) * float(torch.rand((), generator=generator))

    def impulse_response(self, length, generator=None):
        """Echo train (without the dry path) of ``length`` samples."""
        h = torch.zeros(length)
        rt60 = self._uniform(*self.rt60, generator)
        for _ in range(self.repeat):
            delay = self._uniform(*self.first_delay, generator)
            t, gain = 0.0, self.initial
            while True:
                jit = 1 + self.jitter * (2 * float(torch.rand((), generator=generator)) - 1)
                t += delay * jit
                idx = int(t * self.sr)
                if idx >= length:
                    break
                h[idx] += gain / self.repeat
                gain *= 10 ** (-3 * delay * jit / rt60)  # -60 dB after rt60 seconds
        return h

    def forward(self, noise, clean, generator=None):
        """Return reverberated ``(noise, clean)``."""
        if float(torch.rand((), generator=generator)) >= self.p:
            return noise, clean
        length = noise.shape[-1]
        h = self.impulse_response(length, generator).to(noise)
        echo_n = fftconvolve(noise, h[None])[..., :length]
        echo_c = fftconvolve(clean, h[None])[..., :length]
        noise = noise + echo_n + (1 - self.keep_clean) * echo_c
        clean = clean + self.keep_clean * echo_c
        return noise, clean


class DemucsAugment(torch.nn.Module):
    """DEMUCS augmentation chain on ``(noisy, clean)`` batches: shift, remix, band-mask, revecho.

    Arguments
    ---------
    remix : bool
        Re-pair noises across the batch.
    bandmask : float
        Probability of removing a band (0 disables it).
    shift : int
        Maximum random offset in samples (0 disables; output gets ``shift`` samples shorter).
    shift_same : bool
        Shift noise and speech together.
    revecho : float
        Probability of reverberant echo (0 disables).

    Example
    -------
    >>> aug = DemucsAugment(remix=True, bandmask=1.0, shift=160, revecho=1.0)
    >>> noisy, clean = torch.randn(4, 16000), torch.randn(4, 16000)
    >>> n2, c2 = aug(noisy, clean)
    >>> n2.shape, c2.shape
    (torch.Size([4, 15840]), torch.Size([4, 15840]))
    """

    def __init__(self, remix=True, bandmask=0.2, shift=8000, shift_same=True, revecho=0.0):
        super().__init__()
        self.remix = Remix() if remix else None
        self.bandmask_p = float(bandmask)
        self.bandmask = BandMask() if bandmask > 0 else None
        self.shift = Shift(shift, shift_same) if shift > 0 else None
        self.revecho = RevEcho(p=revecho) if revecho > 0 else None

    def forward(self, noisy, clean, generator=None):
        """Return augmented ``(noisy, clean)``, both ``[batch, time']``."""
        if noisy.shape != clean.shape or noisy.dim() != 2:
            raise ValueError(f"expected equal [batch, time] tensors, got {tuple(noisy.shape)} "
                             f"and {tuple(clean.shape)}")
        noise = noisy - clean
        if self.shift is not None:
            noise, clean = self.shift(noise, clean, generator)
        if self.remix is not None:
            noise, clean = self.remix(noise, clean, generator)
        if self.bandmask is not None:
            if float(torch.rand((), generator=generator)) < self.bandmask_p:
                noise, clean = self.bandmask(noise, clean)
        if self.revecho is not None:
            noise, clean = self.revecho(noise, clean, generator)
        return noise + clean, clean
