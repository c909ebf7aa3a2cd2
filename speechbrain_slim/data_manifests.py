"""SpeechBrain data manifests (CSV and JSON) in and out of corpus enhancement.

An ASR recipe lists its audio in a data manifest: a CSV with an ``ID`` column and a
``wav`` column (plus ``duration``, transcripts, speakers ...), or a JSON object of
``{id: {"wav": ..., ...}}``. :func:`manifest_audio` reads one with SpeechBrain's own
loaders (:func:`speechbrain.dataio.dataio.load_data_csv` / ``load_data_json``, so
``$data_root`` / ``{data_root}`` placeholders are resolved with the same replacements
a recipe passes). :func:`write_enhanced_manifest` writes the same manifest again with
each entry's audio path replaced by its enhanced file: every other column, key and
value is kept as written (placeholders included), so a recipe switches to the
enhanced corpus by pointing at the new manifest. A JSON audio value may also be
SpeechBrain's ``{"file": ..., "start": ..., "stop": ...}`` segment form; its ``file``
is replaced and the segment bounds kept (enhancement keeps every file's length).

Authors
 * speechbrain-slim contributors 2026
"""

import csv
import json
import os
import tempfile

from speechbrain.dataio.dataio import load_data_csv, load_data_json

__all__ = ["MANIFEST_EXTENSIONS", "is_manifest", "manifest_audio", "write_enhanced_manifest",
           "write_text_atomically"]

MANIFEST_EXTENSIONS = (".csv", ".json")


def is_manifest(path):
    """Whether ``path`` names a data manifest (by its extension).

    Example
    -------
    >>> is_manifest("train.csv"), is_manifest("data/valid.JSON"), is_manifest("a.wav")
    (True, True, False)
    """
    return str(path).lower().endswith(MANIFEST_EXTENSIONS)


def manifest_audio(path, audio_key="wav", replacements=None):
    """``(entry id, absolute audio path)`` of every entry of a CSV or JSON data manifest.

    Arguments
    ---------
    path : str
        The manifest (``.csv`` with an ``ID`` column, or ``.json``).
    audio_key : str
        The column (key) holding each entry's audio file.
    replacements : dict, optional
        Placeholder values (``{"data_root": "/data"}`` for ``$data_root`` or
        ``{data_root}``).

    Returns
    -------
    list of (str, str)

    Example
    -------
    >>> folder = tempfile.mkdtemp()
    >>> manifest = os.path.join(folder, "train.csv")
    >>> with open(manifest, "w", encoding="utf-8") as stream:
    ...     _ = stream.write("ID,duration,wav,wrd\\nu1,1.5,$data_root/u1.wav,HELLO\\n")
    >>> manifest_audio(manifest, replacements={"data_root": "/data"})
    [('u1', '/data/u1.wav')]
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such manifest")
    try:
        if path.lower().endswith(".csv"):
            data = load_data_csv(path, replacements or {})
        else:
            data = load_data_json(path, replacements or {})
    except KeyError as error:
        raise ValueError(f"{path}: {error.args[0] if error.args else error} (a placeholder "
                         "without a value: pass --replace NAME=VALUE)") from None
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable manifest ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a JSON manifest must be an object of entries")
    entries = []
    for entry_id, entry in data.items():
        value = entry.get(audio_key) if isinstance(entry, dict) else None
        if isinstance(value, dict):
            value = value.get("file")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{path}: entry {entry_id!r} has no {audio_key!r} audio path "
                             "(choose the column with --audio-key)")
        entries.append((str(entry_id), os.path.abspath(os.path.expanduser(value))))
    return entries


def write_enhanced_manifest(path, target, outputs, audio_key="wav"):
    """Writes manifest ``path`` to ``target`` with each entry's audio replaced.

    Entries missing from ``outputs`` (their file failed) are left out. The file is
    written through a temporary file renamed when complete.

    Arguments
    ---------
    path : str
        The original manifest.
    target : str
        The enhanced manifest to write.
    outputs : dict
        Entry id -> enhanced audio path.
    audio_key : str
        The column (key) holding each entry's audio file.

    Returns
    -------
    int
        The number of entries written.

    Example
    -------
    >>> folder = tempfile.mkdtemp()
    >>> manifest = os.path.join(folder, "train.json")
    >>> with open(manifest, "w", encoding="utf-8") as stream:
    ...     json.dump({"u1": {"wav": "{root}/u1.wav", "spk": "s1"}}, stream)
    >>> enhanced = os.path.join(folder, "out", "train.json")
    >>> write_enhanced_manifest(manifest, enhanced, {"u1": "/enhanced/u1.wav"})
    1
    >>> with open(enhanced, encoding="utf-8") as stream:
    ...     json.load(stream)
    {'u1': {'wav': '/enhanced/u1.wav', 'spk': 's1'}}
    """
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream, skipinitialspace=True)
            fields, rows = reader.fieldnames, list(reader)
        kept = [dict(row, **{audio_key: outputs[row["ID"]]}) for row in rows
                if row["ID"] in outputs]

        def dump(stream):
            writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
    else:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
        kept = {}
        for entry_id, entry in data.items():
            if entry_id in outputs:
                value = entry[audio_key]
                new = dict(value, file=outputs[entry_id]) if isinstance(value, dict) else (
                    outputs[entry_id])
                kept[entry_id] = dict(entry, **{audio_key: new})

        def dump(stream):
            json.dump(kept, stream, indent=2)
            stream.write("\n")
    write_text_atomically(target, dump)
    return len(kept)


def write_text_atomically(target, dump):
    """Calls ``dump(stream)`` on a temporary text file next to ``target``, then renames it.

    Example
    -------
    >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> write_text_atomically(target, lambda stream: stream.write("done\\n"))
    >>> open(target, encoding="utf-8").read()
    'done\\n'
    """
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(target)[1],
                                         dir=folder)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            dump(stream)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
