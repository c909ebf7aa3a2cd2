"""Tests of EnhanceSlim: loading, chunking exactness, resampling, channels, lengths, errors."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from speechbrain_slim.hub import write_hub_folder
from speechbrain_slim.inference import AudioWarning, EnhanceSlim, StreamResampler
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.routing import route


def tiny(normalize="running", seed=0, residual=False):
    torch.manual_seed(seed)
    model = SlimDemucs(hidden=8, depth=3, normalize=normalize, bottleneck="grouped_gru",
                       gru_groups=2, residual=residual).eval()
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    return model, router


def enhancer_for(model, router, **kwargs):
    modules = {"enhance_model": torch.nn.ModuleDict({"model": model, "router": router})}
    return EnhanceSlim(modules=modules, hparams={}, run_opts={"device": "cpu"}, **kwargs)


def speechlike(seconds, rate=16000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * torch.sin(2 * np.pi * 0.7 * t) ** 2
    return 0.3 * envelope * torch.sin(2 * np.pi * 220 * t) + 0.05 * torch.randn(
        t.shape, generator=generator)


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    model, router = tiny()
    return write_hub_folder(model, router, str(tmp_path_factory.mktemp("hub") / "tiny"))


@pytest.fixture(scope="module")
def enhancer(hub_folder, tmp_path_factory):
    return EnhanceSlim.from_hparams(source=hub_folder, savedir=str(tmp_path_factory.mktemp("s")),
                                    run_opts={"device": "cpu"})


def test_from_hparams_local_folder_matches_the_saved_modules(enhancer, hub_folder):
    model, router = tiny()
    x = speechlike(1.0).unsqueeze(0)
    with torch.no_grad():
        expected, info = route(model, router, x, "auto")
    out = enhancer.enhance_batch(x)
    assert out.shape == (1, 16000)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(enhancer.last_routing["track"][0], info["track"][0])
    assert torch.allclose(enhancer.last_routing["macs"], info["macs"].double())


@pytest.mark.parametrize("normalize,residual", [("running", False), (True, False),
                                                ("running", True), (True, True)])
def test_chunked_matches_whole_signal(normalize, residual):
    model, router = tiny(normalize, residual=residual)
    enhancer = enhancer_for(model, router, chunk_seconds=0.5, context_seconds=1.0,
                            crossfade_seconds=0.02)
    x = speechlike(4.0).unsqueeze(0) * torch.linspace(0.2, 1.5, 64000)
    with torch.no_grad():
        whole, info = route(model, router, x, "auto")
    chunked = enhancer.enhance_batch(x)
    seam = (chunked - whole).abs().max().item()
    assert seam < 1e-4 * whole.abs().max().item(), seam
    assert torch.equal(enhancer.last_routing["track"][0], info["track"][0])


def test_stream_resampler_matches_whole_resample():
    x = torch.randn(2, 30_001)
    for orig, new in ((44100, 16000), (16000, 48000), (8000, 16000)):
        stream = StreamResampler(orig, new)
        parts = [stream.push(block) for block in x[:, :-1].split(4_321, dim=-1)]
        parts.append(stream.push(x[:, -1:], final=True))
        whole = torchaudio.functional.resample(x, orig, new)
        assert torch.allclose(torch.cat(parts, -1), whole, atol=1e-5), (orig, new)


def test_channels_int_samples_and_sample_rate(enhancer):
    x = speechlike(0.5, rate=8000)
    stereo = torch.stack([x, 0.5 * x.flip(0)]).unsqueeze(0)  # [1, 2, T]
    out = enhancer.enhance_batch(stereo, sample_rate=8000)
    assert out.shape == stereo.shape
    alone = enhancer.enhance_batch(stereo[:, 1], sample_rate=8000)
    assert torch.allclose(out[:, 1], alone, atol=1e-6)
    assert len(enhancer.last_routing["track"]) == 1
    ints = (x * 32767).round().to(torch.int16)
    assert torch.allclose(enhancer.enhance_batch(ints, uf=0.25),
                          enhancer.enhance_batch(ints.float() / 32768, uf=0.25), atol=1e-6)


def test_mixed_lengths_honour_relative_lengths(enhancer):
    long, short = speechlike(1.0, seed=1), speechlike(0.5, seed=2)
    batch = torch.zeros(2, 16000)
    batch[0], batch[1, :8000] = long, short
    out = enhancer.enhance_batch(batch, lengths=torch.tensor([1.0, 0.5]), uf="max=0.5")
    routing = enhancer.last_routing
    frames = enhancer.model.bottleneck_frames
    assert [len(track) for track in routing["track"]] == [frames(16000), frames(8000)]
    assert routing["mean_uf"].shape == (2,) and bool((routing["mean_uf"] <= 0.5).all())
    alone = enhancer.enhance_batch(short.unsqueeze(0), uf="max=0.5")
    assert torch.allclose(out[1, :8000], alone[0], atol=1e-6)
    assert out[1, 8000:].abs().max() == 0


def test_enhance_file_stereo_44k_pcm16_chunked(enhancer, tmp_path):
    x = speechlike(3.0, rate=44100)
    stereo = torch.stack([x, -0.5 * x]).T.numpy()
    path = tmp_path / "noisy.wav"
    sf.write(path, stereo, 44100, subtype="PCM_16")
    enhancer.chunk_seconds, enhancer.context_seconds = 0.5, 1.0
    try:
        written = enhancer.enhance_file(str(path), str(tmp_path / "out" / "clean.wav"))
        in_memory = enhancer.enhance_file(str(path))
    finally:
        enhancer.chunk_seconds, enhancer.context_seconds = 30.0, 4.0
    info = sf.info(written)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (44100, 2, 132300,
                                                                          "PCM_16")
    loaded, _ = sf.read(written, dtype="float32")
    assert in_memory.shape == (2, 132300)
    assert np.abs(loaded.T - in_memory.numpy()).max() < 2 / 32768
    data, _ = sf.read(path, dtype="float32")
    whole = enhancer.enhance_batch(torch.from_numpy(data.T.copy()), sample_rate=44100)
    assert (whole - in_memory).abs().max() < 1e-3
    assert os.listdir(tmp_path / "out") == ["clean.wav"]
    resampled = enhancer.enhance_file(str(path), output_sample_rate=16000)
    assert resampled.shape == (2, 48000)


def test_errors_name_file_and_problem(enhancer, tmp_path):
    empty, silent, text = tmp_path / "empty.wav", tmp_path / "silent.wav", tmp_path / "bad.wav"
    sf.write(empty, np.zeros(0, dtype="float32"), 16000)
    sf.write(silent, np.zeros(4000, dtype="float32"), 16000)
    text.write_text("not audio")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="empty.wav: empty"):
        enhancer.enhance_file(str(empty), str(out / "a.wav"))
    assert not out.exists() or os.listdir(out) == []  # nothing half-written
    with pytest.raises(RuntimeError, match="bad.wav: unreadable or unsupported"):
        enhancer.enhance_file(str(text))
    with pytest.raises(ValueError, match="missing.wav: no such file"):
        enhancer.enhance_file(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="uf=0.3 is not one of"):
        enhancer.enhance_file(str(silent), uf=0.3)
    with pytest.raises(ValueError, match="NaN or Inf"):
        enhancer.enhance_batch(torch.tensor([[0.1, float("nan"), 0.2]]))
    with pytest.raises(ValueError, match="shape"):
        enhancer.enhance_batch(torch.zeros(1, 1, 1, 100))
    with pytest.raises(ValueError, match="uf must be 'auto'"):
        enhancer.enhance_batch(torch.randn(1, 100), uf="fast")
    with pytest.raises(ValueError, match="lengths"):
        enhancer.enhance_batch(torch.randn(2, 100), lengths=torch.tensor([1.0]))


def test_checkpoint_keys_are_checked_strictly(hub_folder, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(hub_folder, broken)
    state = torch.load(broken / "enhance_model.ckpt", weights_only=True)
    state["model.extra"] = torch.zeros(1)
    del state["router.classifier.bias"]
    torch.save(state, broken / "enhance_model.ckpt")
    with pytest.raises(RuntimeError, match=r"missing keys \['router.classifier.bias'\].*"
                                           r"unexpected keys \['model.extra'\]"):
        EnhanceSlim.from_hparams(source=str(broken), savedir=str(tmp_path / "save"))


def test_silence_in_silence_out(enhancer, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((4000, 2), dtype="int16"), 22050, subtype="PCM_16")
    with pytest.warns(AudioWarning, match="silent.wav: silent audio file"):
        written = enhancer.enhance_file(str(silent), str(tmp_path / "out" / "silent.wav"))
    data, rate = sf.read(written, dtype="int16", always_2d=True)
    assert rate == 22050 and data.shape == (4000, 2) and not data.any()
    with pytest.warns(AudioWarning, match="silent"):
        out = enhancer.enhance_file(str(silent), output_sample_rate=16000)
    assert out.shape == (2, 2903) and not out.any()


def test_an_all_zero_batch_item_gives_zeros(enhancer):
    wavs = torch.stack([speechlike(0.5), torch.zeros(8000), speechlike(0.5, seed=1)])
    with pytest.warns(AudioWarning, match=r"batch item\(s\) 1: silent"):
        out = enhancer.enhance_batch(wavs)
    assert not out[1].any() and out[0].abs().max() > 0 and out[2].abs().max() > 0
    stereo = torch.stack([speechlike(0.5), torch.zeros(8000)]).unsqueeze(0)  # [1, 2, time]
    with pytest.warns(AudioWarning, match=r"0 \(channel 1\)"):
        assert not enhancer.enhance_batch(stereo)[0, 1].any()


def truncated_copy(source, target, keep):
    with open(source, "rb") as stream:
        data = stream.read()
    with open(target, "wb") as stream:
        stream.write(data[: int(len(data) * keep)])
    return str(target)


@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_truncated_files_warn_or_are_refused_when_strict(enhancer, tmp_path, extension):
    whole = tmp_path / f"whole.{extension}"
    sf.write(whole, speechlike(4.0).numpy(), 16000, subtype="PCM_16")
    cut = truncated_copy(whole, tmp_path / f"cut.{extension}", 0.5)
    with pytest.warns(AudioWarning, match=rf"cut\.{extension}: truncated.*header announces "
                                          r"64000 frames \(4\.00 s\).*s missing") as record:
        written = enhancer.enhance_file(cut, str(tmp_path / "out" / f"cut.{extension}"))
    message = str(record[0].message)
    held = int(message.split("the data holds ")[1].split()[0])
    assert 20000 < held < 33000
    assert sf.info(written).frames == held  # what could be read, enhanced; nothing padded
    with pytest.raises(ValueError, match=rf"cut\.{extension}: truncated.*refused"):
        enhancer.enhance_file(cut, str(tmp_path / "strict" / f"cut.{extension}"), strict=True)
    assert not (tmp_path / "strict").exists() or os.listdir(tmp_path / "strict") == []


def test_a_streamed_wav_without_length_is_not_truncated(enhancer, tmp_path):
    """WAVs written to a pipe carry 0xFFFFFFFF as their data length: not a truncation."""
    import struct
    import warnings

    path = tmp_path / "piped.wav"
    sf.write(path, speechlike(0.5).numpy(), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    index = data.index(b"data")
    data[index + 4 : index + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        assert enhancer.enhance_file(str(path), strict=True).shape == (1, 8000)
