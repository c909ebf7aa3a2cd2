"""Where the time goes: CPU time per stage (normalisation, resampling, every block, the
bottleneck) and per UF, offline and streaming, for the shipped model and the paper config.

Offline: one pass over ``--seconds`` of audio (batch 1, one thread, inference mode), the
stages of :meth:`SlimDemucs.forward` timed one by one (the thread's CPU time, best of
``--repeats``, every UF interleaved round-robin), next to each stage's MACs; ``auto`` is
the pass along the router's track (the shipped router; an untrained one for the paper
config). ``whole pass`` is ``model(noisy, uf)`` timed as one call (it includes the MAC
count and the small glue between stages); for ``auto`` it is ``route(model, router, noisy,
"auto")``, the router included, and ``auto backbone`` is the backbone alone along the
router's track, set against the time the static passes predict for the same per-frame
mix of UFs (``auto_predicted_ms``: ``sum_j share_j * time(UF_j)``).

Streaming: :class:`~speechbrain_slim.streaming.StreamingEnhancer` fed 256-sample chunks;
every stage's calls are timed and summed (CPU time per 16 ms frame, best of
``--repeats``). ``other`` is the rest of ``feed`` (chunk checks, normalisation, buffers).

Usage::

    python benchmarks/profile_blocks.py [--seconds 10] [--repeats 5] [--json out.json]

writes ``benchmarks/report/profile.json`` and ``profile.md`` by default.

Authors
 * speechbrain-slim contributors 2026
"""

import json
import os
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHIPPED = os.path.join(ROOT, "hub", "slim-demucs-real")
PAPER = dict(hidden=32, depth=5, kernel_size=8, stride=4, resample=4, bottleneck="grouped_gru",
             gru_groups=4, bottleneck_layers=1, normalize="running")
RATE = 16000
CHUNK = 256


def load_shipped(folder=SHIPPED):
    """The shipped model's SlimDemucs and Router (eval mode), read from its hub folder."""
    from hyperpyyaml import load_hyperpyyaml

    with open(os.path.join(folder, "hyperparams.yaml"), encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream)
    state = torch.load(os.path.join(folder, "enhance_model.ckpt"), map_location="cpu",
                       weights_only=True)
    hparams["enhance_model"].load_state_dict(state)
    return hparams["model"].eval(), hparams["router"].eval()


def load_paper():
    """The paper config (random weights) and an untrained Router."""
    from speechbrain_slim.lobes.router import Router
    from speechbrain_slim.lobes.slim_demucs import SlimDemucs

    torch.manual_seed(0)
    model = SlimDemucs(**PAPER).eval()
    return model, Router(model.ufs, frame_stride=model.total_stride).eval()


def stage_macs(model, length, uf):
    """MACs of every stage of one pass over ``length`` samples at a fixed UF."""
    from speechbrain_slim.complexity import resampling_macs

    levels = model.level_frames(length)
    macs = {"normalisation": 0}
    resampling = resampling_macs(model, model.valid_length(length))
    macs["upsample"] = macs["downsample"] = resampling / 2
    for index, frames in enumerate(levels):
        macs[f"encoder {index}"] = frames * model.encoder[index].macs_per_frame(uf)
        decoder = model.decoder[model.depth - 1 - index]
        macs[f"decoder {index}"] = frames * decoder.macs_per_frame(uf)
    macs["bottleneck"] = levels[-1] * model.bottleneck.macs_per_frame()
    return macs


def offline_stages(model, noisy, uf, clock):
    """Runs :meth:`SlimDemucs.forward`'s stages one by one; returns ``{stage: seconds}``.

    ``uf`` is a UF or a ``[1, frames]`` track (as the router gives it).
    """
    from torch import nn

    times = {}

    def timed(name, fn):
        start = clock()
        out = fn()
        times[name] = times.get(name, 0.0) + clock() - start
        return out

    length = noisy.shape[-1]
    levels = model.level_frames(length)
    if isinstance(uf, torch.Tensor):
        per_level = [model.track_at_level(uf, i, n) for i, n in enumerate(levels)]
    else:
        per_level = [uf] * model.depth
    std = timed("normalisation", lambda: model.input_scale(noisy))
    mix = noisy if std is None else noisy / (model.floor + std)
    x = nn.functional.pad(mix, (0, model.valid_length(length) - length))
    x = timed("upsample", lambda: model.resampler.upsample(x).unsqueeze(-1))
    skips, plans = [], {}
    for index, (block, level_uf) in enumerate(zip(model.encoder, per_level)):
        x = timed(f"encoder {index}",
                  lambda b=block, h=x, u=level_uf: b(h, u, None, plans))
        skips.append(x)
    x = timed("bottleneck", lambda: model.bottleneck(x))
    for index, (block, level_uf) in enumerate(zip(model.decoder, per_level[::-1])):
        level = model.depth - 1 - index
        x = timed(f"decoder {level}",
                  lambda b=block, h=x, u=level_uf: b(h, skips.pop(), u, None, plans))
    timed("downsample", lambda: model.resampler.downsample(x.squeeze(-1))[:, :length])
    return times


def profile_offline(model, router, seconds, repeats, clock=time.thread_time):
    """Per-stage and whole-pass CPU time of every UF and of ``auto`` (router track)."""
    from speechbrain_slim.complexity import count_macs
    from speechbrain_slim.routing import decide, route, router_logits

    torch.manual_seed(1)
    noisy = 0.1 * torch.randn(1, int(seconds * RATE))
    length = noisy.shape[-1]
    with torch.inference_mode():
        logits, _, std = router_logits(model, router, noisy)
        track = decide(logits, model.ufs)[0]
    modes = {f"{uf:g}": uf for uf in model.ufs}
    modes["auto"] = track
    passes = {name: (lambda uf=uf: model(noisy, uf)) for name, uf in modes.items()}
    passes["auto"] = lambda: route(model, router, noisy, "auto")  # router included
    passes["auto backbone"] = lambda: model(noisy, track)
    stages, whole = {}, {name: float("inf") for name in passes}
    with torch.inference_mode():
        for uf in modes.values():  # warm-up
            offline_stages(model, noisy, uf, clock)
        for fn in passes.values():
            fn()
        for _ in range(repeats):
            for name, uf in modes.items():
                for stage, spent in offline_stages(model, noisy, uf, clock).items():
                    key = (name, stage)
                    stages[key] = min(stages.get(key, float("inf")), spent)
            for name, fn in passes.items():
                start = clock()
                fn()
                whole[name] = min(whole[name], clock() - start)
    shares = {f"{uf:g}": float((track == uf).float().mean()) for uf in model.ufs}
    predicted = sum(share * whole[name] for name, share in shares.items())
    names = list(dict.fromkeys(stage for _, stage in stages))
    macs = {f"{uf:g}": stage_macs(model, length, uf) for uf in model.ufs}
    auto_macs = count_macs(model, length, track[0])
    return {
        "modes": list(modes),
        "auto_mean_uf": float(track.float().mean()),
        "stages": names,
        "ms": {name: {stage: 1000 * stages[(name, stage)] for stage in names} for name in modes},
        "whole_pass_ms": {name: 1000 * whole[name] for name in passes},
        "auto_shares": shares,
        "auto_predicted_ms": 1000 * predicted,
        "auto_backbone_vs_predicted": whole["auto backbone"] / predicted,
        "macs_per_sample": {uf: {stage: value / length for stage, value in per.items()}
                            for uf, per in macs.items()},
        "total_macs_per_sample": {**{f"{uf:g}": count_macs(model, length, uf) / length
                                     for uf in model.ufs}, "auto": auto_macs / length},
    }


class _StageClock:
    """Wraps a streaming stage's method so that its calls' CPU time adds up under a name."""

    def __init__(self, totals, clock):
        self.totals, self.clock = totals, clock

    def wrap(self, owner, method, name):
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            start = self.clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[name] = self.totals.get(name, 0.0) + self.clock() - start

        setattr(owner, method, timed)


class _TimedCall:
    """A callable stage (the bottleneck's stream) whose calls' CPU time adds up under a name."""

    def __init__(self, inner, totals, clock, name):
        self.inner, self.totals, self.clock, self.name = inner, totals, clock, name

    def reset(self):
        self.inner.reset()

    def __call__(self, *args):
        start = self.clock()
        try:
            return self.inner(*args)
        finally:
            self.totals[self.name] = self.totals.get(self.name, 0.0) + self.clock() - start


def _instrumented_streamer(model, router, uf, totals, clock):
    from speechbrain_slim.streaming import StreamingEnhancer

    streamer = StreamingEnhancer(model, router if uf == "auto" else None, uf=uf)
    stage = _StageClock(totals, clock)
    for step in streamer._up:
        stage.wrap(step, "push", "upsample")
    for step in streamer._down:
        stage.wrap(step, "push", "downsample")
    for level, encoder in enumerate(streamer._encoders):
        stage.wrap(encoder, "run", f"encoder {level}")
        stage.wrap(encoder, "combine", f"encoder {level}")
    for level, decoder in enumerate(streamer._decoders):
        for method in ("run", "combine", "add_input"):
            stage.wrap(decoder, method, f"decoder {level}")
    streamer._bottleneck = _TimedCall(streamer._bottleneck, totals, clock, "bottleneck")
    if streamer._router is not None:
        stage.wrap(streamer._router, "push", "router")
    return streamer


def profile_streaming(model, router, seconds, repeats, clock=time.thread_time):
    """CPU time per 16 ms frame of every streaming stage, every UF and ``auto``."""
    torch.manual_seed(1)
    chunks = list((0.1 * torch.randn(int(seconds * RATE))).split(CHUNK))
    modes = [f"{uf:g}" for uf in model.ufs] + ["auto"]
    best, totals_best, streamers, mean_uf = {}, {}, {}, None
    for mode in modes:
        totals = {}
        uf = "auto" if mode == "auto" else float(mode)
        streamers[mode] = (_instrumented_streamer(model, router, uf, totals, clock), totals)
    for _ in range(repeats + 1):  # the first round warms up
        for mode, (streamer, totals) in streamers.items():
            totals.clear()
            streamer.reset()
            start = clock()
            for chunk in chunks:
                streamer.feed(chunk)
            streamer.flush()
            spent = clock() - start
            if mode == "auto":
                mean_uf = streamer.mean_uf
            if spent < best.get(mode, float("inf")):
                best[mode] = spent
                totals_best[mode] = dict(totals, other=spent - sum(totals.values()))
    frames = len(chunks)
    names = list(dict.fromkeys(stage for totals in totals_best.values() for stage in totals))
    return {
        "modes": modes,
        "auto_mean_uf": mean_uf,
        "frames": frames,
        "stages": names,
        "ms_per_frame": {mode: {stage: 1000 * totals_best[mode].get(stage, 0.0) / frames
                                for stage in names} for mode in modes},
        "total_ms_per_frame": {mode: 1000 * best[mode] / frames for mode in modes},
        "rtf": {mode: best[mode] / seconds for mode in modes},
    }


def run(seconds=10.0, repeats=5, models=("shipped", "paper")):
    """Profiles the models; returns a JSON-able dict."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = {"audio_seconds": seconds, "threads": 1, "repeats": repeats, "clock": "CPU",
                  "models": {}}
        loaders = {"shipped": load_shipped, "paper": load_paper}
        for name in models:
            model, router = loaders[name]()
            result["models"][name] = {
                "offline": profile_offline(model, router, seconds, repeats),
                "streaming": profile_streaming(model, router, seconds, max(1, repeats // 2)),
            }
    finally:
        torch.set_num_threads(threads)
    return result


TITLES = {"shipped": "Shipped model (hub/slim-demucs-real: hidden=16, grouped GRU)",
          "paper": "Paper config (hidden=32, grouped GRU, random weights)"}


def format_result(result):
    """Renders the result as markdown: per model, an offline and a streaming table."""
    lines = [f"CPU time per stage, {result['audio_seconds']:g} s of audio, one thread, best of "
             f"{result['repeats']} (offline) round-robin over the UFs.", ""]
    for name, parts in result["models"].items():
        off, stream = parts["offline"], parts["streaming"]
        modes = off["modes"]
        lines += [f"### {TITLES.get(name, name)}", "",
                  f"Offline, ms per pass (auto: mean UF {off['auto_mean_uf']:.3f}); "
                  "MACs/sample per stage at UF 1 and 0.125:", "",
                  "| stage | " + " | ".join(f"UF {m}" if m != "auto" else "auto" for m in modes)
                  + " | MACs UF 1 | MACs UF 0.125 |",
                  "|---|" + "---:|" * (len(modes) + 2)]
        macs = off["macs_per_sample"]
        for stage in off["stages"]:
            cells = " | ".join(f"{off['ms'][m][stage]:.2f}" for m in modes)
            lines.append(f"| {stage} | {cells} | {macs['1'].get(stage, 0):,.0f} "
                         f"| {macs['0.125'].get(stage, 0):,.0f} |")
        sums = " | ".join(f"{sum(off['ms'][m].values()):.2f}" for m in modes)
        lines.append(f"| sum of stages | {sums} | | |")
        whole = " | ".join(f"{off['whole_pass_ms'][m]:.2f}" for m in modes)
        lines.append(f"| whole pass | {whole} | | |")
        full = off["whole_pass_ms"]["1"]
        ratios = " | ".join(f"{off['whole_pass_ms'][m] / full:.2f}" for m in modes)
        lines.append(f"| time / time(UF 1) | {ratios} | | |")
        macs = off["total_macs_per_sample"]
        mac_ratio = " | ".join(f"{macs[m] / macs['1']:.2f}" for m in modes)
        lines.append(f"| MACs / MACs(UF 1) | {mac_ratio} | | |")
        lines += ["", f"auto: router + backbone {off['whole_pass_ms']['auto']:.2f} ms; backbone "
                  f"alone along the track {off['whole_pass_ms']['auto backbone']:.2f} ms, "
                  f"predicted from the static passes at the same mix of UFs "
                  f"{off['auto_predicted_ms']:.2f} ms (ratio "
                  f"{off['auto_backbone_vs_predicted']:.2f})."]
        smodes = stream["modes"]
        lines += ["", f"Streaming, CPU ms per 16 ms frame ({stream['frames']} frames; auto: mean "
                  f"UF {stream['auto_mean_uf']:.3f}; every stage call is timed, which adds ~1 us "
                  "per call: `benchmarks/streaming_speed.py` gives the uninstrumented time):", "",
                  "| stage | " + " | ".join(f"UF {m}" if m != "auto" else "auto" for m in smodes)
                  + " |", "|---|" + "---:|" * len(smodes)]
        for stage in stream["stages"]:
            cells = " | ".join(f"{stream['ms_per_frame'][m][stage]:.4f}" for m in smodes)
            lines.append(f"| {stage} | {cells} |")
        total = " | ".join(f"{stream['total_ms_per_frame'][m]:.4f}" for m in smodes)
        lines.append(f"| total | {total} |")
        full = stream["total_ms_per_frame"]["1"]
        ratios = " | ".join(f"{stream['total_ms_per_frame'][m] / full:.2f}" for m in smodes)
        lines.append(f"| time / time(UF 1) | {ratios} |")
        rtf = " | ".join(f"{stream['rtf'][m]:.4f}" for m in smodes)
        lines += [f"| real-time factor | {rtf} |", ""]
    return "\n".join(lines)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["shipped", "paper"],
                        choices=["shipped", "paper"])
    parser.add_argument("--json", default=os.path.join(HERE, "report", "profile.json"))
    parser.add_argument("--markdown", default=os.path.join(HERE, "report", "profile.md"))
    args = parser.parse_args(argv)
    result = run(args.seconds, args.repeats, tuple(args.models))
    text = format_result(result)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
    return result


if __name__ == "__main__":
    main()
