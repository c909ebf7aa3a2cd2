"""The recordings of the real corpus: where they are installed, how they are read and checked.

:func:`find_sources` lists every recording of the Debian packages :data:`APT_PACKAGES`
(:data:`SPEECH_SOURCES`, :data:`NOISE_SOURCES` and Ufo:AI's sound archive) with its
*group*: the voice for speech, the category for noise. :func:`process_recording` decodes
one (:func:`decode`: OGG/WAV/FLAC with soundfile, Asterisk's G.722 prompts with the ``G722``
codec), mixes it down, resamples it to 16 kHz (:func:`to_16k`), checks a speech recording
with :func:`speech_quality` (clipping, noise floor, bandwidth), trims its silence
(:func:`trim`) and writes it as FLAC. :mod:`speechbrain_slim.data.real_corpus` builds the
corpus from them.

Authors
 * speechbrain-slim contributors 2026
"""

import glob
import io
import os
import zipfile

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from speechbrain_slim.data.corpus_splits import SAMPLE_RATE
from speechbrain_slim.data.mixing import active_speech_mask

__all__ = ["APT_PACKAGES", "NOISE_SOURCES", "SPEECH_SOURCES", "bandwidth_hz", "decode",
           "find_sources", "frame_levels_db", "process_recording", "read_recording",
           "speech_quality", "to_16k", "trim"]

RESERVED_FOR_EVALUATION = "/usr/share/sounds/alsa"
UFOAI_PK3 = "/usr/share/games/ufoai/base/0snd.pk3"
APT_PACKAGES = (
    "asterisk-core-sounds-en-g722", "fillets-ng-data", "fillets-ng-data-cs", "klettres-data",
    "tuxpaint-stamps-default", "ktuberling-data", "hedgewars-data", "ufoai-sound",
    "colobot-common-sounds", "bucklespring-data", "sonic-pi-samples",
)


def _parts(path, root):
    return os.path.relpath(path, root).split(os.sep)


def _fillets_character(path, root):
    # let-m-divna.ogg: level "let", character "m" (the small fish's actor), line "divna"
    fields = os.path.basename(path)[: -len(".ogg")].split("-")
    return fields[1] if len(fields) >= 3 and fields[1] else "misc"


def _hedgewars_pack(path, root):
    pack = _parts(path, root)[0]
    return None if pack in ("Robot", "Singer") else pack


def _ktuberling_language(path, root):
    # gl, nl and sr are noisy recordings; the sr@* folders repeat sr.
    lang = _parts(path, root)[0]
    return None if lang in ("gl", "nl", "sr") or "@" in lang else lang


# name, Debian package, root folder, glob under it, group of a file (None: skip), language
SPEECH_SOURCES = (
    ("asterisk", "asterisk-core-sounds-en-g722", "/usr/share/asterisk/sounds/en_US_f_Allison",
     "**/*.g722", lambda p, r: "allison", lambda p, r: "en"),
    ("fillets-cs", "fillets-ng-data-cs", "/usr/share/games/fillets-ng/sound", "**/cs/*.ogg",
     _fillets_character, lambda p, r: "cs"),
    ("klettres", "klettres-data", "/usr/share/klettres", "*/*/*.ogg",
     lambda p, r: _parts(p, r)[0], lambda p, r: _parts(p, r)[0]),
    ("tuxpaint", "tuxpaint-stamps-default", "/usr/share/tuxpaint/stamps", "**/*_desc_*.ogg",
     lambda p, r: p.rsplit("_desc_", 1)[1][: -len(".ogg")],
     lambda p, r: p.rsplit("_desc_", 1)[1][: -len(".ogg")]),
    ("ktuberling", "ktuberling-data", "/usr/share/ktuberling/sounds", "*/*.ogg",
     _ktuberling_language, lambda p, r: _parts(p, r)[0]),
    ("hedgewars", "hedgewars-data", "/usr/share/games/hedgewars/Data/Sounds/voices", "*/*.ogg",
     _hedgewars_pack, lambda p, r: "en"),
)

# name, Debian package, root, glob, category of a file (None: skip); ufoai reads the pk3 (a zip)
NOISE_SOURCES = (
    ("colobot", "colobot-common-sounds", "/usr/share/games/colobot", "**/*.ogg",
     lambda p, r: "music" if "/music/" in p else "effects"),
    ("fillets", "fillets-ng-data", "/usr/share/games/fillets-ng/music", "*.ogg",
     lambda p, r: "music"),
    ("bucklespring", "bucklespring-data", "/usr/share/buckle/wav", "*.wav",
     lambda p, r: "keyboard"),
    ("sonic-pi", "sonic-pi-samples", "/usr/share/sonic-pi/samples", "*.flac",
     lambda p, r: os.path.basename(p).split("_")[0]),
)
UFOAI_TALKER_FOLDERS = ("civilians", "soldiers")
UFOAI_SKIP_FOLDERS = ("seq", "ui", "geoscape")  # music cues and interface beeps


def decode(path, data=None):
    """Read a recording as float64 mono at its own rate; returns ``(signal, rate)``.

    ``data``: the file's bytes (a member of a zip), else ``path`` is read. ``.g722`` files
    are Asterisk's 16 kHz G.722 prompts (64 kbit/s).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.ones((100, 2)) * 0.5, 8000)
    >>> x, rate = decode(path)
    >>> x.shape, rate, float(x[0])
    ((100,), 8000, 0.5)
    """
    if path.endswith(".g722"):
        import G722

        raw = data if data is not None else open(path, "rb").read()
        samples = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(raw), dtype=np.float64)
        return samples / 32768.0, SAMPLE_RATE
    source = io.BytesIO(data) if data is not None else path
    x, rate = sf.read(source, dtype="float64", always_2d=True)
    return x.mean(axis=1), int(rate)


def to_16k(x, rate):
    """Resample to 16 kHz (polyphase, exact ratio).

    Example
    -------
    >>> to_16k(np.zeros(44100), 44100).shape
    (16000,)
    """
    if rate == SAMPLE_RATE:
        return x
    g = np.gcd(int(rate), SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, int(rate) // g)


def frame_levels_db(x, frame=320):
    """Energy of each 20 ms frame in dB (``-inf`` for silent frames).

    Example
    -------
    >>> frame_levels_db(np.concatenate([np.zeros(320), np.full(320, 0.1)])).round(1)
    array([-inf, -20.])
    """
    n = len(x) // frame
    if n == 0:
        return np.array([])
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(energy)


def bandwidth_hz(x, floor_db=50.0, n_fft=512):
    """Highest frequency at which the long-term spectrum of active frames is within
    ``floor_db`` of its peak (16 kHz input).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> round(bandwidth_hz(rng.standard_normal(16000)) / 1000)
    8
    >>> narrow = resample_poly(resample_poly(rng.standard_normal(16000), 1, 4), 4, 1)
    >>> bandwidth_hz(narrow) < 3000
    True
    """
    mask = active_speech_mask(x)
    if len(x) < n_fft or not mask.any():
        return 0.0
    n = len(x) // n_fft
    frames = x[: n * n_fft].reshape(n, n_fft)[mask[: n * n_fft].reshape(n, n_fft).any(axis=1)]
    spectrum = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).mean(axis=0)
    smooth = np.convolve(spectrum, np.ones(5) / 5, mode="same")
    level = 10 * np.log10(smooth + 1e-20)
    within = np.nonzero(level >= level.max() - floor_db)[0]
    return float(within.max() * SAMPLE_RATE / n_fft)


def speech_quality(x, native, clip_share=1e-3, min_range_db=30.0, min_bandwidth_hz=6000.0,
                   min_seconds=0.5):
    """The first check a speech recording fails (``None`` if it is a clean target).

    Arguments
    ---------
    x : numpy.ndarray
        The recording at 16 kHz, before trimming.
    native : numpy.ndarray
        The recording at its own rate (clipping is counted there).
    clip_share : float
        Largest share of samples at or above 0.99 of full scale.
    min_range_db : float
        Smallest distance between the 95th and 5th percentile of 20 ms frame levels.
    min_bandwidth_hz : float
        Smallest bandwidth (:func:`bandwidth_hz`).
    min_seconds : float
        Shortest recording kept.

    Returns
    -------
    str or None
        ``"clipping"``, ``"noise floor"``, ``"bandwidth"``, ``"too short"`` or ``None``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> burst = np.concatenate([np.zeros(8000), rng.standard_normal(16000) * 0.1, np.zeros(8000)])
    >>> quiet = burst + 1e-4 * rng.standard_normal(len(burst))   # floor 60 dB down
    >>> speech_quality(quiet, quiet) is None
    True
    >>> speech_quality(burst + 0.01 * rng.standard_normal(len(burst)), burst)
    'noise floor'
    """
    if len(x) < min_seconds * SAMPLE_RATE:
        return "too short"
    if np.mean(np.abs(native) >= 0.99) > clip_share:
        return "clipping"
    levels = frame_levels_db(x)
    levels = levels[np.isfinite(levels)]
    if len(levels) == 0:
        return "too short"
    if len(levels) < 10 or np.percentile(levels, 95) - np.percentile(levels, 5) < min_range_db:
        return "noise floor"
    if bandwidth_hz(x) < min_bandwidth_hz:
        return "bandwidth"
    return None


def trim(x, margin_s=0.1, threshold_db=40.0):
    """Cut leading/trailing silence (frames ``threshold_db`` below the loudest) but a margin.

    Example
    -------
    >>> x = np.concatenate([np.zeros(16000), np.ones(1600), np.zeros(16000)])
    >>> len(trim(x))
    4800
    """
    mask = active_speech_mask(x, threshold_db=threshold_db)
    if not mask.any():
        return x[:0]
    where = np.nonzero(mask)[0]
    margin = int(margin_s * SAMPLE_RATE)
    return x[max(where[0] - margin, 0) : where[-1] + 1 + margin]


def find_sources(exclude=RESERVED_FOR_EVALUATION):
    """Every installed recording: dicts with kind, source, package, path, group, language."""
    found = []
    for name, package, root, pattern, group_of, language_of in SPEECH_SOURCES:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            if path.startswith(exclude):
                continue
            group = group_of(path, root)
            if group is not None:
                found.append(dict(kind="speech", source=name, package=package, path=path,
                                  group=f"{name}/{group}", language=language_of(path, root)))
    for name, package, root, pattern, category_of in NOISE_SOURCES:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            found.append(dict(kind="noise", source=name, package=package, path=path,
                              group=f"{name}/{category_of(path, root)}"))
    if os.path.isfile(UFOAI_PK3):
        with zipfile.ZipFile(UFOAI_PK3) as pk3:
            for member in sorted(pk3.namelist()):
                parts = member.split("/")
                if not member.endswith((".ogg", ".wav")) or len(parts) < 3:
                    continue
                folder = parts[1]
                if folder in UFOAI_SKIP_FOLDERS:
                    continue
                kind = "talker" if folder in UFOAI_TALKER_FOLDERS else "noise"
                found.append(dict(kind=kind, source="ufoai", package="ufoai-sound",
                                  path=f"{UFOAI_PK3}:{member}", group=f"ufoai/{folder}"))
    return found


def read_recording(entry):
    path = entry["path"]
    if path.startswith(UFOAI_PK3 + ":"):
        member = path[len(UFOAI_PK3) + 1 :]
        with zipfile.ZipFile(UFOAI_PK3) as pk3:
            return decode(member, pk3.read(member))
    return decode(path)


def process_recording(args):
    """Decode, check, trim and write one recording; returns the entry with its outcome."""
    entry, out_dir = args
    try:
        native, rate = read_recording(entry)
    except Exception as error:  # a bad file in a package must not stop the build
        return {**entry, "removed": f"unreadable: {str(error)[:80]}"}
    x = to_16k(native, rate)
    if entry["kind"] == "speech":
        problem = speech_quality(x, native)
        if problem is not None:
            return {**entry, "removed": problem}
        x = trim(x)
    elif not np.any(x) or len(x) < SAMPLE_RATE // 20:
        return {**entry, "removed": "silent or too short"}
    peak = np.abs(x).max()
    if peak > 0.99:
        x = x * (0.99 / peak)
    stem = os.path.splitext(entry["path"].split(":")[-1])[0]
    name = "_".join(stem.strip("/").split("/")[-2:])
    rel = f"{entry['kind']}/{entry['group']}/{name}.flac"
    os.makedirs(os.path.dirname(os.path.join(out_dir, rel)), exist_ok=True)
    sf.write(os.path.join(out_dir, rel), x.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return {**entry, "removed": None, "wav": "{data_root}/" + rel,
            "length": round(len(x) / SAMPLE_RATE, 3), "native_rate": rate}
