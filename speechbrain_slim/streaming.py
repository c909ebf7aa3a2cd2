"""Streaming enhancement: a causal SlimDemucs (+ router) run block by block with cached state.

:class:`StreamingEnhancer` takes audio in chunks of any size and returns the
enhanced samples that are final so far. Its output is **the offline output**:
the concatenation of everything :meth:`~StreamingEnhancer.feed` and
:meth:`~StreamingEnhancer.flush` return equals ``model(noisy, uf)`` (or
``route(model, router, noisy, uf)``) of the whole signal, to float rounding
(``tests/test_streaming.py``), and has exactly the input's length.

Alignment: output sample ``i`` is input sample ``i`` enhanced. It is returned by
the call that brings the input ``lookahead_samples`` past it (the model's
lookahead, rounded to whole frames), so each call returns a few hundred samples
fewer than it was given until :meth:`~StreamingEnhancer.flush` returns the rest.

Every component streams itself and this module only drives them:
:meth:`SincResampler.streaming`, the blocks' ``streaming(ufs)``
(:mod:`speechbrain_slim.nnet.block_streams`), the bottleneck's ``streaming()``
(:mod:`speechbrain_slim.nnet.recurrent`) and :meth:`Router.streaming`.

How it stays cheap. Work happens per block of ``model.total_stride`` input
samples (one bottleneck frame, 16 ms for the paper config; several blocks run
together when a long chunk arrives). Every layer computes only its *new* frames:

* running normalisation: one running power per block (as
  :meth:`SlimDemucs.input_scale`);
* sinc up-/downsampling steps: the filter's history is kept (``2 * zeros - 1``
  samples), only new samples are interpolated;
* strided convs: the last ``kernel - stride`` input frames are kept as left context;
* transposed convs: the overlap-add tail of the last frame is kept;
* recurrent bottleneck and router: their hidden states are kept;
* skips: encoder frames wait in a buffer until the decoder consumes them;
* residual models (``residual=True``): the raw input samples wait until their
  output samples are emitted, which then get them added (as ``SlimDemucs.forward``).

Each frame runs at its UF's width from prefix views of the layers' own weights,
built once per UF. Copied once: the grouped GRU's per-group weights (stacked, so
that a step is one batched GEMM) and, below UF 1, the decoder's two GLU halves'
prefixes side by side (one GEMM instead of two).

Speed (``benchmarks/streaming_speed.py``, one thread): per 16 ms frame the
paper config needs ~30 small ops per level; at UF 1 the time goes into reading
the weights (memory-bound GEMVs), at small UFs into per-op overhead.

The normalisation must be causal: ``normalize="running"`` or ``False``. DEMUCS's
``normalize=True`` divides by the std of the *whole* input, which a stream
cannot know, and is refused.

Bad chunks. Samples may be float, int16 or int32 (scaled to [-1, 1) as in
:meth:`EnhanceSlim.enhance_batch`). A chunk holding NaN or Inf is, by default
(``nonfinite="raise"``), refused with ``ValueError`` **before anything is consumed**:
the stream's state is unchanged, so the caller can send the chunk again (cleaned) and
the output stays aligned with the input. With ``nonfinite="zero"`` such samples are
replaced by zeros instead (one :class:`~speechbrain_slim.waveforms.AudioWarning` per
stream, the count in :attr:`StreamingEnhancer.nonfinite_samples`), so that a live
stream never falls behind.

Authors
 * speechbrain-slim contributors 2026
"""

import math
import time
import warnings

import torch
from torch.nn import functional as F

from speechbrain_slim.lobes.router import RouterStream
from speechbrain_slim.routing import decide, parse_uf
from speechbrain_slim.waveforms import AudioWarning

__all__ = ["StreamingEnhancer"]


class _InputScale:
    """The running normalisation of :meth:`SlimDemucs.input_scale`, one block at a time."""

    def __init__(self, model):
        self.running = model.normalize_mode == "running"
        self.block = model.total_stride
        self.floor = model.floor
        self.decay = math.exp(-self.block / (model.norm_time_constant * model.sample_rate))

    def reset(self):
        self.power = None

    def __call__(self, samples):
        """Normalises whole blocks (the last may be partial); returns them and the block stds."""
        if not self.running or not samples.shape[0]:
            return samples, []
        stds, parts = [], []
        for start in range(0, samples.shape[0], self.block):
            block = samples[start : start + self.block]
            power = float(torch.dot(block, block)) / self.block  # zero-padded mean square
            self.power = power if self.power is None else (
                self.decay * self.power + (1 - self.decay) * power)
            stds.append(math.sqrt(max(self.power, 0.0)))
            parts.append(block / (self.floor + stds[-1]))
        return (parts[0] if len(parts) == 1 else torch.cat(parts)), stds


class StreamingEnhancer:
    """Enhances a stream chunk by chunk with a causal SlimDemucs, exactly as offline.

    Arguments
    ---------
    model : SlimDemucs
        A causal model with ``normalize="running"`` or ``False``.
    router : Router, optional
        The router (needed for ``uf="auto"`` and caps ``"max=<uf>"``).
    uf : str or float
        ``"auto"`` (the router decides every bottleneck frame as audio arrives), a
        UF of the model, or a cap ``"max=<uf>"`` (see :mod:`speechbrain_slim.routing`).
    shift : float
        Router operating-point shift (as in :func:`speechbrain_slim.routing.route`).
    nonfinite : str
        ``"raise"`` (default): a chunk with NaN/Inf samples raises ``ValueError`` and is
        not consumed (state unchanged; send it again). ``"zero"``: those samples are
        replaced by zeros, keeping the output aligned with the input.

    The stream is mono at ``model.sample_rate`` (callers resample). One block of
    ``model.total_stride`` samples is one bottleneck frame; a frame's cost is
    counted in :attr:`macs` and timed in :attr:`seconds_per_frame`.

    Threads: a frame is ~100 small ops that gain nothing from several threads,
    and with a busy core each op can wait milliseconds for it (measured: 10x
    slower with 2 threads on a shared 2-core machine). Call
    ``torch.set_num_threads(1)`` in a streaming process (the CLI does).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    >>> streamer = StreamingEnhancer(model, uf=0.5)
    >>> noisy = torch.randn(1000)
    >>> parts = [streamer.feed(noisy[i : i + 100]) for i in range(0, 1000, 100)]
    >>> enhanced = torch.cat(parts + [streamer.flush()])
    >>> offline = model(noisy.unsqueeze(0), 0.5)[0][0]
    >>> enhanced.shape, bool((enhanced - offline).abs().max() < 1e-4)
    (torch.Size([1000]), True)
    >>> streamer.mean_uf, streamer.latency_ms > 0
    (0.5, True)
    """

    def __init__(self, model, router=None, uf=1.0, shift=0.0, nonfinite="raise"):
        _check_streamable(model)
        if nonfinite not in ("raise", "zero"):
            raise ValueError(f"nonfinite must be 'raise' or 'zero', got {nonfinite!r}")
        self.nonfinite = nonfinite
        self.mode, self.value = parse_uf(uf, model.ufs)
        if self.mode != "fixed":
            _check_router(model, router, uf)
        self.model, self.router, self.shift = model, router, float(shift)
        self._residual = bool(getattr(model, "residual", False))
        self.block = model.total_stride
        self.sample_rate = model.sample_rate
        self.device = model.resampler.toeplitz.device
        ufs = model.ufs if self.mode != "fixed" else (self.value,)
        # every component streams itself: resampler steps, blocks, bottleneck, router
        self._up, self._down = model.resampler.streaming()
        self._scale = _InputScale(model)
        self._encoders = [block.streaming(ufs) for block in model.encoder]
        self._decoders = [block.streaming(ufs) for block in model.decoder][::-1]
        self._ratios = [model.stride ** (model.depth - 1 - level) for level in range(model.depth)]
        self._bottleneck = model.bottleneck.streaming()
        self._router, self._cap = None, self.value if self.mode == "cap" else None
        if self.mode != "fixed":
            self._router = router.streaming()
        self._recurrent_macs = model.bottleneck.macs_per_frame()
        self._router_macs = router.macs_per_frame() if self._router is not None else 0
        self._lookahead = self._steady_lookahead()
        self.reset()

    def reset(self):
        """Forgets the stream (all cached state and statistics); the next feed starts anew."""
        for stage in (*self._up, *self._down, self._scale, *self._encoders, *self._decoders,
                      self._bottleneck):
            stage.reset()
        if self._router is not None:
            self._router.reset()
        self._raw = torch.zeros(0, device=self.device)  # input samples not yet in a whole block
        self._unanswered = self._raw  # residual models: input samples whose output is pending
        self._stds = []  # input std of each block whose output is pending
        self._std_start = 0
        self._received = self._emitted = 0
        self._decisions = []
        self.track = []
        self.macs = 0
        self.seconds = 0.0
        self.finished = False
        self.nonfinite_samples = 0  # NaN/Inf samples replaced by zeros (nonfinite="zero")

    # ---------------------------------------------------------------- public API
    @property
    def lookahead_samples(self):
        """Input samples that must follow an output sample before it is returned (block-aligned)."""
        return self._lookahead

    @property
    def latency_samples(self):
        """Algorithmic latency: lookahead plus one block of buffering (the first sample of a
        block waits for the rest of its block), like ``DemucsStreamer``'s total lag."""
        return self._lookahead + self.block

    @property
    def latency_ms(self):
        """:attr:`latency_samples` in milliseconds."""
        return 1000.0 * self.latency_samples / self.sample_rate

    @property
    def frames(self):
        """Bottleneck frames computed so far (one per ``total_stride`` input samples)."""
        return len(self.track)

    @property
    def mean_uf(self):
        """Mean UF of the bottleneck frames computed so far (``None`` before the first)."""
        return sum(self.track) / len(self.track) if self.track else None

    @property
    def seconds_per_frame(self):
        """Mean wall time per block of ``total_stride`` input samples processed so far."""
        blocks = self._received // self.block
        return self.seconds / blocks if blocks else None

    @property
    def real_time_factor(self):
        """Processing time / audio duration, over everything fed so far."""
        if not self._received:
            return None
        return self.seconds * self.sample_rate / self._received

    def stats(self):
        """Latency, mean UF, MACs, time per frame and real-time factor as a dict."""
        return {
            "latency_ms": self.latency_ms, "frames": self.frames, "mean_uf": self.mean_uf,
            "macs": self.macs, "seconds_per_frame": self.seconds_per_frame,
            "real_time_factor": self.real_time_factor,
        }

    def feed(self, chunk):
        """Adds input samples; returns the enhanced samples that are final now.

        Arguments
        ---------
        chunk : torch.Tensor or array
            ``[time]`` (or ``[1, time]``) float, int16 or int32 samples at the model's
            rate, any length.

        Returns
        -------
        torch.Tensor
            The next enhanced samples, aligned with the input (the first call's output
            starts at input sample 0), same dimensionality as ``chunk``; possibly empty.

        Raises
        ------
        ValueError
            For a chunk of the wrong shape or type, or holding NaN/Inf samples (with
            ``nonfinite="raise"``). A refused chunk is not consumed: the stream's state
            is unchanged, so sending the chunk again (cleaned) keeps the output aligned.
        """
        samples, two_dimensional = self._check_chunk(chunk)
        start = time.perf_counter()
        with torch.inference_mode():
            # nothing pending: the chunk itself (may be the caller's tensor: only read,
            # and a remainder kept past this call is copied)
            raw = torch.cat((self._raw, samples)) if self._raw.shape[0] else samples
            if self._residual:
                self._unanswered = torch.cat((self._unanswered, samples))
            self._received += samples.shape[0]
            whole = raw.shape[0] // self.block * self.block
            out = samples[:0]
            if whole:
                out = self._process(raw[:whole], final=False)
            rest = raw[whole:]
            self._raw = rest.clone() if raw is samples and rest.shape[0] else rest
        self.seconds += time.perf_counter() - start
        out = out.clone()  # a normal tensor (not an inference tensor) for the caller
        return out.unsqueeze(0) if two_dimensional else out

    def flush(self):
        """Ends the stream: returns every remaining output sample (zero-padded like offline).

        Afterwards the outputs of all calls have exactly the input's length; call
        :meth:`reset` to start another stream.
        """
        if self.finished:
            raise RuntimeError("the stream is already flushed: call reset() to start another")
        start = time.perf_counter()
        with torch.inference_mode():
            out = self._process(self._raw, final=True) if self._received else self._raw
            self._raw = self._raw[:0]
        self.seconds += time.perf_counter() - start
        self.finished = True
        return out.clone()

    # ---------------------------------------------------------------- internals
    def _check_chunk(self, chunk):
        if self.finished:
            raise RuntimeError("the stream is flushed: call reset() before feeding a new one")
        if not isinstance(chunk, torch.Tensor):
            chunk = torch.as_tensor(chunk)
        two_dimensional = chunk.dim() == 2
        if two_dimensional and chunk.shape[0] == 1:
            chunk = chunk[0]
        if chunk.dim() != 1:
            raise ValueError(
                f"expected a mono chunk of shape [time] or [1, time], got {tuple(chunk.shape)} "
                f"(use one streamer per channel)")
        if chunk.dtype == torch.int16:
            chunk = chunk.float() / 32768.0
        elif chunk.dtype == torch.int32:
            chunk = chunk.double().div(2.0**31)
        elif not chunk.is_floating_point():
            raise ValueError(f"expected float, int16 or int32 samples, got {chunk.dtype}")
        chunk = chunk.detach().to(self.device, torch.float32)
        # one cheap reduction; the exact check only when the sum is not finite
        if not math.isfinite(float(chunk.sum())) and not torch.isfinite(chunk).all():
            bad = ~torch.isfinite(chunk)
            if self.nonfinite == "raise":
                raise ValueError(
                    f"the chunk contains {int(bad.sum())} NaN or Inf samples; it was not "
                    "consumed (the stream is unchanged: send it again cleaned, or use "
                    "nonfinite='zero')")
            if not self.nonfinite_samples:
                warnings.warn(f"NaN or Inf samples in the stream (first at input sample "
                              f"{self._received + int(bad.nonzero()[0, 0])}) are replaced by "
                              "zeros", AudioWarning, stacklevel=3)
            self.nonfinite_samples += int(bad.sum())
            chunk = chunk.masked_fill(bad, 0.0)
        return chunk, two_dimensional

    def _process(self, raw, final):
        """Runs every stage as far as the input allows (to the end of the stream when final)."""
        model = self.model
        normalized, std = self._scale(raw)
        self._stds += std
        if final:
            length = self._received
            normalized = F.pad(normalized, (0, model.valid_length(length) - length))
            total_frames = model.bottleneck_frames(length)
        if self._router is not None:
            logits = self._router.push(normalized, total_frames if final else None)
            new = []
            if logits.shape[0]:
                new = decide(logits.unsqueeze(0), self.model.ufs, cap=self._cap,
                             shift=self.shift)[0][0].tolist()
            self._decisions += new
            self.macs += len(new) * self._router_macs
        x = normalized
        for step in self._up:
            x, interpolated = step.push(x, final)
            self.macs += interpolated * model.resampler.taps
        new = x.view(-1, 1)
        for level, encoder in enumerate(self._encoders):
            encoder.inputs.append(new)
            last = encoder.ready(encoder.inputs.end, encoder.kernel, encoder.stride)
            new = self._run_level(level, encoder, encoder.done, last, final)
            encoder.inputs.forget_before(encoder.stride * encoder.done)
            self._decoders[level].skips.append(new)
        first = self.frames
        new = self._bottleneck(new) if new.shape[0] else new
        for frame in range(first, first + new.shape[0]):
            self.track.append(self.value if self._router is None else self._decision(frame))
        self.macs += new.shape[0] * self._recurrent_macs
        for level in reversed(range(model.depth)):
            decoder = self._decoders[level]
            decoder.add_input(new)
            new = self._run_level(level, decoder, decoder.done, decoder.received, final)
            if final:
                new = torch.cat((new, decoder.close()))
            decoder.skips.forget_before(decoder.done)
        y = new.reshape(-1)
        for step in self._down:
            y, interpolated = step.push(y, final)
            self.macs += interpolated * model.resampler.taps
        return self._finish(y, final)

    def _decision(self, frame):
        return self._decisions[min(frame, len(self._decisions) - 1)]

    def _runs(self, level, first, last, final):
        """Splits frames ``first .. last - 1`` of ``level`` into ``(first, last, uf)`` runs."""
        if self._router is None:
            return [(first, last, self.value)] if first < last else []
        ratio = self._ratios[level]
        if not final:
            last = min(last, len(self._decisions) * ratio)
        runs = []
        while first < last:
            end = min(last, (first // ratio + 1) * ratio)
            uf = self._decision(first // ratio)
            if runs and runs[-1][2] == uf:
                runs[-1] = (runs[-1][0], end, uf)
            else:
                runs.append((first, end, uf))
            first = end
        return runs

    def _run_level(self, level, stage, first, last, final):
        """Computes the new frames of an encoder or decoder level, one run per UF."""
        if self._router is None:  # one run at the stream's UF
            if first >= last:
                return stage.no_output()
            self.macs += (last - first) * stage.macs[self.value]
            stage.done = last
            return stage.combine((stage.run(first, last, self.value),))
        runs = self._runs(level, first, last, final)
        if not runs:
            return stage.no_output()
        parts = []
        for start, end, uf in runs:
            parts.append(stage.run(start, end, uf))
            self.macs += (end - start) * stage.macs[uf]
        stage.done = runs[-1][1]
        return stage.combine(parts)

    def _finish(self, y, final):
        """Scales the output back by the input's std (adds the raw input for residual
        models), cut to the input's length."""
        first = self._emitted
        if final:
            y = y[: self._received - first]
        last = first + y.shape[0]
        if self._stds and y.shape[0]:
            block, base = self.block, self._std_start
            for index in range(first // block, (last - 1) // block + 1):
                segment = slice(max(first, index * block) - first, (index + 1) * block - first)
                y[segment] *= self._stds[index - base]
            drop = last // block - base
            del self._stds[:drop]
            self._std_start += drop
        if self._residual and y.shape[0]:
            y += self._unanswered[: y.shape[0]]
            self._unanswered = self._unanswered[y.shape[0] :]
        self._emitted = last
        return y

    def _steady_lookahead(self):
        """Input samples past an output sample before it is final, from the stages' arithmetic."""
        def emitted(received):
            decisions = (RouterStream.ready(received, self._router.kernel, self._router.stride)
                         if self._router is not None else None)
            count = received
            for step in self._up:
                count = 2 * step.ready(count, step.zeros)
            frames = []
            for level, encoder in enumerate(self._encoders):
                count = encoder.ready(count, encoder.kernel, encoder.stride)
                if decisions is not None:
                    count = min(count, decisions * self._ratios[level])
                frames.append(count)
            for level in reversed(range(len(frames))):
                count = min(count, frames[level])
                if decisions is not None:
                    count = min(count, decisions * self._ratios[level])
                count *= self._decoders[level].stride
            for step in self._down:
                count = step.ready(count, step.zeros)
            return count

        start = 64 * self.block * self.model.stride
        return max(received - emitted(received)
                   for received in range(start, start + 8 * self.block, self.block))


def _check_streamable(model):
    if not getattr(model, "causal", False):
        raise ValueError("streaming needs a causal model (causal=True): this one looks ahead "
                         "through a bidirectional bottleneck")
    if model.normalize_mode == "global":
        raise ValueError(
            "streaming cannot reproduce normalize=True/'global': it divides by the std of the "
            "whole input, unknown until the stream ends. Use a model trained with "
            "normalize='running' (or False)")
    if model.kernel_size % model.stride:
        raise ValueError(f"streaming needs kernel_size ({model.kernel_size}) to be a multiple of "
                         f"stride ({model.stride})")


def _check_router(model, router, uf):
    if router is None:
        raise ValueError(f"uf={uf!r} needs a router, and none was given")
    if tuple(router.ufs) != tuple(model.ufs) or router.frame_stride != model.total_stride:
        raise ValueError(
            f"router (ufs {router.ufs}, stride {router.frame_stride}) does not match the model "
            f"(ufs {model.ufs}, stride {model.total_stride})")
