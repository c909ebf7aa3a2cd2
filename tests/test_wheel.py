"""The package works outside its checkout.

Builds an sdist from the repository's packaging files, a wheel from that sdist (as
``python -m build`` does), installs the wheel in a fresh virtual environment and, from a
folder outside the checkout with no ``PYTHONPATH``, runs ``speechbrain-slim info`` and one
``enhance`` with the default model: the shipped model must come from the installed package.

Nothing is downloaded: the wheel is built with this interpreter's setuptools
(``--no-build-isolation``) and installed with ``--no-deps --no-index``; the fresh
environment sees the project's dependencies (torch, speechbrain ...) through a ``.pth``
file naming this interpreter's site-packages, whose own ``.pth`` files (the editable
install of the checkout among them) are not run from there.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md")
BIN = "Scripts" if os.name == "nt" else "bin"
TIMEOUT = 300


def _run(command, cwd, env=None):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (f"{command} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def _clean_env():
    """The environment of a user's shell: no PYTHONPATH, no virtualenv, no network needed."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV",
                          "SPEECHBRAIN_SLIM_MODEL")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(venv, work folder)``: the wheel installed in a fresh venv, a folder outside the repo."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in PACKAGING:
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "speechbrain_slim", source / "speechbrain_slim", ignore=skip)
    shutil.copytree(ROOT / "hub", source / "hub", ignore=skip)
    shutil.copytree(ROOT / "docs", source / "docs", ignore=skip)
    env = _clean_env()
    _run([sys.executable, "-c", "from setuptools import build_meta; "
          f"build_meta.build_sdist({str(tmp / 'sdist')!r})"], cwd=source, env=env)
    (sdist,) = (tmp / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:  # the docs the README links to travel with it
        names = {Path(name).relative_to(Path(name).parts[0]).as_posix()
                 for name in archive.getnames() if len(Path(name).parts) > 1}
    assert {"docs/ARCHITECTURE.md", "docs/DATA.md", "docs/EXPERIMENTS.md"} <= names, names
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", tmp / "dist", sdist], cwd=tmp, env=env)
    (wheel,) = (tmp / "dist").glob("*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp, env=env)
    python = venv / BIN / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp, env=env).strip())
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "project-dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
          "--no-index", wheel], cwd=tmp, env=env)
    work = tmp / "elsewhere"
    work.mkdir()
    return venv, work


def test_the_installed_package_is_not_the_checkout(installed):
    venv, work = installed
    out = _run([venv / BIN / "python", "-c",
                "import speechbrain_slim.cli as cli, speechbrain_slim.data.voicebank as vb; "
                "print(cli.__file__); print(vb.__file__); print(cli.DEFAULT_SOURCE)"],
               cwd=work, env=_clean_env())
    paths = [Path(line).resolve() for line in out.splitlines()]
    for path in paths:
        assert venv.resolve() in path.parents and ROOT not in path.parents, out
    assert paths[2].name == "slim-demucs-real" and (paths[2] / "enhance_model.ckpt").is_file()


def test_info_and_enhance_from_another_folder(installed):
    venv, work = installed
    command = venv / BIN / "speechbrain-slim"
    env = _clean_env()
    info = _run([command, "info"], cwd=work, env=env)
    model = Path(info.splitlines()[0].removeprefix("model: ")).resolve()
    assert venv.resolve() in model.parents and model.name == "slim-demucs-real", info
    assert "router:" in info and "MACs/sample" in info

    rate, frames = 22050, 33075  # 1.5 s, resampled to the model's 16 kHz and back
    rng = np.random.default_rng(0)
    speechlike = np.sin(2 * np.pi * 220 * np.arange(frames) / rate) * 0.3
    sf.write(work / "noisy.wav", (speechlike + 0.05 * rng.standard_normal(frames))
             .astype("float32"), rate)
    out = _run([command, "enhance", "noisy.wav", "-o", "enhanced", "--threads", "1"],
               cwd=work, env=env)
    assert "enhanced 1 of 1 files" in out, out
    result = sf.info(work / "enhanced" / "noisy.wav")
    assert (result.samplerate, result.channels, result.frames) == (rate, 1, frames)


def test_the_default_model_can_be_overridden(installed):
    """``SPEECHBRAIN_SLIM_MODEL`` replaces the shipped default (here: a folder that is missing)."""
    venv, work = installed
    env = dict(_clean_env(), SPEECHBRAIN_SLIM_MODEL=str(work / "no-model"))
    result = subprocess.run([str(venv / BIN / "speechbrain-slim"), "info"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"model folder {work / 'no-model'} does not exist" in result.stderr
    assert "--source" in result.stderr and "SPEECHBRAIN_SLIM_MODEL" in result.stderr
