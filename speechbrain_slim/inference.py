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

Signals of any length are enhanced in chunks, window by window
(:class:`~speechbrain_slim.chunked.ChunkedRunner`, whose module says what is exact
about it and what is not); files are read and written block by block
(:mod:`speechbrain_slim.audio_files`); where a model comes from is checked by
:mod:`speechbrain_slim.model_source`.

Authors
 * speechbrain-slim contributors 2026
"""

import math
import os
import warnings

import soundfile as sf
import torch
import torchaudio
from speechbrain.inference.interfaces import Pretrained

from speechbrain_slim.audio_files import READ_BLOCK_SECONDS, AudioBlockReader, AudioFileSink
from speechbrain_slim.chunked import ChunkedRunner, StreamResampler  # re-exported here too
from speechbrain_slim.model_source import (
    check_source,  # re-exported: callers import it from here
    fetch_hub_file,
    hub_failure_message,
    hub_fetch_config,
)
from speechbrain_slim.routing import parse_uf
from speechbrain_slim.waveforms import AudioWarning  # re-exported: callers import it from here

__all__ = ["EnhanceSlim", "StreamResampler", "ChunkedRunner", "AudioWarning", "check_source"]


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
            raise FileNotFoundError(hub_failure_message(source, hparams_file, error)) from None
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
            raise FileNotFoundError(hub_failure_message(source, "its checkpoints", error)) from None
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

    def window_runner(self, batch_std=None, uf="auto", shift=0.0):
        """A :class:`~speechbrain_slim.chunked.ChunkedRunner` of this model with its windows.

        The runner that :meth:`enhance_batch` and :meth:`enhance_file` push a model-rate
        ``[batch, time]`` stream through: hop, context and crossfade from
        ``chunk_seconds``, ``context_seconds`` and ``crossfade_seconds``.

        Arguments
        ---------
        batch_std : torch.Tensor, optional
            ``[batch, 1]`` whole-signal std, required for ``normalize=True`` models.
        uf : str or float
            ``"auto"`` (router), a UF of the model, or a cap ``"max=<uf>"``.
        shift : float
            Router operating-point shift (positive: larger UFs).

        Returns
        -------
        ChunkedRunner

        Example
        -------
        >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
        >>> model = SlimDemucs(hidden=4, depth=2, normalize="running")
        >>> modules = {"enhance_model": torch.nn.ModuleDict({"model": model})}
        >>> enhancer = EnhanceSlim(modules=modules, hparams={}, run_opts={"device": "cpu"},
        ...                        chunk_seconds=0.1)
        >>> runner = enhancer.window_runner(uf=1.0)
        >>> runner.hop, runner.left
        (1600, 64000)
        """
        rate = self.sample_rate
        return ChunkedRunner(
            self.model, self.router, uf, shift,
            chunk=int(self.chunk_seconds * rate), context=int(self.context_seconds * rate),
            crossfade=int(self.crossfade_seconds * rate), global_std=batch_std,
        )

    def _enhance_model_rate(self, x, uf, shift):
        """Enhances in-memory ``x`` [batch, time] at the model rate; returns (out, routing)."""
        std = x.std(dim=-1, keepdim=True) if self.model.normalize_mode == "global" else None
        runner = self.window_runner(std, uf, shift)
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
            path = fetch_hub_file(path)
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
        reader = AudioBlockReader(path, block, strict=strict)
        std = None
        if self.model.normalize_mode == "global":
            std = self._file_std(AudioBlockReader(path, block, strict=strict), in_rate)
        runner = self.window_runner(std, uf, shift)
        to_model = StreamResampler(in_rate, self.sample_rate)
        to_output = StreamResampler(self.sample_rate, out_rate)
        sink = AudioFileSink(output_filename, out_rate, meta.channels, meta.subtype,
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
                sink = AudioFileSink(output_filename, out_rate, meta.channels, meta.subtype,
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
