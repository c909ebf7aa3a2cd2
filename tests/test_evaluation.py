"""evaluation: the paired interval that says whether a gain over the noisy input is real, and
the clean-input pass that says what the routed model does to noise-free speech."""

import numpy as np
import torch

from speechbrain_slim.evaluation import evaluate, format_results, paired_gain, score_signal
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.routing import route


def rows(values):
    return [{"pesq": float(v)} for v in values]


def test_a_consistent_gain_excludes_zero_and_noise_does_not():
    rng = np.random.default_rng(0)
    noisy = rng.uniform(1.0, 2.0, size=200)
    consistent = paired_gain(rows(noisy + 0.05 + 0.02 * rng.standard_normal(200)), rows(noisy),
                             "pesq")
    assert 0.04 < consistent["mean"] < 0.06
    assert consistent["ci95"][0] > 0
    zero_mean = paired_gain(rows(noisy + 0.2 * rng.standard_normal(200)), rows(noisy), "pesq")
    assert zero_mean["ci95"][0] < 0 < zero_mean["ci95"][1]
    # the interval narrows with more items and is reproducible
    fewer = paired_gain(rows(noisy[:20] + 0.2 * rng.standard_normal(20)), rows(noisy[:20]),
                        "pesq")
    width = np.diff(zero_mean["ci95"])[0]
    assert np.diff(fewer["ci95"])[0] > 2 * width
    assert paired_gain(rows(noisy + 0.1), rows(noisy), "pesq", seed=3) == paired_gain(
        rows(noisy + 0.1), rows(noisy), "pesq", seed=3)


def test_nan_items_are_left_out_and_the_table_shows_the_interval():
    gain = paired_gain(rows([1.5, float("nan"), 1.7]), rows([1.0, 1.0, 1.0]), "pesq")
    assert gain["mean"] == 0.6
    results = {
        "noisy": {"pesq": 1.0, "stoi": 0.8, "si_sdr": 5.0},
        "modes": {"auto": {"pesq": 1.1, "stoi": 0.81, "si_sdr": 6.0, "mean_uf": 0.2,
                           "macs_per_sample": 3000.0}},
        "by_snr": {},
        "gain_over_noisy": {"auto": {key: {"mean": 0.1, "ci95": [0.05, 0.15]}
                                     for key in ("pesq", "stoi", "si_sdr")}},
    }
    assert "| auto | +0.100 [+0.050, +0.150]" in format_results(results)


def test_clean_input_reports_what_the_routed_model_does_to_noise_free_speech():
    """evaluate() runs the routed model on each clean reference too: its width there and its
    output's scores against that same input (a model that leaves speech alone scores ~perfect,
    one that changes it shows the damage)."""
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    clean = 0.3 * torch.sin(2 * torch.pi * 220 * t) * (1 + torch.sin(2 * torch.pi * 3 * t))
    item = {"id": "a", "noisy_sig": clean + 0.05 * torch.randn(16000), "clean_sig": clean}
    model = SlimDemucs(hidden=4, depth=2, normalize="running", residual=True).eval()
    router = Router(model.ufs, frame_stride=model.total_stride, channels=4).eval()

    changed = evaluate(model, router, [item], modes=("auto",), progress=False)["clean_input"]
    with torch.inference_mode():
        out, info = route(model, router, clean.unsqueeze(0), "auto")
    expected = score_signal(clean, out[0], 16000)
    assert changed["si_sdr"] == np.float64(expected["si_sdr"])
    assert changed["stoi"] == np.float64(expected["stoi"])
    assert changed["mean_uf"] == float(info["track"][0].float().mean())

    with torch.no_grad():
        for parameter in model.decoder[-1].parameters():
            parameter.zero_()  # no correction: the residual model returns its input
    kept = evaluate(model, router, [item], modes=("auto",), progress=False)["clean_input"]
    assert kept["stoi"] > 0.999 and kept["si_sdr"] > 60
    assert changed["si_sdr"] < kept["si_sdr"] - 20
