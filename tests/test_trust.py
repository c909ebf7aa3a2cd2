"""Model folders are data: refused code, weights-only checkpoints, clear source errors."""

import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from speechbrain_slim import cli, hub
from speechbrain_slim.asr import EnhancedASR, EnhanceFrontend
from speechbrain_slim.hub import write_hub_folder
from speechbrain_slim.inference import EnhanceSlim
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.trust import UntrustedModelError, check_hyperparams

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "hub", "slim-demucs-embedded")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    model = SlimDemucs(hidden=4, depth=2, normalize="running")
    router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    return write_hub_folder(model.eval(), router.eval(),
                            str(tmp_path_factory.mktemp("hub") / "tiny"))


def poisoned_copy(source, target, line):
    """A copy of ``source`` whose hyperparams.yaml starts with ``line``."""
    shutil.copytree(source, target)
    path = os.path.join(target, "hyperparams.yaml")
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(line + "\n" + text)
    return str(target)


def test_a_model_folder_that_runs_code_is_refused_and_nothing_runs(tmp_path):
    pwned = tmp_path / "pwned"
    folder = poisoned_copy(SHIPPED, tmp_path / "model", f'__x: !apply:os.system ["touch {pwned}"]')
    with pytest.raises(UntrustedModelError, match=r"line 1: !apply:os\.system") as error:
        EnhanceSlim.from_hparams(source=folder, savedir=str(tmp_path / "save"))
    assert "trust_remote_code=True" in str(error.value)
    assert "model/hyperparams.yaml" in str(error.value)
    assert not pwned.exists()


def test_trust_remote_code_loads_it(tmp_path):
    pwned = tmp_path / "pwned"
    folder = poisoned_copy(SHIPPED, tmp_path / "model", f'__x: !apply:os.system ["touch {pwned}"]')
    enhancer = EnhanceSlim.from_hparams(source=folder, savedir=str(tmp_path / "save"),
                                        trust_remote_code=True)
    assert pwned.exists() and enhancer.model.hidden == 16


@pytest.mark.parametrize("line, tag", [
    ("x: !new:os.system [ls]", "!new:os.system"),
    ("x: !name:subprocess.run", "!name:subprocess.run"),
    ("x: !module:os", "!module:os"),
    ("x: !!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
    ("x: !include:other.yaml", "!include:other.yaml"),
    ("x: !ref <sample_rate> ** 99999999", "!ref"),
])
def test_every_other_tag_is_refused_with_its_line(folder, tmp_path, line, tag):
    poisoned = poisoned_copy(folder, tmp_path / "model", "# a comment\n" + line)
    with pytest.raises(UntrustedModelError) as error:
        check_hyperparams(os.path.join(poisoned, "hyperparams.yaml"))
    assert f"line 2: {tag}" in str(error.value)


def test_the_shipped_and_exported_folders_pass(folder):
    assert check_hyperparams(os.path.join(SHIPPED, "hyperparams.yaml")) == []
    assert check_hyperparams(os.path.join(folder, "hyperparams.yaml")) == []


def test_checkpoints_load_weights_only(folder, tmp_path):
    """A checkpoint that would run code when unpickled is refused, and the code never runs."""
    pwned = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {pwned}",))

    target = tmp_path / "model"
    shutil.copytree(folder, target)
    state = torch.load(target / "enhance_model.ckpt", weights_only=True)
    state["model.extra"] = Exploit()
    with open(target / "enhance_model.ckpt", "wb") as stream:
        torch.save(state, stream, pickle_module=pickle)
    with pytest.raises(RuntimeError, match="not a weights-only checkpoint"):
        EnhanceSlim.from_hparams(source=str(target), savedir=str(tmp_path / "save"))
    assert not pwned.exists()


def test_the_cli_hub_and_asr_front_end_refuse_it_too(folder, tmp_path, capsys):
    pwned = tmp_path / "pwned"
    poisoned = poisoned_copy(folder, tmp_path / "model", f'__x: !apply:os.system ["touch {pwned}"]')
    assert cli.main(["info", "--source", poisoned]) == 2
    err = capsys.readouterr().err
    assert "!apply:os.system" in err and "--trust-remote-code" in err
    with pytest.raises(UntrustedModelError):
        hub.validate(poisoned, run_snippets=False)
    assert hub.main(["publish", poisoned, "--repo-id", "org/name", "--dry-run"]) == 2
    assert "!apply:os.system" in capsys.readouterr().err
    with pytest.raises(UntrustedModelError):
        EnhanceFrontend.from_hparams(poisoned)
    with pytest.raises(UntrustedModelError):
        EnhancedASR.from_hparams(poisoned, asr=None)
    assert not pwned.exists()
    assert cli.main(["info", "--source", poisoned, "--trust-remote-code"]) == 0
    assert pwned.exists()
    frontend = EnhanceFrontend.from_hparams(folder, uf=0.5)
    assert frontend(torch.randn(1, 800)).shape == (1, 800)


@pytest.mark.parametrize("source", ["/no/such/model", "./nope", "../nope", "nope",
                                    "a/b/c", "~/nope"])
def test_a_missing_local_model_folder_fails_at_once(source):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="model folder .* does not exist"):
        EnhanceSlim.from_hparams(source=source)
    assert time.perf_counter() - start < 1.0


def test_a_path_under_an_existing_folder_is_local(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="model folder models/mine does not exist"):
        EnhanceSlim.from_hparams(source="models/mine")
    with pytest.raises(FileNotFoundError, match="has no hyperparams.yaml"):
        EnhanceSlim.from_hparams(source="models")


def test_hub_lookups_honour_hf_hub_offline(tmp_path):
    """Set after huggingface_hub was imported (as a notebook would): still cache-only, fast."""
    script = textwrap.dedent("""
        import os, time
        import huggingface_hub
        from speechbrain_slim import EnhanceSlim
        os.environ["HF_HUB_OFFLINE"] = "1"
        start = time.perf_counter()
        try:
            EnhanceSlim.from_hparams(source="nobody-here/not-a-cached-model")
        except FileNotFoundError as error:
            print("ERROR", error)
        print("SECONDS", time.perf_counter() - start)
    """)
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)
    assert "ERROR" in result.stdout, result.stderr[-2000:]
    assert "not in the local Hugging Face cache (HF_HUB_OFFLINE is set" in result.stdout
    seconds = float(result.stdout.split("SECONDS")[1])
    assert seconds < 5.0
