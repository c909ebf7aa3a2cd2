"""Training objectives: the DEMUCS task loss and the router's auxiliary losses.

Task loss (as described for DEMUCS, Defossez et al. 2020)::

    L_task = l1_factor * L1(x_hat, x) + sc_factor * SC + mag_factor * LogMag

where ``SC`` and ``LogMag`` are averaged over three STFT resolutions
(FFT 512/1024/2048, hop 50/120/240, Hann window 240/600/1200). With
``X = |STFT(x)|`` and ``Y = |STFT(x_hat)|`` (clamped from below before any log)::

    SC     = ||X - Y||_F / (||X||_F + eps)          (over the whole batch)
    LogMag = mean |log X - log Y|                   (over valid frames and bins)

Routing losses work on the router's per-frame probabilities ``p`` of shape
``[batch, frames, J]`` over the utilization factors ``ufs`` (length J), with an
optional frame mask ``m``. With ``q_j`` the batch-mean usage of UF j over valid
frames and ``u_bar = sum_j q_j * uf_j`` the expected mean UF::

    L_eff = (u_bar - target_uf) ** 2                (or max(0, u_bar - target_uf) ** 2)
    L_bal = KL(q || uniform) = sum_j q_j * log(J * q_j)
    L_route = beta * L_eff + gamma * L_bal

Authors
 * speechbrain-slim contributors 2025
"""

import torch
import torch.nn.functional as F

from speechbrain_slim.stoi_loss import STOILoss

DEFAULT_UFS = (0.125, 0.25, 0.5, 1.0)


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
    + stoi_factor * (1 - STOI)`` over the resolutions ``r`` (see :class:`STFTLoss`;
    the STOI term, off by default, is :class:`speechbrain_slim.stoi_loss.STOILoss`). With relative
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
    """

    def __init__(
        self,
        l1_factor=1.0,
        sc_factor=0.1,
        mag_factor=0.1,
        stoi_factor=0.0,
        fft_sizes=(512, 1024, 2048),
        hop_sizes=(50, 120, 240),
        win_lengths=(240, 600, 1200),
        mag_floor=1e-7,
        eps=1e-7,
    ):
        super().__init__()
        if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must have equal lengths")
        self.l1_factor = l1_factor
        self.sc_factor = sc_factor
        self.mag_factor = mag_factor
        self.stoi_factor = stoi_factor
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
            ``stoi_factor``, ``stoi`` (``1 - STOI``) (scalars).
        """
        enhanced = _as_batch(enhanced)
        clean = _as_batch(clean)
        if enhanced.shape != clean.shape:
            raise ValueError(f"shape mismatch: {tuple(enhanced.shape)} vs {tuple(clean.shape)}")
        mask = None
        if lengths is None:
            l1 = F.l1_loss(enhanced, clean)
        else:
            mask = length_mask(lengths, clean.shape[-1], device=clean.device).to(clean.dtype)
            enhanced = enhanced * mask
            clean = clean * mask
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
        return {"total": total, **parts}

    def forward(self, enhanced, clean, lengths=None):
        """Returns the scalar loss (see :meth:`parts` for the arguments)."""
        return self.parts(enhanced, clean, lengths)["total"]


def _valid_frames(probs, mask):
    """Returns a ``[B, frames, 1]`` float mask (all ones when ``mask`` is None)."""
    if mask is None:
        return probs.new_ones(probs.shape[:2]).unsqueeze(-1)
    return mask.to(probs.dtype).unsqueeze(-1)


def uf_usage(probs, mask=None):
    """Batch-mean probability of each UF over valid frames, ``q_j``.

    Arguments
    ---------
    probs : torch.Tensor
        Router probabilities ``[B, frames, J]`` (rows sum to 1).
    mask : torch.Tensor, optional
        ``[B, frames]`` mask of valid frames (bool or float).

    Returns
    -------
    torch.Tensor
        Usage distribution ``[J]``, sums to 1.

    Example
    -------
    >>> probs = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    >>> uf_usage(probs)
    tensor([0.3333, 0.6667])
    >>> uf_usage(probs, mask=torch.tensor([[1, 1, 0]]))
    tensor([0.5000, 0.5000])
    """
    frames = _valid_frames(probs, mask)
    return (probs * frames).sum(dim=(0, 1)) / frames.sum().clamp(min=1.0)


def expected_uf(probs, ufs, mask=None):
    """Expected mean UF of the batch, ``u_bar = sum_j q_j * uf_j``.

    Arguments
    ---------
    probs : torch.Tensor
        Router probabilities ``[B, frames, J]``.
    ufs : sequence of float or torch.Tensor
        The J utilization factors.
    mask : torch.Tensor, optional
        ``[B, frames]`` mask of valid frames.

    Returns
    -------
    torch.Tensor
        Scalar expected mean UF.

    Example
    -------
    >>> probs = torch.full((2, 5, 4), 0.25)
    >>> round(float(expected_uf(probs, DEFAULT_UFS)), 4)
    0.4688
    """
    ufs = torch.as_tensor(ufs, dtype=probs.dtype, device=probs.device)
    return (uf_usage(probs, mask) * ufs).sum()


def _uf_costs(ufs, target_uf, macs_per_uf, dtype, device):
    """Per-UF costs and the target cost, in UF units or normalised MACs."""
    ufs = torch.as_tensor(ufs, dtype=dtype, device=device)
    if macs_per_uf is None:
        return ufs, torch.as_tensor(target_uf, dtype=dtype, device=device)
    macs = torch.as_tensor(macs_per_uf, dtype=dtype, device=device)
    costs = macs / macs.max()
    # MACs are affine in UF: fit cost = fixed + slope * uf (exact for affine
    # MACs) so that targets outside the UF grid, e.g. 0.10, are extrapolated.
    uf_mean, cost_mean = ufs.mean(), costs.mean()
    slope = ((ufs - uf_mean) * (costs - cost_mean)).sum() / (ufs - uf_mean).pow(2).sum()
    target_cost = cost_mean + slope * (target_uf - uf_mean)
    return costs, target_cost


def efficiency_loss(probs, ufs, target_uf, mask=None, macs_per_uf=None, one_sided=False):
    """L_eff: pulls the expected mean UF of the batch toward ``target_uf``.

    ``L_eff = (u_bar - target_uf) ** 2`` with ``u_bar = sum_j q_j * uf_j`` and
    ``q_j`` the mean probability of UF j over the valid frames of the batch.

    We chose the symmetric squared error because the paper describes L_eff as
    pulling the average UF *toward* a target (its measured averages land on
    both sides of it) and because only the batch average is constrained:
    individual frames stay free to use large UFs on hard stretches and small
    ones on easy stretches. With ``one_sided=True`` the loss becomes
    ``max(0, u_bar - target_uf) ** 2`` (a budget: only exceeding it costs).

    With ``macs_per_uf`` (MACs per sample of each UF), costs are measured in
    MACs normalised by the largest: ``c_j = macs_j / max(macs)`` and the target
    is ``c(target_uf)`` on the line fitted through ``(uf_j, c_j)``. For MACs
    affine in UF (``fixed + slope * uf``) this equals the UF loss scaled by
    ``(slope / max(macs)) ** 2``.

    Arguments
    ---------
    probs : torch.Tensor
        Router probabilities ``[B, frames, J]``.
    ufs : sequence of float
        The J utilization factors.
    target_uf : float
        Target mean UF.
    mask : torch.Tensor, optional
        ``[B, frames]`` mask of valid frames.
    macs_per_uf : sequence of float, optional
        MACs per input sample at each UF; if given, costs are in MAC units.
    one_sided : bool
        If True, only a mean above the target is penalised.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> probs = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]])
    >>> float(efficiency_loss(probs, DEFAULT_UFS, target_uf=0.5))
    0.25
    >>> float(efficiency_loss(probs, DEFAULT_UFS, target_uf=1.0))
    0.0
    >>> float(efficiency_loss(probs * 0 + 0.25, DEFAULT_UFS, 0.9, one_sided=True))
    0.0
    """
    costs, target = _uf_costs(ufs, target_uf, macs_per_uf, probs.dtype, probs.device)
    mean_cost = (uf_usage(probs, mask) * costs).sum()
    gap = mean_cost - target
    if one_sided:
        gap = gap.clamp(min=0.0)
    return gap.pow(2)


def balance_loss(probs, mask=None, eps=1e-8):
    """L_bal: keeps every UF in use across the batch.

    ``L_bal = KL(q || U) = sum_j q_j * log(J * q_j) = log J - H(q)``, with ``q``
    the batch-mean usage (mean probability of each UF over valid frames) and
    ``U`` the uniform distribution over the J UFs. It is 0 at uniform usage and
    reaches ``log J`` when all frames collapse onto one UF. Only the *batch
    mean* is pushed toward uniform, so frames can still make confident, input
    dependent choices; it is the differentiable, soft-probability cousin of the
    switch-transformer load-balancing term.

    Arguments
    ---------
    probs : torch.Tensor
        Router probabilities ``[B, frames, J]``.
    mask : torch.Tensor, optional
        ``[B, frames]`` mask of valid frames.
    eps : float
        Clamp inside the log, so unused UFs give finite gradients.

    Returns
    -------
    torch.Tensor
        Scalar loss, in nats.

    Example
    -------
    >>> uniform = torch.full((1, 3, 4), 0.25)
    >>> float(balance_loss(uniform))
    0.0
    >>> collapsed = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    >>> round(float(balance_loss(collapsed)), 4)  # log(4)
    1.3863
    """
    usage = uf_usage(probs, mask)
    n_ufs = usage.shape[-1]
    return (usage * torch.log(usage.clamp(min=eps) * n_ufs)).sum()


class RoutingLoss(torch.nn.Module):
    """Router auxiliary loss ``beta * L_eff + gamma * L_bal``.

    See :func:`efficiency_loss` and :func:`balance_loss` for the formulas.

    Arguments
    ---------
    ufs : sequence of float
        The J utilization factors, in the order of the router's outputs.
    target_uf : float
        Target mean UF for L_eff.
    beta : float
        Weight of L_eff.
    gamma : float
        Weight of L_bal (with 0 the router tends to collapse onto two UFs).
    macs_per_uf : sequence of float, optional
        MACs per sample at each UF; if given, L_eff is measured in MACs.
    one_sided : bool
        If True, L_eff only penalises a mean UF above the target.

    Example
    -------
    >>> routing = RoutingLoss(DEFAULT_UFS, target_uf=0.5, beta=1.0, gamma=0.1)
    >>> logits = torch.randn(2, 10, 4, requires_grad=True)
    >>> total, parts = routing(logits.softmax(-1))
    >>> total.backward()
    >>> sorted(parts)
    ['balance', 'efficiency', 'mean_uf', 'usage']
    """

    def __init__(
        self,
        ufs=DEFAULT_UFS,
        target_uf=0.5,
        beta=1.0,
        gamma=0.1,
        macs_per_uf=None,
        one_sided=False,
    ):
        super().__init__()
        if macs_per_uf is not None and len(macs_per_uf) != len(ufs):
            raise ValueError("macs_per_uf must give one value per UF")
        self.register_buffer("ufs", torch.as_tensor(ufs, dtype=torch.float), persistent=False)
        self.target_uf = target_uf
        self.beta = beta
        self.gamma = gamma
        self.macs_per_uf = None if macs_per_uf is None else tuple(macs_per_uf)
        self.one_sided = one_sided

    def forward(self, probs, mask=None):
        """Computes the routing loss.

        Arguments
        ---------
        probs : torch.Tensor
            Router probabilities ``[B, frames, J]``.
        mask : torch.Tensor, optional
            ``[B, frames]`` mask of valid frames.

        Returns
        -------
        total : torch.Tensor
            ``beta * L_eff + gamma * L_bal``.
        parts : dict
            ``efficiency`` and ``balance`` (unweighted losses), and, detached
            for logging, ``mean_uf`` (expected mean UF) and ``usage`` ([J]).
        """
        if probs.shape[-1] != self.ufs.numel():
            raise ValueError(f"expected {self.ufs.numel()} UF probabilities, got {probs.shape[-1]}")
        ufs = self.ufs.to(device=probs.device, dtype=probs.dtype)
        eff = efficiency_loss(
            probs,
            ufs,
            self.target_uf,
            mask,
            macs_per_uf=self.macs_per_uf,
            one_sided=self.one_sided,
        )
        bal = balance_loss(probs, mask)
        total = self.beta * eff + self.gamma * bal
        parts = {
            "efficiency": eff,
            "balance": bal,
            "mean_uf": expected_uf(probs, ufs, mask).detach(),
            "usage": uf_usage(probs, mask).detach(),
        }
        return total, parts
