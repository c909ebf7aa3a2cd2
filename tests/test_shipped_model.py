"""The model shipped in hub/slim-demucs-embedded: it loads offline and enhances unseen voices."""

from pathlib import Path

import pytest
import torch
from speechbrain.dataio.dataio import read_audio

from speechbrain_slim import EnhanceSlim
from speechbrain_slim.data.embedded import prepare_embedded
from speechbrain_slim.metrics import si_sdr

SHIPPED = Path(__file__).resolve().parents[1] / "hub" / "slim-demucs-embedded"


@pytest.fixture(scope="module")
def enhancer(tmp_path_factory):
    return EnhanceSlim.from_hparams(
        source=str(SHIPPED), savedir=str(tmp_path_factory.mktemp("shipped"))
    )


def test_shipped_model_improves_low_snr_test_mixtures(enhancer, tmp_path):
    """Held-out voices at -2.5 / 2.5 / 7.5 dB: SI-SDR goes up by more than 1 dB on average."""
    import json

    paths = prepare_embedded(str(tmp_path), n_valid=1, n_test_per_snr=2, progress=False)
    manifest = json.loads(Path(paths["test"]).read_text())
    gains = []
    for entry in manifest.values():
        if entry["snr_db"] > 7.5:
            continue
        noisy = read_audio(entry["noisy_wav"].replace("{data_root}", str(tmp_path)))
        clean = read_audio(entry["clean_wav"].replace("{data_root}", str(tmp_path)))
        enhanced = enhancer.enhance_batch(noisy.unsqueeze(0), uf="auto")[0]
        gains.append(float(si_sdr(enhanced, clean) - si_sdr(noisy, clean)))
        assert enhancer.last_routing["macs_per_sample"][0] > 0
    assert len(gains) == 6
    assert sum(gains) / len(gains) > 1.0, gains


def test_shipped_example_enhances_at_every_uf(enhancer):
    noisy = read_audio(str(SHIPPED / "example.wav")).unsqueeze(0)
    macs = []
    for uf in (0.125, 0.25, 0.5, 1.0):
        out = enhancer.enhance_batch(noisy, uf=uf)
        assert out.shape == noisy.shape and torch.isfinite(out).all()
        macs.append(float(enhancer.last_routing["macs_per_sample"][0]))
    assert macs == sorted(macs)
