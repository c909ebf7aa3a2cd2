"""Streaming speed: time per 16 ms frame of StreamingEnhancer, next to denoiser's DemucsStreamer.

One thread, 10 s of 16 kHz audio fed in chunks of 256 samples (16 ms, one
bottleneck frame of the paper config) as live audio arrives, then ``flush()``.
Streamed: the paper config (hidden=32, depth 5, grouped GRU, running
normalisation) at every UF and ``"auto"`` with a random-weight (untrained)
Router; the dns48 weights (``SlimDemucs.from_denoiser(Demucs(hidden=48),
normalize="running")``) at UF 1.0; and ``denoiser.demucs.DemucsStreamer`` for
dns48 and for ``Demucs(hidden=32)``. All candidates are timed round-robin in the
same run (best of ``--repeats``), so ratios are measured side by side under the
same machine load.

Reported per candidate: ms per 16 ms frame (the median feed: each feed of 256
samples computes one frame, and the median ignores bursts of load from other
processes on a shared machine), the real-time factor (that / 16 ms), the wall
real-time factor of the whole run (flush included) and the algorithmic latency in ms
(:attr:`StreamingEnhancer.latency_ms`; DemucsStreamer: its ``total_length``,
frame plus resampling lookahead). DemucsStreamer is not exact (it approximates
the resampling at frame edges and normalises by a running std of its own);
StreamingEnhancer reproduces the offline model to float rounding.

Usage::

    python benchmarks/streaming_speed.py [--seconds 10] [--repeats 3] [--json out.json]

Authors
 * speechbrain-slim contributors 2026
"""

import statistics
import time

import torch

from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.streaming import StreamingEnhancer

__all__ = ["PAPER", "CHUNK", "slim_candidate", "run", "format_result", "main"]

PAPER = dict(hidden=32, depth=5, kernel_size=8, stride=4, resample=4, bottleneck="grouped_gru",
             gru_groups=4, bottleneck_layers=1, normalize="running")
CHUNK = 256  # samples per feed: 16 ms at 16 kHz
RATE = 16000
TARGETS = {
    "paper_rtf_uf1": 0.5,  # paper config, UF 1.0: RTF <= 0.5
    "paper_rtf_uf0.125": 0.15,  # paper config, UF 0.125: RTF <= 0.15
    "paper_speedup_0.125_vs_1": 3.0,  # per-frame time UF 1.0 / UF 0.125 >= 3
    "dns48_vs_demucs_streamer": 0.5,  # slim dns48 UF 1.0 time / DemucsStreamer dns48 <= 0.5
}


def _timed_feeds(feed, flush, chunks):
    """Feeds every chunk, then flushes; returns each feed's wall and CPU time, and the total."""
    times, cpu_times, start = [], [], time.perf_counter()
    for chunk in chunks:
        before, cpu_before = time.perf_counter(), time.thread_time()
        feed(chunk)
        times.append(time.perf_counter() - before)
        cpu_times.append(time.thread_time() - cpu_before)
    flush()
    return times, cpu_times, time.perf_counter() - start


def slim_candidate(model, router=None, uf=1.0):
    """``(stream, latency_ms, streamer)``: ``stream(chunks)`` resets a
    :class:`StreamingEnhancer` of ``model``, feeds it every chunk and flushes; it returns each
    feed's wall and CPU time and the whole run's wall time."""
    streamer = StreamingEnhancer(model, router, uf=uf)

    def stream(chunks):
        streamer.reset()
        return _timed_feeds(streamer.feed, streamer.flush, chunks)

    return stream, streamer.latency_ms, streamer


def _reference_candidate(demucs):
    from denoiser.demucs import DemucsStreamer

    probe = DemucsStreamer(demucs)
    latency_ms = 1000.0 * probe.total_length / demucs.sample_rate

    def stream(chunks):
        streamer = DemucsStreamer(demucs)
        with torch.no_grad():
            return _timed_feeds(lambda chunk: streamer.feed(chunk.unsqueeze(0)),  # [chin, time]
                                streamer.flush, chunks)

    return stream, latency_ms


def _candidates():
    """``name -> (uf, stream function, latency ms)``; the reference ones if denoiser imports."""
    torch.manual_seed(0)
    paper = SlimDemucs(**PAPER).eval()
    router = Router(paper.ufs, frame_stride=paper.total_stride).eval()
    candidates = {}
    for uf in paper.ufs:
        stream, latency, _ = slim_candidate(paper, uf=uf)
        candidates[f"paper uf={uf:g}"] = (uf, stream, latency)
    stream, latency, auto = slim_candidate(paper, router, uf="auto")
    candidates["paper auto (untrained router)"] = ("auto", stream, latency)
    try:
        from denoiser.demucs import Demucs
    except ImportError:
        print("denoiser is not installed: skipping dns48 and DemucsStreamer")
        return candidates, auto
    dns48 = Demucs(hidden=48).eval()
    slim48 = SlimDemucs.from_denoiser(dns48, normalize="running").eval()
    stream, latency, _ = slim_candidate(slim48, uf=1.0)
    candidates["dns48 slim uf=1"] = (1.0, stream, latency)
    stream, latency = _reference_candidate(dns48)
    candidates["dns48 DemucsStreamer"] = (1.0, stream, latency)
    stream, latency = _reference_candidate(Demucs(hidden=32).eval())
    candidates["hidden=32 DemucsStreamer"] = (1.0, stream, latency)
    return candidates, auto


def run(seconds=10.0, repeats=3):
    """Streams ``seconds`` of audio through every candidate; returns a dict of results.

    Every feed of 256 samples computes exactly one 16 ms frame (after the first
    few), so the **median** time per feed is the per-frame cost, robust to bursts
    of load from other processes; ``rtf`` is that over 16 ms. ``rtf_wall`` is the
    whole run's wall time (flush included) over the audio's duration. Both are the
    best of ``repeats`` round-robin runs. ``cpu_ms_per_frame`` is the median feed's
    CPU time of this thread (immune to time slicing, not to shared caches); the
    targets use the wall-clock ``ms_per_frame``.

    Returns
    -------
    dict
        ``rows`` (name, uf, ms_per_frame, cpu_ms_per_frame, rtf, rtf_wall, latency_ms),
        ``targets``
        (name -> value, target, met), ``audio_seconds``, ``chunk``, ``threads``,
        ``repeats`` and ``auto_mean_uf``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        candidates, auto = _candidates()
        torch.manual_seed(1)
        noisy = 0.1 * torch.randn(int(seconds * RATE))
        chunks = list(noisy.split(CHUNK))
        median = {name: float("inf") for name in candidates}
        wall, cpu = dict(median), dict(median)
        for _, stream, _ in candidates.values():
            stream(chunks[:16])  # warm-up
        for _ in range(repeats):
            for name, (_, stream, _) in candidates.items():
                times, cpu_times, total = stream(chunks)
                median[name] = min(median[name], statistics.median(times))
                cpu[name] = min(cpu[name], statistics.median(cpu_times))
                wall[name] = min(wall[name], total)
    finally:
        torch.set_num_threads(threads)
    frame_seconds = CHUNK / RATE
    rows = [
        {"name": name, "uf": uf, "ms_per_frame": 1000.0 * median[name],
         "cpu_ms_per_frame": 1000.0 * cpu[name],
         "rtf": median[name] / frame_seconds, "rtf_wall": wall[name] / seconds,
         "latency_ms": latency}
        for name, (uf, _, latency) in candidates.items()
    ]
    result = {"audio_seconds": seconds, "chunk": CHUNK, "threads": 1, "repeats": repeats,
              "auto_mean_uf": auto.mean_uf, "rows": rows}
    result["targets"] = _targets({row["name"]: row for row in rows})
    return result


def _targets(by_name):
    def check(value, target, at_most=True):
        return {"value": value, "target": target,
                "met": bool(value <= target if at_most else value >= target)}

    full, small = by_name["paper uf=1"], by_name["paper uf=0.125"]
    targets = {
        "paper_rtf_uf1": check(full["rtf"], TARGETS["paper_rtf_uf1"]),
        "paper_rtf_uf0.125": check(small["rtf"], TARGETS["paper_rtf_uf0.125"]),
        "paper_speedup_0.125_vs_1": check(full["ms_per_frame"] / small["ms_per_frame"],
                                          TARGETS["paper_speedup_0.125_vs_1"], at_most=False),
    }
    if "dns48 DemucsStreamer" in by_name:
        targets["dns48_vs_demucs_streamer"] = check(
            by_name["dns48 slim uf=1"]["ms_per_frame"]
            / by_name["dns48 DemucsStreamer"]["ms_per_frame"],
            TARGETS["dns48_vs_demucs_streamer"])
    return targets


TARGET_TEXT = {
    "paper_rtf_uf1": "paper RTF at UF 1.0",
    "paper_rtf_uf0.125": "paper RTF at UF 0.125",
    "paper_speedup_0.125_vs_1": "paper per-frame speed-up, UF 0.125 vs 1.0",
    "dns48_vs_demucs_streamer": "dns48 slim UF 1.0 / DemucsStreamer dns48, time per frame",
}


def format_result(result):
    """Renders the result as markdown (a table of candidates, then the targets)."""
    lines = [
        f"Streaming {result['audio_seconds']:g} s of 16 kHz audio in chunks of "
        f"{result['chunk']} samples ({1000 * result['chunk'] / RATE:g} ms), "
        f"{result['threads']} thread, best of {result['repeats']} (ms per frame: median feed; "
        "RTF: that / 16 ms; wall RTF: whole run incl. flush / audio time):",
        "",
        "| candidate | UF | ms per 16 ms frame | CPU ms per frame | real-time factor | wall RTF "
        "| latency (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        uf = row["uf"] if isinstance(row["uf"], str) else f"{row['uf']:g}"
        lines.append(f"| {row['name']} | {uf} | {row['ms_per_frame']:.3f} "
                     f"| {row['cpu_ms_per_frame']:.3f} | {row['rtf']:.3f} "
                     f"| {row['rtf_wall']:.3f} | {row['latency_ms']:.1f} |")
    if result.get("auto_mean_uf") is not None:
        lines += ["", f"auto: mean UF {result['auto_mean_uf']:.3f} (untrained router: its "
                      "decisions say nothing about the audio; it times the routing overhead)"]
    lines += ["", "| target | value | goal | met |", "|---|---:|---:|:--:|"]
    for key, entry in result["targets"].items():
        goal = f"{'>=' if key.startswith('paper_speedup') else '<='} {entry['target']:g}"
        lines.append(f"| {TARGET_TEXT[key]} | {entry['value']:.3f} | {goal} "
                     f"| {'yes' if entry['met'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None):
    from common import benchmark_main

    benchmark_main(__doc__, run, format_result, repeats=3, argv=argv)


if __name__ == "__main__":
    main()
