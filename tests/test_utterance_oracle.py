"""benchmarks/utterance_oracle.py: the oracle hull and the bound read from it."""

import math

import numpy as np
import pytest


def test_hull_is_an_upper_bound_on_every_assignment(load_script):
    bench = load_script("benchmarks", "utterance_oracle.py")
    rng = np.random.default_rng(0)
    pesq = np.sort(rng.uniform(1.0, 2.0, size=(6, 3)), axis=1)
    macs = np.array([1.0, 2.0, 4.0])
    hull = bench.oracle_hull(pesq, macs)
    # brute force over all 3^6 assignments: none lies above the hull
    for code in range(3**6):
        choice = [(code // 3**i) % 3 for i in range(6)]
        spent = macs[choice].mean()
        score = pesq[np.arange(6), choice].mean()
        assert score <= bench.bound_at(hull, spent) + 1e-9
    # and the hull's vertices are reached by real assignments (the static extremes included)
    assert hull[0] == pytest.approx((1.0, pesq[:, 0].mean()))
    assert hull[-1] == pytest.approx((4.0, pesq[:, 2].mean()))


def test_oracle_beats_the_static_line_only_when_gains_are_uneven(load_script):
    bench = load_script("benchmarks", "utterance_oracle.py")
    macs = np.array([1.0, 2.0])
    even = np.array([[1.0, 1.2], [1.0, 1.2]])
    uneven = np.array([[1.0, 1.4], [1.0, 1.0]])
    # same static UFs, but only uneven gains let a per-utterance choice do better at 1.5
    assert bench.bound_at(bench.oracle_hull(even, macs), 1.5) == pytest.approx(1.1)
    assert bench.bound_at(bench.oracle_hull(uneven, macs), 1.5) == pytest.approx(1.2)
    assert math.isnan(bench.bound_at(bench.oracle_hull(even, macs), 0.5))


def test_summary_reports_the_bound_at_each_static_uf_and_the_saving(load_script, tmp_path):
    bench = load_script("benchmarks", "utterance_oracle.py")
    pesq = np.array([[1.0, 1.4], [1.0, 1.0]])
    summary = bench.oracle_summary(pesq, np.array([1.0, 2.0]), (0.5, 1.0), saving=0.4)
    wide = summary["static"][1]
    assert wide["pesq"] == pytest.approx(1.2) and wide["oracle_at_macs"] == pytest.approx(1.2)
    # 1.2 MACs: on the way to widening only item 0 (1.5 MACs, 1.2): 1.0 + 0.4 * 0.2
    assert wide["saved_macs_per_sample"] == pytest.approx(1.2)
    assert wide["oracle_at_saved_macs"] == pytest.approx(1.08)
    assert "| 1 | 2 | 1.200 | 1.200 | 1 | 1.080 |" in bench.format_summary(summary)
    from speechbrain_slim.evaluation import pareto_plot

    results = {"noisy": {"pesq": 0.9}, "modes": {
        "0.5": {"macs_per_sample": 1.0, "pesq": 1.0}, "1.0": {"macs_per_sample": 2.0, "pesq": 1.2},
        "auto": {"macs_per_sample": 1.3, "pesq": 1.05}}}
    pareto_plot(results, tmp_path / "pareto.png", oracle=summary["hull"])
    assert (tmp_path / "pareto.png").stat().st_size > 1000
