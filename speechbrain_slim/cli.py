"""``speechbrain-slim``: the command line of speechbrain-slim.

::

    speechbrain-slim enhance IN [IN ...] -o OUT_DIR [--uf auto|0.25|max=0.5]
                     [--source hub/... | ORG/NAME] [--device cpu|cuda] [--threads N]
                     [--in-place] [--strict] [--trust-remote-code]
                     [--batch-size B] [--resume] [--replace NAME=VALUE] [--audio-key wav]
    torchrun --nproc_per_node=N -m speechbrain_slim.cli enhance IN [IN ...] -o OUT_DIR ...
    speechbrain-slim info [--source ...]
    speechbrain-slim stream IN|mic -o OUT [--uf ...] [--source ...] [--chunk-ms 16]

``enhance`` takes audio files and folders (searched recursively for audio files),
writes each result under ``OUT_DIR`` with the input's name, format, sample rate and
channel count (folders keep their relative layout), and prints per file: duration,
mean UF, MACs spent and the real-time factor (processing time / duration). A file
that fails is reported and skipped; the exit status is then 1. ``info`` prints the
parameters and MACs per UF of a model. ``stream`` runs one file through the
streaming enhancer (:mod:`speechbrain_slim.streaming`) in chunks of ``--chunk-ms``
as a live input would arrive, and prints the latency, real-time factor and mean
UF; ``IN = mic`` records ``--seconds`` from the microphone instead (needs the
optional ``sounddevice`` package). ``--source`` defaults to :data:`DEFAULT_SOURCE`:
``$SPEECHBRAIN_SLIM_MODEL`` (a model folder or Hub repo id) when set, else the shipped model
(in the installed package, or ``hub/slim-demucs-real`` in a checkout;
:mod:`speechbrain_slim.pretrained`). Under ``torchrun``, with data manifests (``.csv`` /
``.json`` inputs), ``--batch-size`` > 1 or ``--resume``, ``enhance`` runs sharded, batched
and resumable (:mod:`speechbrain_slim.corpus_enhance`).

Safe by default. A model folder is data: a ``hyperparams.yaml`` that names other code
than speechbrain-slim's model classes is refused unless ``--trust-remote-code`` is
given (:mod:`speechbrain_slim.trust`). ``enhance`` never writes over an input: an
output path that is an input file (the same path, a symlink or hard link to it) is
refused before any work unless ``--in-place`` is given (the enhanced audio then
replaces the input, written to a temporary file first). A silent input gives silence
of the same length, a truncated or damaged one is enhanced as far as it can be read;
both print a ``WARNING`` line and count as done (``--strict`` refuses damaged files
instead). ``--threads N`` sets torch's threads (default: torch's choice; on a shared
machine ``--threads 1`` avoids waiting for busy cores).

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import os
import sys
import time
import warnings

from speechbrain_slim.command_inputs import (  # re-exported: callers import them from here
    AUDIO_EXTENSIONS,
    DEFAULT_SOURCE,
    find_audio,
    load_enhancer,
    refuse_overwrite,
)

__all__ = ["DEFAULT_SOURCE", "AUDIO_EXTENSIONS", "main", "find_audio", "load_enhancer", "stream"]


def enhance(args):
    """Runs ``speechbrain-slim enhance``; returns the exit status."""
    import soundfile as sf
    from tqdm import tqdm

    from speechbrain_slim import corpus_enhance

    if corpus_enhance.wanted(args):  # torchrun, manifests, batches, --resume
        return corpus_enhance.run(args)
    files = find_audio(args.inputs)
    if not files:
        raise FileNotFoundError(f"no audio files in {args.inputs}")
    targets = [(path, os.path.join(args.output, name)) for path, name in files]
    refuse_overwrite(targets, args.in_place)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    enhancer = load_enhancer(args.source, args.device, trust_remote_code=args.trust_remote_code)
    from speechbrain_slim.inference import AudioWarning
    from speechbrain_slim.routing import parse_uf

    parse_uf(args.uf, enhancer.model.ufs)
    failures = warned = 0
    for path, target in tqdm(targets, desc="enhancing", unit="file", disable=args.quiet):
        caught = []
        try:
            duration = sf.info(path).duration if os.path.isfile(path) else 0.0
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AudioWarning)
                enhancer.enhance_file(path, target, uf=args.uf, strict=args.strict)
            elapsed = time.perf_counter() - start
        except (ValueError, RuntimeError, OSError) as error:
            failures += 1
            tqdm.write(f"FAILED {path}: {error}")
            continue
        finally:
            for warning in caught:
                if issubclass(warning.category, AudioWarning):
                    tqdm.write(f"WARNING {warning.message}")
                else:
                    warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                           warning.lineno)
        warned += any(issubclass(w.category, AudioWarning) for w in caught)
        routing = enhancer.last_routing
        mean_uf = float(routing["mean_uf"].mean())
        macs = float(routing["macs"].sum())
        tqdm.write(
            f"{path} -> {target}: {duration:.2f} s, mean UF {mean_uf:.3f}, "
            f"{macs / 1e9:.3f} GMAC ({macs / max(duration, 1e-9) / 1e9:.3f} GMAC/s), "
            f"RTF {elapsed / max(duration, 1e-9):.3f}"
        )
    note = f" ({warned} with warnings)" if warned else ""
    print(f"enhanced {len(files) - failures} of {len(files)} files into {args.output}{note}")
    return 1 if failures else 0


def info(args):
    """Runs ``speechbrain-slim info``; returns the exit status."""
    from speechbrain_slim.complexity import complexity_table, format_table, time_per_uf

    enhancer = load_enhancer(args.source, args.device, trust_remote_code=args.trust_remote_code)
    model, router = enhancer.model, enhancer.router
    print(f"model: {args.source or DEFAULT_SOURCE}")
    print(f"sample rate {model.sample_rate} Hz, UFs {list(model.ufs)}, "
          f"lookahead {model.lookahead} samples ({1000 * model.lookahead / model.sample_rate:.1f}"
          f" ms), {model.total_stride} samples per routing frame")
    # measured here, 1 thread, side by side: what a pass costs on this machine, MACs or not
    print(format_table(complexity_table(model, times=time_per_uf(model))))
    if router is None:
        print("router: none (fixed UFs only)")
    else:
        per_sample = router.macs_per_frame() / model.total_stride
        parameters = sum(p.numel() for p in router.parameters())
        print(f"router: {parameters:,} parameters, {per_sample:,.1f} MACs/sample (uf=auto adds "
              f"this to the UF's MACs)")
    return 0


def stream(args):
    """Runs ``speechbrain-slim stream``: one file (or the microphone) through the streamer."""
    import soundfile as sf
    import torch

    from speechbrain_slim.inference import StreamResampler

    torch.set_num_threads(args.threads)
    if args.input != "mic":
        if not os.path.isfile(args.input):
            raise FileNotFoundError(f"{args.input}: no such file")
        refuse_overwrite([(args.input, args.output)], in_place=False)
    enhancer = load_enhancer(args.source, args.device, trust_remote_code=args.trust_remote_code)
    if args.input == "mic":
        return _stream_microphone(enhancer, args)
    meta = sf.info(args.input)
    rate, channels = int(meta.samplerate), meta.channels
    streamers = [enhancer.streamer(args.uf) for _ in range(channels)]
    to_model = StreamResampler(rate, enhancer.sample_rate)
    to_output = StreamResampler(enhancer.sample_rate, rate)
    chunk = max(1, round(args.chunk_ms * rate / 1000))
    written, start = 0, time.perf_counter()
    with _open_output(args.output, rate, channels, meta.subtype) as sink:
        def write(model_rate_block, final=False):
            nonlocal written
            out = to_output.push(model_rate_block.cpu(), final)[:, : meta.frames - written]
            written += out.shape[1]
            sink.write(out.clamp(-1.0, 1.0).T.numpy())

        for block in sf.blocks(args.input, blocksize=chunk, dtype="float32", always_2d=True):
            x = to_model.push(torch.from_numpy(block.T.copy()))
            write(torch.stack([s.feed(x[c]) for c, s in enumerate(streamers)]))
        x = to_model.push(torch.zeros(channels, 0), final=True)
        write(torch.stack([torch.cat((s.feed(x[c]), s.flush())) for c, s in enumerate(streamers)]),
              final=True)
        if written < meta.frames:  # resampling rounding
            sink.write(torch.zeros(meta.frames - written, channels).numpy())
    elapsed = time.perf_counter() - start
    _report_stream(streamers, args, meta.frames / rate, elapsed)
    return 0


def _open_output(path, rate, channels, subtype):
    import soundfile as sf

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    audio_format = os.path.splitext(path)[1].lstrip(".").upper() or "WAV"
    if audio_format not in sf.available_formats():
        raise ValueError(f"{path}: unsupported output format")
    if subtype is None or not sf.check_format(audio_format, subtype):
        subtype = sf.default_subtype(audio_format)
    return sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype=subtype,
                        format=audio_format)


def _report_stream(streamers, args, duration, elapsed):
    first = streamers[0]
    mean_uf = sum(s.mean_uf or 0.0 for s in streamers) / len(streamers)
    macs = sum(s.macs for s in streamers)
    per_frame = first.seconds_per_frame
    print(f"{args.input} -> {args.output}: {duration:.2f} s, uf {args.uf}, chunks of "
          f"{args.chunk_ms:g} ms")
    print(f"latency {first.latency_ms:.1f} ms (algorithmic, + the chunk's {args.chunk_ms:g} ms "
          f"when chunks are longer than a frame), mean UF {mean_uf:.3f}, "
          f"{macs / max(duration, 1e-9) / 1e9:.3f} GMAC/s, "
          f"{1000 * per_frame if per_frame else float('nan'):.2f} ms per "
          f"{1000 * first.block / first.sample_rate:g} ms frame, "
          f"RTF {elapsed / max(duration, 1e-9):.3f} (enhancer alone "
          f"{sum(s.seconds for s in streamers) / max(duration, 1e-9):.3f})")


def _stream_microphone(enhancer, args):
    """Records ``args.seconds`` from the default microphone through the streamer."""
    try:
        import sounddevice
    except ImportError:
        raise RuntimeError("microphone input needs the optional sounddevice package "
                           "(pip install sounddevice)") from None
    import soundfile as sf
    import torch

    rate = enhancer.sample_rate
    streamer = enhancer.streamer(args.uf)
    chunk = max(1, round(args.chunk_ms * rate / 1000))
    parts, start = [], time.perf_counter()
    with sounddevice.InputStream(samplerate=rate, channels=1, blocksize=chunk,
                                 dtype="float32") as microphone:
        for _ in range(max(1, round(args.seconds * rate / chunk))):
            data, _ = microphone.read(chunk)
            parts.append(streamer.feed(torch.from_numpy(data[:, 0].copy())))
    parts.append(streamer.flush())
    sf.write(args.output, torch.cat(parts).clamp(-1.0, 1.0).cpu().numpy(), rate)
    _report_stream([streamer], args, args.seconds, time.perf_counter() - start)
    return 0


def parser():
    """The argument parser of ``speechbrain-slim``."""
    main_parser = argparse.ArgumentParser(
        prog="speechbrain-slim", description="Dynamically slimmed DEMUCS speech enhancement.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    enhance_parser = commands.add_parser("enhance", help="enhance audio files or folders")
    enhance_parser.add_argument("inputs", nargs="+", help="audio files or folders")
    enhance_parser.add_argument("-o", "--output", required=True, help="output folder")
    enhance_parser.add_argument("--uf", default="auto",
                                help="'auto' (router), a UF such as 0.25, or a cap 'max=0.5'")
    info_parser = commands.add_parser("info", help="parameters and MACs per UF")
    stream_parser = commands.add_parser(
        "stream", help="enhance a file (or 'mic') chunk by chunk with the streaming enhancer")
    stream_parser.add_argument("input", help="audio file, or 'mic' (needs sounddevice)")
    stream_parser.add_argument("-o", "--output", required=True, help="output audio file")
    stream_parser.add_argument("--uf", default="auto",
                               help="'auto' (router), a UF such as 0.25, or a cap 'max=0.5'")
    stream_parser.add_argument("--chunk-ms", type=float, default=16.0,
                               help="input chunk length in ms (as live audio would arrive)")
    stream_parser.add_argument("--seconds", type=float, default=10.0,
                               help="recording length for 'mic'")
    stream_parser.add_argument("--threads", type=int, default=1,
                               help="torch threads (default 1: a frame's small GEMMs gain "
                                    "nothing from more, and lose much when cores are shared)")
    for sub in (enhance_parser, info_parser, stream_parser):
        sub.add_argument("--source", default=None,
                         help=f"model folder or Hub repo id (default: {DEFAULT_SOURCE})")
        sub.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
        sub.add_argument("--trust-remote-code", action="store_true",
                         help="load a model folder whose hyperparams.yaml names other code "
                              "than speechbrain-slim's model classes (it then runs)")
    enhance_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    enhance_parser.add_argument("--threads", type=int, default=None,
                                help="torch threads (default: torch's choice; 1 or 2 on a "
                                     "shared machine)")
    enhance_parser.add_argument("--in-place", action="store_true",
                                help="allow outputs that overwrite input files (the enhanced "
                                     "audio replaces them)")
    enhance_parser.add_argument("--strict", action="store_true",
                                help="refuse truncated or damaged files instead of enhancing "
                                     "what they hold")
    from speechbrain_slim.corpus_enhance import add_arguments

    add_arguments(enhance_parser)  # corpus mode: torchrun shards, batches, manifests, resume
    return main_parser


def main(argv=None):
    """Entry point of ``speechbrain-slim``; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return {"enhance": enhance, "info": info, "stream": stream}[args.command](args)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:
        print(f"speechbrain-slim: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
