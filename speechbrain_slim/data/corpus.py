"""The embedded clean-speech corpus shipped with the package.

``corpus/`` holds 16 kHz mono FLAC files synthesised by ``recipes/build_embedded_corpus.py``
from Debian TTS engines (flite, festival, espeak-ng, plus sox pitch/tempo derived speakers)
and ``corpus/corpus.json``, keyed by utterance id, with ``wav`` (``{data_root}/...``),
``voice``, ``identity`` (the underlying speaker), ``engine``, ``split``, ``duration`` (s) and
``text``. Splits are disjoint by speaker identity.

Authors
 * speechbrain-slim contributors
"""

import json
import os

CORPUS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SPLITS = ("train", "valid", "test")


def load_corpus(split=None, corpus_dir=CORPUS_DIR):
    """Return the corpus manifest as ``{utt_id: entry}`` with absolute ``wav`` paths.

    Arguments
    ---------
    split : str, optional
        ``"train"``, ``"valid"`` or ``"test"``; all splits when omitted.
    corpus_dir : str
        Folder holding ``corpus.json`` (default: the packaged corpus).

    Returns
    -------
    dict
        Entries sorted by utterance id.

    Example
    -------
    >>> test = load_corpus("test")
    >>> entry = next(iter(test.values()))
    >>> entry["split"], os.path.isfile(entry["wav"])
    ('test', True)
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    path = os.path.join(corpus_dir, "corpus.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"no corpus manifest at {path}; build it with recipes/build_embedded_corpus.py"
        )
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    out = {}
    for uid in sorted(manifest):
        entry = dict(manifest[uid])
        if split is not None and entry["split"] != split:
            continue
        entry["wav"] = entry["wav"].replace("{data_root}", corpus_dir)
        out[uid] = entry
    return out


def corpus_stats(corpus_dir=CORPUS_DIR):
    """Voices, utterances and minutes per split.

    Example
    -------
    >>> stats = corpus_stats()
    >>> sorted(stats), stats["train"]["voices"] > stats["test"]["voices"]
    (['test', 'train', 'valid'], True)
    """
    stats = {}
    for split in SPLITS:
        entries = load_corpus(split, corpus_dir).values()
        stats[split] = {
            "voices": len({e["voice"] for e in entries}),
            "identities": len({e["identity"] for e in entries}),
            "utterances": len(entries),
            "minutes": round(sum(e["duration"] for e in entries) / 60, 2),
        }
    return stats
