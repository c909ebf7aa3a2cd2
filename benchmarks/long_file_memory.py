"""Peak memory of ``EnhanceSlim.enhance_file`` on long files (bounded by the chunking).

Writes a long noisy 16 kHz PCM_16 file block by block, then enhances it file-to-file in a
fresh subprocess and reports that process's peak RSS (``VmHWM``), its RSS right after loading
the model, the wall time and the real-time factor::

    python benchmarks/long_file_memory.py                       # 60 min, paper config
    python benchmarks/long_file_memory.py --minutes 5 --config cheap
    python benchmarks/long_file_memory.py --source hub/slim-demucs-embedded

Two random-weight configurations (the weights do not change memory): ``paper`` (hidden=32,
depth=5, x4 resampling, grouped GRU: the shipped model's activations per window) and
``cheap`` (hidden=4, depth=3, no resampling: a quick check). Peak RSS depends on the window
(``chunk_seconds`` + context + lookahead) and the model's width, not on the file's length.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    "paper": {"hidden": 32, "depth": 5, "resample": 4, "bottleneck": "grouped_gru",
              "gru_groups": 4, "bottleneck_layers": 1, "normalize": True},
    "cheap": {"hidden": 4, "depth": 3, "resample": 1, "bottleneck": "grouped_gru",
              "gru_groups": 2, "bottleneck_layers": 1, "normalize": "running"},
}


def write_noisy_file(path, minutes, rate=16000):
    """A ``minutes`` long noisy tone file, written block by block (PCM_16)."""
    import numpy as np
    import soundfile as sf

    generator = np.random.default_rng(0)
    block = 60 * rate
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as handle:
        for index in range(int(round(minutes))):
            t = (np.arange(block) + index * block) / rate
            tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
            handle.write((tone + 0.05 * generator.standard_normal(block)).astype("float32"))


def make_model_folder(folder, config):
    """A hub folder holding a random model of ``config`` (and its router)."""
    import torch

    from speechbrain_slim.hub import write_hub_folder
    from speechbrain_slim.lobes.router import Router
    from speechbrain_slim.lobes.slim_demucs import SlimDemucs

    torch.manual_seed(0)
    model = SlimDemucs(**CONFIGS[config]).eval()
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    return write_hub_folder(model, router, folder)


def peak_rss_mb():
    """This process's peak and current RSS in MB (Linux /proc)."""
    values = {}
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values["VmHWM"], values["VmRSS"]


def child(source, path, output, uf):
    """Runs in the subprocess: load, enhance file-to-file, print a JSON report."""
    import soundfile as sf

    from speechbrain_slim.inference import EnhanceSlim

    enhancer = EnhanceSlim.from_hparams(source=source, run_opts={"device": "cpu"})
    _, loaded_rss = peak_rss_mb()
    start = time.perf_counter()
    enhancer.enhance_file(path, output, uf=uf)
    elapsed = time.perf_counter() - start
    peak, _ = peak_rss_mb()
    duration = sf.info(path).duration
    assert sf.info(output).frames == sf.info(path).frames
    print(json.dumps({"duration_s": duration, "loaded_rss_mb": loaded_rss, "peak_rss_mb": peak,
                      "wall_s": elapsed, "rtf": elapsed / duration,
                      "mean_uf": float(enhancer.last_routing["mean_uf"].mean())}))


def measure(minutes, config=None, source=None, uf="auto", workdir=None):
    """Writes the file, enhances it in a subprocess, returns the child's report."""
    workdir = workdir or tempfile.mkdtemp(prefix="long-file-")
    path = os.path.join(workdir, f"noisy-{minutes:g}min.wav")
    if not os.path.exists(path):
        write_noisy_file(path, minutes)
    if source is None:
        source = make_model_folder(os.path.join(workdir, f"model-{config}"), config)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    command = [sys.executable, os.path.abspath(__file__), "--child", source, path,
               os.path.join(workdir, "enhanced.wav"), uf]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report.update(minutes=minutes, config=config or source)
    os.remove(path)
    return report


def main(argv=None):
    """Command line; prints one line per measurement and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=4, metavar=("SOURCE", "IN", "OUT", "UF"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--config", choices=sorted(CONFIGS), default=None)
    parser.add_argument("--source", help="a hub folder instead of a random model")
    parser.add_argument("--uf", default="auto")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    runs = [(args.minutes or 60, args.config or "paper", args.source)]
    reports = []
    for minutes, config, source in runs:
        report = measure(minutes, None if source else config, source, args.uf)
        reports.append(report)
        print(f"{report['config']}: {minutes:g} min -> peak RSS {report['peak_rss_mb']:.0f} MB "
              f"(after loading {report['loaded_rss_mb']:.0f} MB), {report['wall_s']:.0f} s, "
              f"RTF {report['rtf']:.3f}", flush=True)
    print(json.dumps(reports, indent=1))
    return 0 if all(report["peak_rss_mb"] < 2048 for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
