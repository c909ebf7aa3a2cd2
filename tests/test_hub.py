"""Tests of the hub tooling: export from an experiment, validation, publish --dry-run, Hub cache."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_slim import hub
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

EXPERIMENT_YAML = """\
seed: 1
output_folder: !ref results/tiny/<seed>
sample_rate: 16000
ufs: [0.125, 0.25, 0.5, 1.0]
model: !new:speechbrain_slim.lobes.slim_demucs.SlimDemucs
    hidden: 8
    depth: 3
    normalize: running
    bottleneck: grouped_gru
    gru_groups: 2
    ufs: !ref <ufs>
router: !new:speechbrain_slim.lobes.router.Router
    ufs: !ref <ufs>
    frame_stride: 16
    channels: 8
modules:
    model: !ref <model>
    router: !ref <router>
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A training run's folder: hyperparams.yaml + save/CKPT+* with model.ckpt, router.ckpt."""
    folder = tmp_path_factory.mktemp("experiment")
    (folder / "hyperparams.yaml").write_text(EXPERIMENT_YAML)
    checkpointer = Checkpointer(str(folder / "save"))
    modules = []
    for pesq in (2.5, 2.9, 2.7):  # the best (max pesq) is the second one
        torch.manual_seed(int(pesq * 10))
        model = SlimDemucs(hidden=8, depth=3, normalize="running", bottleneck="grouped_gru",
                           gru_groups=2)
        router = Router(model.ufs, frame_stride=model.total_stride, channels=8)
        checkpointer.recoverables.clear()
        checkpointer.add_recoverables({"model": model, "router": router})
        checkpointer.save_checkpoint(meta={"pesq": pesq})
        modules.append((model, router))
    return folder, modules


@pytest.fixture(scope="module")
def exported(experiment, tmp_path_factory):
    folder, _ = experiment
    results = tmp_path_factory.mktemp("r") / "results.json"
    results.write_text(json.dumps({"rows": [{"setting": "static UF 0.125", "PESQ": 2.86}]}))
    target = str(tmp_path_factory.mktemp("hub") / "slim-tiny")
    assert hub.main(["export", str(folder), target, "--results", str(results),
                     "--max-key", "pesq"]) == 0
    return target


def test_export_writes_a_complete_folder_with_the_chosen_weights(experiment, exported):
    _, modules = experiment
    assert sorted(os.listdir(exported)) == sorted([*hub.REQUIRED_FILES, "results.json"])
    with open(os.path.join(exported, "results.json"), encoding="utf-8") as stream:
        assert json.load(stream)["rows"][0]["PESQ"] == 2.86
    state = torch.load(os.path.join(exported, "enhance_model.ckpt"), weights_only=True)
    best_model, best_router = modules[1]
    expected = torch.nn.ModuleDict({"model": best_model, "router": best_router}).state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in expected)
    card = open(os.path.join(exported, "README.md"), encoding="utf-8").read()
    assert "| static UF 0.125 | 2.860 |" in card
    assert len(hub.python_blocks(card)) == 2


def test_export_from_per_stage_checkpointers(experiment, tmp_path):
    """train.py keeps one checkpointer per stage: save/<stage>/CKPT+*; the last stage wins."""
    folder, modules = experiment
    staged = tmp_path / "staged"
    shutil.copytree(folder, staged)
    shutil.move(str(staged / "save"), str(tmp_path / "joint"))
    (staged / "save").mkdir()
    shutil.move(str(tmp_path / "joint"), str(staged / "save" / "joint"))
    Checkpointer(str(staged / "save" / "backbone"),
                 recoverables={"model": modules[0][0]}).save_checkpoint(meta={"pesq": 9.0})
    target = hub.export(str(staged), str(tmp_path / "hub"), min_key="pesq")
    state = torch.load(os.path.join(target, "enhance_model.ckpt"), weights_only=True)
    expected = modules[0][1].state_dict()  # joint stage, lowest pesq: the first checkpoint
    assert all(torch.equal(state[f"router.{key}"], value) for key, value in expected.items())


def test_export_without_results_names_the_recipes_training_data(experiment, tmp_path):
    """A folder exported before any test evaluation still says what it was trained on."""
    folder, _ = experiment
    staged = tmp_path / "real"
    shutil.copytree(folder, staged)
    (staged / "hyperparams.yaml").write_text("dataset: real\n" + EXPERIMENT_YAML)
    for results, table in ((None, False), ([{"setting": "static UF 0.125", "PESQ": 2.86}], True)):
        target = hub.export(str(staged), str(tmp_path / f"hub{table}"), results=results,
                            max_key="pesq")
        card = open(os.path.join(target, "README.md"), encoding="utf-8").read()
        data = card.split("## Training data")[1].split("##")[0]
        assert "Real recordings" in data and "embedded corpus" not in data
        assert ("| static UF 0.125 | 2.860 |" in card) == table
        assert ("Results will be filled in" in card) != table


def test_export_errors(experiment, tmp_path):
    folder, _ = experiment
    with pytest.raises(FileNotFoundError, match="hyperparams.yaml"):
        hub.export(str(tmp_path), str(tmp_path / "out"))
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "hyperparams.yaml").write_text(EXPERIMENT_YAML.replace("hidden: 8", "hidden: 4"))
    with pytest.raises(RuntimeError, match="does not match the experiment's model"):
        hub.export(str(broken), str(tmp_path / "out"))


def test_publish_dry_run_validates_and_lists(exported, capsys):
    files = hub.publish(exported, "speechbrain-slim/slim-tiny", dry_run=True)
    assert files == sorted([*hub.REQUIRED_FILES, "results.json"])
    out = capsys.readouterr().out
    assert "would upload" in out and "enhance_model.ckpt" in out
    with pytest.raises(ValueError, match="ORG/NAME"):
        hub.publish(exported, "no-slash", dry_run=True)


def test_validation_catches_a_broken_card(exported, tmp_path):
    broken = tmp_path / "card"
    shutil.copytree(exported, broken)
    card = (broken / "README.md").read_text()
    (broken / "README.md").write_text(card.replace("enhance_batch(noisy,", "enhance_btch(noisy,"))
    with pytest.raises(RuntimeError, match="python block 2 fails"):
        hub.validate(str(broken))


def test_from_hparams_through_an_offline_hub_cache(exported, tmp_path):
    """Lays out the HF cache as huggingface_hub does and loads ``ORG/NAME`` offline."""
    cache = tmp_path / "hf" / "hub"
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--speechbrain-slim--slim-tiny"
    shutil.copytree(exported, repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    script = textwrap.dedent(f"""
        import json
        from speechbrain_slim import EnhanceSlim
        enhancer = EnhanceSlim.from_hparams(source="speechbrain-slim/slim-tiny",
                                            savedir={str(tmp_path / "save")!r})
        out = enhancer.enhance_file("speechbrain-slim/slim-tiny/example.wav")
        print(json.dumps({{"shape": list(out.shape), "rate": enhancer.sample_rate}}))
    """)
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(cache),
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rate"] == 16000 and report["shape"][0] == 1 and report["shape"][1] > 16000
    assert os.path.exists(tmp_path / "save" / "enhance_model.ckpt")


def test_card_rewrites_only_the_model_card_with_time_per_uf(exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    weights = (folder / "enhance_model.ckpt").read_bytes()
    (folder / "README.md").write_text("stale card\n")
    assert hub.main(["card", str(folder)]) == 0
    card = (folder / "README.md").read_text()
    assert "stale card" not in card and "| RTF (1 thread) | time ratio |" in card
    assert (folder / "enhance_model.ckpt").read_bytes() == weights
    hub.validate(str(folder), run_snippets=False)


HUB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hub")


@pytest.mark.parametrize("name", sorted(os.listdir(HUB)))
def test_every_committed_hub_folder_loads_strictly_and_enhances_its_example(name):
    """A folder under hub/ is a published model that later runs continue (--init_from):
    its weights must match the shape its hyperparams.yaml declares."""
    files = hub.validate(os.path.join(HUB, name), run_snippets=False)
    assert set(hub.REQUIRED_FILES) <= set(files)
