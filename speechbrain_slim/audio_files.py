"""Reading and writing audio files block by block, for files of any length.

* :class:`AudioBlockReader` yields an audio file in blocks, and enhances a truncated or
  damaged file as far as it can be decoded (noting what is missing);
* :func:`header_shortfall` tells how many frames a WAV/AIFF header announces beyond the
  data the file holds;
* :class:`AudioFileSink` collects enhanced blocks in memory, or writes them to a
  temporary file that is moved into place only when complete.

Used by :meth:`speechbrain_slim.inference.EnhanceSlim.enhance_file` and
:mod:`speechbrain_slim.file_batches`.

Authors
 * speechbrain-slim contributors 2026
"""

import os
import re
import tempfile

import numpy as np
import soundfile as sf
import torch

__all__ = ["READ_BLOCK_SECONDS", "AudioFileSink", "AudioBlockReader", "header_shortfall"]

READ_BLOCK_SECONDS = 20.0  # the block length files are read in


class AudioFileSink:
    """Collects enhanced blocks in memory, or writes them to a file that appears only whole.

    With a ``filename``, blocks are written to a temporary file ``.tmp-*`` in the same
    folder, which :meth:`close` moves into place (so a killed run leaves no truncated
    output under the final name) and :meth:`abort` removes. Without one, :meth:`close`
    returns the blocks joined. Either way the result holds exactly ``expected`` frames:
    longer input is cut, a shortfall (silence, resampling rounding) is padded with zeros.

    Arguments
    ---------
    filename : str or None
        The output file (format from its extension), or None to collect in memory.
    rate : int
        Sample rate of the file.
    channels : int
        Channel count of the file.
    subtype : str or None
        soundfile subtype (e.g. ``"PCM_16"``); the format's default when None or not
        allowed by the format. PCM and u-law/A-law samples are clipped to [-1, 1].
    expected : int
        Frames of the result.

    Example
    -------
    >>> sink = AudioFileSink(None, 16000, 1, None, expected=5)
    >>> sink.write(torch.ones(1, 3))
    >>> sink.close()
    tensor([[1., 1., 1., 0., 0.]])
    """

    def __init__(self, filename, rate, channels, subtype, expected):
        self.filename, self.expected, self.written = filename, expected, 0
        self.blocks, self.file, self.tmp, self.channels = [], None, None, channels
        if filename is None:
            return
        filename = str(filename)
        folder = os.path.dirname(os.path.abspath(filename))
        os.makedirs(folder, exist_ok=True)
        extension = os.path.splitext(filename)[1]
        audio_format = extension.lstrip(".").upper() or "WAV"
        if audio_format not in sf.available_formats():
            raise ValueError(f"{filename}: unsupported output format {extension!r}")
        if subtype is None or not sf.check_format(audio_format, subtype):
            subtype = sf.default_subtype(audio_format)
        self.clip = subtype.startswith("PCM") or subtype in ("ULAW", "ALAW")
        handle, self.tmp = tempfile.mkstemp(
            prefix=".tmp-", suffix=extension, dir=folder)
        os.close(handle)
        self.file = sf.SoundFile(self.tmp, "w", samplerate=rate, channels=channels,
                                 subtype=subtype, format=audio_format)

    def write(self, block):
        """Adds a ``[channels, n]`` block (frames past ``expected`` are dropped)."""
        block = block[:, : max(0, self.expected - self.written)].detach().cpu()
        self.written += block.shape[-1]
        if self.file is None:
            self.blocks.append(block)
        elif block.shape[-1]:
            if self.clip:
                block = block.clamp(-1.0, 1.0)
            self.file.write(block.T.numpy())

    def close(self):
        """Pads to ``expected`` frames; returns the ``[channels, time]`` tensor, or the
        filename once the file is moved into place."""
        if self.written < self.expected:  # pad the last samples
            missing = self.expected - self.written
            for start in range(0, missing, 1 << 20):  # silence, or resampling rounding
                self.write(torch.zeros(self.channels, min(1 << 20, missing - start)))
        if self.file is None:
            return torch.cat(self.blocks, dim=-1)
        self.file.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(self.tmp, self.filename)
        return str(self.filename)

    def abort(self):
        """Removes the temporary file (nothing is written under ``filename``)."""
        if self.file is not None:
            self.file.close()
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


_BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                     "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
_NO_LENGTH = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # streamed WAVs: "length unknown", not truncated
SALVAGE_FRAMES = 256


def header_shortfall(info):
    """Frames a WAV/AIFF header announces beyond the data the file holds (0 if none).

    libsndfile reads such a file to its real end and reports the mismatch in its log
    (``data : 32000 (should be 15978)``); this reads that log.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.wav")
    >>> sf.write(path, torch.zeros(1000).numpy(), 16000, subtype="PCM_16")
    >>> with open(path, "rb") as stream:
    ...     data = stream.read()
    >>> with open(path, "wb") as stream:
    ...     _ = stream.write(data[:-500])
    >>> header_shortfall(sf.info(path))
    250
    """
    log = getattr(info, "extra_info", "") or ""
    found = re.search(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", log, flags=re.M)
    if not found:
        return 0
    claimed, actual = int(found.group(1)), int(found.group(2))
    if claimed in _NO_LENGTH or claimed <= actual:
        return 0
    align = re.search(r"Block Align\s*:\s*(\d+)", log)
    frame_bytes = int(align.group(1)) if align else (
        _BYTES_PER_SAMPLE.get(info.subtype, 2) * info.channels)
    return (claimed - actual) // max(frame_bytes, 1)


class AudioBlockReader:
    """Yields ``([channels, n] float32 block, is_last)`` from an audio file.

    Notes data missing against the header: :attr:`missing_message` (None when the
    file is whole) after the last block. A decoding error part way (a truncated FLAC)
    ends the file where decoding stopped (the last block is re-read in small pieces).
    With ``strict`` both raise ``ValueError`` instead.

    Arguments
    ---------
    path : str
        Any file soundfile reads.
    block : int
        Frames per block.
    strict : bool
        Refuse a truncated or damaged file instead of reading what it holds.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.zeros((2500, 2), dtype="float32"), 16000)
    >>> reader = AudioBlockReader(path, block=1000)
    >>> [(tuple(chunk.shape), final) for chunk, final in reader]
    [((2, 1000), False), ((2, 1000), False), ((2, 500), True)]
    >>> reader.frames_read, reader.missing_message
    (2500, None)
    """

    def __init__(self, path, block, strict=False):
        self.path, self.block, self.strict = path, block, strict
        self.frames_read, self.missing_message = 0, None

    def _missing(self, announced, held, rate, how):
        self.missing_message = (
            f"{self.path}: {how}: the header announces {announced} frames "
            f"({announced / rate:.2f} s), the data holds {held} "
            f"({(announced - held) / rate:.2f} s missing)")
        if self.strict:
            raise ValueError(self.missing_message + " (refused: --strict / strict=True)")

    def _salvage(self, start, count):
        """Re-reads frames ``start .. start + count`` in small pieces until decoding fails."""
        pieces = []
        try:
            with sf.SoundFile(self.path) as handle:
                handle.seek(start)
                while count > 0:
                    data = handle.read(min(SALVAGE_FRAMES, count), dtype="float32",
                                       always_2d=True)
                    if data.shape[0] == 0:
                        break
                    pieces.append(data)
                    count -= data.shape[0]
        except Exception:  # decoding stops at the damage
            pass
        return pieces

    def __iter__(self):
        try:
            handle = sf.SoundFile(self.path)
        except Exception as error:
            raise RuntimeError(
                f"{self.path}: unreadable or unsupported audio file ({error})") from None
        with handle:
            rate, remaining = handle.samplerate, handle.frames
            shortfall = header_shortfall(sf.info(self.path))
            if shortfall:  # known before any work
                self._missing(handle.frames + shortfall, handle.frames, rate, "truncated file")
            while True:
                count = min(self.block, remaining)
                try:
                    data = handle.read(count, dtype="float32", always_2d=True)
                    damaged = False
                except Exception:
                    pieces = self._salvage(self.frames_read, count)
                    data = (np.concatenate(pieces) if pieces
                            else np.zeros((0, handle.channels), dtype="float32"))
                    damaged = True
                remaining -= data.shape[0]
                self.frames_read += data.shape[0]
                chunk = torch.from_numpy(data.T.copy())
                if not torch.isfinite(chunk).all():
                    raise ValueError(f"{self.path}: the file contains NaN or Inf samples")
                final = damaged or remaining <= 0 or data.shape[0] == 0
                if damaged:
                    if self.frames_read == 0:
                        raise RuntimeError(f"{self.path}: unreadable audio data (decoding fails "
                                           "at the first sample)")
                    self._missing(handle.frames, self.frames_read, rate,
                                  "truncated or damaged file (decoding stops part way)")
                yield chunk, final
                if final:
                    return
