"""Enhancing whole corpora: torchrun-sharded, resumable, batched, from and to SpeechBrain manifests.

::

    torchrun --nproc_per_node=N [--nnodes=M ...] -m speechbrain_slim.cli enhance IN... -o OUT \\
        [--batch-size 16] [--uf ...] [--device cuda] [--threads 1]
    speechbrain-slim enhance train.csv valid.json -o OUT [--replace data_root=/data]
    speechbrain-slim enhance IN... -o OUT --resume

``speechbrain-slim enhance`` runs here (instead of file by file in one process) when it is
started by ``torchrun`` (``WORLD_SIZE`` > 1), when an input is a SpeechBrain data manifest
(``.csv`` / ``.json``, see :mod:`speechbrain_slim.data_manifests`), or with
``--batch-size`` > 1 or ``--resume``.

* **Shards.** Every rank probes a slice of the files (``soundfile.info``); the probes are
  all-gathered, and each rank computes the same plan from them: batches, then batches
  handed to ranks longest first, each to the least-loaded rank (balanced by duration).
  Each rank enhances its shard on its own device: ``cuda:LOCAL_RANK`` with NCCL when
  ``--device cuda``, else the CPU with gloo. The batches do not depend on the number of
  ranks, so the outputs do not either (bit for bit, same device type).
* **Batches.** ``--batch-size B`` enhances up to B files of one
  :func:`~speechbrain_slim.file_batches.batch_key` together (same rate, lengths within one
  bottleneck frame), each exactly as alone (:mod:`speechbrain_slim.file_batches`); other
  files, and every file when B = 1, go through :meth:`EnhanceSlim.enhance_file`.
* **Resuming.** After each file a rank appends a record to
  ``OUT/.speechbrain-slim/progress-rank<R>.jsonl``. A file counts as done when its output
  exists with the recorded length and a record of the same model weights, ``--uf`` and
  ``--strict``; done files are skipped (and listed with their earlier numbers). Outputs are
  renamed into place only when complete; temporary files a killed run left behind
  (``.tmp-*`` next to the outputs) are removed and their files redone.
* **Report.** Rank 0 gathers the records and writes ``OUT/enhance_report.csv`` (per file:
  input, output, status ``enhanced`` / ``skipped`` / ``failed``, duration, mean UF, MACs,
  real-time factor, rank, files in its batch, warning, error) and, for each input
  manifest, the same manifest under ``OUT`` with the audio paths replaced (failed entries
  left out).
* **Errors.** A file that fails is reported (``FAILED``), recorded and counted; the other
  files and ranks go on. Every rank exits with status 1 when any file failed, else 0.

Authors
 * speechbrain-slim contributors 2026
"""

import csv
import datetime
import hashlib
import json
import os
import re
import time
import warnings

from speechbrain_slim.command_inputs import find_audio, load_enhancer, refuse_overwrite
from speechbrain_slim.data_manifests import (
    is_manifest,
    manifest_audio,
    write_enhanced_manifest,
    write_text_atomically,
)

__all__ = ["add_arguments", "wanted", "collect_jobs", "plan_batches", "assign_batches",
           "ProgressLog", "run", "REPORT_NAME", "STATE_FOLDER"]

REPORT_NAME = "enhance_report.csv"
STATE_FOLDER = ".speechbrain-slim"
REPORT_FIELDS = ("input", "output", "status", "duration", "mean_uf", "macs", "rtf", "rank",
                 "batch", "warning", "error")
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=24)  # ranks wait this long for the slowest
PARTIAL_OUTPUT = re.compile(r"\.tmp-[A-Za-z0-9_]{8}(\.[^.]*)?")  # AudioFileSink's temporary files


def add_arguments(parser):
    """Adds the corpus options to the ``enhance`` parser."""
    parser.add_argument("--batch-size", type=int, default=1,
                        help="files of similar length enhanced together (default 1)")
    parser.add_argument("--resume", action="store_true",
                        help="skip files done by an earlier run (always on under torchrun "
                             "and for manifests)")
    parser.add_argument("--replace", action="append", default=[], metavar="NAME=VALUE",
                        help="placeholder value for manifests ($NAME / {NAME}), repeatable")
    parser.add_argument("--audio-key", default="wav",
                        help="manifest column (key) holding the audio path (default: wav)")


def wanted(args):
    """Whether ``enhance`` runs here rather than file by file (see the module doc).

    Example
    -------
    >>> import argparse
    >>> args = argparse.Namespace(inputs=["a.wav"], batch_size=1, resume=False)
    >>> wanted(args), wanted(argparse.Namespace(**{**vars(args), "inputs": ["train.csv"]}))
    (False, True)
    """
    return (int(os.environ.get("WORLD_SIZE", "1")) > 1 or args.batch_size > 1 or args.resume
            or any(is_manifest(item) for item in args.inputs))


def collect_jobs(inputs, output, audio_key="wav", replacements=None):
    """The ``(input, output)`` file pairs of ``inputs``, and the manifests among them.

    Folders keep their layout under ``output`` (as plain ``enhance`` does); the audio of
    manifests keeps its layout below the folder common to all of it.

    Returns
    -------
    jobs : list of (str, str)
        One pair per distinct input file, in input order.
    manifests : list of (str, list)
        ``(manifest path, [(entry id, input file)])``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> manifest = os.path.join(folder, "train.csv")
    >>> with open(manifest, "w", encoding="utf-8") as stream:
    ...     _ = stream.write("ID,wav\\nu1,/data/a/u1.wav\\nu2,/data/b/u2.wav\\n")
    >>> jobs, _ = collect_jobs([manifest], "/out")
    >>> jobs
    [('/data/a/u1.wav', '/out/a/u1.wav'), ('/data/b/u2.wav', '/out/b/u2.wav')]
    """
    manifests = [(item, manifest_audio(item, audio_key, replacements))
                 for item in inputs if is_manifest(item)]
    named = find_audio([item for item in inputs if not is_manifest(item)])
    listed = [path for _, entries in manifests for _, path in entries]
    if listed:
        root = os.path.commonpath([os.path.dirname(path) for path in listed])
        named += [(path, os.path.relpath(path, root)) for path in listed]
    jobs, targets = {}, {}
    for path, name in named:
        target = os.path.join(output, name)
        if jobs.setdefault(path, target) != target:
            continue  # listed twice (a folder and a file of it): enhanced once, first name
        if targets.setdefault(target, path) != path:
            raise ValueError(f"{path} and {targets[target]} would both be enhanced into "
                             f"{target}; enhance them into different folders")
    return list(jobs.items()), manifests


def plan_batches(probes, batch_size):
    """Batches (lists of probe indices) of the files not done yet; the same on every rank.

    Files of one batch key are split into near-equal batches of at most ``batch_size``;
    files without a key (or with ``batch_size`` 1) make batches of one.

    Example
    -------
    >>> probes = [{"done": False, "key": (16000, 100)}] * 5 + [{"done": False, "key": None}]
    >>> plan_batches(probes, batch_size=4)
    [[0, 1, 2], [3, 4], [5]]
    """
    groups, batches = {}, []
    for index, probe in enumerate(probes):
        if probe["done"]:
            continue
        if batch_size > 1 and probe["key"] is not None:
            groups.setdefault(tuple(probe["key"]), []).append(index)
        else:
            batches.append([index])
    grouped = []
    for key in sorted(groups):
        members = groups[key]
        count = -(-len(members) // batch_size)
        size, extra = divmod(len(members), count)
        start = 0
        for part in range(count):
            end = start + size + (part < extra)
            grouped.append(members[start:end])
            start = end
    return grouped + batches


def assign_batches(batches, costs, world_size):
    """Hands batches to ranks, longest first, each to the least-loaded rank.

    Example
    -------
    >>> assign_batches([[0], [1], [2], [3]], [3.0, 1.0, 2.0, 2.0], world_size=2)
    [[[0], [1]], [[2], [3]]]
    """
    loads, shards = [0.0] * world_size, [[] for _ in range(world_size)]
    for index in sorted(range(len(batches)), key=lambda i: (-costs[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shards[rank].append(batches[index])
        loads[rank] += costs[index]
    return shards


class ProgressLog:
    """The records of done files under ``OUT/.speechbrain-slim``, one JSON line per file.

    Arguments
    ---------
    output : str
        The output folder.
    rank : int
        This process's rank (each rank appends to its own file).

    Example
    -------
    >>> import tempfile
    >>> log = ProgressLog(tempfile.mkdtemp(), rank=0)
    >>> log.append({"output": os.path.join(log.output, "a.wav"), "status": "enhanced"})
    >>> log.load()["a.wav"]["status"]
    'enhanced'
    """

    def __init__(self, output, rank=0):
        self.output = output
        self.folder = os.path.join(output, STATE_FOLDER)
        self.path = os.path.join(self.folder, f"progress-rank{rank}.jsonl")

    def name(self, target):
        """The key of an output: its path relative to the output folder."""
        return os.path.relpath(target, self.output)

    def load(self):
        """Output name -> its latest record, over the files of every rank and earlier run."""
        records = {}
        names = sorted(os.listdir(self.folder)) if os.path.isdir(self.folder) else []
        for name in names:
            if not (name.startswith("progress-") and name.endswith(".jsonl")):
                continue
            with open(os.path.join(self.folder, name), encoding="utf-8") as stream:
                for line in stream:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a kill
                        continue
                    name = self.name(record["output"])
                    previous = records.get(name)
                    if previous is None or record.get("time", 0) >= previous.get("time", 0):
                        records[name] = record
        return records

    def append(self, record):
        """Appends one record (flushed at once, so a kill loses at most the file in hand)."""
        os.makedirs(self.folder, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")


def _settings(enhancer, args):
    """What makes an earlier output reusable: the model weights, ``--uf`` and ``--strict``."""
    digest = hashlib.sha1()
    for tensor in enhancer.mods.enhance_model.state_dict().values():  # not the key names
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return {"model": digest.hexdigest()[:16], "uf": str(args.uf).strip().lower(),
            "strict": bool(args.strict)}


def _probe(job, enhancer, records, settings, max_seconds):
    """Duration, batch key and done state of one ``(input, output)`` job (``records``: the
    earlier records by output path)."""
    import soundfile as sf

    from speechbrain_slim.file_batches import batch_key

    path, target = job
    probe = {"duration": 0.0, "key": None, "done": False, "record": None}
    try:
        info = sf.info(path)
    except Exception:  # enhance_file reports it
        return probe
    probe["duration"] = float(info.duration)
    probe["key"] = batch_key(enhancer.model, info, max_seconds)
    record = records.get(target)
    if (record and record.get("status") == "enhanced" and record.get("settings") == settings
            and os.path.isfile(target)):
        try:
            probe["done"] = sf.info(target).frames == record.get("frames")
        except Exception:
            probe["done"] = False
        probe["record"] = record if probe["done"] else None
    return probe


def _remove_partial_outputs(targets):
    """Removes the temporary files a killed run left next to ``targets``; returns how many."""
    removed = 0
    for folder in sorted({os.path.dirname(target) for target in targets}):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            if entry.is_file() and PARTIAL_OUTPUT.fullmatch(entry.name):
                os.remove(entry.path)
                removed += 1
    return removed


def _enhance_alone(enhancer, path, target, args):
    """Enhances one file with ``enhance_file``; returns its record (never raises)."""
    import soundfile as sf

    from speechbrain_slim.inference import AudioWarning

    record = {"input": path, "output": target}
    caught = []
    try:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioWarning)
            enhancer.enhance_file(path, target, uf=args.uf, strict=args.strict)
        routing = enhancer.last_routing
        info = sf.info(target)
        record.update(status="enhanced", duration=info.frames / info.samplerate,
                      mean_uf=float(routing["mean_uf"].mean()), macs=float(routing["macs"].sum()),
                      seconds=time.perf_counter() - start)
    except Exception as error:  # one bad file never stops the others
        text = str(error) or type(error).__name__
        record.update(status="failed", error=text.strip().splitlines()[0][:500])
    notes = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    if notes:
        record["warning"] = "; ".join(notes)
    return record


def _enhance_batch(enhancer, jobs, args):
    """Enhances one planned batch of ``(input, output)`` jobs; returns their records."""
    from speechbrain_slim.file_batches import enhance_files_together

    done, alone = {}, list(jobs)
    if len(jobs) > 1:
        try:
            done, alone = enhance_files_together(enhancer, jobs, uf=args.uf)
        except Exception:  # e.g. out of memory: each file alone, reported on its own
            done, alone = {}, list(jobs)
    records = [{"input": path, "output": target, "status": "enhanced", "batch": len(done),
                **done[target]} for path, target in jobs if target in done]
    return records + [dict(_enhance_alone(enhancer, path, target, args), batch=1)
                      for path, target in alone]


def _line(record, prefix):
    """The CLI's per-file line for a record."""
    if record["status"] == "failed":
        return f"{prefix}FAILED {record['input']}: {record['error']}"
    duration, macs = record["duration"], record["macs"]
    return (f"{prefix}{record['input']} -> {record['output']}: {duration:.2f} s, mean UF "
            f"{record['mean_uf']:.3f}, {macs / 1e9:.3f} GMAC "
            f"({macs / max(duration, 1e-9) / 1e9:.3f} GMAC/s), "
            f"RTF {record['seconds'] / max(duration, 1e-9):.3f}")


def write_report(path, rows):
    """Writes the per-file report (:data:`REPORT_FIELDS`) through a temporary file."""
    def dump(stream):
        writer = csv.DictWriter(stream, fieldnames=REPORT_FIELDS, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            row = dict(row)
            if "seconds" in row and row.get("duration"):
                row["rtf"] = f"{row['seconds'] / row['duration']:.4f}"
            for key in ("duration", "mean_uf"):
                if isinstance(row.get(key), float):
                    row[key] = f"{row[key]:.4f}"
            writer.writerow(row)

    write_text_atomically(path, dump)


def run(args):
    """Runs ``speechbrain-slim enhance`` in corpus mode; returns the exit status."""
    from speechbrain_slim.corpus_ranks import Ranks

    replacements = dict(_pair(item) for item in args.replace)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    jobs, manifests = collect_jobs(args.inputs, args.output, args.audio_key, replacements)
    if not jobs:
        raise FileNotFoundError(f"no audio files in {args.inputs}")
    refuse_overwrite(jobs, args.in_place)
    enhanced_manifests = [os.path.join(args.output, os.path.basename(path))
                          for path, _ in manifests]
    _check_manifest_targets([path for path, _ in manifests], enhanced_manifests)
    with Ranks(args.device, COLLECTIVE_TIMEOUT) as ranks:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        enhancer = load_enhancer(args.source, ranks.device,
                                 trust_remote_code=args.trust_remote_code)
        from speechbrain_slim.file_batches import MAX_BATCH_SECONDS
        from speechbrain_slim.routing import parse_uf

        parse_uf(args.uf, enhancer.model.ufs)
        max_seconds = min(MAX_BATCH_SECONDS, enhancer.chunk_seconds)
        log = ProgressLog(args.output, ranks.rank)
        removed = _remove_partial_outputs([t for _, t in jobs]) if ranks.rank == 0 else 0
        records = {os.path.join(args.output, name): record
                   for name, record in log.load().items()}
        settings = _settings(enhancer, args)
        mine = {i: _probe(jobs[i], enhancer, records, settings, max_seconds)
                for i in range(ranks.rank, len(jobs), ranks.world_size)}
        probes = [None] * len(jobs)
        for part in ranks.all_gather(mine):
            for index, probe in part.items():
                probes[index] = probe
        batches = plan_batches(probes, args.batch_size)
        costs = [sum(probes[i]["duration"] for i in batch) for batch in batches]
        shard = assign_batches(batches, costs, ranks.world_size)[ranks.rank]
        done_here = _enhance_shard(enhancer, [[jobs[i] for i in b] for b in shard], args,
                                   ranks, log, settings)
        gathered = ranks.gather(done_here)
        failures = None
        if ranks.rank == 0:
            failures = _finish(args, jobs, probes, gathered, manifests, enhanced_manifests,
                               removed, ranks.world_size)
        failures = ranks.broadcast(failures)
    return 1 if failures else 0


def _enhance_shard(enhancer, batches, args, ranks, log, settings):
    """Enhances this rank's batches; returns its records."""
    import soundfile as sf
    from tqdm import tqdm

    prefix = f"[rank {ranks.rank}] " if ranks.world_size > 1 else ""
    records = []
    total = sum(len(batch) for batch in batches)
    with tqdm(total=total, desc="enhancing", unit="file",
              disable=args.quiet or ranks.rank != 0) as bar:
        for batch in batches:
            for record in _enhance_batch(enhancer, batch, args):
                record.update(rank=ranks.rank, settings=settings, time=time.time())
                if record["status"] == "enhanced":
                    record["frames"] = sf.info(record["output"]).frames
                log.append(record)
                records.append(record)
                if record.get("warning"):
                    tqdm.write(f"{prefix}WARNING {record['warning']}")
                tqdm.write(_line(record, prefix))
                bar.update(1)
    return records


def _finish(args, jobs, probes, gathered, manifests, enhanced_manifests, removed, world_size):
    """Rank 0: the report, the enhanced manifests and the summary; returns the failures."""
    by_output = {record["output"]: record for part in gathered for record in part}
    rows = []
    for (path, target), probe in zip(jobs, probes):
        if probe["done"]:
            rows.append({**probe["record"], "input": path, "status": "skipped"})
        else:
            rows.append(by_output[target])
    report = os.path.join(args.output, REPORT_NAME)
    write_report(report, rows)
    ok = {row["input"]: row["output"] for row in rows if row["status"] != "failed"}
    for (path, entries), target in zip(manifests, enhanced_manifests):
        outputs = {entry: os.path.abspath(ok[audio]) for entry, audio in entries if audio in ok}
        written = write_enhanced_manifest(path, target, outputs, args.audio_key)
        left = f" ({len(entries) - written} failed entries left out)" if written < len(
            entries) else ""
        print(f"wrote {target}: {written} entries{left}")
    counts = {status: sum(row["status"] == status for row in rows)
              for status in ("enhanced", "skipped", "failed")}
    warned = sum(bool(row.get("warning")) for row in rows if row["status"] == "enhanced")
    notes = [f"{counts['skipped']} done earlier, skipped"] if counts["skipped"] else []
    if removed:
        notes.append(f"{removed} partial outputs of a killed run removed")
    if warned:
        notes.append(f"{warned} with warnings")
    note = f" ({'; '.join(notes)})" if notes else ""
    processes = f"{world_size} processes" if world_size > 1 else "1 process"
    print(f"enhanced {counts['enhanced'] + counts['skipped']} of {len(rows)} files into "
          f"{args.output} on {processes}{note}; {counts['failed']} failed; report {report}",
          flush=True)
    return counts["failed"]


def _check_manifest_targets(manifests, targets):
    """Refuses two manifests of one name, and an enhanced manifest over an input one."""
    if len(set(targets)) < len(targets):
        raise ValueError(f"manifests with the same file name would overwrite each other in "
                         f"the output folder: {manifests}")
    inputs = {os.path.realpath(path) for path in manifests}
    for target in targets:
        if os.path.realpath(target) in inputs:
            raise FileExistsError(f"refusing to overwrite the input manifest {target}; choose "
                                  "another output folder")


def _pair(text):
    """``NAME=VALUE`` -> ``(NAME, VALUE)``."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--replace takes NAME=VALUE, got {text!r}")
    return name, value
