"""MAC accounting: the paper's numbers, and analytic counts against counted forward passes."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechbrain_slim.complexity import (
    HookMacCounter,
    complexity_table,
    count_macs,
    macs_per_sample,
    parameters_at,
)
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {0.125: 8944, 0.25: 15664, 0.5: 29104, 1.0: 55985}


@pytest.fixture(scope="module")
def paper():
    return SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=4)


def test_paper_slimmed_convolutions_are_exactly_53760_uf(paper):
    for uf in paper.ufs:
        assert macs_per_sample(paper, uf)["slimmed"] == 53760 * uf


@pytest.mark.parametrize("groups,layers", [(4, 1), (8, 2)])
def test_paper_totals_match_the_published_ones(groups, layers):
    model = SlimDemucs(
        hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=groups, bottleneck_layers=layers
    )
    for uf, published in PUBLISHED.items():
        macs = macs_per_sample(model, uf)
        assert macs["fixed"] == 1536 + 672
        assert abs(macs["total"] - published) / published < 0.002


@pytest.mark.parametrize(
    "config",
    [
        dict(hidden=8, depth=3, bottleneck="grouped_gru", gru_groups=2),
        dict(hidden=8, depth=3, causal=False),
        dict(hidden=6, depth=2, glu=False, resample=2, kernel_size=5, stride=2),
        dict(hidden=8, depth=3, resample=1, bottleneck="grouped_gru", bottleneck_layers=2),
    ],
)
@pytest.mark.parametrize("length", [997, 16000])
def test_analytic_count_equals_hooked_forward(config, length):
    model = SlimDemucs(**config).eval()
    for uf in model.ufs:
        with HookMacCounter(model) as counter, torch.no_grad():
            model(torch.randn(2, length), uf)
        assert counter.macs == 2 * count_macs(model, length, uf), uf


def test_per_sample_count_is_the_long_input_limit(paper):
    length = 160_000
    for uf in paper.ufs:
        exact = count_macs(paper, length, uf) / length
        assert abs(exact - macs_per_sample(paper, uf)["total"]) / exact < 0.01


def test_parameters_grow_with_uf_and_reach_the_total(paper):
    counts = [parameters_at(paper, uf) for uf in paper.ufs]
    assert counts == sorted(counts)
    assert counts[-1] == sum(p.numel() for p in paper.parameters())


def test_table_rows(paper):
    rows = complexity_table(paper)
    assert [row["uf"] for row in rows] == list(paper.ufs)
    assert rows[-1]["mac_ratio"] == 1.0
    assert abs(rows[-1]["gmac_per_second"] - 0.8955) < 1e-3


def test_cli_prints_the_table_of_the_recipe_hparams():
    result = subprocess.run(
        [sys.executable, "-m", "speechbrain_slim.complexity", "hparams/slim_demucs.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| 0.125 | 921,941 | 8,928 | 6,720 | 2,208 |" in result.stdout
    assert "| 1 | 4,584,257 | 55,968 | 53,760 | 2,208 |" in result.stdout
