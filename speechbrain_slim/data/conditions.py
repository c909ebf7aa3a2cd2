"""Recording conditions simulated on the fly: the room around the talker and the microphone.

Real recordings differ from studio prompts in the room (reverberation), the microphone and
the channel (colouration, band-limiting) and the level. ``RecordingConditions`` draws these
per training item:

* **room**: with probability ``reverb_prob`` the clean speech is convolved with a room impulse
  response from a list of files (e.g. the rooms ``real_corpus`` simulates with pyroomacoustics,
  or RIRS_NOISES) by SpeechBrain's ``reverberate`` (level kept). The target is the reverberant
  speech: the model learns to remove noise in any room, not to dereverberate;
* **microphone**: with probability ``colour_prob``, 1-3 random peaking filters (100 Hz-6 kHz,
  +-``max_colour_db``) from ``torchaudio.functional.equalizer_biquad``; with probability
  ``bandlimit_prob`` a round trip through 8, 11.025 or 12 kHz (``torchaudio`` resampling),
  a telephone or low-rate channel. Both act on the noisy mixture and the target alike, as a
  microphone would.

Example
-------
>>> import numpy as np
>>> conditions = RecordingConditions(colour_prob=1.0, bandlimit_prob=1.0)
>>> rng = np.random.default_rng(0)
>>> noisy, clean = conditions.microphone(np.ones(1600), np.ones(1600), rng)
>>> noisy.shape, clean.dtype
((1600,), dtype('float32'))

Authors
 * speechbrain-slim contributors 2026
"""

import json
import os

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from speechbrain.processing.signal_processing import reverberate

SAMPLE_RATE = 16000
LOW_RATES = (8000, 11025, 12000)


def manifest_paths(files, data_root=None, keys=("wav",)):
    """File paths from a list, a manifest dict or a JSON manifest path (``{data_root}`` replaced).

    A manifest entry's path is its first field among ``keys``.

    Example
    -------
    >>> manifest_paths({"a": {"wav": "{data_root}/a.wav"}}, data_root="/d")
    ['/d/a.wav']
    """
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)):
        if not os.path.isfile(files):
            raise ValueError(f"manifest {files} does not exist")
        with open(files, encoding="utf-8") as stream:
            files = json.load(stream)
    if isinstance(files, dict):
        paths = []
        for uid, entry in sorted(files.items()):
            found = [entry[k] for k in keys if k in entry]
            if not found:
                raise ValueError(f"manifest entry {uid} has none of {list(keys)}")
            paths.append(found[0])
    else:
        paths = [str(p) for p in files]
    if data_root is not None:
        paths = [p.replace("{data_root}", str(data_root)) for p in paths]
    return paths


def manifest_categories(files, data_root=None, field="category"):
    """File paths grouped by a manifest field: a list of lists, one per category (sorted).

    A plain list of paths is one category.

    Example
    -------
    >>> manifest_categories({"a": {"wav": "a.wav", "category": "x"},
    ...                      "b": {"wav": "b.wav", "category": "y"}})
    [['a.wav'], ['b.wav']]
    """
    if isinstance(files, (str, os.PathLike)):
        with open(files, encoding="utf-8") as stream:
            files = json.load(stream)
    if not isinstance(files, dict):
        paths = manifest_paths(files, data_root)
        return [paths] if paths else []
    groups = {}
    for uid, entry in sorted(files.items()):
        groups.setdefault(entry.get(field, ""), []).extend(
            manifest_paths({uid: entry}, data_root))
    return [groups[k] for k in sorted(groups)]


class RecordingConditions:
    """Random room and microphone of one training item (see the module docstring).

    Arguments
    ---------
    rirs : list, dict or str, optional
        Room impulse responses (16 kHz files; a list, a manifest or its JSON path).
    reverb_prob : float
        Share of items heard through a room (needs ``rirs``).
    colour_prob : float
        Share of items with a coloured microphone.
    max_colour_db : float
        Largest gain of a colouring peak or notch.
    bandlimit_prob : float
        Share of items band-limited to 4-6 kHz.
    data_root : str, optional
        Replaces ``{data_root}`` in manifest paths.
    """

    def __init__(self, rirs=None, reverb_prob=0.0, colour_prob=0.0, max_colour_db=10.0,
                 bandlimit_prob=0.0, data_root=None):
        self.rirs = manifest_paths(rirs, data_root)
        for name, p in (("reverb_prob", reverb_prob), ("colour_prob", colour_prob),
                        ("bandlimit_prob", bandlimit_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if reverb_prob > 0 and not self.rirs:
            raise ValueError("reverb_prob > 0 needs room impulse responses (rirs)")
        self.reverb_prob, self.colour_prob = reverb_prob, colour_prob
        self.max_colour_db, self.bandlimit_prob = max_colour_db, bandlimit_prob

    def room(self, clean, rng):
        """The clean speech as heard in a random room (or as it is)."""
        if not self.rirs or rng.random() >= self.reverb_prob:
            return np.asarray(clean, dtype=np.float32)
        h, rate = sf.read(self.rirs[int(rng.integers(len(self.rirs)))], dtype="float32")
        if rate != SAMPLE_RATE:
            raise ValueError(f"room impulse responses must be {SAMPLE_RATE} Hz, got {rate}")
        wet = reverberate(torch.from_numpy(np.asarray(clean, dtype=np.float32))[None],
                          torch.from_numpy(h)[None], rescale_amp="avg")
        return wet[0].numpy()

    def microphone(self, noisy, clean, rng):
        """The same random colouration and band-limit applied to noisy and clean."""
        both = torch.from_numpy(np.stack([noisy, clean]).astype(np.float32))
        # torchaudio's biquads clamp to [-1, 1]: filter at a level where no gain can reach it
        scale = max(float(both.abs().max()), 1e-9) / 1e-2
        both = both / scale
        if rng.random() < self.colour_prob:
            for _ in range(int(rng.integers(1, 4))):
                both = AF.equalizer_biquad(
                    both, SAMPLE_RATE, float(np.exp(rng.uniform(np.log(100), np.log(6000)))),
                    float(rng.uniform(-self.max_colour_db, self.max_colour_db)),
                    float(rng.uniform(0.5, 2.0)))
        if rng.random() < self.bandlimit_prob:
            low = int(LOW_RATES[int(rng.integers(len(LOW_RATES)))])
            length = both.shape[-1]
            both = AF.resample(AF.resample(both, SAMPLE_RATE, low), low, SAMPLE_RATE)[..., :length]
            if both.shape[-1] < length:
                both = torch.nn.functional.pad(both, (0, length - both.shape[-1]))
        both = (both * scale).numpy()
        return both[0], both[1]
