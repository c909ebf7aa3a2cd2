"""Tests of the ``speechbrain-slim`` command line (in-process, plus one subprocess)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_slim import cli
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
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(1000, dtype="float32"), 16000)
    status = cli.main(["enhance", str(silent), "-o", str(tmp_path / "out"), "--source", source,
                       "-q"])
    assert status == 1
    assert "FAILED" in capsys.readouterr().out
    assert not (tmp_path / "out" / "silent.wav").exists()
    assert cli.main(["enhance", str(silent), "-o", str(tmp_path), "--uf", "0.3",
                     "--source", source]) == 2
    assert "uf=0.3 is not one of" in capsys.readouterr().err
    assert cli.main(["enhance", str(tmp_path / "nope.wav"), "-o", str(tmp_path),
                     "--source", source]) == 2
    assert "no such file" in capsys.readouterr().err


def test_default_source_missing_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "DEFAULT_SOURCE", str(tmp_path / "hub" / "slim-demucs-embedded"))
    assert cli.main(["info"]) == 2
    err = capsys.readouterr().err
    assert "slim-demucs-embedded does not exist" in err and "--source" in err
    assert cli.DEFAULT_SOURCE.endswith(os.path.join("hub", "slim-demucs-embedded"))


def test_info_as_a_module(source):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "speechbrain_slim.cli", "info", "--source",
                             source], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("| 0.125 |") or line.startswith("| 1 |") for line in lines) == 2
    assert "router:" in result.stdout and "MACs/sample" in result.stdout
