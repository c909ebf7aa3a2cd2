"""Enhancing short audio files in batches, each exactly as if it were enhanced alone.

Many short files (an ASR corpus) are enhanced faster a batch at a time than one at a
time: the per-call overhead of every layer is paid once per batch. A padded batch
gives the same output as enhancing each item alone only when the padding cannot reach
the item's samples. Zero padding *within* the model's valid length (the length every
strided conv consumes exactly, :meth:`SlimDemucs.valid_length`) is what the model adds
to a lone item anyway; padding *beyond* it adds decoder frames whose output leaks into
the item's last few hundred samples (measured: up to 7e-3 on the shipped model). So
files are batched only with files of the same :func:`batch_key`: the same sample rate
and the same valid length at the model's rate, i.e. lengths within one bottleneck
frame (16 ms for the shipped model). Inside a batch, each item's input and output
beyond its own length are zeroed before and after the model, and its routing (track,
mean UF, MACs) is that of its own length. The outputs then equal
:meth:`EnhanceSlim.enhance_file` to float rounding (GEMMs over a different number of
rows round differently; ~1e-7).

Files that a batch would not treat as ``enhance_file`` does (longer than
:data:`MAX_BATCH_SECONDS`, truncated or damaged, silent, NaN/Inf, unreadable) are
returned to the caller to be enhanced alone with ``enhance_file``, which reports them
as usual.

Authors
 * speechbrain-slim contributors 2026
"""

import math
import time

import soundfile as sf
import torch
import torchaudio
from speechbrain.dataio.batch import PaddedBatch

from speechbrain_slim.audio_files import READ_BLOCK_SECONDS, AudioFileSink, header_shortfall
from speechbrain_slim.complexity import count_macs
from speechbrain_slim.routing import parse_uf

__all__ = ["MAX_BATCH_SECONDS", "batch_key", "enhance_files_together"]

MAX_BATCH_SECONDS = READ_BLOCK_SECONDS  # longer files are enhanced alone, block by block


def batch_key(model, info, max_seconds=MAX_BATCH_SECONDS):
    """The key of files that can share a batch, or None for a file to enhance alone.

    Arguments
    ---------
    model : SlimDemucs
        The backbone (its sample rate and valid lengths).
    info : soundfile._SoundFileInfo
        ``soundfile.info`` of the file.
    max_seconds : float
        Longer files are enhanced alone.

    Returns
    -------
    tuple or None
        ``(sample rate, valid length at the model rate)``; None for a file longer than
        ``max_seconds``, empty, or shorter than its header says.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2)
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, torch.zeros(16000).numpy(), 16000)
    >>> batch_key(model, sf.info(path))
    (16000, 16001)
    """
    rate, frames = int(info.samplerate), int(info.frames)
    if frames <= 0 or frames > max_seconds * rate or header_shortfall(info):
        return None
    return rate, model.valid_length(_model_frames(frames, rate, model.sample_rate))


def _model_frames(frames, rate, model_rate):
    """Samples at the model rate of ``frames`` at ``rate`` (as the resamplers give them)."""
    return frames if rate == model_rate else math.ceil(frames * model_rate / rate)


def _read(path):
    """``[channels, frames]`` float32 samples of ``path``, or None when it should go alone."""
    try:
        data, _ = sf.read(path, dtype="float32", always_2d=True)
    except Exception:  # damaged: enhance_file salvages and reports it
        return None
    samples = torch.from_numpy(data.T.copy())
    if not torch.isfinite(samples).all() or not samples.any():  # refused / silence
        return None
    return samples


def enhance_files_together(enhancer, jobs, uf="auto", shift=0.0):
    """Enhances files of one :func:`batch_key` as one padded batch and writes them.

    Every channel is a batch item (SpeechBrain's :class:`PaddedBatch` pads them, with
    relative lengths); outputs have the input's rate, channel count, length and
    subtype and are written through a temporary file renamed when complete, as
    :meth:`EnhanceSlim.enhance_file` writes them.

    Arguments
    ---------
    enhancer : EnhanceSlim
        The enhancer (its device, windowing and model).
    jobs : list of (str, str)
        ``(input path, output path)``, all of one :func:`batch_key`.
    uf : str or float
        ``"auto"``, a UF of the model or ``"max=<uf>"``.
    shift : float
        Router operating-point shift.

    Returns
    -------
    done : dict
        Output path -> ``{"duration", "mean_uf", "macs", "seconds"}`` for each file
        written (``seconds``: its share of the batch's time, by duration).
    alone : list of (str, str)
        The jobs left to :meth:`EnhanceSlim.enhance_file` (see the module doc).

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_slim.inference import EnhanceSlim
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = torch.nn.ModuleDict({"model": SlimDemucs(hidden=4, depth=2).eval()})
    >>> enhancer = EnhanceSlim(modules={"enhance_model": model}, hparams={},
    ...                       run_opts={"device": "cpu"})
    >>> folder = tempfile.mkdtemp()
    >>> jobs = []
    >>> for name, frames in (("a.wav", 8000), ("b.wav", 8010)):
    ...     sf.write(os.path.join(folder, name), 0.1 * torch.randn(frames).numpy(), 16000)
    ...     jobs.append((os.path.join(folder, name), os.path.join(folder, "out", name)))
    >>> done, alone = enhance_files_together(enhancer, jobs, uf=0.5)
    >>> sorted(os.path.basename(path) for path in done), alone
    (['a.wav', 'b.wav'], [])
    >>> sf.info(os.path.join(folder, "out", "b.wav")).frames
    8010
    """
    mode, _ = parse_uf(uf, enhancer.model.ufs)
    start = time.perf_counter()
    files, alone = [], []
    for path, target in jobs:
        samples = _read(path)
        if samples is None:
            alone.append((path, target))
        else:
            files.append((path, target, samples, sf.info(path)))
    if len(files) < 2:  # nothing to gain: the caller enhances it alone
        return {}, alone + [(path, target) for path, target, _, _ in files]
    rates = {int(info.samplerate) for *_, info in files}
    if len(rates) != 1:
        raise ValueError(f"files of one batch must share a sample rate, got {sorted(rates)}")
    rate, model = rates.pop(), enhancer.model
    rows = [channel for _, _, samples, _ in files for channel in samples]
    batch = PaddedBatch([{"wav": row} for row in rows]).wav
    frames = [round(float(length) * batch.data.shape[-1]) for length in batch.lengths]
    model_frames = [_model_frames(n, rate, model.sample_rate) for n in frames]
    with torch.no_grad():
        x = _resample(batch.data.to(enhancer.device), rate, model.sample_rate)
        _zero_past(x, model_frames)  # the resampler's tails: a lone item never sees them
        std = None
        if model.normalize_mode == "global":
            std = torch.stack([x[i, :n].std() for i, n in enumerate(model_frames)])[:, None]
        runner = enhancer.window_runner(std, uf, shift)
        enhanced = torch.cat(runner.push(x, final=True), dim=-1)
        _zero_past(enhanced, model_frames)
        enhanced = _resample(enhanced, model.sample_rate, rate)
    tracks = runner.routing()["track"]
    router_macs = 0.0
    if mode != "fixed" and enhancer.router is not None:
        router_macs = enhancer.router.macs_per_frame()
    done, row = {}, 0
    for _, target, samples, info in files:
        channels = samples.shape[0]
        sink = AudioFileSink(target, rate, channels, info.subtype, int(info.frames))
        try:
            sink.write(enhanced[row : row + channels, : info.frames])
            sink.close()
        except BaseException:
            sink.abort()
            raise
        own = tracks[row : row + channels]
        macs = sum(count_macs(model, model_frames[row + c], own[c].cpu()) + router_macs
                   * len(own[c]) for c in range(channels))
        done[target] = {
            "duration": info.frames / rate,
            "mean_uf": float(torch.stack([t.float().mean() for t in own]).mean()),
            "macs": float(macs),
        }
        row += channels
    elapsed = time.perf_counter() - start
    total = sum(int(info.frames) for *_, info in files)
    for _, target, _, info in files:
        done[target]["seconds"] = elapsed * info.frames / total
    return done, alone


def _resample(x, orig, new):
    return x if orig == new else torchaudio.functional.resample(x, orig, new)


def _zero_past(x, lengths):
    """Zeros ``x[i, lengths[i]:]`` in place."""
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
