"""Router calibration: the shift that makes argmax decisions spend the targets' mean UF."""

import pytest
import torch

from speechbrain_slim.calibration import calibrate_router, fold_shift, shift_for_mean_uf
from speechbrain_slim.complexity import macs_per_uf
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.router_targets import RouterTargetLoss
from speechbrain_slim.routing import decide, route
from speechbrain_slim.streaming import StreamingEnhancer

UFS = (0.125, 0.25, 0.5, 1.0)


def mean_uf(logits, shift=0.0):
    return float(decide(logits.unsqueeze(0), UFS, shift=shift)[0].mean())


@pytest.mark.parametrize("wanted", [0.15, 0.25, 0.4])
def test_the_shift_reaches_the_wanted_mean_uf(wanted):
    torch.manual_seed(0)
    logits = torch.randn(5000, 4) + torch.tensor([3.0, 0.0, -1.0, -2.0])  # mostly UF 0.125
    assert mean_uf(logits) < 0.15
    shift = shift_for_mean_uf(logits, UFS, wanted)
    assert mean_uf(logits, shift) == pytest.approx(wanted, abs=0.005)
    assert mean_uf(logits, shift - 0.05) < wanted  # the smallest such shift


def test_larger_wanted_mean_uf_means_larger_shift():
    torch.manual_seed(1)
    logits = torch.randn(2000, 4)
    shifts = [shift_for_mean_uf(logits, UFS, m) for m in (0.2, 0.3, 0.5, 0.7)]
    assert shifts == sorted(shifts) and shifts[0] < shifts[-1]


def test_a_mean_uf_outside_the_ufs_is_an_error():
    with pytest.raises(ValueError, match="outside the UFs"):
        shift_for_mean_uf(torch.zeros(3, 4), UFS, 1.5)


def test_folding_the_shift_equals_deciding_with_it():
    torch.manual_seed(2)
    router = Router(UFS, frame_stride=256, channels=8).eval()
    waveform = torch.randn(2, 256 * 20 + 256)
    before = router(waveform, 20)
    fold_shift(router, 0.7)
    after = router(waveform, 20)
    torch.testing.assert_close(after, before + 0.7 * torch.arange(4.0))
    assert torch.equal(decide(after, UFS)[0], decide(before, UFS, shift=0.7)[0])


def biased_router(model):
    router = Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()
    with torch.no_grad():
        router.classifier.bias.copy_(torch.tensor([6.0, 0.0, 0.0, 0.0]))
    return router


def test_a_calibrated_router_spends_its_targets_mean_uf_offline_and_streaming():
    torch.manual_seed(3)
    model = SlimDemucs(hidden=4, depth=3, normalize="running").eval()
    router = biased_router(model)  # UF 0.125 on every frame
    items = [{"noisy_sig": torch.randn(8000) * 0.1, "clean_sig": torch.randn(8000) * 0.1}
             for _ in range(4)]
    targets = RouterTargetLoss(macs_per_uf(model), price_db=0.5)
    report = calibrate_router(model, router, items, targets)
    assert report["mean_uf_before"] == pytest.approx(0.125)
    assert report["target_mean_uf"] > 0.2  # random weights: larger UFs differ, often win
    fold_shift(router, report["shift"])
    with torch.inference_mode():
        tracks = [route(model, router, item["noisy_sig"].unsqueeze(0))[1]["track"]
                  for item in items]
    spent = float(torch.cat([t.reshape(-1) for t in tracks]).mean())
    assert spent == pytest.approx(report["target_mean_uf"], abs=0.03)
    assert spent == pytest.approx(report["mean_uf_after"], abs=1e-6)
    # the streaming enhancer reads the same (folded) router
    streamer = StreamingEnhancer(model, router, uf="auto")
    noisy = items[0]["noisy_sig"]
    streamed = [streamer.feed(noisy[i : i + 1000]) for i in range(0, 8000, 1000)]
    streamed.append(streamer.flush())
    offline = route(model, router, noisy.unsqueeze(0))[0].reshape(-1)
    torch.testing.assert_close(torch.cat(streamed), offline, atol=1e-5, rtol=1e-4)
