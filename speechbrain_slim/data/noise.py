"""Deterministic synthetic noise families at 16 kHz.

No noise corpus can be downloaded on the project's machines, so training and test noise is
generated here from a seed. Every family returns a float32 numpy array of the requested
length, normalised to unit RMS (the mixer sets the level), and the same seed always gives
the same samples.

Families (``NOISE_FAMILIES``):

* ``colored``: stationary noise with a spectral slope between brown and blue, plus a random
  spectral tilt/resonance;
* ``modulated``: colored noise under a slow random amplitude envelope (0.1-3 Hz);
* ``bursty``: short loud noise bursts (doors, traffic passing, rustling) over a low floor;
* ``babble``: 3-8 overlapping talkers taken from a speech pool (needs ``speech_pool``);
* ``hum``: mains-like hum, 50/60 Hz or a machine fundamental with harmonics and jitter;
* ``clicks``: impulses and clicks (keyboard, ticking, crackle) with short decays;
* ``tonal``: music-like note sequences with harmonics, chords and beeps;
* ``reverberant``: a noise source heard through a synthetic room (exponentially decaying,
  randomly coloured impulse response).

``recorded`` (optional) loops real recordings from a folder, e.g. the freedesktop sound theme
that Debian ships in ``/usr/share/sounds/freedesktop/stereo`` (``sound-theme-freedesktop``).
``files`` (optional) reads random stretches of a list of 16 kHz noise files (a noise corpus:
``real_corpus``'s recordings, MUSAN, DNS noise) without loading them into memory.

Authors
 * speechbrain-slim contributors
"""

import glob
import os

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, resample_poly

SAMPLE_RATE = 16000
NOISE_FAMILIES = (
    "colored", "modulated", "bursty", "babble", "hum", "clicks", "tonal", "reverberant",
)
DEBIAN_SOUND_DIR = "/usr/share/sounds/freedesktop/stereo"


def _rng(seed):
    """Return a numpy Generator from an int, a sequence of ints or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _unit_rms(x):
    x = np.asarray(x, dtype=np.float64)
    rms = np.sqrt(np.mean(x**2))
    if rms <= 0 or not np.isfinite(rms):
        return np.zeros(len(x), dtype=np.float32)
    return (x / rms).astype(np.float32)


def colored_noise(num_samples, rng, slope=None):
    """Gaussian noise whose power spectrum falls as ``f ** slope`` (0 white, -1 pink, -2 brown).

    Arguments
    ---------
    num_samples : int
        Length in samples.
    rng : int or numpy.random.Generator
        Seed or generator.
    slope : float, optional
        Spectral slope; drawn in [-2, 1] when omitted.

    Returns
    -------
    numpy.ndarray
        float32, unit RMS.

    Example
    -------
    >>> x = colored_noise(16000, 0, slope=-1.0)
    >>> x.shape, x.dtype, round(float((x ** 2).mean()), 3)
    ((16000,), dtype('float32'), 1.0)
    """
    rng = _rng(rng)
    if slope is None:
        slope = rng.uniform(-2.0, 1.0)
    n = max(int(num_samples), 1)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    shape = np.maximum(f, 20.0) ** (slope / 2)
    if rng.random() < 0.5:  # a broad resonance, as rooms and machines colour noise
        fc, bw = rng.uniform(100, 5000), rng.uniform(50, 2000)
        shape = shape * (1 + rng.uniform(1, 6) * np.exp(-0.5 * ((f - fc) / bw) ** 2))
    return _unit_rms(np.fft.irfft(spec * shape, n)[:num_samples])


def _envelope(num_samples, rng, rate_hz, depth):
    """Smooth random envelope in [1 - depth, 1] varying at about ``rate_hz``."""
    n_knots = max(int(num_samples / SAMPLE_RATE * rate_hz) + 2, 2)
    knots = rng.random(n_knots)
    t = np.linspace(0, n_knots - 1, num_samples)
    env = np.interp(t, np.arange(n_knots), knots)
    k = min(max(int(SAMPLE_RATE / rate_hz / 4), 1), num_samples)
    env = np.convolve(env, np.ones(k) / k, mode="same")
    env = (env - env.min()) / max(env.max() - env.min(), 1e-9)
    return 1 - depth + depth * env


def modulated_noise(num_samples, rng):
    """Colored noise under a slow random amplitude envelope (non-stationary).

    Example
    -------
    >>> modulated_noise(8000, 1).shape
    (8000,)
    """
    rng = _rng(rng)
    x = colored_noise(num_samples, rng)
    env = _envelope(num_samples, rng, rng.uniform(0.1, 3.0), rng.uniform(0.5, 0.98))
    return _unit_rms(x * env)


def bursty_noise(num_samples, rng):
    """Short bursts of colored noise (50-600 ms, sharp attack) over a quiet floor.

    Example
    -------
    >>> bursty_noise(16000, 2).dtype
    dtype('float32')
    """
    rng = _rng(rng)
    out = 10 ** (rng.uniform(-40, -15) / 20) * colored_noise(num_samples, rng)
    n_bursts = rng.integers(1, 3 + int(4 * num_samples / SAMPLE_RATE))
    for _ in range(n_bursts):
        dur = int(rng.uniform(0.05, 0.6) * SAMPLE_RATE)
        dur = min(dur, num_samples)
        start = rng.integers(0, max(num_samples - dur, 0) + 1)
        burst = colored_noise(dur, rng)
        t = np.arange(dur) / SAMPLE_RATE
        attack = np.minimum(t / rng.uniform(0.002, 0.03), 1.0)
        decay = np.exp(-t / rng.uniform(0.05, 0.4))
        out[start : start + dur] += 10 ** (rng.uniform(-12, 0) / 20) * burst * attack * decay
    return _unit_rms(out)


def _speech_item(item):
    if isinstance(item, (str, os.PathLike)):
        x, sr = sf.read(item, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if sr != SAMPLE_RATE:
            raise ValueError(f"babble speech {item} is {sr} Hz, expected {SAMPLE_RATE}")
        return x
    return np.asarray(item, dtype=np.float32)


def babble_noise(num_samples, rng, speech_pool):
    """Overlapping talkers (3-8) from ``speech_pool`` (arrays or audio file paths, 16 kHz).

    Example
    -------
    >>> pool = [np.sin(np.arange(8000) * 0.05 * k) for k in range(1, 6)]
    >>> babble_noise(16000, 0, pool).shape
    (16000,)
    """
    rng = _rng(rng)
    if speech_pool is None or len(speech_pool) == 0:
        raise ValueError("babble noise needs a non-empty speech_pool (arrays or file paths)")
    out = np.zeros(num_samples)
    n_talkers = int(rng.integers(3, 9))
    for _ in range(n_talkers):
        speech = _unit_rms(_speech_item(speech_pool[rng.integers(len(speech_pool))]))
        if len(speech) == 0:
            continue
        gap = np.zeros(int(rng.uniform(0, 0.3) * SAMPLE_RATE))
        reps = int(np.ceil((num_samples + len(speech)) / (len(speech) + len(gap)))) + 1
        loop = np.tile(np.concatenate([speech, gap]), reps)
        offset = rng.integers(0, len(speech) + len(gap))
        out += 10 ** (rng.uniform(-6, 0) / 20) * loop[offset : offset + num_samples]
    return _unit_rms(out)


def hum_noise(num_samples, rng):
    """Mains or machine hum: a fundamental (50/60 Hz or 80-400 Hz) with decaying harmonics.

    Example
    -------
    >>> hum_noise(4000, 3).shape
    (4000,)
    """
    rng = _rng(rng)
    f0 = rng.choice([50.0, 60.0]) if rng.random() < 0.6 else rng.uniform(80, 400)
    jitter = 1 + 0.003 * np.cumsum(rng.standard_normal(num_samples)) / np.sqrt(SAMPLE_RATE)
    phase = 2 * np.pi * f0 * np.cumsum(jitter) / SAMPLE_RATE
    out = np.zeros(num_samples)
    rolloff = rng.uniform(0.5, 2.0)
    for h in range(1, int(min(40, 7000 / f0)) + 1):
        out += rng.uniform(0.3, 1.0) / h**rolloff * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:  # buzz: clipped hum
        out = np.clip(out, -0.5 * np.abs(out).max(), 0.5 * np.abs(out).max())
    out = out * _envelope(num_samples, rng, 0.5, rng.uniform(0.0, 0.3))
    out += 10 ** (rng.uniform(-40, -20) / 20) * np.std(out) * colored_noise(num_samples, rng)
    return _unit_rms(out)


def clicks_noise(num_samples, rng):
    """Sparse impulses and clicks (keyboard, ticking clock, vinyl crackle) with short decays.

    Example
    -------
    >>> x = clicks_noise(16000, 4)
    >>> bool(np.abs(x).max() > 3 * np.sqrt((x ** 2).mean()))
    True
    """
    rng = _rng(rng)
    out = 10 ** (rng.uniform(-50, -30) / 20) * colored_noise(num_samples, rng)
    rate = rng.choice([rng.uniform(1, 4), rng.uniform(5, 15), rng.uniform(30, 200)])
    n = max(1, rng.poisson(rate * num_samples / SAMPLE_RATE))
    if rng.random() < 0.3:  # regular ticking
        period = int(SAMPLE_RATE / rng.uniform(1, 6))
        starts = np.arange(rng.integers(0, period), num_samples, period)
    else:
        starts = rng.integers(0, num_samples, size=n)
    for s in starts:
        dur = int(rng.uniform(0.001, 0.03) * SAMPLE_RATE) + 1
        dur = min(dur, num_samples - s)
        click = rng.standard_normal(dur) * np.exp(-np.arange(dur) / max(dur / 5, 1))
        out[s : s + dur] += 10 ** (rng.uniform(-10, 0) / 20) * click
    return _unit_rms(out)


def tonal_noise(num_samples, rng):
    """Music-like sound: notes of a random scale with harmonics and ADSR, chords, or beeps.

    Example
    -------
    >>> tonal_noise(8000, 5).dtype
    dtype('float32')
    """
    rng = _rng(rng)
    out = np.zeros(num_samples)
    root = rng.uniform(110, 440)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12]) if rng.random() < 0.5 else np.array(
        [0, 3, 5, 7, 10, 12])
    beeps = rng.random() < 0.2
    note_s = rng.uniform(0.08, 0.6)
    n_harm = 1 if beeps else int(rng.integers(2, 10))
    pos = 0
    while pos < num_samples:
        dur = int(note_s * rng.choice([0.5, 1, 1, 2]) * SAMPLE_RATE)
        dur = max(min(dur, num_samples - pos), 1)
        t = np.arange(dur) / SAMPLE_RATE
        env = np.minimum(t / 0.01, 1) * np.exp(-t / rng.uniform(0.1, 1.0))
        n_voices = 1 if beeps else int(rng.integers(1, 4))
        for _ in range(n_voices):
            f = root * 2 ** (rng.choice(scale) / 12) * rng.choice([0.5, 1, 1, 2])
            if beeps:
                f = rng.uniform(500, 3000)
            for h in range(1, n_harm + 1):
                if f * h < 7500:
                    out[pos : pos + dur] += env / h**1.2 * np.sin(2 * np.pi * f * h * t)
        pos += dur + (int(rng.uniform(0.02, 0.3) * SAMPLE_RATE) if beeps else 0)
    return _unit_rms(out)


def room_impulse_response(rng, rt60=None, length_s=None):
    """Synthetic room impulse response: direct path + exponentially decaying coloured tail.

    Example
    -------
    >>> h = room_impulse_response(0, rt60=0.5)
    >>> int(np.argmax(np.abs(h)))
    0
    """
    rng = _rng(rng)
    if rt60 is None:
        rt60 = rng.uniform(0.2, 1.5)
    n = int((length_s or min(rt60, 1.2)) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = colored_noise(n, rng, slope=rng.uniform(-1.5, 0)) * np.exp(-6.9 * t / rt60)
    h = 10 ** (rng.uniform(-12, -3) / 20) * tail / max(np.abs(tail).max(), 1e-9)
    h[0] = 1.0
    return h.astype(np.float32)


def reverberant_noise(num_samples, rng):
    """A (bursty or colored) noise source heard through a synthetic reverberant room.

    Example
    -------
    >>> reverberant_noise(8000, 6).shape
    (8000,)
    """
    rng = _rng(rng)
    h = room_impulse_response(rng, rt60=rng.uniform(0.4, 1.5))
    src_fn = [bursty_noise, clicks_noise, modulated_noise, tonal_noise][rng.integers(4)]
    pre = len(h)
    src = src_fn(num_samples + pre, rng)
    h_wet = h.copy()
    h_wet[0] = rng.uniform(0.0, 0.5)  # mostly diffuse field
    return _unit_rms(fftconvolve(src, h_wet)[pre : pre + num_samples])


def load_recordings(folder=DEBIAN_SOUND_DIR, exclude=("audio-channel", "audio-test")):
    """Load real noise recordings from ``folder`` (any format soundfile reads) at 16 kHz.

    Files whose name contains one of ``exclude`` are skipped (freedesktop's channel test files
    are speech). Returns a list of float32 arrays, sorted by file name; ``[]`` if the folder
    does not exist.

    Example
    -------
    >>> isinstance(load_recordings("/nonexistent"), list)
    True
    """
    out = []
    if not os.path.isdir(folder):
        return out
    for path in sorted(glob.glob(os.path.join(folder, "*"))):
        if any(e in os.path.basename(path) for e in exclude):
            continue
        try:
            x, sr = sf.read(path, dtype="float64", always_2d=True)
        except (RuntimeError, sf.LibsndfileError):
            continue
        x = x.mean(axis=1)
        if sr != SAMPLE_RATE:
            g = np.gcd(int(sr), SAMPLE_RATE)
            x = resample_poly(x, SAMPLE_RATE // g, int(sr) // g)
        if np.any(x):
            out.append(x.astype(np.float32))
    return out


def recorded_noise(num_samples, rng, recordings):
    """Random recordings from ``recordings`` placed at random times, with gaps.

    Example
    -------
    >>> recorded_noise(8000, 0, [np.ones(100)]).shape
    (8000,)
    """
    rng = _rng(rng)
    if not recordings:
        raise ValueError("recorded noise needs a non-empty list of recordings")
    out = 10 ** (rng.uniform(-50, -30) / 20) * colored_noise(num_samples, rng)
    pos = int(rng.integers(-SAMPLE_RATE // 2, SAMPLE_RATE // 2))
    while pos < num_samples:
        rec = recordings[rng.integers(len(recordings))]
        rec = rec / max(np.abs(rec).max(), 1e-9) * 10 ** (rng.uniform(-10, 0) / 20)
        a, b = max(pos, 0), min(pos + len(rec), num_samples)
        if b > a:
            out[a:b] += rec[a - pos : b - pos]
        pos += len(rec) + int(rng.uniform(0, 1.0) * SAMPLE_RATE)
    return _unit_rms(out)


def file_noise(num_samples, rng, files):
    """One or two random noise files (16 kHz), each a random stretch or looped with gaps.

    ``files``: paths, or lists of paths (categories): a category is drawn first, so that
    a category of many short files (keyboard clicks) is not drawn more often than a few
    long ones (music).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "n.wav")
    >>> sf.write(path, np.random.default_rng(0).standard_normal(4000) * 0.1, SAMPLE_RATE)
    >>> file_noise(16000, 0, [path]).shape
    (16000,)
    """
    rng = _rng(rng)
    if not files:
        raise ValueError("file noise needs a non-empty list of noise files")
    out = np.zeros(num_samples)
    for _ in range(1 if rng.random() < 0.7 else 2):
        path = files[int(rng.integers(len(files)))]
        if isinstance(path, (list, tuple)):
            path = path[int(rng.integers(len(path)))]
        info = sf.info(path)
        if info.samplerate != SAMPLE_RATE:
            raise ValueError(f"noise file {path} is {info.samplerate} Hz, expected {SAMPLE_RATE}")
        if info.frames >= num_samples:
            start = int(rng.integers(0, info.frames - num_samples + 1))
            x, _ = sf.read(path, start=start, stop=start + num_samples, dtype="float64",
                           always_2d=True)
            x = x.mean(axis=1)
        else:
            part, _ = sf.read(path, dtype="float64", always_2d=True)
            part = part.mean(axis=1)
            x = np.zeros(num_samples)
            pos = -int(rng.integers(0, len(part)))
            while pos < num_samples:
                a, b = max(pos, 0), min(pos + len(part), num_samples)
                x[a:b] += part[a - pos : b - pos]
                pos += len(part) + int(rng.uniform(0.0, 0.5) * SAMPLE_RATE)
        out += 10 ** (rng.uniform(-6, 0) / 20) * _unit_rms(x)
    # a low floor: sparse recordings (clicks, footsteps) may be silent under the speech
    return _unit_rms(out + 10 ** (rng.uniform(-50, -30) / 20) * colored_noise(num_samples, rng))


_GENERATORS = {
    "colored": colored_noise,
    "modulated": modulated_noise,
    "bursty": bursty_noise,
    "hum": hum_noise,
    "clicks": clicks_noise,
    "tonal": tonal_noise,
    "reverberant": reverberant_noise,
}


def make_noise(family, num_samples, seed, speech_pool=None, recordings=None, files=None):
    """Generate ``num_samples`` of noise of one family, deterministically from ``seed``.

    Arguments
    ---------
    family : str
        One of ``NOISE_FAMILIES`` or ``"recorded"``.
    num_samples : int
        Length in samples at 16 kHz.
    seed : int, sequence of int or numpy.random.Generator
        Same seed, same noise.
    speech_pool : sequence, optional
        Speech arrays or 16 kHz file paths for ``babble``.
    recordings : list of numpy.ndarray, optional
        Real recordings for ``recorded`` (see ``load_recordings``).
    files : list of str, optional
        Noise files for ``files``.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(num_samples,)``, unit RMS.

    Example
    -------
    >>> a = make_noise("hum", 16000, seed=7)
    >>> b = make_noise("hum", 16000, seed=7)
    >>> bool(np.array_equal(a, b)), a.dtype
    (True, dtype('float32'))
    """
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    if family == "babble":
        return babble_noise(num_samples, seed, speech_pool)
    if family == "recorded":
        return recorded_noise(num_samples, seed, recordings)
    if family == "files":
        return file_noise(num_samples, seed, files)
    if family not in _GENERATORS:
        raise ValueError(f"unknown noise family {family!r}; choose from "
                         f"{NOISE_FAMILIES + ('recorded', 'files')}")
    return _GENERATORS[family](num_samples, seed)


class NoiseGenerator:
    """Draws a noise family by weight, then generates noise of that family.

    Arguments
    ---------
    weights : dict, optional
        Family name -> relative weight. Default: all ``NOISE_FAMILIES`` equally, without
        ``babble`` when there is no ``speech_pool``, plus ``recorded`` when recordings exist.
    speech_pool : sequence, optional
        Speech (arrays or file paths) for babble.
    recordings : list of numpy.ndarray, optional
        Real recordings for the ``recorded`` family.
    files : list of str, optional
        Noise files for the ``files`` family.

    Example
    -------
    >>> gen = NoiseGenerator({"colored": 1.0, "hum": 1.0})
    >>> noise, family = gen(16000, np.random.default_rng(0))
    >>> noise.shape, family in ("colored", "hum")
    ((16000,), True)
    """

    def __init__(self, weights=None, speech_pool=None, recordings=None, files=None):
        self.speech_pool = list(speech_pool) if speech_pool is not None else []
        self.recordings = list(recordings) if recordings is not None else []
        self.files = list(files) if files is not None else []
        if weights is None:
            weights = {f: 1.0 for f in NOISE_FAMILIES if f != "babble" or self.speech_pool}
            if self.recordings:
                weights["recorded"] = 1.0
            if self.files:
                weights["files"] = 1.0
        weights = {k: float(v) for k, v in dict(weights).items() if float(v) > 0}
        valid = set(NOISE_FAMILIES) | {"recorded", "files"}
        bad = sorted(set(weights) - valid)
        if bad:
            raise ValueError(f"unknown noise families {bad}; choose from {sorted(valid)}")
        if not weights:
            raise ValueError("noise weights must give at least one family a positive weight")
        if "babble" in weights and not self.speech_pool:
            raise ValueError("the babble family needs a speech_pool")
        if "recorded" in weights and not self.recordings:
            raise ValueError("the recorded family needs recordings (see load_recordings)")
        if "files" in weights and not self.files:
            raise ValueError("the files family needs noise files")
        self.families = sorted(weights)
        p = np.array([weights[f] for f in self.families])
        self.probs = p / p.sum()

    def __call__(self, num_samples, rng, family=None):
        """Return ``(noise, family)``; ``family`` forces a family instead of drawing one."""
        rng = _rng(rng)
        if family is None:
            family = self.families[rng.choice(len(self.families), p=self.probs)]
        noise = make_noise(family, num_samples, rng, self.speech_pool, self.recordings,
                           self.files)
        return noise, family
