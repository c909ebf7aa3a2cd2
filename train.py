#!/usr/bin/env python3
"""Recipe: train dynamically slimmable DEMUCS with its router, stage by stage.

    python train.py hparams/slim_demucs.yaml                  # all stages, embedded corpus
    python train.py hparams/slim_demucs.yaml --stage=backbone # one stage
    python train.py hparams/slim_demucs.yaml --dataset=voicebank --data_folder=/data/vb
    python train.py hparams/slim_demucs_embedded.yaml --init_from=hub/slim-demucs-embedded
    torchrun --nproc_per_node=2 train.py hparams/slim_demucs.yaml              # GPUs (nccl)
    torchrun --nproc_per_node=2 train.py hparams/slim_demucs.yaml --distributed_backend=gloo  # CPUs

Stages run in the order backbone -> router -> joint -> finetune, each with its own
checkpoints under ``<save_folder>/<stage>/``; a stage starts from the best checkpoint
of the stage before it (the first one from ``init_from``, a hub folder, when given), and
an interrupted run resumes where it stopped. With ``calibrate_router: True`` the best
router's operating point is then calibrated on the valid split
(:mod:`speechbrain_slim.calibration`). After the
last stage the best model is evaluated on the test set (static UFs and routed,
overall and per SNR bucket) and the results are written to the experiment folder.

Authors
 * speechbrain-slim contributors 2026
"""

import json
import logging
import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_slim.brain import JOINT_STAGES, STAGES, SlimBrain, select_key
from speechbrain_slim.data.recipe_data import prepare_datasets

logger = logging.getLogger(__name__)


def trainable(modules, stage, freeze_router=False):
    """Freezes what a stage does not train (the router in joint/finetune too if asked)."""
    train_model = stage == "backbone" or stage in JOINT_STAGES
    train_router = stage == "router" or (stage in JOINT_STAGES and not freeze_router)
    for parameter in modules["model"].parameters():
        parameter.requires_grad_(train_model)
    for parameter in modules["router"].parameters():
        parameter.requires_grad_(train_router)


def stage_checkpointer(hparams, modules, stage, counter=None):
    """The checkpointer of one stage (``<save_folder>/<stage>``)."""
    recoverables = dict(modules)
    if counter is not None:
        recoverables["counter"] = counter
    return Checkpointer(os.path.join(hparams["save_folder"], stage), recoverables=recoverables)


def load_initial_weights(modules, source):
    """Loads a hub folder's ``enhance_model.ckpt`` (``model.*``/``router.*``) strictly."""
    path = os.path.join(source, "enhance_model.ckpt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"init_from: no enhance_model.ckpt in {source}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for name, module in modules.items():
        part = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")}
        if part:
            module.load_state_dict(part)
    logger.info("initialised the modules from %s", path)


def start_from_previous_stage(hparams, modules, stage, checkpointer):
    """A stage without checkpoints starts from the previous stage's best, else ``init_from``."""
    if checkpointer.list_checkpoints():
        return
    index = STAGES.index(stage)
    for previous in reversed(STAGES[:index]):
        earlier = stage_checkpointer(hparams, modules, previous)
        if earlier.list_checkpoints():
            earlier.recover_if_possible(max_key=select_key(hparams))
            return
    if hparams.get("init_from"):
        load_initial_weights(modules, hparams["init_from"])


def run_stage(stage, hparams, run_opts, datasets):
    """Fits one stage (resuming it if it was interrupted)."""
    modules = {"model": hparams["model"], "router": hparams["router"]}
    settings = hparams["stages"][stage]
    counter = EpochCounter(limit=settings["epochs"])
    checkpointer = stage_checkpointer(hparams, modules, stage, counter)
    start_from_previous_stage(hparams, modules, stage, checkpointer)
    trainable(modules, stage, bool(hparams.get("freeze_router", False)))
    learning_rate = settings["lr"]
    brain = SlimBrain(
        modules=modules,
        opt_class=lambda params: hparams["opt_class"](
            [p for p in params if p.requires_grad], lr=learning_rate
        ),
        hparams={**hparams, "stage": stage},
        run_opts=run_opts,
        checkpointer=checkpointer,
    )
    brain.train_set_ref = datasets["train"]
    brain.fit(
        counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_loader_kwargs"],
        valid_loader_kwargs=hparams["valid_loader_kwargs"],
    )
    return brain


def calibrate_best_router(hparams, datasets):
    """Folds the calibrated operating point into the best routed checkpoint, once.

    :mod:`speechbrain_slim.calibration` on the valid split; the shift and the mean UFs
    are kept next to the checkpoint in ``calibration.json`` (which marks it done).
    """
    from speechbrain_slim.brain import ROUTED_STAGES
    from speechbrain_slim.calibration import calibrate_router, fold_shift
    from speechbrain_slim.evaluation import recover_best

    if hparams.get("router_targets") is None:
        return
    stage, checkpoint = recover_best(hparams)
    if stage not in ROUTED_STAGES:
        return
    record = os.path.join(str(checkpoint.path), "calibration.json")
    if os.path.exists(record):
        return
    valid = datasets["valid"]
    items = (valid[index] for index in range(len(valid)))
    report = calibrate_router(hparams["model"], hparams["router"], items, hparams["router_targets"])
    fold_shift(hparams["router"], report["shift"])
    path = os.path.join(str(checkpoint.path), "router.ckpt")
    torch.save(hparams["router"].state_dict(), path + ".tmp")
    os.replace(path + ".tmp", path)
    with open(record, "w", encoding="utf-8") as stream:
        json.dump(report, stream, indent=2)
    logger.info("router operating point calibrated on the valid split: %s", report)
    hparams["train_logger"].log_stats(stats_meta={"stage": stage, "calibration": True},
                                      valid_stats=report)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    torch.set_num_threads(hparams.get("num_threads") or torch.get_num_threads())
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        logger.info("distributed training: world size %d", torch.distributed.get_world_size())
    datasets = prepare_datasets(hparams)

    requested = hparams["stage"]
    stages = STAGES if requested == "all" else [s.strip() for s in requested.split(",")]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}: choose from {list(STAGES)} or 'all'")
    for stage in stages:
        run_stage(stage, hparams, run_opts, datasets)

    if hparams.get("calibrate_router", False):
        run_on_main(calibrate_best_router, kwargs={"hparams": hparams, "datasets": datasets})
    if hparams.get("evaluate_after_training", True):
        from speechbrain_slim.evaluation import evaluate_experiment

        run_on_main(evaluate_experiment, kwargs={"hparams": hparams, "datasets": datasets})


if __name__ == "__main__":
    main()
