"""Runs every benchmark and writes ``benchmarks/REPORT.md`` with its plots.

One command, every number side by side in the same run, one thread::

    python benchmarks/run_all.py                 # full sizes (~15 min on 2 cores)
    python benchmarks/run_all.py --quick         # short inputs, few repeats (a smoke run)

Sections (each from its own script, which also runs alone):

* complexity and speed per UF of the paper config, and dns48 against ``denoiser``'s
  ``Demucs`` (``backbone_speed.py``);
* routed passes against the time their UF shares predict (``routed_speed.py``);
* streaming per-frame time, real-time factor and latency per UF, against ``denoiser``'s
  ``DemucsStreamer`` (``streaming_speed.py``);
* peak memory of a long file through ``EnhanceSlim`` (``long_file_memory.py``);
* quality (PESQ, STOI, SI-SDR per UF and routed, from the shipped model's evaluation on
  its test split, ``hub/<model>/results.json``, with its notes: the peers and DNSMOS from
  ``benchmarks/peers.py``); ``--dnsmos N`` also measures DNSMOS here on the first N
  mixtures of the embedded test split.

Raw numbers go to ``benchmarks/report/*.json``, plots to ``benchmarks/report/*.png`` and each
section's markdown to ``benchmarks/report/<section>.md``; ``--skip`` keeps a skipped section's
last markdown, so one section can be re-measured alone (``--skip routed streaming memory
quality`` reruns only the backbone). Then ``readme_tables.py`` rewrites the generated tables of
README.md and docs/ from those JSON files (``--no-tables`` skips it).

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
from speechbrain_slim.pretrained import shipped_model  # noqa: E402

DEFAULT_MODEL = shipped_model()


@contextlib.contextmanager
def _figure(path, size):
    """Yields the axes of a new figure, then lays it out and writes it to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield ax
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def plot_backbone(result, path):
    """MACs per sample and real-time factor per UF (paper config)."""
    rows = result["paper"]
    ufs = [row["uf"] for row in rows]
    with _figure(path, (5.5, 3.6)) as ax:
        ax.plot(ufs, [row["mac_ratio"] for row in rows], "o-", label="MACs / MACs(UF 1)")
        ax.plot(ufs, [row["time_ratio"] for row in rows], "s-", label="wall time / time(UF 1)")
        ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
        ax.set_xlabel("utilization factor")
        ax.set_ylabel("ratio to UF 1.0")
        ax.set_title(f"Paper config, {result['audio_seconds']:g} s, 1 thread")
        ax.legend()


def plot_streaming(result, path):
    """Milliseconds of compute per 16 ms frame, per model and UF."""
    rows = result["rows"]
    labels = [f"{row['name']} ({row['latency_ms']:.0f} ms latency)" for row in rows]
    with _figure(path, (6.5, 3.6)) as ax:
        ax.barh(range(len(rows)), [row["ms_per_frame"] for row in rows], color="tab:blue")
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.axvline(16.0, color="red", linestyle=":", label="real time (16 ms frame)")
        ax.set_xlabel("ms of compute per 16 ms frame (1 thread)")
        ax.legend(fontsize=8)


def plot_routed(result, path):
    """Measured wall time of routed passes next to the time their UF shares predict."""
    rows = result["tracks"]
    index = range(len(rows))
    with _figure(path, (6, 3.4)) as ax:
        ax.bar([i - 0.2 for i in index], [row["predicted_s"] for row in rows], 0.4,
               label="predicted from static passes")
        ax.bar([i + 0.2 for i in index], [row["measured_s"] for row in rows], 0.4,
               label="measured")
        ax.set_xticks(list(index), [f"{row['track']}\nUF {row['mean_uf']:.2f}" for row in rows],
                      fontsize=8)
        ax.set_ylabel(f"seconds per {result.get('audio_seconds', 10):g} s of audio")
        ax.legend(fontsize=8)


def quality_section(model_folder, dnsmos_items, out_dir):
    """Markdown for the shipped model's quality; DNSMOS measured now on a subset."""
    from speechbrain_slim.evaluation import format_results, pareto_plot

    path = os.path.join(model_folder, "results.json")
    if not os.path.isfile(path):
        return f"No `{os.path.relpath(path, ROOT)}`: quality not reported.\n"
    with open(path, encoding="utf-8") as stream:
        results = json.load(stream)
    lines = [f"From `{os.path.relpath(path, ROOT)}` (the recipe's evaluation of the model on "
             "its test split):", "", format_results(results), ""]
    if results.get("notes"):
        lines += [results["notes"].strip(), ""]
    oracle = os.path.join(HERE, "report", "peers", "utterance_oracle.json")
    hull = None
    if os.path.abspath(model_folder) == os.path.abspath(DEFAULT_MODEL) and os.path.isfile(oracle):
        with open(oracle, encoding="utf-8") as stream:  # benchmarks/utterance_oracle.py --json
            hull = json.load(stream)["hull"]
    pareto_plot(results, os.path.join(out_dir, "pareto.png"), oracle=hull)
    lines.append("![PESQ vs MACs](report/pareto.png)\n")
    if dnsmos_items:
        dnsmos = dnsmos_subset(model_folder, dnsmos_items)
        if dnsmos is None:
            lines.append("DNSMOS: `speechmos` is not installed (pip install '.[dnsmos]').\n")
        else:
            lines += [f"DNSMOS P.835 on the first {dnsmos['items']} test mixtures "
                      "(measured in this run):", "",
                      "| input | SIG | BAK | OVRL |", "|---|---:|---:|---:|"]
            for name, row in dnsmos["modes"].items():
                scores = " | ".join(f"{row[key]:.2f}" for key in ("sig", "bak", "ovrl"))
                lines.append(f"| {name} | {scores} |")
            lines.append("")
    return "\n".join(lines)


def dnsmos_subset(model_folder, items):
    """DNSMOS of noisy, every UF and auto on the first ``items`` embedded test mixtures."""
    import tempfile

    from speechbrain_slim.data.embedded import prepare_embedded
    from speechbrain_slim.data.recipe_data import paired_dataset
    from speechbrain_slim.inference import EnhanceSlim
    from speechbrain_slim.metrics import dnsmos, dnsmos_available

    if not dnsmos_available():
        return None
    work = tempfile.mkdtemp(prefix="report-")
    manifests = prepare_embedded(out_dir=os.path.join(work, "data"), progress=False)
    test = paired_dataset(manifests["test"], os.path.join(work, "data"))
    enhancer = EnhanceSlim.from_hparams(source=model_folder, savedir=os.path.join(work, "model"))
    modes = ["noisy", *[str(uf) for uf in enhancer.model.ufs], "auto"]
    sums = {mode: {"sig": 0.0, "bak": 0.0, "ovrl": 0.0} for mode in modes}
    count = min(items, len(test))
    for index in range(count):
        noisy = test[index]["noisy_sig"].float()
        for mode in modes:
            signal = noisy if mode == "noisy" else enhancer.enhance_batch(
                noisy.unsqueeze(0), uf=mode if mode == "auto" else float(mode))[0]
            scores = dnsmos(signal, 16000)
            for key in sums[mode]:
                sums[mode][key] += float(scores[f"{key}_mos"]) / count
    return {"items": count, "modes": sums}


def section(title, name, module_name, kwargs, out_dir, plot=None):
    """Runs one benchmark module's ``run(**kwargs)``; returns its markdown."""
    module = __import__(module_name)
    print(f"== {title}", flush=True)
    start = time.perf_counter()
    result = module.run(**kwargs)
    elapsed = time.perf_counter() - start
    with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as stream:
        json.dump(result, stream, indent=2, default=str)
    table = module.format_result(result)
    print(table, flush=True)
    text = [f"## {title}", "", f"`python benchmarks/{module_name}.py` ({elapsed:.0f} s here)", "",
            table, ""]
    if plot is not None:
        plot(result, os.path.join(out_dir, f"{name}.png"))
        text.append(f"![{title}](report/{name}.png)\n")
    return "\n".join(text)


def memory_section(minutes, model_folder):
    """Peak RSS of ``enhance_file`` on a long file, in a fresh process."""
    import long_file_memory

    print("== memory", flush=True)
    report = long_file_memory.measure(minutes, None, model_folder, "auto")
    return "\n".join([
        "## Peak memory of a long file", "",
        f"`python benchmarks/long_file_memory.py --minutes {minutes:g} --source "
        f"{os.path.relpath(model_folder, ROOT)}`: `EnhanceSlim.enhance_file` (uf=auto) on a "
        f"{minutes:g}-minute 16 kHz file, in a fresh process.", "",
        "| file | peak RSS (MB) | RSS after loading (MB) | wall (s) | real-time factor | "
        "target | met |",
        "|---|---:|---:|---:|---:|---:|:--:|",
        f"| {minutes:g} min | {report['peak_rss_mb']:.0f} | {report['loaded_rss_mb']:.0f} | "
        f"{report['wall_s']:.0f} | {report['rtf']:.3f} | < 2048 MB | "
        f"{'yes' if report['peak_rss_mb'] < 2048 else 'no'} |", "",
    ])


def header(args):
    """Machine and run facts at the top of the report."""
    return "\n".join([
        "# speechbrain-slim benchmark report", "",
        f"Generated by `python benchmarks/run_all.py{' --quick' if args.quick else ''}` on "
        f"{datetime.date.today().isoformat()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}. "
        "Timings use one thread; ratios are measured side by side, round-robin, in this run "
        "(best of the repeats), so machine load affects both sides alike.", "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short inputs and few repeats")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub folder of the shipped model")
    parser.add_argument("--out", default=os.path.join(HERE, "REPORT.md"))
    parser.add_argument("--dnsmos", type=int, default=0, metavar="N",
                        help="also DNSMOS on the first N embedded test mixtures (the shipped "
                             "model's DNSMOS on its own test split is in its notes)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["backbone", "routed", "streaming", "structure", "memory",
                                 "quality"])
    parser.add_argument("--no-tables", action="store_true",
                        help="do not regenerate the README's and docs' tables afterwards")
    args = parser.parse_args(argv)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(args.out)), "report")
    os.makedirs(out_dir, exist_ok=True)
    seconds, repeats = (2.0, 2) if args.quick else (10.0, 5)
    sections = {
        "backbone": lambda: section("Complexity and speed per UF", "backbone", "backbone_speed",
                                    {"seconds": seconds, "repeats": repeats}, out_dir,
                                    plot_backbone),
        "routed": lambda: section("Routed passes", "routed", "routed_speed",
                                  {"seconds": seconds, "repeats": repeats}, out_dir,
                                  plot_routed),
        "streaming": lambda: section("Streaming", "streaming", "streaming_speed",
                                     {"seconds": seconds, "repeats": min(repeats, 3)}, out_dir,
                                     plot_streaming),
        "structure": lambda: section("Backbone shapes: time per UF", "structure",
                                     "structure_speed",
                                     {"seconds": seconds, "repeats": repeats}, out_dir),
        "memory": lambda: memory_section(1.0 if args.quick else 60.0, args.model),
        "quality": lambda: "## Quality of the shipped model\n\n" + quality_section(
            args.model, args.dnsmos, out_dir),
    }
    parts = [header(args)]
    for name, measure in sections.items():
        path = os.path.join(out_dir, f"{name}.md")
        if name not in args.skip:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(measure())
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                parts.append(stream.read())
    with open(args.out, "w", encoding="utf-8") as stream:
        stream.write("\n".join(parts))
    print(f"wrote {args.out}")
    # The README's and docs' tables read benchmarks/report/*.json: regenerate them when this
    # run wrote the repository's own report (not a report elsewhere, e.g. in a test).
    if not args.no_tables and os.path.abspath(args.out) == os.path.join(HERE, "REPORT.md"):
        import readme_tables

        for path in readme_tables.update():
            print(f"rewrote the tables of {path}")


if __name__ == "__main__":
    main()
