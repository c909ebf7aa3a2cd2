"""Where a model comes from: a local model folder, a URL or a Hugging Face Hub repo id.

:func:`check_source` tells a local folder from a Hub repo id ``ORG/NAME`` and fails at once
on a missing local folder; :func:`hub_offline` and :func:`hub_fetch_config` make every Hub
lookup honour ``HF_HUB_OFFLINE``; :func:`fetch_hub_file` resolves ``ORG/NAME/file.wav``;
:func:`hub_failure_message` says why a Hub lookup failed. Used by
:meth:`speechbrain_slim.inference.EnhanceSlim.from_hparams` and
:meth:`~speechbrain_slim.inference.EnhanceSlim.enhance_file`.

Authors
 * speechbrain-slim contributors 2026
"""

import dataclasses
import os
import re

__all__ = ["HUB_REPO_ID", "check_source", "fetch_hub_file", "hub_failure_message",
           "hub_fetch_config", "hub_offline"]

HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def fetch_hub_file(path):
    """Resolves ``ORG/NAME/file.wav`` (a file of a Hub repo) to a local path, else raises."""
    source, name = os.path.split(path)
    if HUB_REPO_ID.fullmatch(source) and not os.path.exists(os.path.dirname(source) or source):
        from speechbrain.utils.fetching import FetchConfig, fetch

        try:
            return str(fetch(name, source=source, fetch_config=hub_fetch_config(FetchConfig())))
        except Exception as error:
            raise ValueError(f"{path}: no such file (nor a Hub file: {error})") from None
    raise ValueError(f"{path}: no such file")


def hub_offline():
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read now (not only
    when ``huggingface_hub`` was imported).

    Example
    -------
    >>> import os
    >>> os.environ["HF_HUB_OFFLINE"] = "1"
    >>> hub_offline()
    True
    >>> del os.environ["HF_HUB_OFFLINE"]
    """
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return True
    return False


def hub_fetch_config(fetch_config):
    """``fetch_config`` without network access when :func:`hub_offline` (cache only)."""
    if hub_offline() and fetch_config.allow_network:
        return dataclasses.replace(fetch_config, allow_network=False)
    return fetch_config


def check_source(source, hparams_file="hyperparams.yaml"):
    """Checks a model source: an existing model folder, a URL, or a Hub repo id ``ORG/NAME``.

    A source that looks local (a path object, absolute, ``./``, ``../``, ``~``, a path
    whose parent folder exists, or anything that is not ``ORG/NAME``) must be an existing
    folder holding ``hparams_file``; else ``FileNotFoundError`` at once, without any
    network lookup.

    Arguments
    ---------
    source : str, os.PathLike or FetchSource
        The source given to :meth:`EnhanceSlim.from_hparams`.
    hparams_file : str
        The file a model folder must hold.

    Returns
    -------
    str or FetchSource
        The source to fetch from.

    Example
    -------
    >>> check_source("speechbrain-slim/slim-demucs")
    'speechbrain-slim/slim-demucs'
    >>> check_source("/no/such/model")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model folder /no/such/model does not exist
    """
    if not isinstance(source, (str, os.PathLike)):  # a FetchSource says where it is
        return source
    local = isinstance(source, os.PathLike)
    source = os.fspath(source)
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, hparams_file)):
            raise FileNotFoundError(f"{source} has no {hparams_file}: not a model folder")
        return source
    if not local and source.startswith(("http://", "https://")):
        return source
    parent = os.path.dirname(source.rstrip("/\\"))
    if (local or os.path.isabs(os.path.expanduser(source)) or source in (".", "..")
            or source.startswith(("./", "../", ".\\", "..\\", "~"))
            or not HUB_REPO_ID.fullmatch(source)):
        raise FileNotFoundError(f"model folder {source} does not exist")
    if parent and os.path.isdir(parent):
        raise FileNotFoundError(
            f"model folder {source} does not exist (a local folder {parent} exists, so it "
            "was read as a path; for the Hub repo of that name pass source=FetchSource("
            f"FetchFrom.HUGGING_FACE, {source!r}) from speechbrain.utils.fetching)")
    return source


def hub_failure_message(source, what, error):
    """The message of a failed Hub lookup of ``source`` (offline or not)."""
    reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    if hub_offline():
        return (f"model {source}: not a local folder, and {what} not in the local Hugging Face "
                "cache (HF_HUB_OFFLINE is set, so the Hub was not asked)")
    return (f"model {source}: not a local folder, and {what} could not be fetched from the "
            f"Hugging Face Hub ({type(error).__name__}: {reason})")
