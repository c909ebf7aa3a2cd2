"""EnhanceSlim: the pretrained interface of a dynamically slimmed DEMUCS (+ router).

``EnhanceSlim.from_hparams(source=...)`` loads a hub folder (local path or Hub repo
id) whose ``hyperparams.yaml`` builds ``enhance_model``, a ``torch.nn.ModuleDict``
holding ``model`` (SlimDemucs) and, optionally, ``router`` (Router), and whose
``pretrainer`` loads one file, ``enhance_model.ckpt``. SpeechBrain's parameter
transfer loads with ``strict=False``; EnhanceSlim then checks the checkpoint's
keys strictly and raises a ``RuntimeError`` naming missing/unexpected keys.

Inputs it accepts:

* any sample rate: resampled to the model's (``torchaudio.functional.resample``)
  and the output written back at the input's rate unless asked otherwise;
* any channel count: **every channel is enhanced separately** (as its own batch
  item) and the channel count is kept;
* int16/int32 tensors (scaled to [-1, 1)) and float tensors; files through
  soundfile (any PCM/float subtype it reads);
* signals of any length, processed in chunks (see below) so that memory stays
  bounded; files are read and written block by block.

Chunking and its exactness. The model rate signal is cut into hops of
``chunk_seconds``; each hop is enhanced from a window that adds
``context_seconds`` of left context and, on the right, a crossfade region plus
the model's :attr:`~SlimDemucs.lookahead` (rounded up, + 2 bottleneck frames).
Windows start on the bottleneck-frame grid (multiples of ``total_stride``), so
every convolution, the running-normalisation blocks and the router's frames
line up with the whole-signal computation. The input normalisation is made
exact: for ``normalize="running"`` the running power is carried from window
to window; for ``normalize=True`` (global) the std of the whole signal is
computed first (a pre-pass for files). What is *not* exact is the state of
the recurrent layers (bottleneck GRU/LSTM, router GRU): each window starts them
from zero ``context_seconds`` early, and their influence fades over that
context; consecutive hops are crossfaded over ``crossfade_seconds``. The
difference to a whole-signal pass is measured in ``tests/test_inference.py``.

Authors
 * speechbrain-slim contributors 2026
"""

import contextlib
import math
import os
import tempfile

import soundfile as sf
import torch
import torchaudio
from speechbrain.inference.interfaces import Pretrained

from speechbrain_slim.lobes.slim_demucs import running_mean
from speechbrain_slim.routing import parse_uf, route

__all__ = ["EnhanceSlim", "StreamResampler", "ChunkedRunner"]

READ_BLOCK_SECONDS = 20.0


class StreamResampler:
    """Resamples a ``[batch, time]`` stream block by block, matching a whole-signal resample.

    Blocks are resampled with enough margin on both sides, on the grid where input
    and output samples coincide, so the output equals
    ``torchaudio.functional.resample`` of the whole signal (to float rounding).

    Arguments
    ---------
    orig_freq : int
        Input sample rate.
    new_freq : int
        Output sample rate.

    Example
    -------
    >>> x = torch.randn(2, 9000)
    >>> stream = StreamResampler(22050, 16000)
    >>> parts = [stream.push(x[:, :4000]), stream.push(x[:, 4000:], final=True)]
    >>> whole = torchaudio.functional.resample(x, 22050, 16000)
    >>> bool(torch.allclose(torch.cat(parts, -1), whole, atol=1e-5))
    True
    """

    def __init__(self, orig_freq, new_freq):
        self.orig, self.new = int(orig_freq), int(new_freq)
        gcd = math.gcd(self.orig, self.new)
        self.p_in, self.p_out = self.orig // gcd, self.new // gcd
        width = math.ceil(6 * self.p_in / (min(self.p_in, self.p_out) * 0.99)) + 2
        self.margin = math.ceil(width / self.p_in) * self.p_in + self.p_in
        self.buffer = None
        self.start = 0  # input index of buffer[0], a multiple of p_in
        self.emitted = 0  # next output index to emit
        self.total = 0

    def push(self, x, final=False):
        """Adds ``x`` [batch, n]; returns the output samples that are now final."""
        if self.orig == self.new:
            return x
        self.buffer = x if self.buffer is None else torch.cat([self.buffer, x], dim=-1)
        self.total += x.shape[-1]
        if final:
            safe_end = math.ceil(self.total * self.new / self.orig)
        else:
            safe_end = (self.total - self.margin) * self.new // self.orig
        if safe_end <= self.emitted or self.buffer.shape[-1] == 0:
            return self.buffer.new_zeros(self.buffer.shape[0], 0)
        out = torchaudio.functional.resample(self.buffer, self.orig, self.new)
        first = self.start // self.p_in * self.p_out
        out = out[:, self.emitted - first : safe_end - first]
        self.emitted = safe_end
        keep = (self.emitted * self.orig // self.new - self.margin) // self.p_in * self.p_in
        if keep > self.start:
            self.buffer = self.buffer[:, keep - self.start :]
            self.start = keep
        return out


class ChunkedRunner:
    """Enhances a ``[batch, time]`` model-rate stream window by window (see the module doc).

    Arguments
    ---------
    model : SlimDemucs
        The backbone.
    router : Router or None
        The router.
    uf : str or float
        UF spec (``"auto"``, a UF, ``"max=<uf>"``).
    shift : float
        Router operating-point shift.
    chunk : int
        Hop in samples (rounded up to ``model.total_stride``).
    context : int
        Left context in samples (rounded up likewise).
    crossfade : int
        Crossfade in samples (rounded up likewise, at most one hop).
    global_std : torch.Tensor, optional
        ``[batch, 1]`` whole-signal std, required for ``normalize=True`` models.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    >>> runner = ChunkedRunner(model, None, 1.0, chunk=800, context=400, crossfade=64)
    >>> with torch.no_grad():
    ...     out = torch.cat(runner.push(torch.randn(1, 3000), final=True), -1)
    >>> out.shape, runner.routing()["track"][0].shape
    (torch.Size([1, 3000]), torch.Size([749]))
    """

    def __init__(self, model, router, uf, shift=0.0, chunk=480_000, context=64_000,
                 crossfade=800, global_std=None):
        self.model, self.router, self.uf, self.shift = model, router, uf, shift
        stride = model.total_stride
        self.stride = stride
        self.hop = max(1, math.ceil(chunk / stride)) * stride
        self.left = math.ceil(context / stride) * stride
        self.fade = min(self.hop, math.ceil(crossfade / stride) * stride)
        self.right = (math.ceil(model.lookahead / stride) + 2) * stride
        self.mode = model.normalize_mode
        if self.mode == "global" and global_std is None:
            raise ValueError("a normalize=True model needs the whole signal's std (global_std)")
        self.global_std = global_std
        self.buffer, self.buffer_start, self.total, self.index = None, 0, 0, 0
        self.tail, self.power_state = None, None
        self.tracks, self.macs = [], None

    def _scale(self, window, start):
        """Normalisation std of ``window`` (starting at ``start``), carrying the running power."""
        if self.mode == "global":
            return self.global_std
        if self.mode != "running":
            return None
        batch, length = window.shape
        blocks = -(-length // self.stride)
        padded = torch.nn.functional.pad(window, (0, blocks * self.stride - length))
        power = padded.view(batch, blocks, self.stride).pow(2).mean(-1)
        decay = math.exp(-self.stride / (self.model.norm_time_constant * self.model.sample_rate))
        if self.power_state is None or start == 0:
            smooth = running_mean(power, decay)
        else:
            smooth = running_mean(torch.cat([self.power_state, power], dim=-1), decay)[:, 1:]
        next_start = max(0, (self.index + 1) * self.hop - self.left)
        block = (next_start - start) // self.stride - 1
        if next_start > 0 and 0 <= block < blocks:
            self.power_state = smooth[:, block : block + 1]
        std = smooth.clamp(min=0).sqrt().repeat_interleave(self.stride, dim=-1)
        return std[:, :length]

    def _enhance(self, window, start):
        std = self._scale(window, start)
        x = window if std is None else window / (self.model.floor + std)
        with _bare_network(self.model):
            enhanced, info = route(self.model, self.router, x, self.uf, self.shift)
        if std is not None:
            enhanced = enhanced * std
        if getattr(self.model, "residual", False):
            enhanced = enhanced + window
        return enhanced, info

    def push(self, x, final=False):
        """Adds ``x`` [batch, n]; returns a list of enhanced blocks now final."""
        self.buffer = x if self.buffer is None else torch.cat([self.buffer, x], dim=-1)
        self.total += x.shape[-1]
        outputs = []
        while True:
            start = self.index * self.hop
            end = start + self.hop
            needed = end + self.fade + self.right
            if start >= self.total or (self.total < needed and not final):
                break
            window_start = max(0, start - self.left)
            window_end = min(self.total, needed)
            offset = self.buffer_start
            window = self.buffer[:, window_start - offset : window_end - offset]
            enhanced, info = self._enhance(window, window_start)
            keep_end = min(end, self.total)
            block = enhanced[:, start - window_start : keep_end - window_start].clone()
            if self.tail is not None:
                n = min(self.tail.shape[-1], block.shape[-1])
                ramp = (torch.arange(n, device=block.device) + 0.5) / self.tail.shape[-1]
                block[:, :n] = torch.lerp(self.tail[:, :n], block[:, :n], ramp)
            self.tail = None
            if end < self.total:
                self.tail = enhanced[:, end - window_start : min(end + self.fade, self.total)
                                     - window_start].clone()
            first = (start - window_start) // self.stride
            last = None if keep_end == self.total else (keep_end - window_start) // self.stride
            self.tracks.append(info["track"][:, first:last])
            self.macs = info["macs"] if self.macs is None else self.macs + info["macs"]
            outputs.append(block)
            self.index += 1
            drop = max(0, self.index * self.hop - self.left) - self.buffer_start
            if drop > 0:
                self.buffer = self.buffer[:, drop:]
                self.buffer_start += drop
        return outputs

    def routing(self):
        """Routing of everything pushed so far: ``track`` (list), ``mean_uf``, ``macs`` ..."""
        track = torch.cat(self.tracks, dim=-1)
        return {
            "track": list(track),
            "mean_uf": track.mean(dim=-1),
            "macs": self.macs.double(),
            "macs_per_sample": self.macs / max(self.total, 1),
        }


@contextlib.contextmanager
def _bare_network(model):
    """Runs the model on pre-normalised input without its residual connection (the runner
    applies both, since the residual adds the *raw* input after the de-normalisation)."""
    mode, residual = model.normalize_mode, getattr(model, "residual", False)
    model.normalize_mode, model.residual = None, False
    try:
        yield
    finally:
        model.normalize_mode, model.residual = mode, residual


class EnhanceSlim(Pretrained):
    """Dynamically slimmed DEMUCS speech enhancement (Miccini et al., WASPAA 2025).

    Arguments
    ---------
    *args, **kwargs
        Passed to :class:`speechbrain.inference.interfaces.Pretrained`.
    chunk_seconds : float
        Hop of the chunked processing (signals up to this long run in one window).
    context_seconds : float
        Left context of every window (warms up the recurrent layers).
    crossfade_seconds : float
        Crossfade between consecutive hops.

    Example
    -------
    >>> from speechbrain_slim.lobes.router import Router
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running")
    >>> router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    >>> modules = {"enhance_model": torch.nn.ModuleDict({"model": model, "router": router})}
    >>> enhancer = EnhanceSlim(modules=modules, hparams={}, run_opts={"device": "cpu"})
    >>> enhancer.enhance_batch(torch.randn(2, 8000), uf="max=0.5").shape
    torch.Size([2, 8000])
    >>> enhancer.last_routing["mean_uf"].shape
    torch.Size([2])
    """

    MODULES_NEEDED = ["enhance_model"]

    def __init__(self, *args, chunk_seconds=30.0, context_seconds=4.0, crossfade_seconds=0.05,
                 **kwargs):
        super().__init__(*args, **kwargs)
        enhance_model = self.mods.enhance_model
        if "model" not in enhance_model:
            raise RuntimeError("enhance_model must hold a 'model' (SlimDemucs) submodule")
        self._check_checkpoint()
        self.model = enhance_model["model"]
        self.router = enhance_model["router"] if "router" in enhance_model else None
        self.sample_rate = int(self.model.sample_rate)
        self.chunk_seconds = chunk_seconds
        self.context_seconds = context_seconds
        self.crossfade_seconds = crossfade_seconds
        self.last_routing = None

    def _check_checkpoint(self):
        """Strict key check of the loaded ``enhance_model.ckpt`` (parameter transfer is lax)."""
        pretrainer = getattr(getattr(self, "hparams", None), "pretrainer", None)
        path = getattr(pretrainer, "paths", {}).get("enhance_model") if pretrainer else None
        if path is None:
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        expected = set(self.mods.enhance_model.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise RuntimeError(
                f"checkpoint {path} does not match the model of hyperparams.yaml: "
                f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, "
                f"unexpected keys {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
            )

    def streamer(self, uf="auto", shift=0.0):
        """A stateful frame-by-frame enhancer of this model for live audio.

        See :class:`speechbrain_slim.streaming.StreamingEnhancer`: ``feed(chunk)``
        returns the enhanced samples that are final, ``flush()`` the rest; together
        they equal the model (or :func:`~speechbrain_slim.routing.route`) run on the
        whole signal, i.e. :meth:`enhance_batch` for inputs shorter than
        ``chunk_seconds``, to float rounding. The stream is **mono at
        the model's rate** (:attr:`sample_rate`): the caller resamples (e.g. with
        :class:`StreamResampler`) and enhances each channel with its own streamer.
        Needs a causal model with ``normalize="running"`` or ``False``.

        Arguments
        ---------
        uf : str or float
            ``"auto"`` (router), a UF of the model, or a cap ``"max=<uf>"``.
        shift : float
            Router operating-point shift (positive: larger UFs).

        Returns
        -------
        StreamingEnhancer
        """
        from speechbrain_slim.streaming import StreamingEnhancer

        mode, _ = parse_uf(uf, self.model.ufs)
        router = self.router if mode != "fixed" else None
        return StreamingEnhancer(self.model, router, uf=uf, shift=shift)

    def _runner(self, batch_std=None, uf="auto", shift=0.0):
        rate = self.sample_rate
        return ChunkedRunner(
            self.model, self.router, uf, shift,
            chunk=int(self.chunk_seconds * rate), context=int(self.context_seconds * rate),
            crossfade=int(self.crossfade_seconds * rate), global_std=batch_std,
        )

    def _enhance_model_rate(self, x, uf, shift):
        """Enhances in-memory ``x`` [batch, time] at the model rate; returns (out, routing)."""
        std = x.std(dim=-1, keepdim=True) if self.model.normalize_mode == "global" else None
        runner = self._runner(std, uf, shift)
        out = torch.cat(runner.push(x, final=True), dim=-1)
        return out, runner.routing()

    def enhance_batch(self, wavs, lengths=None, uf="auto", shift=0.0, sample_rate=None):
        """Enhances a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[time]``, ``[batch, time]`` or ``[batch, channels, time]`` (channels are
            enhanced separately); float, int16 or int32 samples.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths (SpeechBrain convention); samples past an
            item's length are ignored and returned as zeros.
        uf : str or float
            ``"auto"`` (router), a UF of the model, or a cap ``"max=<uf>"``.
        shift : float
            Router operating-point shift (positive: larger UFs).
        sample_rate : int, optional
            Sample rate of ``wavs`` (default: the model's); the output has the same.

        Returns
        -------
        torch.Tensor
            Enhanced waveforms, same shape as ``wavs`` (float). The routing of this
            call is in :attr:`last_routing` (``track``: per-waveform UF tracks, one per
            channel for multi-channel input, ``mean_uf``, ``macs``, ``macs_per_sample``).
        """
        parse_uf(uf, self.model.ufs)
        wavs = _as_float(wavs)
        if wavs.dim() not in (1, 2, 3):
            raise ValueError(
                f"expected [time], [batch, time] or [batch, channels, time], got shape "
                f"{tuple(wavs.shape)}"
            )
        shape = wavs.shape
        batch = 1 if wavs.dim() == 1 else shape[0]
        channels = shape[1] if wavs.dim() == 3 else 1
        x = wavs.reshape(batch * channels, shape[-1]).to(self.device)
        if x.shape[-1] == 0 or x.shape[0] == 0:
            raise ValueError(f"empty waveform batch of shape {tuple(shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("the waveforms contain NaN or Inf samples")
        total = x.shape[-1]
        if lengths is None:
            absolute = [total] * x.shape[0]
        else:
            lengths = torch.as_tensor(lengths, dtype=torch.float).flatten()
            if lengths.numel() != batch or (lengths <= 0).any() or (lengths > 1 + 1e-6).any():
                raise ValueError(
                    f"lengths must hold {batch} relative lengths in (0, 1], got {lengths.tolist()}"
                )
            absolute = [min(total, max(1, round(float(r) * total)))
                        for r in lengths for _ in range(channels)]
        rate = int(sample_rate or self.sample_rate)
        out = torch.zeros_like(x)
        routings = []
        with torch.no_grad():
            groups = [list(range(x.shape[0]))] if len(set(absolute)) == 1 else [
                [i] for i in range(x.shape[0])]
            for items in groups:
                n = absolute[items[0]]
                enhanced, routing = self._enhance_model_rate(
                    _resample(x[items, :n], rate, self.sample_rate), uf, shift)
                enhanced = _resample(enhanced, self.sample_rate, rate)
                length = min(n, enhanced.shape[-1])
                out[items, :length] = enhanced[:, :length]
                routings.append(routing)
        self.last_routing = _merge_routings(routings)
        return out.reshape(shape)

    def forward(self, wavs, lengths=None, uf="auto", shift=0.0, sample_rate=None):
        """Alias of :meth:`enhance_batch`."""
        return self.enhance_batch(wavs, lengths, uf=uf, shift=shift, sample_rate=sample_rate)

    def enhance_file(self, path, output_filename=None, uf="auto", shift=0.0,
                     output_sample_rate=None):
        """Enhances an audio file block by block (bounded memory for any duration).

        Arguments
        ---------
        path : str
            Any file soundfile reads (wav, flac, ogg, ...), any rate and channel count.
        output_filename : str, optional
            Where to write the result (format from the extension, subtype of the input
            when the format allows it). Written to a temporary file in the same
            folder and moved into place only when complete.
        uf : str or float
            As in :meth:`enhance_batch`.
        shift : float
            Router operating-point shift.
        output_sample_rate : int, optional
            Sample rate of the result (default: the input's).

        Returns
        -------
        torch.Tensor or str
            The enhanced ``[channels, time]`` waveform when ``output_filename`` is None,
            else ``output_filename`` (long files are never held in memory).
        """
        path = str(path)
        parse_uf(uf, self.model.ufs)
        if not os.path.isfile(path):
            path = _fetch_hub_file(path)
        try:
            meta = sf.info(path)
        except Exception as error:
            raise RuntimeError(f"{path}: unreadable or unsupported audio file ({error})") from None
        if meta.frames <= 0:
            raise ValueError(f"{path}: empty audio file (no samples)")
        in_rate = int(meta.samplerate)
        out_rate = int(output_sample_rate or in_rate)
        expected = meta.frames if out_rate == in_rate else math.ceil(
            meta.frames * out_rate / in_rate)
        block = max(1, int(READ_BLOCK_SECONDS * in_rate))

        std = None
        if self.model.normalize_mode == "global":
            std = self._file_std(path, block, in_rate)
        runner = self._runner(std, uf, shift)
        to_model = StreamResampler(in_rate, self.sample_rate)
        to_output = StreamResampler(self.sample_rate, out_rate)
        sink = _Sink(output_filename, out_rate, meta.channels, meta.subtype, expected)
        peak = 0.0
        try:
            with torch.no_grad():
                for chunk, final in _read_blocks(path, block):
                    peak = max(peak, float(chunk.abs().max()) if chunk.numel() else 0.0)
                    x = to_model.push(chunk.to(self.device), final)
                    for enhanced in runner.push(x, final):
                        sink.write(to_output.push(enhanced, False))
                    if final:
                        sink.write(to_output.push(x.new_zeros(x.shape[0], 0), True))
            if peak == 0.0:
                raise ValueError(f"{path}: silent audio file (every sample is zero)")
            result = sink.close()
        except BaseException:
            sink.abort()
            raise
        self.last_routing = runner.routing()
        return result

    def _file_std(self, path, block, in_rate):
        """Per-channel std of the file at the model rate (pre-pass for normalize=True)."""
        stream = StreamResampler(in_rate, self.sample_rate)
        total, sums, squares = 0, None, None
        for chunk, final in _read_blocks(path, block):
            x = stream.push(chunk, final).double()
            sums = x.sum(-1) if sums is None else sums + x.sum(-1)
            squares = x.pow(2).sum(-1) if squares is None else squares + x.pow(2).sum(-1)
            total += x.shape[-1]
        var = (squares - sums**2 / total) / max(total - 1, 1)
        return var.clamp(min=0).sqrt().float().unsqueeze(-1).to(self.device)


class _Sink:
    """Collects enhanced blocks in memory or writes them to a temp file, then moves it."""

    def __init__(self, filename, rate, channels, subtype, expected):
        self.filename, self.expected, self.written = filename, expected, 0
        self.blocks, self.file, self.tmp = [], None, None
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
        block = block[:, : max(0, self.expected - self.written)].detach().cpu()
        self.written += block.shape[-1]
        if self.file is None:
            self.blocks.append(block)
        elif block.shape[-1]:
            if self.clip:
                block = block.clamp(-1.0, 1.0)
            self.file.write(block.T.numpy())

    def close(self):
        if self.written < self.expected:  # resampling rounding: pad the last samples
            missing = self.expected - self.written
            channels = self.blocks[0].shape[0] if self.blocks else self.file.channels
            self.write(torch.zeros(channels, missing))
        if self.file is None:
            return torch.cat(self.blocks, dim=-1)
        self.file.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(self.tmp, self.filename)
        return str(self.filename)

    def abort(self):
        if self.file is not None:
            self.file.close()
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


def _read_blocks(path, block):
    """Yields ``([channels, n] float32 block, is_last)`` from an audio file."""
    try:
        handle = sf.SoundFile(path)
    except Exception as error:
        raise RuntimeError(f"{path}: unreadable or unsupported audio file ({error})") from None
    with handle:
        remaining = handle.frames
        while True:
            data = handle.read(min(block, remaining), dtype="float32", always_2d=True)
            remaining -= data.shape[0]
            chunk = torch.from_numpy(data.T.copy())
            if not torch.isfinite(chunk).all():
                raise ValueError(f"{path}: the file contains NaN or Inf samples")
            final = remaining <= 0 or data.shape[0] == 0
            yield chunk, final
            if final:
                return


def _fetch_hub_file(path):
    """Resolves ``ORG/NAME/file.wav`` (a file of a Hub repo) to a local path, else raises."""
    source, name = os.path.split(path)
    if source.count("/") == 1 and not os.path.isabs(source) and not os.path.exists(source):
        from speechbrain.utils.fetching import fetch

        try:
            return str(fetch(name, source=source))
        except Exception as error:
            raise ValueError(f"{path}: no such file (nor a Hub file: {error})") from None
    raise ValueError(f"{path}: no such file")


def _as_float(wavs):
    """Float view of a waveform tensor (int16/int32 scaled to [-1, 1))."""
    if not isinstance(wavs, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(wavs).__name__}")
    if wavs.dtype == torch.int16:
        return wavs.float() / 32768.0
    if wavs.dtype == torch.int32:
        return wavs.double().div(2.0**31).float()
    if not wavs.is_floating_point():
        raise TypeError(f"expected float, int16 or int32 samples, got {wavs.dtype}")
    return wavs.float()


def _resample(x, orig, new):
    return x if orig == new else torchaudio.functional.resample(x, orig, new)


def _merge_routings(routings):
    if len(routings) == 1:
        return routings[0]
    return {
        "track": [track for routing in routings for track in routing["track"]],
        **{key: torch.cat([routing[key] for routing in routings])
           for key in ("mean_uf", "macs", "macs_per_sample")},
    }
