"""``speechbrain-slim``: the command line of speechbrain-slim.

::

    speechbrain-slim enhance IN [IN ...] -o OUT_DIR [--uf auto|0.25|max=0.5]
                     [--source hub/... | ORG/NAME] [--device cpu|cuda]
    speechbrain-slim info [--source ...]

``enhance`` takes audio files and folders (searched recursively for audio files),
writes each result under ``OUT_DIR`` with the input's name, format, sample rate and
channel count (folders keep their relative layout), and prints per file: duration,
mean UF, MACs spent and the real-time factor (processing time / duration). A file
that fails is reported and skipped; the exit status is then 1. ``info`` prints the
parameters and MACs per UF of a model. ``--source`` defaults to :data:`DEFAULT_SOURCE`,
the model folder shipped with the repository.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import os
import sys
import time

__all__ = ["DEFAULT_SOURCE", "AUDIO_EXTENSIONS", "main", "find_audio", "load_enhancer"]

DEFAULT_SOURCE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hub", "slim-demucs-embedded"
)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au", ".mp3", ".opus")


def find_audio(inputs):
    """``(path, relative output name)`` for every audio file of ``inputs`` (files or folders).

    Example
    -------
    >>> find_audio([])
    []
    """
    found = []
    for item in inputs:
        if os.path.isdir(item):
            for root, _, names in sorted(os.walk(item)):
                for name in sorted(names):
                    if name.lower().endswith(AUDIO_EXTENSIONS):
                        path = os.path.join(root, name)
                        found.append((path, os.path.relpath(path, item)))
        elif os.path.isfile(item):
            found.append((item, os.path.basename(item)))
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return found


def load_enhancer(source=None, device="cpu", savedir=None):
    """Loads EnhanceSlim from a local hub folder or a Hub repo id, with clear errors."""
    from speechbrain_slim.inference import EnhanceSlim

    source = source or DEFAULT_SOURCE
    looks_local = os.path.isabs(source) or source.startswith(".") or source.count("/") != 1
    if not os.path.isdir(source) and looks_local:
        hint = " (the shipped model folder; pass --source)" if source == DEFAULT_SOURCE else ""
        raise FileNotFoundError(f"model folder {source} does not exist{hint}")
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "hyperparams.yaml")):
        raise FileNotFoundError(f"{source} has no hyperparams.yaml: not a model folder")
    return EnhanceSlim.from_hparams(source=source, savedir=savedir,
                                    run_opts={"device": device})


def enhance(args):
    """Runs ``speechbrain-slim enhance``; returns the exit status."""
    import soundfile as sf
    from tqdm import tqdm

    files = find_audio(args.inputs)
    if not files:
        raise FileNotFoundError(f"no audio files in {args.inputs}")
    enhancer = load_enhancer(args.source, args.device)
    from speechbrain_slim.routing import parse_uf

    parse_uf(args.uf, enhancer.model.ufs)
    failures = 0
    for path, name in tqdm(files, desc="enhancing", unit="file", disable=args.quiet):
        target = os.path.join(args.output, name)
        try:
            duration = sf.info(path).duration if os.path.isfile(path) else 0.0
            start = time.perf_counter()
            enhancer.enhance_file(path, target, uf=args.uf)
            elapsed = time.perf_counter() - start
        except (ValueError, RuntimeError, OSError) as error:
            failures += 1
            tqdm.write(f"FAILED {path}: {error}")
            continue
        routing = enhancer.last_routing
        mean_uf = float(routing["mean_uf"].mean())
        macs = float(routing["macs"].sum())
        tqdm.write(
            f"{path} -> {target}: {duration:.2f} s, mean UF {mean_uf:.3f}, "
            f"{macs / 1e9:.3f} GMAC ({macs / max(duration, 1e-9) / 1e9:.3f} GMAC/s), "
            f"RTF {elapsed / max(duration, 1e-9):.3f}"
        )
    print(f"enhanced {len(files) - failures} of {len(files)} files into {args.output}")
    return 1 if failures else 0


def info(args):
    """Runs ``speechbrain-slim info``; returns the exit status."""
    from speechbrain_slim.complexity import complexity_table, format_table

    enhancer = load_enhancer(args.source, args.device)
    model, router = enhancer.model, enhancer.router
    print(f"model: {args.source or DEFAULT_SOURCE}")
    print(f"sample rate {model.sample_rate} Hz, UFs {list(model.ufs)}, "
          f"lookahead {model.lookahead} samples ({1000 * model.lookahead / model.sample_rate:.1f}"
          f" ms), {model.total_stride} samples per routing frame")
    print(format_table(complexity_table(model)))
    if router is None:
        print("router: none (fixed UFs only)")
    else:
        per_sample = router.macs_per_frame() / model.total_stride
        parameters = sum(p.numel() for p in router.parameters())
        print(f"router: {parameters:,} parameters, {per_sample:,.1f} MACs/sample (uf=auto adds "
              f"this to the UF's MACs)")
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
    for sub in (enhance_parser, info_parser):
        sub.add_argument("--source", default=None,
                         help=f"model folder or Hub repo id (default: {DEFAULT_SOURCE})")
        sub.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    enhance_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return main_parser


def main(argv=None):
    """Entry point of ``speechbrain-slim``; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return {"enhance": enhance, "info": info}[args.command](args)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"speechbrain-slim: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
