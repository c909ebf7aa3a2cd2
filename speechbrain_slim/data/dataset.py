"""On-the-fly noisy/clean training segments.

``OnTheFlyMixtures`` is a map-style ``torch.utils.data.Dataset``: item ``i`` of epoch ``e``
is a fixed-length segment of a random clean utterance mixed with a random noise family at a
random active-speech SNR and overall gain, and is the same whenever ``(seed, e, i)`` is. A
share of items is noise-free or very easy, so a router can learn when little compute is
enough. Items are dicts, so SpeechBrain's ``PaddedBatch`` collates them::

    train_set = OnTheFlyMixtures(load_corpus("train"), epoch_size=2000)
    loader = sb.dataio.dataloader.make_dataloader(
        train_set, batch_size=16, collate_fn=PaddedBatch)
    # in Brain.on_stage_start(TRAIN, epoch): train_set.set_epoch(epoch)

Authors
 * speechbrain-slim contributors
"""

import numpy as np
import soundfile as sf
import torch

from speechbrain_slim.data.conditions import (
    RecordingConditions,
    manifest_categories,
    manifest_paths,
)
from speechbrain_slim.data.mixing import active_speech_mask, mix_at_snr
from speechbrain_slim.data.noise import NoiseGenerator

SAMPLE_RATE = 16000


class OnTheFlyMixtures(torch.utils.data.Dataset):
    """Random noisy/clean segments, deterministic per ``(seed, epoch, index)``.

    Arguments
    ---------
    clean : list of str, dict or str
        Clean 16 kHz files: paths, a manifest dict (``clean_wav`` or ``wav`` per entry, e.g.
        ``load_corpus("train")``) or the path of a JSON manifest.
    segment_s : float
        Segment length in seconds (shorter utterances are zero-padded at a random place).
    epoch_size : int
        Items per epoch.
    snr_range : tuple of float
        Active-speech SNR range (dB) of ordinary items, drawn uniformly.
    noise_weights : dict, optional
        Noise family -> weight (see ``NoiseGenerator``); babble uses the clean files.
    clean_share : float
        Share of noise-free items (noisy == clean).
    easy_share : float
        Share of very easy items, SNR drawn from ``easy_snr_range``.
    easy_snr_range : tuple of float
        SNR range of easy items.
    gain_db_range : tuple of float
        Overall gain (dB) applied to the mixture and target, after peak normalisation.
    seed : int
        Base seed.
    data_root : str, optional
        Replaces ``{data_root}`` in manifest paths.
    recordings : list of numpy.ndarray, optional
        Real noise recordings for the ``recorded`` family.

    Example
    -------
    >>> from speechbrain_slim.data.corpus import load_corpus
    >>> ds = OnTheFlyMixtures(load_corpus("valid"), segment_s=1.0, epoch_size=4)
    >>> item = ds[0]
    >>> item["noisy_sig"].shape, item["clean_sig"].dtype
    (torch.Size([16000]), torch.float32)
    >>> bool(torch.equal(ds[0]["noisy_sig"], item["noisy_sig"]))
    True
    """

    def __init__(self, clean, segment_s=4.0, epoch_size=1000, snr_range=(-5.0, 20.0),
                 noise_weights=None, clean_share=0.05, easy_share=0.1,
                 easy_snr_range=(25.0, 40.0), gain_db_range=(-25.0, 0.0), seed=0,
                 data_root=None, recordings=None, noise_files=None, talkers=None,
                 conditions=None):
        self.paths = manifest_paths(clean, data_root, keys=("clean_wav", "wav"))
        if not self.paths:
            raise ValueError("no clean files given")
        self.lengths = []
        for p in self.paths:
            try:
                info = sf.info(p)
            except Exception as e:  # soundfile raises several types for bad files
                raise ValueError(f"cannot read clean file {p}: {e}") from None
            if info.samplerate != SAMPLE_RATE:
                raise ValueError(f"{p} is {info.samplerate} Hz; expected {SAMPLE_RATE} Hz")
            self.lengths.append(info.frames)
        if segment_s <= 0 or epoch_size <= 0:
            raise ValueError("segment_s and epoch_size must be positive")
        if not 0 <= clean_share + easy_share <= 1 or min(clean_share, easy_share) < 0:
            raise ValueError("clean_share and easy_share must be >= 0 and sum to at most 1")
        if snr_range[0] > snr_range[1] or easy_snr_range[0] > easy_snr_range[1]:
            raise ValueError("SNR ranges must be (low, high) with low <= high")
        self.segment = int(round(segment_s * SAMPLE_RATE))
        self.epoch_size = int(epoch_size)
        self.snr_range, self.easy_snr_range = snr_range, easy_snr_range
        self.clean_share, self.easy_share = clean_share, easy_share
        self.gain_db_range = gain_db_range
        self.seed = int(seed)
        self.epoch = 0
        self.noise = NoiseGenerator(
            noise_weights, speech_pool=self.paths + manifest_paths(talkers, data_root),
            recordings=recordings, files=manifest_categories(noise_files, data_root))
        if isinstance(conditions, dict):
            conditions = RecordingConditions(**conditions, data_root=data_root)
        self.conditions = conditions
        w = np.asarray(self.lengths, dtype=np.float64)
        self.probs = w / w.sum()  # every second of speech equally likely

    def set_epoch(self, epoch):
        """Select the epoch (call from ``Brain.on_stage_start``); items change per epoch."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.epoch_size

    def _read_segment(self, k, rng):
        n, seg = self.lengths[k], self.segment
        if n >= seg:
            start = int(rng.integers(0, n - seg + 1))
            x, _ = sf.read(self.paths[k], start=start, stop=start + seg, dtype="float32")
            full = None
        else:
            x = np.zeros(seg, dtype=np.float32)
            full, _ = sf.read(self.paths[k], dtype="float32")
            off = int(rng.integers(0, seg - n + 1))
            x[off : off + n] = full
        if x.ndim > 1:
            x = x.mean(axis=1)
        return x, full

    def __getitem__(self, index):
        if not 0 <= index < self.epoch_size:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        k = int(rng.choice(len(self.paths), p=self.probs))
        clean, full = self._read_segment(k, rng)
        if self.conditions is not None:
            clean = self.conditions.room(clean, rng)
        u = rng.random()
        if u < self.clean_share:
            snr, family, noisy = float("inf"), "none", clean.copy()
        else:
            snr_range = self.easy_snr_range if u < self.clean_share + self.easy_share else (
                self.snr_range)
            snr = float(rng.uniform(*snr_range))
            noise, family = self.noise(self.segment, rng)
            mask = active_speech_mask(clean)
            ref = None
            if not mask.any():  # silent crop: use the utterance's speech level
                if full is None:
                    full, _ = sf.read(self.paths[k], dtype="float32")
                fm = active_speech_mask(full)
                ref = float(np.mean(full[fm] ** 2)) if fm.any() else 1e-4
            noisy, _ = mix_at_snr(clean, noise, snr, mask=mask, speech_power=ref)
        if self.conditions is not None:
            noisy, clean = self.conditions.microphone(noisy, clean, rng)
        peak = max(float(np.abs(noisy).max()), float(np.abs(clean).max()), 1e-9)
        gain = 10 ** (rng.uniform(*self.gain_db_range) / 20) * 0.99 / peak
        return {
            "id": f"otf_e{self.epoch}_{index}",
            "noisy_sig": torch.from_numpy(np.ascontiguousarray(noisy * gain, dtype=np.float32)),
            "clean_sig": torch.from_numpy(np.ascontiguousarray(clean * gain, dtype=np.float32)),
            "snr_db": snr,
            "noise": family,
        }
