"""Splits and manifests of the built corpora (real recordings, folders of audio).

Both :mod:`speechbrain_slim.data.real_corpus` and :mod:`speechbrain_slim.data.folders`
split by :func:`stable_hash`, the same on every machine: speech by whole voices
(:func:`split_groups`), noise by file within each category (:func:`split_files`); they
name their manifests with :func:`manifest_names` and skip a build that is already done
(:func:`built_with`). Every built corpus is at :data:`SAMPLE_RATE`.

Authors
 * speechbrain-slim contributors 2026
"""

import hashlib
import json
import os
from collections import Counter

__all__ = ["SAMPLE_RATE", "SPLITS", "built_with", "manifest_names", "split_files",
           "split_groups", "stable_hash"]

SAMPLE_RATE = 16000
SPLITS = ("train", "valid", "test")


def stable_hash(text):
    """A hash of ``text`` that is the same on every machine and run (0 <= h < 1).

    Example
    -------
    >>> stable_hash("tuxpaint/ro") == stable_hash("tuxpaint/ro")
    True
    """
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:12], 16) / 16**12

def split_groups(durations, shares=(("test", 0.12), ("valid", 0.08)), max_heldout_share=0.1):
    """Assign whole groups to splits: group -> split.

    Groups are taken in the order of :func:`stable_hash`; each held-out split receives groups
    until it holds its share of the total duration. Groups above ``max_heldout_share`` of the
    total always train (one big voice would otherwise be the whole test set).

    Example
    -------
    >>> durations = {f"g{i}": 10.0 for i in range(20)}
    >>> splits = split_groups(durations)
    >>> sorted(splits.values()).count("test"), sorted(splits.values()).count("valid")
    (3, 2)
    """
    total = sum(durations.values())
    assignment = {g: "train" for g in durations}
    candidates = [g for g in sorted(durations, key=stable_hash)
                  if durations[g] <= max_heldout_share * total]
    for split, share in shares:
        held = 0.0
        while candidates and held < share * total:
            group = candidates.pop(0)
            assignment[group] = split
            held += durations[group]
    return assignment


def split_files(entries, shares=(("test", 0.15), ("valid", 0.1))):
    """Assign noise files to splits by :func:`stable_hash` of their path, per category;
    a category with fewer than 3 files trains only.

    Example
    -------
    >>> files = [dict(group="c", path=f"/n/{i}.wav") for i in range(40)]
    >>> counts = {s: 0 for s in SPLITS}
    >>> for e in split_files(files): counts[e["split"]] += 1
    >>> counts["train"] > counts["test"] > 0 and counts["valid"] > 0
    True
    """
    per_category = Counter(e["group"] for e in entries)
    out = []
    for entry in entries:
        h = stable_hash(entry["path"])
        split, edge = "train", 0.0
        for name, share in shares:
            if edge <= h < edge + share:
                split = name
            edge += share
        out.append({**entry, "split": split if per_category[entry["group"]] >= 3 else "train"})
    for name, _ in shares:  # few files: a held-out split still gets one (the lowest hash)
        train = sorted((e for e in out if e["split"] == "train"),
                       key=lambda e: stable_hash(e["path"]))
        if len(train) > 1 and not any(e["split"] == name for e in out):
            train[0]["split"] = name
    return out

def manifest_names(out_dir, kinds):
    """``{kind}_{split}`` (and ``valid``/``test``, the fixed mixtures) -> JSON path in ``out_dir``.

    Example
    -------
    >>> sorted(manifest_names("/c", ("noise",)))
    ['noise_test', 'noise_train', 'noise_valid', 'test', 'valid']
    """
    names = {f"{kind}_{split}": os.path.join(out_dir, f"{kind}_{split}.json")
             for kind in kinds for split in SPLITS}
    names.update(valid=os.path.join(out_dir, "valid.json"), test=os.path.join(out_dir, "test.json"))
    return names


def built_with(done_file, settings):
    """Whether ``done_file`` records a finished build with these ``settings``.

    Example
    -------
    >>> import tempfile
    >>> done = os.path.join(tempfile.mkdtemp(), "done.json")
    >>> built_with(done, {"seed": 1})
    False
    >>> with open(done, "w", encoding="utf-8") as stream:
    ...     json.dump({"seed": 1}, stream)
    >>> built_with(done, {"seed": 1}), built_with(done, {"seed": 2})
    (True, False)
    """
    if not os.path.isfile(done_file):
        return False
    with open(done_file, encoding="utf-8") as f:
        return json.load(f) == settings
