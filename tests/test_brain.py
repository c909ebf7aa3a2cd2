"""SlimBrain's losses per stage: what each stage trains."""

import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch

from speechbrain_slim.brain import SlimBrain
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.losses import EnhancementLoss
from speechbrain_slim.routing_losses import RoutingLoss


def backbone_elements_with_gradient(joint_static_weight):
    torch.manual_seed(0)
    model = SlimDemucs(hidden=16, depth=2, normalize="running", residual=True)
    router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    with torch.no_grad():  # the router picks UF 0.125 on every frame, even when sampling
        router.classifier.bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
    brain = SlimBrain(
        modules={"model": model, "router": router},
        hparams={"stage": "joint", "train_ufs": model.ufs, "task_loss": EnhancementLoss(),
                 "routing_loss": RoutingLoss(model.ufs, target_uf=0.1),
                 "joint_static_weight": joint_static_weight},
        run_opts={"device": "cpu"},
    )
    batch = PaddedBatch([{"id": f"u{i}", "noisy_sig": torch.randn(4000),
                          "clean_sig": torch.randn(4000)} for i in range(2)])
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    predictions = brain.compute_forward(batch, sb.Stage.TRAIN)
    assert bool((predictions["routed"][1]["track"] == 0.125).all())
    brain.compute_objectives(predictions, batch, sb.Stage.TRAIN).backward()
    return sum(int((p.grad != 0).sum()) for p in model.parameters() if p.grad is not None)


def test_joint_static_loss_keeps_training_the_widths_the_router_does_not_pick():
    routed_only = backbone_elements_with_gradient(0.0)
    with_static = backbone_elements_with_gradient(1.0)
    assert routed_only > 0
    assert with_static > 1.4 * routed_only  # the widths above UF 0.125 learn too


def small_brain(stage, **hparams):
    """A SlimBrain on a hidden=8 residual model and a 4-channel router (seeded)."""
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=2, normalize="running", residual=True)
    router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    task_loss = EnhancementLoss()
    hparams = {"stage": stage, "train_ufs": model.ufs, "task_loss": task_loss,
               "routing_loss": RoutingLoss(model.ufs, target_uf=0.1), **hparams}
    brain = SlimBrain(modules={"model": model, "router": router}, hparams=hparams,
                      run_opts={"device": "cpu"})
    return brain, model, router, task_loss


def test_the_backbone_stage_also_trains_along_random_tracks():
    brain, model, router, task_loss = small_brain("backbone", mixed_track_passes=2)
    batch = PaddedBatch([{"id": f"u{i}", "noisy_sig": torch.randn(4000),
                          "clean_sig": torch.randn(4000)} for i in range(2)])
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    predictions = brain.compute_forward(batch, sb.Stage.TRAIN)
    assert len(predictions["mixed"]) == 2
    clean, lengths = batch.clean_sig
    outputs = [*predictions["static"].values(), *predictions["mixed"]]
    expected = torch.stack([task_loss(out, clean, lengths) for out in outputs]).mean()
    loss = brain.compute_objectives(predictions, batch, sb.Stage.TRAIN)
    torch.testing.assert_close(loss, expected)
    # a mixed pass differs from every static one: it really ran several widths
    for mixed in predictions["mixed"]:
        assert all(not torch.allclose(mixed, out) for out in predictions["static"].values())
    brain.on_stage_start(sb.Stage.VALID, 1)
    assert "mixed" not in brain.compute_forward(batch, sb.Stage.VALID)


def test_a_frozen_router_gives_the_backbone_its_inference_tracks():
    from speechbrain_slim.routing import route

    brain, model, router, task_loss = small_brain(
        "finetune", routing_loss=RoutingLoss((0.125, 0.25, 0.5, 1.0), target_uf=0.1, beta=100.0),
        freeze_router=True)
    assert brain.router_frozen
    batch = PaddedBatch([{"id": f"u{i}", "noisy_sig": torch.randn(8000),
                          "clean_sig": torch.randn(8000)} for i in range(2)])
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    tracks = []
    for _ in range(2):  # no Gumbel noise: the same decisions every time, the argmax ones
        predictions = brain.compute_forward(batch, sb.Stage.TRAIN)
        tracks.append(predictions["routed"][1]["track"])
    with torch.no_grad():
        _, inference = route(model.eval(), router.eval(), batch.noisy_sig[0], "auto")
    assert torch.equal(tracks[0], tracks[1]) and torch.equal(tracks[0], inference["track"])
    assert len(set(inference["track"].unique().tolist())) > 1  # a real mix of widths
    # the loss is the task loss alone: the (huge) routing loss would train nothing
    clean, lengths = batch.clean_sig
    loss = brain.compute_objectives(predictions, batch, sb.Stage.TRAIN)
    torch.testing.assert_close(loss, task_loss(predictions["routed"][0], clean, lengths))


def test_sandwich_rule_trains_smallest_largest_and_one_other():
    brain, model, _, _ = small_brain("backbone", train_uf_rule="sandwich")
    batch = PaddedBatch([{"id": "u", "noisy_sig": torch.randn(4000),
                          "clean_sig": torch.randn(4000)}])
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    seen = set()
    for _ in range(12):
        ufs = sorted(brain.compute_forward(batch, sb.Stage.TRAIN)["static"])
        assert len(ufs) == 3 and ufs[0] == 0.125 and ufs[-1] == 1.0
        seen.add(ufs[1])
    assert seen == {0.25, 0.5}
    assert sorted(brain.compute_forward(batch, sb.Stage.VALID)["static"]) == list(model.ufs)


def test_inplace_distillation_teaches_the_narrow_widths_the_widest_output():
    brain, _, _, task_loss = small_brain("backbone", inplace_distillation=1.0)
    clean, lengths = torch.randn(2, 4000), torch.ones(2)
    wide = torch.randn(2, 4000, requires_grad=True)
    narrow = torch.randn(2, 4000, requires_grad=True)
    predictions = {"static": {0.125: narrow, 1.0: wide}}
    loss = brain._backbone_loss(predictions, clean, lengths, sb.Stage.TRAIN)
    expected = (task_loss(wide, clean, lengths) + task_loss(narrow, wide.detach(), lengths)) / 2
    assert torch.allclose(loss, expected)
    loss.backward()  # the teacher gets gradient only from its own loss on the clean target
    wide_alone = torch.autograd.grad(task_loss(wide, clean, lengths) / 2, wide)[0]
    assert torch.allclose(wide.grad, wide_alone)
    plain = brain._backbone_loss(predictions, clean, lengths, sb.Stage.VALID)
    assert torch.allclose(plain, (task_loss(wide, clean, lengths)
                                  + task_loss(narrow, clean, lengths)) / 2)
