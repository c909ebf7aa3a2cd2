"""Import of ``denoiser.demucs.Demucs`` checkpoints (facebookresearch/denoiser) into SlimDemucs.

The reference stores ``encoder.{i}.0`` (strided conv), ``encoder.{i}.2`` (1x1
conv), ``decoder.{i}.0`` (1x1 conv), ``decoder.{i}.2`` (transposed conv) and
``lstm.lstm.*`` / ``lstm.linear.*``. The widths, depth, kernel size, GLU and
causality are read from the tensor shapes; the rest comes from the model's
attributes when a model is given.

Authors
 * speechbrain-slim contributors 2026
"""

import re

import torch

__all__ = ["denoiser_config", "denoiser_weights", "to_denoiser_state_dict"]

_ATTRIBUTES = ("stride", "resample", "normalize", "floor", "sample_rate")


def _state_dict(model_or_state_dict):
    if isinstance(model_or_state_dict, torch.nn.Module):
        return model_or_state_dict.state_dict()
    if isinstance(model_or_state_dict, dict):
        # denoiser's serialized packages hold the weights under "state".
        return model_or_state_dict.get("state", model_or_state_dict)
    raise TypeError(
        f"expected a denoiser Demucs model or its state dict, got {type(model_or_state_dict)}"
    )


def _require(state, key):
    if key not in state:
        raise KeyError(f"not a denoiser Demucs state dict: missing key {key!r}")
    return state[key]


def denoiser_config(model_or_state_dict):
    """Reads SlimDemucs constructor arguments from a denoiser Demucs model or state dict.

    Arguments
    ---------
    model_or_state_dict : torch.nn.Module or dict
        A ``denoiser.demucs.Demucs`` or its state dict.

    Returns
    -------
    dict
        Keyword arguments for :class:`~speechbrain_slim.lobes.slim_demucs.SlimDemucs`.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> state = SlimDemucs(hidden=8, depth=2).to_denoiser_state_dict()
    >>> config = denoiser_config(state)
    >>> config["hidden"], config["depth"], config["causal"]
    (8, 2, True)
    """
    state = _state_dict(model_or_state_dict)
    depth = len({int(m.group(1)) for k in state if (m := re.match(r"encoder\.(\d+)\.", k))})
    if depth == 0:
        raise KeyError("not a denoiser Demucs state dict: no encoder.* keys")
    first = _require(state, "encoder.0.0.weight")
    hidden, chin, kernel_size = first.shape
    if chin != 1 or _require(state, f"decoder.{depth - 1}.2.weight").shape[1] != 1:
        raise ValueError("only mono Demucs models (chin=chout=1) can be imported")
    widths = [_require(state, f"encoder.{i}.0.weight").shape[0] for i in range(depth)]
    growth = widths[1] / widths[0] if depth > 1 else 2
    config = {
        "hidden": hidden,
        "depth": depth,
        "kernel_size": kernel_size,
        "causal": "lstm.linear.weight" not in state,
        "glu": _require(state, "encoder.0.2.weight").shape[0] == 2 * hidden,
        "growth": int(growth) if float(growth).is_integer() else growth,
        "max_hidden": max(widths),
        "bottleneck": "lstm",
        "bottleneck_layers": sum(
            1 for key in state if re.fullmatch(r"lstm\.lstm\.weight_ih_l\d+", key)
        ),
        "rescale": 0,
    }
    if isinstance(model_or_state_dict, torch.nn.Module):
        for name in _ATTRIBUTES:
            if hasattr(model_or_state_dict, name):
                config[name] = getattr(model_or_state_dict, name)
    return config


def _pairs(model):
    """(reference key prefix, SlimDemucs layer) for every convolution."""
    for index, block in enumerate(model.encoder):
        yield f"encoder.{index}.0", block.conv
        yield f"encoder.{index}.2", block.pointwise
    for index, block in enumerate(model.decoder):
        yield f"decoder.{index}.0", block.pointwise
        yield f"decoder.{index}.2", block.conv_tr


def denoiser_weights(model, model_or_state_dict):
    """Copies a denoiser Demucs model's weights into ``model`` (a SlimDemucs with LSTM).

    Arguments
    ---------
    model : SlimDemucs
        Target, built with the configuration of :func:`denoiser_config`.
    model_or_state_dict : torch.nn.Module or dict
        A ``denoiser.demucs.Demucs`` or its state dict.
    """
    state = _state_dict(model_or_state_dict)
    used = set()
    for prefix, layer in _pairs(model):
        weight, bias = _require(state, prefix + ".weight"), _require(state, prefix + ".bias")
        expected = layer.reference_weight().shape
        if tuple(weight.shape) != tuple(expected):
            raise ValueError(
                f"{prefix}.weight has shape {tuple(weight.shape)}, expected {tuple(expected)}"
            )
        layer.load_reference_weight(weight, bias)
        used.update((prefix + ".weight", prefix + ".bias"))
    lstm_state = {k: v for k, v in state.items() if k.startswith("lstm.")}
    model.bottleneck.load_state_dict({k[len("lstm.") :]: v for k, v in lstm_state.items()})
    used.update(lstm_state)
    unexpected = sorted(set(state) - used)
    if unexpected:
        raise ValueError(f"unexpected keys in the denoiser state dict: {unexpected}")


def to_denoiser_state_dict(model):
    """Returns ``model``'s weights as a ``denoiser.demucs.Demucs`` state dict (LSTM only)."""
    if model.bottleneck_type != "lstm":
        raise ValueError("only SlimDemucs models with an LSTM bottleneck map onto Demucs")
    state = {}
    for prefix, layer in _pairs(model):
        state[prefix + ".weight"] = layer.reference_weight().detach().clone()
        state[prefix + ".bias"] = layer.bias.detach().reshape(-1).clone()
    for key, value in model.bottleneck.state_dict().items():
        state["lstm." + key] = value.clone()
    return state
