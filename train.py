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
an interrupted run resumes where it stopped: besides the checkpoint of every epoch, one
is saved every ``ckpt_interval_minutes`` (SpeechBrain's run option; default here
:data:`DEFAULT_CKPT_INTERVAL_MINUTES`) and on SIGTERM/SIGINT (after the current step;
a second signal stops at once), so a kill loses minutes, not an epoch. The console
names each stage and its epochs as it starts. ``--num_threads=N`` sets torch's threads
(default: torch's choice). With ``calibrate_router: True`` the best
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
import re
import signal
import sys
import threading

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_slim.brain import JOINT_STAGES, STAGES, SlimBrain, select_key
from speechbrain_slim.data.recipe_data import prepare_datasets

logger = logging.getLogger(__name__)

DEFAULT_CKPT_INTERVAL_MINUTES = 10.0


class GracefulStop:
    """SIGTERM/SIGINT while a stage trains: checkpoint after the current step, then exit.

    Attached to a stage's Brain, a signal makes SpeechBrain save its intra-epoch
    checkpoint at the end of the running step (or the epoch's, at the end of a
    validation) and the process exit with status ``128 + signal``; rerunning the same
    command resumes there. A second signal, or one outside training, stops at once.

    Example
    -------
    >>> stop = GracefulStop()
    >>> stop.signum is None and stop.brain is None
    True
    """

    def __init__(self):
        self.brain, self.signum = None, None

    def install(self):
        """Handles SIGTERM and SIGINT from now on (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self.handle)

    def handle(self, signum, frame):
        """The signal handler."""
        name = signal.Signals(signum).name
        if self.brain is None or self.signum is not None:
            logger.warning("%s: stopping now, without a checkpoint", name)
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        self.signum = signum
        self.brain.ckpt_interval_steps = 1  # SpeechBrain saves after the running step
        logger.warning("%s: saving a checkpoint after the current step, then stopping "
                       "(send it again to stop at once)", name)

    def attach(self, brain, stage):
        """Watches ``brain`` (one stage's) until :meth:`detach`."""
        self.exit_if_stopped(stage)
        self.brain = brain
        save, stage_end = brain._save_intra_epoch_ckpt, brain.on_stage_end

        def save_then_stop():
            save()
            self.exit_if_stopped(stage, brain)

        def stage_end_then_stop(stage_kind, *args, **kwargs):
            stage_end(stage_kind, *args, **kwargs)
            if stage_kind == sb.Stage.VALID:  # the epoch's checkpoint is saved
                self.exit_if_stopped(stage, brain)

        brain._save_intra_epoch_ckpt = save_then_stop
        brain.on_stage_end = stage_end_then_stop

    def detach(self):
        """Back to stopping at once."""
        self.brain = None

    def exit_if_stopped(self, stage, brain=None):
        """Exits (``128 + signal``) when a signal came; names where training resumes."""
        if self.signum is None:
            return
        where = brain.checkpointer.checkpoints_dir if brain is not None else "its folder"
        logger.warning("stage %s stopped by %s; checkpoint saved in %s: run the same command "
                       "to resume", stage, signal.Signals(self.signum).name, where)
        raise SystemExit(128 + self.signum)


STOP = GracefulStop()


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
    settings = hparams["schedule"][stage]
    counter = EpochCounter(limit=settings["epochs"])
    checkpointer = stage_checkpointer(hparams, modules, stage, counter)
    resuming = bool(checkpointer.list_checkpoints())
    logger.info("stage %s: %d epoch(s) at lr %g, checkpoints in %s%s", stage, settings["epochs"],
                settings["lr"], checkpointer.checkpoints_dir,
                " (resuming from its last checkpoint)" if resuming else "")
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
    STOP.attach(brain, stage)
    try:
        brain.fit(
            counter,
            datasets["train"],
            datasets["valid"],
            train_loader_kwargs=hparams["train_loader_kwargs"],
            valid_loader_kwargs=hparams["valid_loader_kwargs"],
        )
    finally:
        STOP.detach()
    return brain


def default_checkpoint_interval(run_opts, hparams):
    """Intra-epoch checkpoints every :data:`DEFAULT_CKPT_INTERVAL_MINUTES` unless the command
    line or the hparams choose ``ckpt_interval_minutes`` / ``ckpt_interval_steps``."""
    names = ("ckpt_interval_minutes", "ckpt_interval_steps")
    given = getattr(run_opts, "overridden_args", run_opts)
    if not any(name in given or name in hparams for name in names):
        hparams["ckpt_interval_minutes"] = DEFAULT_CKPT_INTERVAL_MINUTES  # Brain reads hparams


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
        text = stream.read()
    if any(re.search(r"^stages:", part or "", re.MULTILINE) for part in (text, overrides)):
        sys.exit("train.py: error: the per-stage epochs and learning rates are now `schedule` "
                 "(hparams key and --schedule=...), not `stages`")
    hparams = load_hyperpyyaml(text, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    torch.set_num_threads(hparams.get("num_threads") or torch.get_num_threads())
    logger.info("torch threads: %d (--num_threads=N to change)", torch.get_num_threads())
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        logger.info("distributed training: world size %d", torch.distributed.get_world_size())
    requested = hparams["stage"]
    stages = STAGES if requested == "all" else [s.strip() for s in requested.split(",")]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}: choose from {list(STAGES)} or 'all'")
    default_checkpoint_interval(run_opts, hparams)
    try:
        datasets = prepare_datasets(hparams)
    except (ValueError, FileNotFoundError) as error:  # the data, not the code: one message
        logger.debug("data preparation failed", exc_info=True)
        sys.exit(f"train.py: error: dataset {hparams['dataset']!r} (--dataset), data_folder "
                 f"{hparams.get('data_folder')} (--data_folder): {error}")

    logger.info("stages to run: %s", ", ".join(
        f"{stage} ({hparams['schedule'][stage]['epochs']} epoch(s))" for stage in stages))
    STOP.install()
    for stage in stages:
        run_stage(stage, hparams, run_opts, datasets)

    if hparams.get("calibrate_router", False):
        run_on_main(calibrate_best_router, kwargs={"hparams": hparams, "datasets": datasets})
    if hparams.get("evaluate_after_training", True):
        from speechbrain_slim.evaluation import evaluate_experiment

        run_on_main(evaluate_experiment, kwargs={"hparams": hparams, "datasets": datasets})


if __name__ == "__main__":
    main()
