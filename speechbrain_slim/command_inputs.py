"""What the ``enhance`` commands work on: input audio files, outputs, the model.

Shared by the single-process ``speechbrain-slim enhance`` (:mod:`speechbrain_slim.cli`) and
its corpus mode (:mod:`speechbrain_slim.corpus_enhance`), so that neither imports the other:

* :func:`find_audio` lists the audio files of files and folders (:data:`AUDIO_EXTENSIONS`);
* :func:`overwritten_inputs` / :func:`refuse_overwrite` find outputs that would overwrite
  an input file (the same path, a symlink or a hard link);
* :func:`load_enhancer` loads the model of ``--source`` (default :data:`DEFAULT_SOURCE`:
  ``$SPEECHBRAIN_SLIM_MODEL`` when set, else the shipped model) with clear errors.

Authors
 * speechbrain-slim contributors 2026
"""

import contextlib
import os

from speechbrain_slim.pretrained import ENV_VAR, default_source

__all__ = ["DEFAULT_SOURCE", "AUDIO_EXTENSIONS", "find_audio", "load_enhancer",
           "overwritten_inputs", "refuse_overwrite"]

DEFAULT_SOURCE = default_source()  # read once, when the command starts
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au", ".mp3", ".opus")


def find_audio(inputs):
    """``(path, relative output name)`` for every audio file of ``inputs`` (files or folders).

    Example
    -------
    >>> find_audio([])
    []
    """
    found = []
    for item in inputs:
        if os.path.isdir(item):
            for root, _, names in sorted(os.walk(item)):
                for name in sorted(names):
                    if name.lower().endswith(AUDIO_EXTENSIONS):
                        path = os.path.join(root, name)
                        found.append((path, os.path.relpath(path, item)))
        elif os.path.isfile(item):
            found.append((item, os.path.basename(item)))
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return found


def load_enhancer(source=None, device="cpu", savedir=None, trust_remote_code=False):
    """Loads EnhanceSlim from a local hub folder or a Hub repo id, with clear errors."""
    from speechbrain_slim.inference import EnhanceSlim

    source = source or DEFAULT_SOURCE
    looks_local = os.path.isabs(source) or source.startswith(".") or source.count("/") != 1
    if not os.path.isdir(source) and looks_local:
        hint = (f" (the default model; pass --source or set {ENV_VAR})"
                if source == DEFAULT_SOURCE else "")
        raise FileNotFoundError(f"model folder {source} does not exist{hint}")
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "hyperparams.yaml")):
        raise FileNotFoundError(f"{source} has no hyperparams.yaml: not a model folder")
    return EnhanceSlim.from_hparams(source=source, savedir=savedir, run_opts={"device": device},
                                    trust_remote_code=trust_remote_code)


def overwritten_inputs(pairs):
    """The ``(input, output)`` pairs whose output would overwrite an input file.

    An output is refused when it is any input file: the same path, a symlink or hard
    link to one (a folder enhanced into itself, or ``-o`` inside an input folder on a
    rerun).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "a.wav")
    >>> open(path, "w").close()
    >>> overwritten_inputs([(path, path)]) == [(path, path)]
    True
    >>> overwritten_inputs([(path, os.path.join(folder, "out", "a.wav"))])
    []
    """
    def identity(path):
        stat = os.stat(path)
        return stat.st_dev, stat.st_ino

    inputs = {}
    for path, _ in pairs:
        inputs[os.path.realpath(path)] = path
        with contextlib.suppress(OSError):
            inputs[identity(path)] = path
    clashes = []
    for path, target in pairs:
        hit = os.path.realpath(target) in inputs
        if not hit and os.path.exists(target):
            with contextlib.suppress(OSError):
                hit = identity(target) in inputs
        if hit:
            clashes.append((path, target))
    return clashes


def refuse_overwrite(pairs, in_place):
    """Raises ``FileExistsError`` when an output would overwrite an input (unless in place)."""
    clashes = overwritten_inputs(pairs)
    if clashes and not in_place:
        shown = "; ".join(f"{target} (input {path})" for path, target in clashes[:3])
        more = f" and {len(clashes) - 3} more" if len(clashes) > 3 else ""
        raise FileExistsError(
            f"refusing to overwrite input files: {shown}{more}. Choose another output "
            "folder, or pass --in-place to replace the inputs with the enhanced audio")
