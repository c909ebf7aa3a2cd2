"""Corpus enhancement throughput: hours of audio enhanced per hour, 1 vs 2 processes, batched vs
one file at a time.

Generates noisy corpora, runs ``speechbrain-slim enhance`` on them (``torchrun`` for several
processes, one thread each) and reads the run's ``enhance_report.csv``::

    python benchmarks/corpus_throughput.py                 # small: 4 + 2 min of audio
    python benchmarks/corpus_throughput.py --minutes 30 --short-files 3000 --processes 4

Two corpora:

* **utterances** (``--minutes`` of 2-8 s files): 1 process against ``--processes``
  processes (torchrun, gloo), file by file (``--batch-size 1``);
* **short files** (``--short-files`` files of 0.5-1.5 s): one file at a time against
  ``--batch-size`` files of one batch key together, in 1 process and in ``--processes``.
  Files share a batch only when their lengths fall in one bottleneck frame (16 ms for the
  shipped model); in a large corpus most do, so the lengths here are drawn from
  ``--short-lengths`` distinct values (``--short-lengths 0``: every file its own length, as
  in a small corpus, where batches stay near 1).

Two numbers per run: **end to end** (the command's wall time: interpreter start, model
loading, torchrun rendezvous, probing, enhancement, report) and **enhancing** (the audio over
the busiest rank's summed per-file time from the report: reading, enhancing, writing).
Results go to ``benchmarks/report/corpus.json`` and ``corpus.md`` (``--name`` for others).

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write_corpus(folder, durations, rate=16000, seed=0):
    """Noisy tone files of ``durations`` seconds (PCM_16) in ``folder``; returns the total."""
    generator = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for index, seconds in enumerate(durations):
        t = np.arange(int(round(seconds * rate))) / rate
        tone = 0.3 * np.sin(2 * np.pi * (150 + index % 200) * t)
        noisy = tone + 0.05 * generator.standard_normal(t.size)
        sf.write(os.path.join(folder, f"utt{index:05d}.wav"), noisy.astype("float32"), rate,
                 subtype="PCM_16")
    return float(sum(durations))


def short_durations(count, lengths, seed=0, low=0.5, high=1.5):
    """``count`` durations in [low, high] s: from ``lengths`` distinct values (0: all random)."""
    generator = np.random.default_rng(seed)
    if lengths <= 0:
        return list(generator.uniform(low, high, count))
    values = np.linspace(low, high, lengths)
    return list(values[generator.integers(0, lengths, count)])


def enhance(corpus, output, source, processes=1, batch_size=1, device="cpu"):
    """Runs ``speechbrain-slim enhance`` (under torchrun for several processes); returns
    its wall time and the report's audio seconds and busiest rank's seconds."""
    command = ["-m", "speechbrain_slim.cli", "enhance", corpus, "-o", output, "--source",
               source, "-q", "--threads", "1", "--batch-size", str(batch_size), "--resume",
               "--device", device]
    if processes > 1:
        command = ["-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={processes}", *command]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                            env=env)
    wall = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
    with open(os.path.join(output, "enhance_report.csv"), newline="",
              encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    busy = {}
    for row in rows:
        seconds = float(row["rtf"]) * float(row["duration"])
        busy[row["rank"]] = busy.get(row["rank"], 0.0) + seconds
    audio = sum(float(row["duration"]) for row in rows)
    batches = [int(row["batch"]) for row in rows]
    return {"processes": processes, "batch_size": batch_size, "files": len(rows),
            "audio_s": audio, "wall_s": wall, "busy_s": max(busy.values()),
            "mean_batch": sum(batches) / len(batches),
            "end_to_end_h_per_h": audio / wall, "enhancing_h_per_h": audio / max(busy.values())}


def measure(source, minutes, short_files, short_lengths, processes, batch_size, workdir,
            device="cpu"):
    """Every run of the benchmark; returns their results."""
    generator = np.random.default_rng(1)
    utterances = []
    while sum(utterances) < minutes * 60:
        utterances.append(float(generator.uniform(2.0, 8.0)))
    long_corpus = os.path.join(workdir, "utterances")
    write_corpus(long_corpus, utterances)
    short_corpus = os.path.join(workdir, "short")
    write_corpus(short_corpus, short_durations(short_files, short_lengths), seed=2)
    runs = [("utterances", long_corpus, 1, 1), ("utterances", long_corpus, processes, 1),
            ("short files", short_corpus, 1, 1), ("short files", short_corpus, 1, batch_size),
            ("short files", short_corpus, processes, batch_size)]
    results = []
    for index, (corpus_name, corpus, count, size) in enumerate(runs):
        load = os.getloadavg()[0]
        result = enhance(corpus, os.path.join(workdir, f"out{index}"), source, count, size,
                         device)
        result.update(corpus=corpus_name, load_before=load)
        results.append(result)
        print(f"{corpus_name}: {count} process(es), batch {size}: "
              f"{result['end_to_end_h_per_h']:.1f} h/h end to end, "
              f"{result['enhancing_h_per_h']:.1f} h/h enhancing (load {load:.1f})", flush=True)
    return results


def format_result(report):
    """The markdown section of a benchmark run."""
    command = f"python benchmarks/corpus_throughput.py {report['command']}".strip()
    device = report["device"]
    lines = [
        "# Corpus enhancement throughput", "",
        f"`{command}` on {report['machine']}; model `{report['source']}`, uf `auto`, one "
        f"thread per process, device `{device}`"
        + ("; GPU: not measured in this run." if device == "cpu" else "."), "",
        "| corpus | files | audio (s) | processes | batch size | mean batch | wall (s) | "
        "end to end (h/h) | enhancing (h/h) | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['corpus']} | {r['files']} | {r['audio_s']:.0f} | {r['processes']} | "
            f"{r['batch_size']} | {r['mean_batch']:.1f} | {r['wall_s']:.1f} | "
            f"{r['end_to_end_h_per_h']:.1f} | {r['enhancing_h_per_h']:.1f} | "
            f"{r['load_before']:.1f} |")
    lines += ["", "h/h: hours of audio enhanced per hour of wall time. End to end: the "
              "command's wall time (start-up included); enhancing: audio over the busiest "
              "rank's summed per-file times (read, enhance, write). Load before: the "
              "machine's 1-minute load average when the run started (other work included)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Command line; writes ``benchmarks/report/<name>.{json,md}``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=os.path.join(ROOT, "hub", "slim-demucs-real"))
    parser.add_argument("--minutes", type=float, default=4.0,
                        help="audio of the utterance corpus (2-8 s files)")
    parser.add_argument("--short-files", type=int, default=240)
    parser.add_argument("--short-lengths", type=int, default=16,
                        help="distinct lengths of the short files (0: all different)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda (one GPU per process: cuda:LOCAL_RANK)")
    parser.add_argument("--out", default=os.path.join(HERE, "report"))
    parser.add_argument("--name", default="corpus", help="report file names (NAME.json/.md)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="corpus-") as workdir:
        results = measure(args.source, args.minutes, args.short_files, args.short_lengths,
                          args.processes, args.batch_size, workdir, args.device)
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    source = os.path.abspath(args.source)
    report = {"command": shown, "machine": f"{os.cpu_count()} CPU cores", "device": args.device,
              "source": os.path.relpath(source, ROOT) if source.startswith(ROOT) else args.source,
              "results": results}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.name}.json"), "w", encoding="utf-8") as stream:
        json.dump(report, stream, indent=1)
    with open(os.path.join(args.out, f"{args.name}.md"), "w", encoding="utf-8") as stream:
        stream.write(format_result(report))
    print(format_result(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
