"""The training recipe end to end: all stages, resuming, and DDP with 2 processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_EPOCH = (
    "{backbone: {epochs: 1, lr: 0.001}, router: {epochs: 1, lr: 0.001}, "
    "joint: {epochs: 1, lr: 0.001}, finetune: {epochs: 1, lr: 0.001}}"
)
SMALL = [
    "--epoch_size=4",
    "--batch_size=2",
    "--segment_seconds=1.0",
    "--n_valid=2",
    "--n_test_per_snr=1",
    "--eval_limit=2",
    "--eval_routed_modes=[auto]",
]


def run_recipe(folder, *extra, processes=1):
    """Runs train.py with the tiny hparams in a subprocess; returns its output."""
    args = ["hparams/slim_demucs_tiny.yaml", f"--output_folder={folder}", *SMALL, *extra]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                   str(processes), "train.py", *args, "--distributed_backend=gloo"]
    else:
        command = [sys.executable, "train.py", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def test_all_stages_train_checkpoint_and_evaluate(tmp_path):
    run_recipe(tmp_path, f"--schedule={ONE_EPOCH}")
    for stage in ("backbone", "router", "joint", "finetune"):
        assert any((tmp_path / "save" / stage).glob("CKPT+*")), stage
    log = (tmp_path / "train_log.txt").read_text()
    for stage in ("backbone", "router", "joint", "finetune"):
        assert f"stage: {stage}, epoch: 1" in log
    for stage in ("router", "joint", "finetune"):  # the router learned per-frame targets
        line = next(row for row in log.splitlines() if row.startswith(f"stage: {stage}"))
        assert "train target_uf" in line and "train agreement" in line
    # the best finetune router was calibrated on the valid split, the shift folded into it
    records = list((tmp_path / "save" / "finetune").glob("CKPT+*/calibration.json"))
    assert len(records) == 1
    report = json.loads(records[0].read_text())
    assert report["mean_uf_after"] == pytest.approx(report["target_mean_uf"], abs=0.2)
    assert "calibration: True" in log
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["stage"] == "finetune"
    assert set(results["modes"]) == {"0.125", "0.25", "0.5", "1.0", "auto"}
    macs = [results["modes"][m]["macs_per_sample"] for m in ("0.125", "0.25", "0.5", "1.0")]
    assert macs == sorted(macs)
    gain = results["gain_over_noisy"]["auto"]["si_sdr"]
    assert gain["ci95"][0] <= gain["mean"] <= gain["ci95"][1]
    assert (tmp_path / "results.md").read_text().startswith("| input |")
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_an_interrupted_stage_resumes_where_it_stopped(tmp_path):
    first = "{backbone: {epochs: 1, lr: 0.001}}"
    run_recipe(tmp_path, "--stage=backbone", f"--schedule={first}",
               "--evaluate_after_training=False")
    # extended with a learning-rate decay over the new epochs (the checkpoint's lr is replaced)
    longer = "{backbone: {epochs: 2, lr: 0.001, final_lr: 0.0001, decay_from: 1}}"
    output = run_recipe(
        tmp_path, "--stage=backbone", f"--schedule={longer}", "--evaluate_after_training=False"
    )
    assert "Going into epoch 2" in output and "Going into epoch 1" not in output
    log = (tmp_path / "train_log.txt").read_text()
    assert "stage: backbone, epoch: 1 - train loss" in log
    assert "stage: backbone, epoch: 2 - train loss" in log
    assert "train lr: 1.00e-03" in log
    epoch_two = next(row for row in log.splitlines() if "epoch: 2 -" in row)
    assert "train lr: 1.00e-04" in epoch_two


@pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP test runs on Linux")
def test_ddp_with_two_processes(tmp_path):
    schedule = "{backbone: {epochs: 1, lr: 0.001}, joint: {epochs: 1, lr: 0.001}}"
    output = run_recipe(
        tmp_path, "--stage=backbone,joint", f"--schedule={schedule}",
        "--evaluate_after_training=False",
        processes=2,
    )
    assert "world size 2" in output
    assert any((tmp_path / "save" / "joint").glob("CKPT+*"))


def test_voicebank_dataset_option(tmp_path):
    """``--dataset=voicebank --data_folder=...`` prepares and trains on the DataShare layout."""
    from test_data_prepare import _fake_voicebank

    data = tmp_path / "vb"
    _fake_voicebank(str(data))
    schedule = "{backbone: {epochs: 1, lr: 0.001}}"
    run_recipe(
        tmp_path / "exp", "--dataset=voicebank", f"--data_folder={data}", "--stage=backbone",
        f"--schedule={schedule}",
    )
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert results["stage"] == "backbone" and results["noisy"]["count"] == 2
    assert (tmp_path / "exp" / "manifests" / "train.json").is_file()


def test_training_can_start_from_a_hub_folder(tmp_path):
    """``--init_from=<hub folder>`` starts the first stage from its weights; the hub
    folder's router is kept by a backbone run, and evaluated with it."""
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_slim.hub import write_hub_folder

    hparams = load_hyperpyyaml((ROOT / "hparams" / "slim_demucs_tiny.yaml").read_text())
    model, router = hparams["model"], hparams["router"]
    with torch.no_grad():
        for parameter in router.parameters():
            parameter.fill_(0.25)  # the backbone stage leaves the router untouched
    folder = write_hub_folder(model, router, str(tmp_path / "hub"))
    schedule = "{backbone: {epochs: 1, lr: 0.001}}"
    output = run_recipe(
        tmp_path / "exp", f"--init_from={folder}", "--stage=backbone", f"--schedule={schedule}",
    )
    assert "initialised the modules from" in output
    checkpoint = next((tmp_path / "exp" / "save" / "backbone").glob("CKPT+*"))
    saved = torch.load(checkpoint / "router.ckpt", weights_only=True)
    assert all(torch.all(value == 0.25) for value in saved.values())
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert results["stage"] == "backbone" and "auto" in results["modes"]


def test_select_key_is_checked():
    from speechbrain_slim.brain import select_key

    assert select_key({"select_key": "epoch"}) == "epoch"
    with pytest.raises(ValueError, match="select_key"):
        select_key({"select_key": "stoi"})


def test_finetune_with_a_frozen_router_keeps_it(tmp_path):
    import torch

    schedule = "{backbone: {epochs: 1, lr: 0.001}, finetune: {epochs: 1, lr: 0.001}}"
    run_recipe(tmp_path, "--stage=backbone,finetune", f"--schedule={schedule}",
               "--freeze_router=True", "--calibrate_router=False")
    saved = {}
    for stage in ("backbone", "finetune"):
        checkpoint = next((tmp_path / "save" / stage).glob("CKPT+*"))
        saved[stage] = {name: torch.load(checkpoint / f"{name}.ckpt", weights_only=True)
                        for name in ("model", "router")}
    assert all(torch.equal(value, saved["finetune"]["router"][key])
               for key, value in saved["backbone"]["router"].items())
    assert any(not torch.equal(value, saved["finetune"]["model"][key])
               for key, value in saved["backbone"]["model"].items())


@pytest.mark.skipif(sys.platform != "linux", reason="signals as on Linux")
def test_sigterm_saves_a_checkpoint_mid_epoch_and_names_the_stage(tmp_path):
    """A kill loses the running step, not the epoch: SIGTERM saves an intra-epoch checkpoint
    (with the data loader's position) and exits 143; the console named the stage first."""
    import signal
    import time

    small = [arg for arg in SMALL if not arg.startswith("--epoch_size")]
    args = ["hparams/slim_demucs_tiny.yaml", f"--output_folder={tmp_path}", *small,
            "--epoch_size=4000", "--stage=backbone",
            "--schedule={backbone: {epochs: 3, lr: 0.001}}",
            "--evaluate_after_training=False"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    process = subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "log.txt"
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None:
            if log.exists() and "stage backbone: 3 epoch(s)" in log.read_text():
                break
            time.sleep(0.5)
        time.sleep(8.0)  # a few training steps
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, output[-4000:]
    assert "stages to run: backbone (3 epoch(s))" in output
    assert "stage backbone: 3 epoch(s) at lr 0.001" in output
    assert "SIGTERM: saving a checkpoint after the current step" in output
    assert "stage backbone stopped by SIGTERM; checkpoint saved in" in output
    checkpoints = list((tmp_path / "save" / "backbone").glob("CKPT+*"))
    assert len(checkpoints) == 1
    meta = (checkpoints[0] / "CKPT.yaml").read_text()
    assert "brain_intra_epoch_ckpt: true" in meta
    position = (checkpoints[0] / "dataloader-TRAIN.ckpt").read_text()
    assert int(position) > 0  # the rerun skips the batches already done
    assert (checkpoints[0] / "counter.ckpt").read_text().strip() == "1"


def test_a_missing_voicebank_folder_is_one_clear_message(tmp_path):
    """Through train.py: no traceback, the folder, and options train.py users really have."""
    command = [sys.executable, "train.py", "hparams/slim_demucs_tiny.yaml",
               f"--output_folder={tmp_path / 'exp'}", "--dataset=voicebank",
               f"--data_folder={tmp_path / 'vb'}", *SMALL]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    assert f"dataset 'voicebank' (--dataset), data_folder {tmp_path / 'vb'}" in output
    assert "folders missing" in output and str(tmp_path / "vb" / "noisy_trainset_28spk_wav") \
        in output
    assert "python -m speechbrain_slim.data.voicebank" in output and "--download" in output


def test_the_old_stages_key_is_one_clear_message(tmp_path):
    """`stages` was renamed `schedule` (it clashed with `stage`): an old command line says so."""
    command = [sys.executable, "train.py", "hparams/slim_demucs_tiny.yaml",
               f"--output_folder={tmp_path}", "--stages={backbone: {epochs: 1, lr: 0.001}}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    assert "now `schedule`" in result.stderr and "Traceback" not in result.stderr
