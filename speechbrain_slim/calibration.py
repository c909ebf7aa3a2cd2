"""Calibrating the router's operating point after training.

A router trained by cross-entropy on per-frame targets learns the targets'
probabilities, but inference takes the argmax. When one UF dominates the targets
(UF 0.125 on most frames), the argmax picks it nearly everywhere and the router
spends less than its targets do: measured on the embedded model, targets at mean
UF 0.156 and a router at 0.125 on every frame. Calibration finds the logit shift
(:func:`speechbrain_slim.routing.decide`: ``shift * j`` added to the j-th smallest
UF's logit) at which the router's mean UF on held-out mixtures equals its targets'
mean UF, and folds it into the classifier's bias, so ``"auto"`` spends what the
targets ask for everywhere the router is used (offline, streaming, exported), and a
user's ``shift`` moves the operating point from there.

Authors
 * speechbrain-slim contributors 2026
"""

import torch

from speechbrain_slim.routing import decide, router_logits

__all__ = ["shift_for_mean_uf", "fold_shift", "calibrate_router"]


def _mean_uf(logits, ufs, shift):
    """Mean UF of argmax decisions on ``logits`` [frames, J] with ``shift``."""
    return float(decide(logits.unsqueeze(0), ufs, shift=shift)[0].mean())


def shift_for_mean_uf(logits, ufs, mean_uf, low=-8.0, high=8.0, steps=40):
    """The shift at which argmax decisions on ``logits`` reach ``mean_uf`` (bisection).

    The decisions' mean UF grows with the shift, so bisection over
    ``[low, high]`` finds the smallest shift whose mean UF reaches ``mean_uf``.

    Arguments
    ---------
    logits : torch.Tensor
        ``[frames, J]`` router logits (all frames of the calibration set).
    ufs : sequence of float
        The J UFs, ascending.
    mean_uf : float
        The mean UF to reach.
    low, high : float
        Search interval.
    steps : int
        Bisection steps.

    Returns
    -------
    float

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0], [2.0, 1.5], [2.0, 1.0], [2.0, 0.5]])
    >>> shift = shift_for_mean_uf(logits, (0.5, 1.0), mean_uf=0.75)
    >>> round(shift, 2), decide(logits.unsqueeze(0), (0.5, 1.0), shift=shift)[0]
    (1.0, tensor([[0.5000, 1.0000, 1.0000, 0.5000]]))
    """
    if not min(ufs) <= mean_uf <= max(ufs):
        raise ValueError(f"mean_uf={mean_uf} is outside the UFs {list(ufs)}")

    if _mean_uf(logits, ufs, low) >= mean_uf:
        return low
    if _mean_uf(logits, ufs, high) < mean_uf:
        return high
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (low, middle) if _mean_uf(logits, ufs, middle) >= mean_uf else (middle, high)
    return high


def fold_shift(router, shift):
    """Adds ``shift * j`` to the bias of the j-th logit of ``router`` (in place)."""
    with torch.no_grad():
        bias = router.classifier.bias
        bias += shift * torch.arange(bias.shape[0], dtype=bias.dtype, device=bias.device)


def calibrate_router(model, router, items, target_loss):
    """Finds the shift that makes ``router`` spend its targets' mean UF on ``items``.

    Arguments
    ---------
    model : SlimDemucs
        The trained backbone.
    router : Router
        The trained router (not modified: apply the result with :func:`fold_shift`).
    items : iterable of dict
        Mixtures with ``noisy_sig`` and ``clean_sig`` (1-D tensors): the valid split.
    target_loss : RouterTargetLoss
        Gives the targets' price, floor and error measure (the router's training targets).

    Returns
    -------
    dict
        ``shift``, ``target_mean_uf``, ``mean_uf_before`` and ``mean_uf_after`` (frames of
        all items pooled).

    Example
    -------
    >>> from speechbrain_slim.complexity import macs_per_uf
    >>> from speechbrain_slim.lobes.router import Router
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> from speechbrain_slim.router_targets import RouterTargetLoss
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running", residual=True).eval()
    >>> router = Router(model.ufs, frame_stride=model.total_stride, channels=4).eval()
    >>> items = [{"noisy_sig": torch.randn(4000), "clean_sig": torch.randn(4000)}]
    >>> report = calibrate_router(model, router, items, RouterTargetLoss(macs_per_uf(model)))
    >>> sorted(report)
    ['mean_uf_after', 'mean_uf_before', 'shift', 'target_mean_uf']
    """
    ufs = torch.tensor(model.ufs)
    device = next(model.parameters()).device
    all_logits, all_targets = [], []
    with torch.inference_mode():
        for item in items:
            noisy = item["noisy_sig"].reshape(1, -1).to(device)
            clean = item["clean_sig"].reshape(1, -1).to(device)
            frames = model.bottleneck_frames(noisy.shape[-1])
            outputs = [model(noisy, uf)[0] for uf in model.ufs]
            targets = target_loss.targets(outputs, clean, model.total_stride, frames)
            all_targets.append(targets.reshape(-1).cpu())
            all_logits.append(router_logits(model, router, noisy)[0].reshape(frames, -1).cpu())
    if not all_logits:
        raise ValueError("calibrate_router: no mixtures to calibrate on")
    logits = torch.cat(all_logits)
    target_mean_uf = float(ufs[torch.cat(all_targets).long()].mean())
    shift = shift_for_mean_uf(logits, model.ufs, target_mean_uf)
    return {"shift": shift, "target_mean_uf": target_mean_uf,
            "mean_uf_before": _mean_uf(logits, model.ufs, 0.0),
            "mean_uf_after": _mean_uf(logits, model.ufs, shift)}
