"""Tests of the ``speechbrain-slim`` command line (in-process, plus one subprocess)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_slim import cli, command_inputs
from speechbrain_slim.hub import write_hub_folder
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running", bottleneck="grouped_gru",
                       gru_groups=2)
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8)
    return write_hub_folder(model.eval(), router.eval(),
                            str(tmp_path_factory.mktemp("hub") / "tiny"))


def noise(seconds, rate, channels=1, seed=0):
    data = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels))
    return data.astype("float32")


def test_enhance_files_and_folders(source, tmp_path, capsys):
    folder = tmp_path / "in" / "sub"
    folder.mkdir(parents=True)
    sf.write(folder / "a.flac", noise(0.5, 16000), 16000, subtype="PCM_16")
    sf.write(folder / "b.wav", noise(0.3, 22050, channels=2), 22050)
    (folder / "notes.txt").write_text("skipped")
    single = tmp_path / "single.wav"
    sf.write(single, noise(0.4, 8000), 8000)
    status = cli.main(["enhance", str(tmp_path / "in"), str(single), "-o", str(tmp_path / "out"),
                       "--uf", "max=0.5", "--source", source, "-q"])
    assert status == 0
    out = capsys.readouterr().out
    expected = {"sub/a.flac": (16000, 1, 8000), "sub/b.wav": (22050, 2, 6615),
                "single.wav": (8000, 1, 3200)}
    for name, (rate, channels, frames) in expected.items():
        info = sf.info(tmp_path / "out" / name)
        assert (info.samplerate, info.channels, info.frames) == (rate, channels, frames)
    assert "mean UF" in out and "RTF" in out and "GMAC" in out
    assert "enhanced 3 of 3 files" in out


def test_enhance_reports_failures_and_bad_options(source, tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    status = cli.main(["enhance", str(broken), "-o", str(tmp_path / "out"), "--source", source,
                       "-q"])
    assert status == 1
    assert "FAILED" in capsys.readouterr().out
    assert not (tmp_path / "out" / "broken.wav").exists()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(1000, dtype="float32"), 16000)
    assert cli.main(["enhance", str(silent), "-o", str(tmp_path / "o"), "--uf", "0.3",
                     "--source", source]) == 2
    assert "uf=0.3 is not one of" in capsys.readouterr().err
    assert cli.main(["enhance", str(tmp_path / "nope.wav"), "-o", str(tmp_path),
                     "--source", source]) == 2
    assert "no such file" in capsys.readouterr().err


def test_default_source_missing_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(command_inputs, "DEFAULT_SOURCE",
                        str(tmp_path / "hub" / "slim-demucs-real"))
    assert cli.main(["info"]) == 2
    err = capsys.readouterr().err
    assert "slim-demucs-real does not exist" in err and "--source" in err
    assert cli.DEFAULT_SOURCE.endswith(os.path.join("hub", "slim-demucs-real"))


def test_info_as_a_module(source):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "speechbrain_slim.cli", "info", "--source",
                             source], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("| 0.125 |") or line.startswith("| 1 |") for line in lines) == 2
    assert "router:" in result.stdout and "MACs/sample" in result.stdout


def test_inputs_are_never_overwritten_unless_in_place(source, tmp_path, capsys):
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "a.wav", noise(0.3, 16000), 16000)
    original = (folder / "a.wav").read_bytes()
    (tmp_path / "link").mkdir()
    os.symlink(folder / "a.wav", tmp_path / "link" / "a.wav")
    for output in (folder, tmp_path / "link"):  # same path; a symlink to the input
        start = __import__("time").perf_counter()
        assert cli.main(["enhance", str(folder), "-o", str(output), "--source", "/nowhere",
                         "-q"]) == 2  # refused before the model is even loaded
        err = capsys.readouterr().err
        assert "refusing to overwrite input files" in err and "--in-place" in err
        assert str(folder / "a.wav") in err
        assert __import__("time").perf_counter() - start < 1.0
    # an output folder inside the input folder: the rerun would overwrite the first results
    assert cli.main(["enhance", str(folder), "-o", str(folder / "enhanced"), "--source", source,
                     "-q"]) == 0
    assert cli.main(["enhance", str(folder), "-o", str(folder / "enhanced"), "--source", source,
                     "-q"]) == 2
    assert "enhanced/a.wav" in capsys.readouterr().err
    assert (folder / "a.wav").read_bytes() == original
    assert cli.main(["enhance", str(folder / "a.wav"), "-o", str(folder), "--source", source,
                     "-q", "--in-place"]) == 0
    assert (folder / "a.wav").read_bytes() != original
    assert sf.info(folder / "a.wav").frames == 4800
    target = tmp_path / "streamed.wav"
    os.symlink(folder / "a.wav", target)
    assert cli.main(["stream", str(folder / "a.wav"), "-o", str(target), "--source", source]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_silent_and_truncated_files_are_done_with_a_warning(source, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    sf.write(inputs / "silent.wav", np.zeros(3000, dtype="float32"), 16000)
    sf.write(inputs / "whole.wav", noise(1.0, 16000), 16000, subtype="PCM_16")
    data = (inputs / "whole.wav").read_bytes()
    (inputs / "cut.wav").write_bytes(data[: len(data) // 2])
    status = cli.main(["enhance", str(inputs), "-o", str(tmp_path / "out"), "--source", source,
                       "-q", "--threads", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "WARNING" in out and "silent.wav: silent audio file" in out
    assert "cut.wav: truncated file" in out and "s missing" in out
    assert "enhanced 3 of 3 files" in out and "(2 with warnings)" in out
    assert sf.info(tmp_path / "out" / "silent.wav").frames == 3000
    assert not sf.read(tmp_path / "out" / "silent.wav")[0].any()
    status = cli.main(["enhance", str(inputs), "-o", str(tmp_path / "strict"), "--source",
                       source, "-q", "--strict"])
    out = capsys.readouterr().out
    assert status == 1 and "FAILED" in out and "cut.wav: truncated file" in out
    assert sorted(os.listdir(tmp_path / "strict")) == ["silent.wav", "whole.wav"]


def test_threads_option_sets_torch_threads(source, tmp_path, monkeypatch):
    sf.write(tmp_path / "a.wav", noise(0.2, 16000), 16000)
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert cli.main(["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"),
                     "--source", source, "-q", "--threads", "3"]) == 0
    assert calls == [3]
    assert cli.main(["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "o2"),
                     "--source", source, "-q"]) == 0
    assert calls == [3]  # default: torch's own choice, untouched
