"""Tests of :mod:`speechbrain_slim.streaming`: the stream equals the offline model, exactly.

Every test streams audio through :class:`StreamingEnhancer` in chunks of random
sizes (1 sample, sizes that are no multiple of ``total_stride``, one huge chunk)
and compares the concatenated ``feed`` outputs + ``flush()`` with the offline
``model(noisy, uf)`` / :func:`speechbrain_slim.routing.route` of the whole input.
"""

import os
import random

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_slim import cli
from speechbrain_slim.inference import AudioWarning
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.routing import route
from speechbrain_slim.streaming import StreamingEnhancer

# streaming == offline to float rounding: measured up to 4.2e-7 on these models
TOLERANCE = 1e-6
HUB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hub",
                   "slim-demucs-embedded")

CONFIGS = {
    "h4-d2-r1-gru-running-residual": dict(hidden=4, depth=2, resample=1, normalize="running",
                                          residual=True),
    "h4-d2-r1-gru-running": dict(hidden=4, depth=2, resample=1, normalize="running"),
    "h8-d3-r2-lstm-running-residual": dict(hidden=8, depth=3, resample=2, bottleneck="lstm",
                                           normalize="running", residual=True),
    "h6-d4-r4-gru-none-residual": dict(hidden=6, depth=4, resample=4, gru_groups=2,
                                       normalize=False, residual=True),
    "h4-d3-r4-lstm-none": dict(hidden=4, depth=3, resample=4, bottleneck="lstm",
                               normalize=False),
    "h8-d3-r4-gru-running-residual": dict(hidden=8, depth=3, resample=4, gru_groups=4,
                                          normalize="running", residual=True),
}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: a frame's small GEMMs gain nothing from more, and with two threads
    on a shared machine each call can wait milliseconds for a busy core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(seed=0, **config):
    torch.manual_seed(seed)
    config.setdefault("bottleneck", "grouped_gru")
    return SlimDemucs(**config).eval()


def stream(streamer, noisy, sizes, seed=0):
    """Feeds ``noisy`` in chunks drawn from ``sizes``; returns all outputs + flush()."""
    rng = random.Random(seed)
    parts, start = [], 0
    while start < noisy.shape[0]:
        size = rng.choice(sizes)
        part = streamer.feed(noisy[start : start + size])
        assert part.dim() == 1
        parts.append(part)
        start += size
    parts.append(streamer.flush())
    return torch.cat(parts)


def chunk_sizes(model):
    stride = model.total_stride
    return [1, 3, stride - 1, stride + 5, 2 * stride + 7, 997]


def offline(model, noisy, uf):
    with torch.no_grad():
        return model(noisy.unsqueeze(0), uf)[0][0]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fixed_ufs_equal_offline(name):
    model = make_model(**CONFIGS[name])
    noisy = 0.3 * torch.randn(3 * model.total_stride * model.stride + 13)
    streamer = None
    for uf in model.ufs:
        reference = offline(model, noisy, uf)
        streamer = StreamingEnhancer(model, uf=uf)
        enhanced = stream(streamer, noisy, chunk_sizes(model), seed=int(8 * uf))
        assert enhanced.shape == noisy.shape
        assert (enhanced - reference).abs().max() < TOLERANCE, (uf, name)
        assert streamer.mean_uf == uf
    huge = StreamingEnhancer(model, uf=0.25)  # one chunk holding the whole signal
    assert (stream(huge, noisy, [10**6]) - offline(model, noisy, 0.25)).abs().max() < TOLERANCE


@pytest.mark.parametrize("length", [1, 2, 17, 255, 1001])
def test_short_and_unaligned_lengths(length):
    model = make_model(**CONFIGS["h8-d3-r4-gru-running-residual"])
    noisy = 0.5 * torch.randn(length)
    for sizes in ([1], [5, 64], [10**6]):
        enhanced = stream(StreamingEnhancer(model, uf=0.5), noisy, sizes)
        assert enhanced.shape == (length,)
        assert (enhanced - offline(model, noisy, 0.5)).abs().max() < TOLERANCE


@pytest.mark.parametrize("name", ["h8-d3-r2-lstm-running-residual",
                                  "h8-d3-r4-gru-running-residual", "h4-d3-r4-lstm-none"])
@pytest.mark.parametrize("uf", ["auto", "max=0.5"])
def test_routed_equals_route(name, uf):
    model = make_model(**CONFIGS[name])
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    with torch.no_grad():
        router.classifier.bias.copy_(torch.tensor([0.0, 0.3, 0.0, 0.3]))
    noisy = 0.3 * torch.randn(40 * model.total_stride + 29)
    noisy[: 10 * model.total_stride] *= 0.05  # a quiet stretch: decisions change over time
    with torch.no_grad():
        reference, info = route(model, router, noisy.unsqueeze(0), uf)
    streamer = StreamingEnhancer(model, router, uf=uf)
    enhanced = stream(streamer, noisy, chunk_sizes(model), seed=3)
    assert (enhanced - reference[0]).abs().max() < TOLERANCE
    assert streamer.track == info["track"][0].tolist()
    if uf == "max=0.5":
        assert max(streamer.track) <= 0.5


def test_shipped_model_streamer_equals_route(tmp_path):
    from speechbrain_slim.inference import EnhanceSlim

    enhancer = EnhanceSlim.from_hparams(source=HUB, savedir=str(tmp_path))
    audio, rate = sf.read(os.path.join(HUB, "example.wav"), dtype="float32", always_2d=True)
    assert rate == enhancer.sample_rate
    noisy = torch.from_numpy(audio[: 3 * rate, 0].copy())
    with torch.no_grad():
        reference, info = route(enhancer.model, enhancer.router, noisy.unsqueeze(0), "auto")
    streamer = enhancer.streamer(uf="auto")
    enhanced = stream(streamer, noisy, [256, 1, 300, 4096])
    assert enhanced.shape == noisy.shape
    assert (enhanced - reference[0]).abs().max() < TOLERANCE
    assert streamer.track == info["track"][0].tolist()
    fixed = enhancer.streamer(uf=0.25)
    assert fixed.router is None
    assert (stream(fixed, noisy, [256]) - offline(enhancer.model, noisy, 0.25)).abs().max() \
        < TOLERANCE


def test_reset_starts_an_identical_stream():
    model = make_model(**CONFIGS["h8-d3-r4-gru-running-residual"])
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    streamer = StreamingEnhancer(model, router, uf="auto")
    noisy = 0.3 * torch.randn(2000)
    first = stream(streamer, noisy, [100, 37])
    track, macs = list(streamer.track), streamer.macs
    streamer.reset()
    assert streamer.frames == 0 and streamer.macs == 0 and not streamer.finished
    assert torch.equal(stream(streamer, noisy, [100, 37]), first)
    assert streamer.track == track and streamer.macs == macs
    streamer.reset()  # reset mid-stream, too
    streamer.feed(torch.randn(700))
    streamer.reset()
    assert torch.equal(stream(streamer, noisy, [100, 37]), first)


@pytest.mark.parametrize("name", ["h4-d2-r1-gru-running", "h4-d3-r4-lstm-none",
                                  "h8-d3-r2-lstm-running-residual"])
def test_latency_matches_the_lookahead(name):
    """lookahead_samples: the most input samples the stream holds back at a block boundary;
    it is at least the true dependency (exactness) and at most the model's lookahead bound;
    latency adds the block that the first sample of a block waits for."""
    model = make_model(**CONFIGS[name])
    block = model.total_stride
    streamer = StreamingEnhancer(model, uf=1.0)
    lookahead = streamer.lookahead_samples
    assert lookahead <= model.lookahead
    assert streamer.latency_samples == lookahead + block
    assert streamer.latency_ms == pytest.approx(1000 * (lookahead + block) / model.sample_rate)
    # measured: after each block, the output lags the input by at most the lookahead
    emitted, lags = 0, []
    for received in range(block, 200 * block, block):
        emitted += streamer.feed(torch.randn(block)).shape[0]
        lags.append(received - emitted)
    assert max(lags[100:]) == lookahead
    # the true dependency of the offline output on a future input sample fits in it
    noisy = torch.randn(1, 60 * block)
    changed = noisy.clone()
    changed[0, 40 * block] += 1.0
    with torch.no_grad():
        diff = (model(noisy, 1.0)[0] - model(changed, 1.0)[0])[0].abs()
    assert 40 * block - int((diff > 0).nonzero()[0]) <= lookahead


def test_router_latency_is_reported():
    model = make_model(**CONFIGS["h8-d3-r4-gru-running-residual"])
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8)
    fixed, auto = StreamingEnhancer(model, uf=1.0), StreamingEnhancer(model, router, uf="auto")
    assert auto.lookahead_samples >= fixed.lookahead_samples
    assert auto.latency_ms == pytest.approx(
        1000 * (auto.lookahead_samples + model.total_stride) / model.sample_rate)


def test_clear_errors():
    with pytest.raises(ValueError, match="normalize"):
        StreamingEnhancer(make_model(hidden=4, depth=2, normalize="global"))
    with pytest.raises(ValueError, match="causal"):
        StreamingEnhancer(make_model(hidden=4, depth=2, causal=False, normalize="running"))
    model = make_model(**CONFIGS["h4-d2-r1-gru-running"])
    with pytest.raises(ValueError, match="router"):
        StreamingEnhancer(model, uf="auto")
    with pytest.raises(ValueError, match="utilization factors"):
        StreamingEnhancer(model, uf=0.3)
    streamer = StreamingEnhancer(model, uf=0.5)
    bad = torch.randn(100)
    bad[7] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        streamer.feed(bad)
    with pytest.raises(ValueError, match="mono"):
        streamer.feed(torch.randn(2, 100))
    with pytest.raises(ValueError, match="float, int16 or int32"):
        streamer.feed(torch.ones(100, dtype=torch.int64))
    with pytest.raises(ValueError, match="'raise' or 'zero'"):
        StreamingEnhancer(model, uf=0.5, nonfinite="skip")
    assert streamer.feed(torch.randn(1, 100)).dim() == 2  # [1, time] in, [1, time] out
    chunk = torch.randn(3000)
    from_tensor = StreamingEnhancer(model, uf=0.5).feed(chunk)
    from_array = StreamingEnhancer(model, uf=0.5).feed(chunk.numpy())  # arrays work too
    assert from_tensor.numel() > 0 and torch.equal(torch.as_tensor(from_array), from_tensor)
    streamer.flush()
    with pytest.raises(RuntimeError, match="reset"):
        streamer.feed(torch.randn(10))
    with pytest.raises(RuntimeError, match="reset"):
        streamer.flush()


def test_a_refused_chunk_is_not_consumed_and_can_be_resent():
    model = make_model(**CONFIGS["h4-d2-r1-gru-running-residual"])
    noisy = 0.1 * torch.randn(3000, generator=torch.Generator().manual_seed(3))
    # the same chunk boundaries without the refusal: other boundaries may differ in the
    # last bit on some CPUs (kernels chosen by size), which is not what is tested here
    chunks = (noisy[:1400], noisy[1400:2100], noisy[2100:])
    untouched = StreamingEnhancer(model, uf=0.5)
    reference = torch.cat([untouched.feed(chunk) for chunk in chunks] + [untouched.flush()])
    streamer = StreamingEnhancer(model, uf=0.5)
    parts = [streamer.feed(chunks[0])]
    bad = chunks[1].clone()
    bad[5] = float("inf")
    with pytest.raises(ValueError, match="not consumed"):
        streamer.feed(bad)
    parts += [streamer.feed(chunk) for chunk in chunks[1:]] + [streamer.flush()]
    resent = torch.cat(parts)
    assert resent.shape == noisy.shape
    assert torch.equal(resent, reference)


def test_nonfinite_zero_replaces_bad_samples_keeping_alignment():
    model = make_model(**CONFIGS["h4-d2-r1-gru-running"])
    noisy = 0.1 * torch.randn(3000, generator=torch.Generator().manual_seed(4))
    cleaned = noisy.clone()
    cleaned[1000:1010] = 0.0
    broken = noisy.clone()
    broken[1000:1005], broken[1005:1010] = float("nan"), float("-inf")
    streamer = StreamingEnhancer(model, uf=0.5, nonfinite="zero")
    with pytest.warns(AudioWarning, match="first at input sample 1000"):
        out = stream(streamer, broken, [300])
    assert out.shape == noisy.shape and torch.isfinite(out).all()
    assert torch.allclose(out, offline(model, cleaned, 0.5), atol=TOLERANCE)
    assert streamer.nonfinite_samples == 10


def test_int16_and_int32_chunks_are_accepted_like_enhance_batch():
    model = make_model(**CONFIGS["h4-d2-r1-gru-running"])
    pcm = (0.1 * torch.randn(2000, generator=torch.Generator().manual_seed(5)) * 32768).round()
    as_float = pcm / 32768.0
    expected = stream(StreamingEnhancer(model, uf=0.5), as_float, [500])
    from_int16 = stream(StreamingEnhancer(model, uf=0.5), pcm.to(torch.int16), [500])
    from_int32 = stream(StreamingEnhancer(model, uf=0.5), (pcm * 65536).to(torch.int32), [500])
    from_numpy = StreamingEnhancer(model, uf=0.5)
    parts = [from_numpy.feed(pcm.numpy().astype("int16")), from_numpy.flush()]
    assert torch.allclose(from_int16, expected, atol=1e-6)
    assert torch.allclose(from_int32, expected, atol=1e-6)
    assert torch.allclose(torch.cat(parts), expected, atol=1e-6)


def test_cli_stream_writes_the_input_length(tmp_path, capsys):
    rate = 16000
    noisy = 0.1 * np.random.default_rng(0).standard_normal(int(0.7 * rate) + 3)
    source = tmp_path / "noisy.wav"
    sf.write(source, noisy.astype("float32"), rate)
    target = tmp_path / "out" / "enhanced.wav"
    status = cli.main(["stream", str(source), "-o", str(target), "--source", HUB,
                       "--uf", "auto"])
    assert status == 0, capsys.readouterr().err
    info = sf.info(target)
    assert (info.samplerate, info.channels, info.frames) == (rate, 1, noisy.shape[0])
    out = capsys.readouterr().out
    assert "latency" in out and "RTF" in out and "mean UF" in out


def test_cli_stream_resamples_and_keeps_channels(tmp_path):
    rate = 22050
    noisy = 0.1 * np.random.default_rng(1).standard_normal((int(0.4 * rate) + 1, 2))
    source = tmp_path / "noisy.flac"
    sf.write(source, noisy.astype("float32"), rate)
    target = tmp_path / "enhanced.flac"
    assert cli.main(["stream", str(source), "-o", str(target), "--source", HUB,
                     "--uf", "0.125", "--chunk-ms", "10"]) == 0
    info = sf.info(target)
    assert (info.samplerate, info.channels, info.frames) == (rate, 2, noisy.shape[0])
    assert cli.main(["stream", str(tmp_path / "missing.wav"), "-o", str(target),
                     "--source", HUB]) == 2


def test_speed_benchmark_runs_and_reports(load_script):
    benchmark = load_script("benchmarks", "streaming_speed.py")
    result = benchmark.run(seconds=0.1, repeats=1)
    names = [row["name"] for row in result["rows"]]
    assert "paper uf=0.125" in names and "paper uf=1" in names
    for row in result["rows"]:
        assert row["ms_per_frame"] > 0 and row["rtf"] > 0 and row["latency_ms"] > 0
    assert {"paper_rtf_uf1", "paper_rtf_uf0.125", "paper_speedup_0.125_vs_1"} <= set(
        result["targets"])
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    text = benchmark.format_result(result)
    assert "| paper uf=1 |" in text and "| met |" in text


def test_reused_chunk_buffer():
    """A caller that refills one chunk tensor in place gets the offline output: samples
    kept past a call (a partial block) are the stream's own copy, not the caller's."""
    torch.manual_seed(0)
    model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    noisy, size = torch.randn(3030), 303  # 303 is no multiple of the block (4)
    streamer, buffer, parts = StreamingEnhancer(model, uf=0.5), torch.empty(size), []
    for start in range(0, noisy.shape[0], size):
        buffer.copy_(noisy[start : start + size])
        parts.append(streamer.feed(buffer))
        buffer.fill_(float("nan"))  # the caller reuses its buffer
    enhanced = torch.cat(parts + [streamer.flush()])
    with torch.no_grad():
        offline = model(noisy.unsqueeze(0), 0.5)[0][0]
    assert (enhanced - offline).abs().max() < TOLERANCE
