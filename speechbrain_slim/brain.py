"""The SpeechBrain ``Brain`` for every training stage of dynamic slimming.

Stages (Miccini et al., WASPAA 2025), each a ``fit`` of its own:

* ``backbone``: SlimDemucs alone; every step trains every UF of ``train_ufs`` on the
  same batch (the task loss averaged over UFs), so one set of weights serves all UFs
  (``train_uf_rule: sandwich``: only the smallest, the largest and one random other UF per
  step, the slimmable networks' "sandwich rule", a quarter cheaper with four UFs;
  ``inplace_distillation``: the narrower widths also imitate the widest one's output),
  plus ``mixed_track_passes`` passes along random per-frame tracks
  (:func:`~speechbrain_slim.routing.random_track`), so that widths can follow each other;
* ``router``: the router alone on the frozen backbone (router pre-training);
* ``joint``: backbone and router together;
* ``finetune``: joint training at a lower learning rate.

In ``joint`` and ``finetune``, hparams ``joint_static_weight`` > 0 adds the backbone
stage's every-UF task loss (times that weight) to the routed loss, so that training
along the router's tracks (mostly the smallest UF) does not unlearn the other widths,
and ``freeze_router: True`` keeps the router as it is: the backbone then trains along
the router's inference decisions (argmax, no Gumbel noise), the tracks users will run,
without the routing losses, which would train nothing.

Routed stages make hard per-frame decisions (Gumbel-softmax, straight-through
gates), so the backbone really runs one width per frame, and add the routing
losses ``beta * L_eff + gamma * L_bal`` (:mod:`speechbrain_slim.routing_losses`) and, when
hparams give ``router_targets``, the router's cross-entropy to per-frame targets
computed from the backbone's output at every UF (:mod:`speechbrain_slim.router_targets`).

Validation scores PESQ-WB and SI-SDR; the checkpoint kept as best is the one with
the highest ``select_key`` (hparams; default ``"pesq"``: validation PESQ of the routed
model, or the mean over static UFs in the backbone stage; ``"si_sdr"`` likewise;
``"epoch"``: the last).

Authors
 * speechbrain-slim contributors 2026
"""

import numpy as np
import speechbrain as sb
import torch

from speechbrain_slim.losses import length_mask
from speechbrain_slim.metrics import pesq_wb, si_sdr
from speechbrain_slim.quality_stats import finite_mean
from speechbrain_slim.routing import random_track, route

__all__ = [
    "SlimBrain", "JOINT_STAGES", "ROUTED_STAGES", "STAGES", "SELECT_KEYS", "select_key", "stage_lr",
    "step_ufs",
]

STAGES = ("backbone", "router", "joint", "finetune")
SELECT_KEYS = ("pesq", "si_sdr", "epoch")
ROUTED_STAGES = ("router", "joint", "finetune")
JOINT_STAGES = ("joint", "finetune")  # backbone and router trained together


def select_key(hparams):
    """Checkpoint meta key that picks a stage's best checkpoint (``hparams["select_key"]``).

    Example
    -------
    >>> select_key({}), select_key({"select_key": "si_sdr"})
    ('pesq', 'si_sdr')
    """
    get = hparams.get if isinstance(hparams, dict) else lambda k, d: getattr(hparams, k, d)
    key = get("select_key", None) or "pesq"
    if key not in SELECT_KEYS:
        raise ValueError(f"select_key must be one of {SELECT_KEYS}, got {key!r}")
    return key


def stage_lr(settings, epoch):
    """Learning rate of a stage's epoch (1-based) from its hparams ``schedule`` entry.

    ``lr`` alone: constant. With ``final_lr``: ``lr`` up to epoch ``decay_from``
    (default 0), then a geometric decay that reaches ``final_lr`` at the last epoch
    (``epochs``). A function of the epoch alone, so a resumed or extended run
    continues the same schedule.

    Example
    -------
    >>> settings = {"epochs": 4, "lr": 1e-3, "final_lr": 1e-4, "decay_from": 2}
    >>> [round(stage_lr(settings, epoch), 6) for epoch in (1, 2, 3, 4)]
    [0.001, 0.001, 0.000316, 0.0001]
    >>> stage_lr({"epochs": 4, "lr": 1e-3}, 3)
    0.001
    """
    lr, final = float(settings["lr"]), settings.get("final_lr")
    if final is None:
        return lr
    start, end = int(settings.get("decay_from", 0)), int(settings["epochs"])
    if final <= 0 or end <= start:
        raise ValueError(
            f"final_lr must be > 0 and decay_from < epochs, got {settings}"
        )
    progress = min(max((epoch - start) / (end - start), 0.0), 1.0)
    return lr * (float(final) / lr) ** progress


def step_ufs(ufs, rule="all"):
    """The UFs one backbone training step trains: all, or the sandwich rule's three.

    Example
    -------
    >>> step_ufs([0.125, 0.25, 0.5, 1.0])
    [0.125, 0.25, 0.5, 1.0]
    >>> picked = step_ufs([0.125, 0.25, 0.5, 1.0], "sandwich")
    >>> picked[0], picked[-1], len(picked), picked[1] in (0.25, 0.5)
    (0.125, 1.0, 3, True)
    """
    ufs = sorted(ufs)
    if rule == "all" or len(ufs) <= 3:
        return ufs
    if rule != "sandwich":
        raise ValueError(f"train_uf_rule must be 'all' or 'sandwich', got {rule!r}")
    middle = ufs[1 + int(torch.randint(len(ufs) - 2, ()))]
    return [ufs[0], middle, ufs[-1]]


def unwrap(module):
    """The module inside a DDP/DP wrapper (or the module itself)."""
    return getattr(module, "module", module)


class SlimBrain(sb.Brain):
    """Trains SlimDemucs and its router; ``hparams.stage`` says which stage runs.

    Expects in ``hparams``: ``stage``, ``train_ufs``, ``task_loss``, ``routing_loss``,
    optionally ``augment`` (a :class:`~speechbrain_slim.data.augment.DemucsAugment`),
    ``router_targets`` (a :class:`~speechbrain_slim.router_targets.RouterTargetLoss`)
    and ``valid_ufs`` (static UFs scored in the backbone stage's validation); in
    ``modules``: ``model`` and ``router``.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> from speechbrain_slim.lobes.router import Router
    >>> from speechbrain_slim.losses import EnhancementLoss
    >>> from speechbrain_slim.routing_losses import RoutingLoss
    >>> model = SlimDemucs(hidden=4, depth=2, normalize="running")
    >>> router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    >>> brain = SlimBrain(
    ...     modules={"model": model, "router": router},
    ...     opt_class=lambda params: torch.optim.Adam(params, 1e-3),
    ...     hparams={"stage": "joint", "train_ufs": model.ufs, "task_loss": EnhancementLoss(),
    ...              "routing_loss": RoutingLoss(model.ufs, target_uf=0.1)},
    ...     run_opts={"device": "cpu"},
    ... )
    >>> brain.stage_name
    'joint'
    """

    @property
    def stage_name(self):
        """The training stage this Brain runs."""
        return self.hparams.stage

    @property
    def routed(self):
        """Whether the router decides the UFs in this stage."""
        return self.stage_name in ROUTED_STAGES

    def compute_forward(self, batch, stage):
        """Enhances the batch at every training UF (backbone) or along the router's track."""
        batch = batch.to(self.device)
        noisy, lengths = batch.noisy_sig
        clean, _ = batch.clean_sig
        augment = getattr(self.hparams, "augment", None)
        if stage == sb.Stage.TRAIN and augment is not None:
            noisy, clean = augment(noisy, clean)
        backbone = unwrap(self.modules.model)
        if self.routed:
            enhanced, info = route(
                self.modules.model,
                self.modules.router,
                noisy,
                "auto",
                training=stage == sb.Stage.TRAIN and not self.router_frozen,
            )
            predictions = {"clean": clean, "lengths": lengths, "routed": (enhanced, info)}
            ufs = backbone.ufs
            targets = None if self.router_frozen else self._router_targets()
            if stage == sb.Stage.TRAIN and self._static_weight() > 0:
                predictions["static"] = {uf: self.modules.model(noisy, uf)[0] for uf in ufs}
                if targets is not None:
                    predictions["per_uf"] = [out.detach() for out in predictions["static"].values()]
            elif stage == sb.Stage.TRAIN and targets is not None:
                with torch.no_grad():
                    predictions["per_uf"] = [backbone(noisy, uf)[0] for uf in ufs]
            return predictions
        if stage == sb.Stage.TRAIN:
            ufs = step_ufs(self.hparams.train_ufs, getattr(self.hparams, "train_uf_rule", "all"))
        else:
            ufs = self._valid_ufs()
        static = {uf: self.modules.model(noisy, uf)[0] for uf in ufs}
        predictions = {"clean": clean, "lengths": lengths, "static": static}
        passes = int(getattr(self.hparams, "mixed_track_passes", 0) or 0)
        if stage == sb.Stage.TRAIN and passes > 0:
            frames = backbone.bottleneck_frames(noisy.shape[-1])
            mean_run = getattr(self.hparams, "mixed_track_mean_run", 8.0)
            predictions["mixed"] = [
                self.modules.model(noisy, random_track(noisy.shape[0], frames, backbone.ufs,
                                                       mean_run).to(noisy.device))[0]
                for _ in range(passes)
            ]
        return predictions

    @property
    def router_frozen(self):
        """Whether this joint/finetune stage keeps the router fixed (hparams ``freeze_router``)."""
        return self.stage_name in JOINT_STAGES and bool(
            getattr(self.hparams, "freeze_router", False))

    def _router_targets(self):
        """The per-frame target loss of the routed stages (hparams ``router_targets``), if any."""
        targets = getattr(self.hparams, "router_targets", None)
        return targets if targets is not None and targets.weight > 0 else None

    def _static_weight(self):
        """Weight of the every-UF task loss in the stages that train backbone and router."""
        if self.stage_name not in JOINT_STAGES:
            return 0.0
        return float(getattr(self.hparams, "joint_static_weight", 0.0) or 0.0)

    def _valid_ufs(self):
        return getattr(self.hparams, "valid_ufs", None) or self.hparams.train_ufs

    def compute_objectives(self, predictions, batch, stage):
        """Task loss (+ routing losses in routed stages); validation metrics outside training."""
        clean, lengths = predictions["clean"], predictions["lengths"]
        task_loss = self.hparams.task_loss
        if self.routed:
            enhanced, info = predictions["routed"]
            loss = task_loss(enhanced, clean, lengths)
            mask = length_mask(lengths, info["probs"].shape[1], device=enhanced.device)
            routing, parts = self.hparams.routing_loss(info["probs"], mask)
            if not self.router_frozen:
                loss = loss + routing
            if "per_uf" in predictions:
                imitation, target_parts = self._router_targets()(
                    info["logits"], predictions["per_uf"], clean,
                    unwrap(self.modules.model).total_stride, lengths,
                )
                loss = loss + imitation
                target_ufs = torch.as_tensor(unwrap(self.modules.model).ufs)
                self.routing_stats["target_uf"].append(
                    float(target_ufs[target_parts["target_index"].cpu()].mean())
                )
                self.routing_stats["agreement"].append(float(target_parts["agreement"]))
            if "static" in predictions:
                static = [task_loss(out, clean, lengths) for out in predictions["static"].values()]
                loss = loss + self._static_weight() * torch.stack(static).mean()
            self.routing_stats["mean_uf"].append(float(info["mean_uf"].mean()))
            self.routing_stats["efficiency"].append(float(parts["efficiency"].detach()))
            self.routing_stats["balance"].append(float(parts["balance"].detach()))
            outputs = {"routed": enhanced}
        else:
            loss = self._backbone_loss(predictions, clean, lengths, stage)
            outputs = predictions["static"]
        if stage != sb.Stage.TRAIN:
            self._score(outputs, clean, lengths, batch.id)
        return loss

    def _backbone_loss(self, predictions, clean, lengths, stage):
        """Mean task loss over the static (and mixed-track) passes of a backbone step.

        With hparams ``inplace_distillation`` = w > 0 (training only), every pass narrower
        than the widest static one learns ``(1 - w) * loss(out, clean) + w * loss(out,
        widest.detach())``: in-place distillation, the narrow widths imitate the full model.
        """
        task_loss = self.hparams.task_loss
        static = predictions["static"]
        widest = max(static)
        trained = [*static.values(), *predictions.get("mixed", [])]
        weight = float(getattr(self.hparams, "inplace_distillation", 0.0) or 0.0)
        if stage != sb.Stage.TRAIN or weight <= 0:
            return torch.stack([task_loss(out, clean, lengths) for out in trained]).mean()
        teacher = static[widest].detach()
        losses = [task_loss(static[widest], clean, lengths)]
        for out in trained:
            if out is static[widest]:
                continue
            losses.append((1 - weight) * task_loss(out, clean, lengths)
                          + weight * task_loss(out, teacher, lengths))
        return torch.stack(losses).mean()

    def _score(self, outputs, clean, lengths, ids):
        """Per-utterance PESQ-WB and SI-SDR of each output (valid/test)."""
        for name, enhanced in outputs.items():
            pesq = pesq_wb(clean.detach().cpu(), enhanced.detach().cpu(), lengths=lengths.cpu())
            sdr = si_sdr(enhanced.detach(), clean, lengths=lengths)
            self.scores.setdefault(name, {"pesq": [], "si_sdr": []})
            self.scores[name]["pesq"].extend(np.atleast_1d(pesq).tolist())
            self.scores[name]["si_sdr"].extend(sdr.cpu().reshape(-1).tolist())

    def on_stage_start(self, stage, epoch=None):
        """Resets the statistics; a new epoch draws new on-the-fly mixtures."""
        self.scores = {}
        self.routing_stats = {
            "mean_uf": [], "efficiency": [], "balance": [], "target_uf": [], "agreement": []
        }
        settings = (getattr(self.hparams, "schedule", None) or {}).get(self.stage_name)
        if stage == sb.Stage.TRAIN and settings and getattr(self, "optimizer", None) is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = stage_lr(settings, epoch or 1)
        if stage == sb.Stage.TRAIN and hasattr(self, "train_set_ref"):
            set_epoch = getattr(self.train_set_ref, "set_epoch", None)
            if set_epoch is not None:
                set_epoch(epoch or 0)

    def summary(self):
        """Mean validation metrics: ``pesq`` is the routed model's, or the mean over UFs."""
        stats, failures = {}, {}
        for name, values in self.scores.items():
            label = name if name == "routed" else f"uf{name:g}"
            for metric in ("pesq", "si_sdr"):
                stats[f"{metric}_{label}"], failed = finite_mean(values[metric])
                if failed:  # items the metric could not score (left out of its mean)
                    failures[f"{metric}_failed_{label}"] = failed
        for metric in ("pesq", "si_sdr"):
            values = [v for k, v in stats.items() if k.startswith(f"{metric}_")]
            mean = float(np.mean(values)) if values else float("nan")
            stats[metric] = stats.get(f"{metric}_routed", mean)
        stats.update(failures)
        for key, values in self.routing_stats.items():
            if values:
                stats[key] = float(np.mean(values))
        return stats

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch and keeps the best checkpoint by validation PESQ."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            if getattr(self, "optimizer", None) is not None:
                self.train_stats["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.routed:
                for key in ("mean_uf", "target_uf", "agreement"):
                    if self.routing_stats[key]:
                        self.train_stats[key] = float(np.mean(self.routing_stats[key]))
            return
        stats = {"loss": stage_loss, **self.summary()}
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={"stage": self.stage_name, "epoch": epoch},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            if self.checkpointer is not None:
                key = select_key(self.hparams)
                self.checkpointer.save_and_keep_only(
                    meta={"pesq": stats["pesq"], "si_sdr": stats["si_sdr"], "epoch": epoch},
                    max_keys=[key],
                )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"stage": self.stage_name, "test": True}, test_stats=stats
            )
        self.last_stats = stats
