"""Model folders are data: what a ``hyperparams.yaml`` may name, and weights-only loading.

HyperPyYAML, which SpeechBrain uses for every model folder, can call any Python
callable (``!apply:os.system [...]``, ``!new:``/``!name:`` of any importable
object, ``!!python/...`` tags), so loading a folder from the Hugging Face Hub runs
whatever its author wrote. speechbrain-slim treats a model folder as **data** unless
the caller says otherwise: before the file is loaded, :func:`check_hyperparams`
parses it as plain YAML (nothing is constructed or called) and accepts only

* ``!new:`` and ``!name:`` of the constructors a speechbrain-slim folder needs,
  :data:`ALLOWED_TARGETS` (the ones :func:`speechbrain_slim.hub.hyperparams_yaml`
  writes);
* ``!ref`` and ``!copy`` references (without ``**``, which could make a reference
  expression run for ever), ``!tuple`` and ``!PLACEHOLDER``;
* the standard YAML types (strings, numbers, booleans, null, lists, mappings).

Anything else (``!apply:``, ``!module:``, ``!include:``, ``!!python/...``, another
module's class) is refused with :class:`UntrustedModelError`, which names the file,
the tag and its line, unless ``trust_remote_code=True`` is passed (the Hugging Face
convention; ``--trust-remote-code`` on the command lines).

Checkpoints are always read with ``torch.load(..., weights_only=True)``: tensors and
plain containers only, never pickled code. :func:`weights_only_transfer` is the
parameter-transfer hook that replaces SpeechBrain's default one (whose ``torch.load``
relies on torch's default, weights-only only since torch 2.6) for the loadables of a
model folder's ``pretrainer``.

Authors
 * speechbrain-slim contributors 2026
"""

import logging
import os

import torch

__all__ = [
    "ALLOWED_TARGETS", "UntrustedModelError", "check_hyperparams", "load_weights",
    "weights_only_transfer", "use_weights_only",
]

logger = logging.getLogger(__name__)

#: Dotted names a model folder's ``!new:`` / ``!name:`` tags may use without
#: ``trust_remote_code=True``.
ALLOWED_TARGETS = frozenset({
    "speechbrain_slim.lobes.slim_demucs.SlimDemucs",
    "speechbrain_slim.lobes.router.Router",
    "torch.nn.ModuleDict",
    "speechbrain.utils.parameter_transfer.Pretrainer",
})

_PLAIN_TAGS = ("!ref", "!copy", "!tuple", "!PLACEHOLDER")
_YAML_TYPES = frozenset({
    "str", "int", "float", "bool", "null", "map", "seq", "omap", "pairs", "set", "timestamp",
    "binary", "merge", "value",
})
_YAML_PREFIX = "tag:yaml.org,2002:"


class UntrustedModelError(ValueError):
    """A model folder's ``hyperparams.yaml`` names code that is not allowed by default."""


def _problem(node):
    """Why the tag of ``node`` is refused (None when it is allowed)."""
    tag = str(node.tag)
    if tag.startswith(_YAML_PREFIX):
        kind = tag[len(_YAML_PREFIX):]
        if kind in _YAML_TYPES:
            return None
        return f"!!{kind} (a Python object tag)"
    if tag in _PLAIN_TAGS:
        if tag in ("!ref", "!copy") and "**" in str(node.value):
            return f"{tag} {node.value!r} (the power operator is not allowed in references)"
        return None
    for prefix in ("!new:", "!name:"):
        if tag.startswith(prefix):
            if tag[len(prefix):] in ALLOWED_TARGETS:
                return None
            return f"{tag} (not one of the constructors a model folder may name)"
    return f"{tag} (runs code or reads other files)"


def _walk(node, seen):
    """Yields every node below ``node`` once (aliases and recursive anchors included)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        value = current.value
        if isinstance(value, list):
            for item in reversed(value):
                stack.extend(reversed(item) if isinstance(item, tuple) else [item])


def check_hyperparams(path, trust_remote_code=False, name=None):
    """Refuses a ``hyperparams.yaml`` that names code outside :data:`ALLOWED_TARGETS`.

    The file is only *parsed* (composed into YAML nodes): no tag is constructed and no
    reference resolved, so checking an untrusted file is safe.

    Arguments
    ---------
    path : str
        The ``hyperparams.yaml`` to check.
    trust_remote_code : bool
        Skip the check (the caller trusts the folder's author).
    name : str, optional
        How the messages name the file (default: ``path``).

    Returns
    -------
    list of tuple
        ``(tag, line)`` of the tags that the check would refuse (empty when the file is
        accepted); only returned when ``trust_remote_code=True``, else they raise.

    Raises
    ------
    UntrustedModelError
        Naming the file, and the tag and line of each refused tag.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "hyperparams.yaml")
    >>> with open(path, "w") as stream:
    ...     _ = stream.write("model: !new:torch.nn.ModuleDict\\n"
    ...                      "__x: !apply:os.system [echo hello]\\n")
    >>> check_hyperparams(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_slim.trust.UntrustedModelError: ...line 2: !apply:os.system (runs code ...
    >>> check_hyperparams(path, trust_remote_code=True)
    [('!apply:os.system', 2)]
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = str(path)
    name = name or path
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError as error:
        raise UntrustedModelError(f"{name}: not valid YAML ({error})") from None
    refused = []
    for node in _walk(root, set()) if root is not None else ():
        problem = _problem(node)
        if problem is not None:
            refused.append((str(node.tag), node.start_mark.line + 1, problem))
    refused.sort(key=lambda item: item[1])
    if refused and not trust_remote_code:
        listed = "; ".join(f"line {line}: {problem}" for _, line, problem in refused[:5])
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise UntrustedModelError(
            f"{name} is refused: {listed}{more}. A model folder may only build "
            f"{', '.join(sorted(ALLOWED_TARGETS))} (!new:/!name:) and use !ref/!copy. If you "
            "trust the folder's author, pass trust_remote_code=True (command line: "
            "--trust-remote-code); that lets the file run any Python code."
        )
    if refused:
        logger.warning("%s: loading with trust_remote_code=True although it names %s", name,
                       ", ".join(f"{tag} (line {line})" for tag, line, _ in refused))
    return [(tag, line) for tag, line, _ in refused]


def load_weights(path, map_location="cpu"):
    """``torch.load(path, weights_only=True)`` with an error that names the file.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> load_weights(path)["w"]
    tensor([1., 1.])
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise RuntimeError(
            f"{path}: not a weights-only checkpoint (tensors and plain containers); refusing "
            f"to unpickle it ({type(error).__name__}: {first})") from None


def weights_only_transfer(obj, path):
    """Parameter-transfer hook: loads ``path`` weights-only into ``obj`` (non-strict).

    The same as SpeechBrain's ``torch_parameter_transfer`` (state-dict hooks, missing
    and unexpected keys only logged) except that the file is read weights-only. Usable
    as a ``Pretrainer`` custom hook in yaml::

        custom_hooks:
            enhance_model: !name:speechbrain_slim.trust.weights_only_transfer

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
    >>> torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    >>> weights_only_transfer(torch.nn.Linear(2, 2), path)
    """
    from speechbrain.utils.checkpoints import hook_on_loading_state_dict_checkpoint

    state = hook_on_loading_state_dict_checkpoint(load_weights(path))
    incompatible = obj.load_state_dict(state, strict=False)
    for key in incompatible.missing_keys:
        logger.warning("parameter transfer from %s: no parameters for %s", path, key)
    for key in incompatible.unexpected_keys:
        logger.warning("parameter transfer from %s: unexpected key %s", path, key)


def use_weights_only(pretrainer):
    """Makes ``pretrainer`` load every ``torch.nn.Module`` loadable with
    :func:`weights_only_transfer` (loadables with their own custom hook keep it).

    Example
    -------
    >>> from speechbrain.utils.parameter_transfer import Pretrainer
    >>> pretrainer = Pretrainer(loadables={"model": torch.nn.Linear(2, 2)})
    >>> use_weights_only(pretrainer).custom_hooks["model"] is weights_only_transfer
    True
    """
    hooks = {name: weights_only_transfer for name, obj in pretrainer.loadables.items()
             if isinstance(obj, torch.nn.Module) and name not in pretrainer.custom_hooks}
    pretrainer.add_custom_hooks(hooks)
    return pretrainer
