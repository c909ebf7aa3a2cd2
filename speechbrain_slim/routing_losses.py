"""The router's auxiliary losses: efficiency (mean UF or MACs to a target) and balance.

Routing losses work on the router's per-frame probabilities ``p`` of shape
``[batch, frames, J]`` over the utilization factors ``ufs`` (length J), with an
optional frame mask ``m``. With ``q_j`` the batch-mean usage of UF j over valid
frames and ``u_bar = sum_j q_j * uf_j`` the expected mean UF::

    L_eff = (u_bar - target_uf) ** 2                (or max(0, u_bar - target_uf) ** 2)
    L_bal = KL(q || uniform) = sum_j q_j * log(J * q_j)
    L_route = beta * L_eff + gamma * L_bal

The task loss the backbone trains on is :class:`speechbrain_slim.losses.EnhancementLoss`.

Authors
 * speechbrain-slim contributors 2025
"""

import torch

__all__ = ["DEFAULT_UFS", "RoutingLoss", "balance_loss", "efficiency_loss", "expected_uf",
           "uf_usage"]

DEFAULT_UFS = (0.125, 0.25, 0.5, 1.0)


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
