"""Per-frame router targets: which UF pays for itself on each bottleneck frame.

The straight-through gate gradient of a routed pass only says whether the width a
frame *got* should contribute more or less; it never compares that width with the
others, and on our data it drove every router to the smallest UF (README, "Training
experiments"). These targets compare the widths directly. On a training batch the
backbone enhances the input at every UF (no gradient); for each bottleneck frame
``f`` and UF ``j`` an error in dB is measured, by default on compressed magnitude
spectra (``measure="spectral"``, ``|STFT|^0.3`` with one 2-frame Hann window per
bottleneck frame: the compression stands in for loudness, as in PESQ's model), or
on the waveform (``measure="waveform"``, a segmental squared error):

``e[f, j] = 10 log10(mean((A(y_j) - A(clean))^2 over frame f) + floor)``

with ``floor`` ``floor_db`` below the item's mean level, so inaudible differences and
silent clean frames do not count. The target is

``t[f] = argmin_j  e[f, j] + price_db * (macs_j - macs_min) / (macs_max - macs_min)``:

the largest UF is chosen only where it lowers the frame's error by more than
``price_db`` dB, the others where they buy their share of that. Frames whose widths
all do equally well (clean input, easy stretches) go to the smallest UF. The router
learns these targets by cross-entropy (:class:`RouterTargetLoss`), next to the task
and routing losses of the routed stages.

Authors
 * speechbrain-slim contributors 2026
"""

import torch

from speechbrain_slim.losses import length_mask

__all__ = ["frame_errors_db", "router_targets", "RouterTargetLoss", "MEASURES"]

MEASURES = ("spectral", "waveform")
SPECTRAL_COMPRESSION = 0.3


def frame_errors_db(
    outputs, clean, frame_stride, frames, lengths=None, floor_db=-30.0, measure="spectral"
):
    """Per-frame error of each output, in dB: ``[batch, frames, J]``.

    Arguments
    ---------
    outputs : sequence of torch.Tensor
        ``J`` enhanced signals ``[batch, time]`` (one per UF, ascending).
    clean : torch.Tensor
        ``[batch, time]`` reference.
    frame_stride : int
        Samples per bottleneck frame.
    frames : int
        Bottleneck frames (the router's decisions).
    lengths : torch.Tensor, optional
        Relative lengths in ``[0, 1]`` (SpeechBrain convention).
    floor_db : float
        Error floor relative to the item's mean level (of the measured representation).
    measure : str
        ``"spectral"`` (compressed magnitude spectra) or ``"waveform"``.

    Returns
    -------
    torch.Tensor
        ``[batch, frames, J]``.

    Example
    -------
    >>> clean = torch.ones(1, 8)
    >>> near, far = clean + 0.01, clean + 0.1
    >>> frame_errors_db([far, near], clean, 4, 2, measure="waveform").round()
    tensor([[[-20., -30.],
             [-20., -30.]]])
    >>> speech = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    >>> noise = torch.randn(1, 64, generator=torch.Generator().manual_seed(1))
    >>> errors = frame_errors_db([speech + 0.3 * noise, speech + 0.03 * noise], speech, 32, 2)
    >>> bool((errors[..., 0] > errors[..., 1]).all())
    True
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    batch, time = clean.shape
    span = frames * frame_stride
    if lengths is None:
        lengths = clean.new_ones(batch)
    mask = length_mask(lengths, time, device=clean.device).to(clean.dtype)

    def represent(signal):
        signal = signal[..., :span] * mask[..., :span]
        signal = torch.nn.functional.pad(signal, (0, span - signal.shape[-1]))
        if measure == "waveform":
            return signal.reshape(batch, 1, frames, frame_stride)
        # one 2-stride window centred on each frame's own samples
        half = frame_stride // 2
        signal = torch.nn.functional.pad(signal, (half, 2 * frame_stride - half))
        window = torch.hann_window(2 * frame_stride, dtype=signal.dtype, device=signal.device)
        spectra = torch.stft(signal, 2 * frame_stride, frame_stride, window=window,
                             center=False, return_complex=True)
        return spectra[..., :frames].abs().pow(SPECTRAL_COMPRESSION).unsqueeze(-1)

    reference = represent(clean)
    frame_mask = length_mask(lengths, frames, device=clean.device).to(clean.dtype)
    level = (reference.pow(2).mean(dim=(1, 3)) * frame_mask).sum(-1) / frame_mask.sum(-1).clamp(
        min=1.0
    )
    floor = (level * 10 ** (floor_db / 10)).clamp(min=1e-10)
    errors = [(represent(out) - reference).pow(2).mean(dim=(1, 3)) for out in outputs]
    return 10 * torch.log10(torch.stack(errors, dim=-1) + floor[:, None, None])


def router_targets(errors_db, macs_per_uf, price_db):
    """Target UF index per frame: ``argmin_j e[f, j] + price_db * normalised MACs_j``.

    Ties go to the smallest UF.

    Example
    -------
    >>> errors = torch.tensor([[[-20.0, -20.2, -21.0, -22.0], [-20.0, -25.0, -26.0, -30.0]]])
    >>> router_targets(errors, macs_per_uf=(1, 2, 4, 8), price_db=3.0)
    tensor([[0, 3]])
    """
    macs = torch.as_tensor(macs_per_uf, dtype=errors_db.dtype, device=errors_db.device)
    price = price_db * (macs - macs.min()) / (macs.max() - macs.min()).clamp(min=1e-12)
    cost = errors_db + price
    best = cost.min(dim=-1, keepdim=True).values
    # the first (smallest) UF within a hair of the best
    return (cost <= best + 1e-6).to(torch.int8).argmax(dim=-1)


class RouterTargetLoss(torch.nn.Module):
    """Cross-entropy between the router's logits and the per-frame targets.

    Arguments
    ---------
    macs_per_uf : sequence of float
        MACs per sample of each UF (ascending UFs).
    price_db : float
        dB of per-frame error the largest UF must save over the smallest to be chosen.
    weight : float
        Factor of the cross-entropy in the training loss.
    floor_db : float
        Error floor relative to the item's level (:func:`frame_errors_db`).
    measure : str
        ``"spectral"`` or ``"waveform"`` (:func:`frame_errors_db`).

    Example
    -------
    >>> loss = RouterTargetLoss(macs_per_uf=(1, 2, 4, 8), price_db=3.0, measure="waveform")
    >>> clean = torch.randn(2, 64)
    >>> outputs = [clean + 0.3, clean + 0.2, clean + 0.1, clean]
    >>> logits = torch.zeros(2, 4, 4, requires_grad=True)
    >>> total, parts = loss(logits, outputs, clean, frame_stride=16)
    >>> total.backward()
    >>> parts["target_index"].unique().tolist()  # the clean output is worth its MACs
    [3]
    """

    def __init__(self, macs_per_uf, price_db=3.0, weight=1.0, floor_db=-30.0,
                 measure="spectral"):
        super().__init__()
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
        self.measure = measure
        self.macs_per_uf = tuple(float(m) for m in macs_per_uf)
        self.price_db = price_db
        self.weight = weight
        self.floor_db = floor_db

    def targets(self, outputs, clean, frame_stride, frames, lengths=None):
        """Target UF indices ``[batch, frames]`` for the per-UF ``outputs`` (no gradient)."""
        with torch.no_grad():
            errors = frame_errors_db(
                [o.detach() for o in outputs], clean, frame_stride, frames, lengths,
                self.floor_db, self.measure,
            )
            return router_targets(errors, self.macs_per_uf, self.price_db).long()

    def forward(self, logits, outputs, clean, frame_stride, lengths=None):
        """Returns ``weight * CE`` and parts (``target_index`` [B, F], ``agreement``)."""
        batch, frames, n_ufs = logits.shape
        if len(outputs) != n_ufs or n_ufs != len(self.macs_per_uf):
            raise ValueError(
                f"{n_ufs} router logits, {len(outputs)} outputs and "
                f"{len(self.macs_per_uf)} MAC counts: they must agree"
            )
        targets = self.targets(outputs, clean, frame_stride, frames, lengths)
        if lengths is None:
            lengths = logits.new_ones(batch)
        valid = length_mask(lengths, frames, device=logits.device).to(logits.dtype)
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, n_ufs), targets.reshape(-1), reduction="none"
        ).view(batch, frames)
        ce = (nll * valid).sum() / valid.sum().clamp(min=1.0)
        agreement = ((logits.argmax(-1) == targets).to(logits.dtype) * valid).sum() / valid.sum()
        return self.weight * ce, {
            "cross_entropy": ce.detach(),
            "target_index": targets,
            "agreement": agreement.detach(),
        }
