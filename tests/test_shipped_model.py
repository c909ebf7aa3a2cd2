"""The shipped model (hub/slim-demucs-real): it loads offline, and its files reproduce the
published per-mixture scores of the real test split."""

import json
from pathlib import Path

import pytest
import torch
from speechbrain.dataio.dataio import read_audio

from speechbrain_slim import EnhanceSlim
from speechbrain_slim.cli import DEFAULT_SOURCE
from speechbrain_slim.metrics import pesq_wb, si_sdr, stoi

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = Path(DEFAULT_SOURCE)
DEMO = ROOT / "speechbrain_slim" / "data" / "real_demo"
PEERS = ROOT / "benchmarks" / "report" / "peers" / "peers.json"


@pytest.fixture(scope="module")
def enhancer(tmp_path_factory):
    return EnhanceSlim.from_hparams(
        source=str(SHIPPED), savedir=str(tmp_path_factory.mktemp("shipped"))
    )


def test_the_default_model_is_the_real_recordings_model():
    assert SHIPPED == ROOT / "hub" / "slim-demucs-real"
    assert "Real recordings" in (SHIPPED / "README.md").read_text()


@pytest.mark.parametrize("system, uf", [("uf1.0", 1.0), ("auto", "auto")])
def test_shipped_files_reproduce_the_published_test_scores(enhancer, system, uf):
    """The five shipped test mixtures give the scores benchmarks/report/peers lists for them."""
    published = {row["id"]: row for row in json.loads(PEERS.read_text())["rows"][system]}
    mixtures = json.loads((DEMO / "test.json").read_text())
    assert len(mixtures) == 5 and set(mixtures) <= set(published)
    for uid, entry in mixtures.items():
        noisy = read_audio(entry["noisy_wav"].replace("{data_root}", str(DEMO)))
        clean = read_audio(entry["clean_wav"].replace("{data_root}", str(DEMO)))
        out = enhancer.enhance_batch(noisy.unsqueeze(0), uf=uf)[0]
        row = published[uid]
        assert float(pesq_wb(clean, out)) == pytest.approx(row["pesq"], abs=2e-3), uid
        assert float(stoi(clean, out)) == pytest.approx(row["stoi"], abs=1e-3), uid
        assert float(si_sdr(out, clean)) == pytest.approx(row["si_sdr"], abs=2e-2), uid
        assert float(enhancer.last_routing["mean_uf"][0]) == pytest.approx(row["mean_uf"],
                                                                          abs=1e-3), uid


def test_shipped_example_enhances_at_every_uf(enhancer):
    noisy = read_audio(str(SHIPPED / "example.wav")).unsqueeze(0)
    macs = []
    for uf in (0.125, 0.25, 0.5, 1.0):
        out = enhancer.enhance_batch(noisy, uf=uf)
        assert out.shape == noisy.shape and torch.isfinite(out).all()
        macs.append(float(enhancer.last_routing["macs_per_sample"][0]))
    assert macs == sorted(macs)
