"""Routed enhancement: router logits -> a per-frame UF track -> SlimDemucs along that track.

``uf`` specs accepted everywhere (training, EnhanceSlim, the CLI):

* ``"auto"``: the router decides every bottleneck frame (argmax; Gumbel-softmax with
  straight-through hard decisions in training);
* a UF of the model (``0.25`` or ``"0.25"``): every frame at that UF, router not run;
* a cap (``"max=0.5"``): the router's choice clipped to at most that UF.

``shift`` moves the router's operating point without retraining: it adds
``shift * j`` to the logit of the j-th smallest UF, so a positive shift favours
larger UFs and a negative one smaller UFs.

Authors
 * speechbrain-slim contributors 2026
"""

import math

import torch

from speechbrain_slim.waveforms import as_batch_of_waveforms

__all__ = ["parse_uf", "decide", "route", "router_logits", "random_track"]


def parse_uf(spec, ufs):
    """Parses a UF spec into ``(mode, uf)``: ``("auto", None)``, ``("fixed", uf)``, ``("cap", uf)``.

    Example
    -------
    >>> ufs = (0.125, 0.25, 0.5, 1.0)
    >>> parse_uf("auto", ufs), parse_uf(0.25, ufs), parse_uf("max=0.5", ufs)
    (('auto', None), ('fixed', 0.25), ('cap', 0.5))
    """
    text = str(spec).strip().lower()
    if text == "auto":
        return "auto", None
    mode = "fixed"
    if text.startswith("max="):
        mode, text = "cap", text[len("max=") :]
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"uf must be 'auto', one of {list(ufs)} or 'max=<uf>', got {spec!r}"
        ) from None
    matches = [uf for uf in ufs if math.isclose(value, uf)]
    if not matches:
        raise ValueError(f"uf={value:g} is not one of the model's utilization factors {list(ufs)}")
    return mode, matches[0]


def decide(logits, ufs, cap=None, shift=0.0, training=False, temperature=1.0):
    """Turns router logits into a decision track.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, frames, J]``.
    ufs : sequence of float
        The J UFs, ascending.
    cap : float, optional
        Largest UF allowed.
    shift : float
        Added as ``shift * j`` to the j-th logit.
    training : bool
        Gumbel-softmax sampling with straight-through gates instead of argmax.
    temperature : float
        Gumbel-softmax temperature.

    Returns
    -------
    track : torch.Tensor
        ``[batch, frames]`` chosen UFs.
    gates : torch.Tensor or None
        ``[batch, frames]`` straight-through gates (training only): value 1, gradient
        of the chosen UF's relaxed probability.
    probs : torch.Tensor
        ``[batch, frames, J]`` the router's probabilities (relaxed ones in training).

    Example
    -------
    >>> logits = torch.tensor([[[0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]])
    >>> decide(logits, (0.125, 0.25, 0.5, 1.0))[0]
    tensor([[0.2500, 1.0000]])
    >>> decide(logits, (0.125, 0.25, 0.5, 1.0), cap=0.5)[0]
    tensor([[0.2500, 0.5000]])
    """
    values = torch.tensor(ufs, dtype=logits.dtype, device=logits.device)
    if shift:
        logits = logits + shift * torch.arange(len(ufs), device=logits.device)
    if training:
        uniform = torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)
        probs = torch.softmax((logits - torch.log(-torch.log(uniform))) / temperature, dim=-1)
    else:
        probs = torch.softmax(logits, dim=-1)
    index = probs.argmax(dim=-1)
    if cap is not None:
        index = index.clamp(max=int((values <= cap + 1e-9).sum()) - 1)
    gates = None
    if training:
        chosen = probs.gather(-1, index.unsqueeze(-1)).squeeze(-1)
        gates = chosen - chosen.detach() + 1.0
    return values[index], gates, probs


def random_track(batch, frames, ufs, mean_run=8.0, generator=None):
    """A random per-frame UF track: runs of ``mean_run`` frames on average (geometric
    lengths), each at a UF drawn uniformly.

    Training the backbone along such tracks teaches every width to start from the
    state and the channels a *different* width left behind, which static-UF training
    never shows it (measured: shuffling a router's track costs more PESQ than the
    extra width gains).

    Example
    -------
    >>> generator = torch.Generator().manual_seed(0)
    >>> track = random_track(2, 50, (0.125, 0.25, 0.5, 1.0), generator=generator)
    >>> track.shape, set(track.unique().tolist()) <= {0.125, 0.25, 0.5, 1.0}
    (torch.Size([2, 50]), True)
    """
    values = torch.tensor(ufs, dtype=torch.float32)
    starts = torch.rand(batch, frames, generator=generator) < 1.0 / mean_run
    starts[:, 0] = True
    run_index = starts.long().cumsum(dim=1) - 1
    run_ufs = torch.randint(len(ufs), (batch, frames), generator=generator)
    return values[run_ufs.gather(1, run_index)]


def router_logits(model, router, noisy):
    """The router's logits for ``noisy``, read through the backbone's input normalisation.

    Returns
    -------
    logits : torch.Tensor
        ``[batch, frames, J]``, one row per bottleneck frame.
    mix : torch.Tensor
        ``noisy`` as ``[batch, time]``.
    std : torch.Tensor or None
        The backbone's input scale (pass it on to the backbone).
    """
    backbone, selector = getattr(model, "module", model), getattr(router, "module", router)
    if tuple(selector.ufs) != tuple(backbone.ufs) or selector.frame_stride != backbone.total_stride:
        raise ValueError(
            f"router (ufs {selector.ufs}, stride {selector.frame_stride}) does not match the "
            f"model (ufs {backbone.ufs}, stride {backbone.total_stride})"
        )
    mix = as_batch_of_waveforms(noisy)
    std = backbone.input_scale(mix)
    features = mix if std is None else mix / (backbone.floor + std)
    return router(features, backbone.bottleneck_frames(mix.shape[-1])), mix, std


def route(model, router, noisy, uf="auto", shift=0.0, training=False):
    """Enhances ``noisy`` with SlimDemucs at a fixed UF or along the router's decisions.

    Arguments
    ---------
    model : SlimDemucs
        The backbone.
    router : Router or None
        The router (only needed for ``"auto"`` and caps).
    noisy : torch.Tensor
        ``[batch, time]`` or ``[batch, 1, time]``.
    uf : str or float
        ``"auto"``, a UF of the model or ``"max=<uf>"``.
    shift : float
        Operating-point shift (see the module docstring).
    training : bool
        Gumbel-softmax decisions with straight-through gates.

    Returns
    -------
    enhanced : torch.Tensor
        ``[batch, time]``.
    info : dict
        SlimDemucs's info (``track``, ``mean_uf``, ``macs`` including the router's,
        ``macs_per_sample``) plus the router's ``logits`` and ``probs`` when it ran.

    Example
    -------
    >>> from speechbrain_slim.lobes.router import Router
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=3, normalize="running")
    >>> router = Router(model.ufs, frame_stride=model.total_stride)
    >>> enhanced, info = route(model, router, torch.randn(2, 4000), uf="max=0.5")
    >>> enhanced.shape, bool((info["track"] <= 0.5).all())
    (torch.Size([2, 4000]), True)
    """
    # model and router may be DDP wrappers: call them, read attributes from inside
    backbone, selector = getattr(model, "module", model), getattr(router, "module", router)
    mode, value = parse_uf(uf, backbone.ufs)
    if mode == "fixed":
        return model(noisy, value)
    if router is None:
        raise ValueError(f"uf={uf!r} needs a router, and this model has none")
    logits, mix, std = router_logits(model, router, noisy)
    frames = logits.shape[1]
    track, gates, probs = decide(
        logits, backbone.ufs, cap=value, shift=shift, training=training,
        temperature=selector.temperature,
    )
    enhanced, info = model(mix, track, gates, std=std)
    info["macs"] = info["macs"] + selector.macs_per_frame() * frames
    info["macs_per_sample"] = info["macs"] / mix.shape[-1]
    info["logits"], info["probs"] = logits, probs
    return enhanced, info
