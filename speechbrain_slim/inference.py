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
  bounded; files are read and written block by block;
* silence (every sample zero) gives silence of the same length, and a truncated or
  damaged file is enhanced as far as it reads (``strict=True`` refuses it), each with an
  :class:`AudioWarning` naming the file.

Loading is safe by default (:mod:`speechbrain_slim.trust`): ``hyperparams.yaml`` may only
name speechbrain-slim's model classes unless ``trust_remote_code=True``, checkpoints are
read weights-only, and a missing local model folder fails at once (see
:meth:`EnhanceSlim.from_hparams`).

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
import dataclasses
import math
import os
import re
import tempfile
import warnings

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.inference.interfaces import Pretrained

from speechbrain_slim.lobes.slim_demucs import running_mean
from speechbrain_slim.routing import parse_uf, route
from speechbrain_slim.waveforms import AudioWarning  # re-exported: callers import it from here

__all__ = ["EnhanceSlim", "StreamResampler", "ChunkedRunner", "AudioWarning", "check_source"]

READ_BLOCK_SECONDS = 20.0
HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


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

    @classmethod
    def from_hparams(cls, source, hparams_file="hyperparams.yaml", overrides=None,
                     overrides_must_match=True, savedir=None, download_only=False,
                     local_strategy=None, fetch_config=None, trust_remote_code=False,
                     **kwargs):
        """Loads a model folder (local path or Hub repo id ``ORG/NAME``) as data.

        As SpeechBrain's ``Pretrained.from_hparams``, with three differences:

        * ``hyperparams.yaml`` is checked before it is loaded
          (:func:`speechbrain_slim.trust.check_hyperparams`): only the constructors a
          speechbrain-slim folder needs may be named, else
          :class:`~speechbrain_slim.trust.UntrustedModelError` names the tag and line,
          unless ``trust_remote_code=True``;
        * the checkpoints are read weights-only, whatever the torch version;
        * a source that looks local (absolute, ``./``, ``../``, ``~``, a path whose
          parent folder exists, anything that is not ``ORG/NAME``) and does not exist
          fails at once with "model folder ... does not exist"; with ``HF_HUB_OFFLINE=1``
          a Hub repo id is looked up in the local cache only.

        Arguments
        ---------
        source : str, os.PathLike or speechbrain.utils.fetching.FetchSource
            A model folder or a Hub repo id.
        hparams_file : str
            The hyperparameter file of the folder.
        overrides : dict or str, optional
            HyperPyYAML overrides (the caller's own, not checked).
        overrides_must_match : bool
            Whether an override must match a key of the file.
        savedir : str, optional
            Where to collect the files (default: used in place, or from the HF cache).
        download_only : bool
            Only fetch the files (returns None).
        local_strategy : speechbrain.utils.fetching.LocalStrategy, optional
            How files are placed in ``savedir`` (default: symlinks).
        fetch_config : speechbrain.utils.fetching.FetchConfig, optional
            Fetching options.
        trust_remote_code : bool
            Load a ``hyperparams.yaml`` that names other code (it then runs).
        **kwargs
            Passed to the constructor (``run_opts``, ``chunk_seconds`` ...).

        Returns
        -------
        EnhanceSlim or None
        """
        from hyperpyyaml import load_hyperpyyaml
        from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch

        from speechbrain_slim.trust import check_hyperparams, use_weights_only

        source = check_source(source, hparams_file)
        fetch_config = hub_fetch_config(fetch_config or FetchConfig())
        local_strategy = local_strategy or LocalStrategy.SYMLINK
        try:
            hparams_path = fetch(filename=hparams_file, source=source, savedir=savedir,
                                 local_strategy=local_strategy, fetch_config=fetch_config)
        except Exception as error:
            raise FileNotFoundError(_hub_failure(source, hparams_file, error)) from None
        shown = (os.path.join(source, hparams_file) if isinstance(source, str)
                 else str(hparams_path))
        check_hyperparams(hparams_path, trust_remote_code=trust_remote_code, name=shown)
        with open(hparams_path, encoding="utf-8") as stream:
            hparams = load_hyperpyyaml(stream, overrides or {}, overrides_must_match)
        if "pretrainer" not in hparams or "modules" not in hparams:
            raise RuntimeError(f"{hparams_path} defines no 'pretrainer' or no 'modules': not a "
                               "model folder")
        hparams["savedir"] = savedir
        pretrainer = hparams["pretrainer"]
        pretrainer.set_collect_in(savedir)
        try:
            pretrainer.collect_files(default_source=source, local_strategy=local_strategy,
                                     fetch_config=fetch_config)
        except Exception as error:
            raise FileNotFoundError(_hub_failure(source, "its checkpoints", error)) from None
        if download_only:
            return None
        use_weights_only(pretrainer)
        pretrainer.load_collected()
        return cls(modules=hparams["modules"], hparams=hparams, **kwargs)

    def _check_checkpoint(self):
        """Strict key check of the loaded ``enhance_model.ckpt`` (parameter transfer is lax)."""
        pretrainer = getattr(getattr(self, "hparams", None), "pretrainer", None)
        path = getattr(pretrainer, "paths", {}).get("enhance_model") if pretrainer else None
        if path is None:
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        # loading again (the same tensors) applies the model's key remaps of older checkpoints
        result = self.mods.enhance_model.load_state_dict(state, strict=False)
        missing, unexpected = sorted(result.missing_keys), sorted(result.unexpected_keys)
        if missing or unexpected:
            raise RuntimeError(
                f"checkpoint {path} does not match the model of hyperparams.yaml: "
                f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, "
                f"unexpected keys {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
            )

    def streamer(self, uf="auto", shift=0.0, nonfinite="raise"):
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
        nonfinite : str
            ``"raise"`` (a chunk with NaN/Inf is refused and not consumed) or ``"zero"``
            (such samples become zeros, the output stays aligned).

        Returns
        -------
        StreamingEnhancer
        """
        from speechbrain_slim.streaming import StreamingEnhancer

        mode, _ = parse_uf(uf, self.model.ufs)
        router = self.router if mode != "fixed" else None
        return StreamingEnhancer(self.model, router, uf=uf, shift=shift, nonfinite=nonfinite)

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
            Enhanced waveforms, same shape as ``wavs`` (float); an all-zero item (or
            channel) gives zeros, with an :class:`AudioWarning`. The routing of this
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
        silent = [i for i in range(x.shape[0]) if not bool(x[i, : absolute[i]].any())]
        if silent:  # silence in, silence out
            out[silent] = 0.0
            names = [f"{i // channels}" + (f" (channel {i % channels})" if channels > 1 else "")
                     for i in silent]
            warnings.warn(f"batch item(s) {', '.join(names)}: silent (every sample is zero); "
                          "their output is silence", AudioWarning, stacklevel=2)
        self.last_routing = _merge_routings(routings)
        return out.reshape(shape)

    def forward(self, wavs, lengths=None, uf="auto", shift=0.0, sample_rate=None):
        """Alias of :meth:`enhance_batch`."""
        return self.enhance_batch(wavs, lengths, uf=uf, shift=shift, sample_rate=sample_rate)

    def enhance_file(self, path, output_filename=None, uf="auto", shift=0.0,
                     output_sample_rate=None, strict=False):
        """Enhances an audio file block by block (bounded memory for any duration).

        Odd files are handled as follows (each with an :class:`AudioWarning` naming the
        file): a silent file (every sample zero) gives silence of the same length; a
        truncated or damaged file (less data than its header announces: a WAV/AIFF cut
        short, a FLAC that stops decoding) is enhanced as far as it can be read, and
        the warning says how much is missing. With ``strict=True`` such a file raises
        ``ValueError`` instead (a WAV/AIFF before any work, a FLAC when the damage is
        reached; nothing is written either way).

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
        strict : bool
            Refuse truncated or damaged files instead of enhancing what they hold.

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

        def output_length(frames):
            return frames if out_rate == in_rate else math.ceil(frames * out_rate / in_rate)

        block = max(1, int(READ_BLOCK_SECONDS * in_rate))
        reader = _BlockReader(path, block, strict=strict)
        std = None
        if self.model.normalize_mode == "global":
            std = self._file_std(_BlockReader(path, block, strict=strict), in_rate)
        runner = self._runner(std, uf, shift)
        to_model = StreamResampler(in_rate, self.sample_rate)
        to_output = StreamResampler(self.sample_rate, out_rate)
        sink = _Sink(output_filename, out_rate, meta.channels, meta.subtype,
                     output_length(meta.frames))
        peak = 0.0
        try:
            with torch.no_grad():
                for chunk, final in reader:
                    peak = max(peak, float(chunk.abs().max()) if chunk.numel() else 0.0)
                    x = to_model.push(chunk.to(self.device), final)
                    if final:  # a damaged file ends early: the output ends with it
                        sink.expected = output_length(reader.frames_read)
                    for enhanced in runner.push(x, final):
                        sink.write(to_output.push(enhanced, False))
                    if final:
                        sink.write(to_output.push(x.new_zeros(x.shape[0], 0), True))
            if peak == 0.0:  # silence in, silence out (not the network's idea of it)
                sink.abort()
                sink = _Sink(output_filename, out_rate, meta.channels, meta.subtype,
                             output_length(reader.frames_read))
                warnings.warn(f"{path}: silent audio file (every sample is zero); the output "
                              "is silence of the same length", AudioWarning, stacklevel=2)
            result = sink.close()
        except BaseException:
            sink.abort()
            raise
        if reader.missing_message:
            warnings.warn(f"{reader.missing_message}; enhanced the "
                          f"{reader.frames_read / in_rate:.2f} s that could be read",
                          AudioWarning, stacklevel=2)
        self.last_routing = runner.routing()
        return result

    def _file_std(self, reader, in_rate):
        """Per-channel std of the file at the model rate (pre-pass for normalize=True)."""
        stream = StreamResampler(in_rate, self.sample_rate)
        total, sums, squares = 0, None, None
        for chunk, final in reader:
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
        block = block[:, : max(0, self.expected - self.written)].detach().cpu()
        self.written += block.shape[-1]
        if self.file is None:
            self.blocks.append(block)
        elif block.shape[-1]:
            if self.clip:
                block = block.clamp(-1.0, 1.0)
            self.file.write(block.T.numpy())

    def close(self):
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


class _BlockReader:
    """Yields ``([channels, n] float32 block, is_last)`` from an audio file.

    Notes data missing against the header: :attr:`missing_message` (None when the
    file is whole) after the last block. A decoding error part way (a truncated FLAC)
    ends the file where decoding stopped (the last block is re-read in small pieces).
    With ``strict`` both raise ``ValueError`` instead.
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


def _fetch_hub_file(path):
    """Resolves ``ORG/NAME/file.wav`` (a file of a Hub repo) to a local path, else raises."""
    source, name = os.path.split(path)
    if HUB_REPO_ID.fullmatch(source) and not os.path.exists(os.path.dirname(source) or source):
        from speechbrain.utils.fetching import FetchConfig, fetch

        try:
            return str(fetch(name, source=source, fetch_config=hub_fetch_config(FetchConfig())))
        except Exception as error:
            raise ValueError(f"{path}: no such file (nor a Hub file: {error})") from None
    raise ValueError(f"{path}: no such file")


def hub_offline():
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read now (not only
    when ``huggingface_hub`` was imported).

    Example
    -------
    >>> import os
    >>> os.environ["HF_HUB_OFFLINE"] = "1"
    >>> hub_offline()
    True
    >>> del os.environ["HF_HUB_OFFLINE"]
    """
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return True
    return False


def hub_fetch_config(fetch_config):
    """``fetch_config`` without network access when :func:`hub_offline` (cache only)."""
    if hub_offline() and fetch_config.allow_network:
        return dataclasses.replace(fetch_config, allow_network=False)
    return fetch_config


def check_source(source, hparams_file="hyperparams.yaml"):
    """Checks a model source: an existing model folder, a URL, or a Hub repo id ``ORG/NAME``.

    A source that looks local (a path object, absolute, ``./``, ``../``, ``~``, a path
    whose parent folder exists, or anything that is not ``ORG/NAME``) must be an existing
    folder holding ``hparams_file``; else ``FileNotFoundError`` at once, without any
    network lookup.

    Arguments
    ---------
    source : str, os.PathLike or FetchSource
        The source given to :meth:`EnhanceSlim.from_hparams`.
    hparams_file : str
        The file a model folder must hold.

    Returns
    -------
    str or FetchSource
        The source to fetch from.

    Example
    -------
    >>> check_source("speechbrain-slim/slim-demucs")
    'speechbrain-slim/slim-demucs'
    >>> check_source("/no/such/model")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model folder /no/such/model does not exist
    """
    if not isinstance(source, (str, os.PathLike)):  # a FetchSource says where it is
        return source
    local = isinstance(source, os.PathLike)
    source = os.fspath(source)
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, hparams_file)):
            raise FileNotFoundError(f"{source} has no {hparams_file}: not a model folder")
        return source
    if not local and source.startswith(("http://", "https://")):
        return source
    parent = os.path.dirname(source.rstrip("/\\"))
    if (local or os.path.isabs(os.path.expanduser(source)) or source in (".", "..")
            or source.startswith(("./", "../", ".\\", "..\\", "~"))
            or not HUB_REPO_ID.fullmatch(source)):
        raise FileNotFoundError(f"model folder {source} does not exist")
    if parent and os.path.isdir(parent):
        raise FileNotFoundError(
            f"model folder {source} does not exist (a local folder {parent} exists, so it "
            "was read as a path; for the Hub repo of that name pass source=FetchSource("
            f"FetchFrom.HUGGING_FACE, {source!r}) from speechbrain.utils.fetching)")
    return source


def _hub_failure(source, what, error):
    """The message of a failed Hub lookup of ``source`` (offline or not)."""
    reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    if hub_offline():
        return (f"model {source}: not a local folder, and {what} not in the local Hugging Face "
                "cache (HF_HUB_OFFLINE is set, so the Hub was not asked)")
    return (f"model {source}: not a local folder, and {what} could not be fetched from the "
            f"Hugging Face Hub ({type(error).__name__}: {reason})")


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
