"""Tests of the embedded corpus, noise families, mixing, on-the-fly dataset and augmentations."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_slim.data.augment import DemucsAugment, Shift
from speechbrain_slim.data.corpus import SPLITS, corpus_stats, load_corpus
from speechbrain_slim.data.dataset import OnTheFlyMixtures
from speechbrain_slim.data.embedded import TEST_SNRS, prepare_embedded
from speechbrain_slim.data.mixing import active_speech_mask, mix_at_snr
from speechbrain_slim.data.noise import NOISE_FAMILIES, NoiseGenerator, make_noise


def _snr_on_active_speech(clean, noisy):
    """Independent re-implementation of the definition: 20 ms frames within 40 dB of max."""
    clean = np.asarray(clean, np.float64)
    noise = np.asarray(noisy, np.float64) - clean
    n = len(clean) // 320
    e = (clean[: n * 320].reshape(n, 320) ** 2).mean(1)
    act = e > e.max() * 1e-4
    c = clean[: n * 320].reshape(n, 320)[act]
    z = noise[: n * 320].reshape(n, 320)[act]
    return 10 * np.log10((c**2).mean() / (z**2).mean())


def test_corpus_splits_disjoint_by_voice_and_identity():
    corpus = load_corpus()
    voices = {s: {e["voice"] for e in corpus.values() if e["split"] == s} for s in SPLITS}
    ids = {s: {e["identity"] for e in corpus.values() if e["split"] == s} for s in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            if a < b:
                assert not voices[a] & voices[b]
                assert not ids[a] & ids[b]
    engines = {e["engine"] for e in corpus.values() if e["split"] == "test"}
    assert engines & {"flite", "festival"}, "test must include a natural-sounding voice"
    stats = corpus_stats()
    assert stats["train"]["voices"] >= 50 and stats["train"]["minutes"] >= 15
    for e in list(corpus.values())[:5]:
        info = sf.info(e["wav"])
        assert info.samplerate == 16000 and info.channels == 1


def test_noise_families_deterministic_and_distinct():
    pool = [e["wav"] for e in list(load_corpus("train").values())[:10]]
    for fam in NOISE_FAMILIES:
        a = make_noise(fam, 16000, 3, speech_pool=pool)
        b = make_noise(fam, 16000, 3, speech_pool=pool)
        c = make_noise(fam, 16000, 4, speech_pool=pool)
        assert a.dtype == np.float32 and a.shape == (16000,)
        assert np.array_equal(a, b), fam
        assert not np.array_equal(a, c), fam
        assert np.isfinite(a).all() and abs(np.sqrt((a**2).mean()) - 1) < 1e-3
    with pytest.raises(ValueError, match="unknown noise family"):
        make_noise("thunder", 100, 0)
    with pytest.raises(ValueError, match="speech_pool"):
        make_noise("babble", 100, 0)
    with pytest.raises(ValueError, match="unknown noise families"):
        NoiseGenerator({"colored": 1, "rain": 1})


@pytest.mark.parametrize("snr", [-2.5, 2.5, 7.5, 12.5, 17.5, 40.0])
def test_mixture_snr_within_tolerance(snr):
    entry = next(iter(load_corpus("valid").values()))
    clean, _ = sf.read(entry["wav"], dtype="float32")
    for fam in ("bursty", "hum", "clicks"):
        noise = make_noise(fam, len(clean), 0)
        noisy, _ = mix_at_snr(clean, noise, snr)
        assert abs(_snr_on_active_speech(clean, noisy) - snr) < 0.2


def test_mixing_errors():
    with pytest.raises(ValueError, match="no active speech"):
        mix_at_snr(np.zeros(100), np.ones(100), 0.0)
    with pytest.raises(ValueError, match="shape"):
        mix_at_snr(np.ones(100), np.ones(50), 0.0)
    assert not active_speech_mask(np.zeros(640)).any()


def test_on_the_fly_dataset_deterministic_per_epoch():
    ds = OnTheFlyMixtures(load_corpus("train"), segment_s=1.0, epoch_size=40, clean_share=0.2,
                          easy_share=0.2, seed=5)
    a, b = ds[3], ds[3]
    assert torch.equal(a["noisy_sig"], b["noisy_sig"]) and a["noisy_sig"].shape == (16000,)
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["noisy_sig"], a["noisy_sig"])
    items = [ds[i] for i in range(40)]
    assert any(it["noise"] == "none" for it in items)
    for it in items:
        assert it["noisy_sig"].abs().max() <= 1.0
        if it["noise"] == "none":
            assert torch.equal(it["noisy_sig"], it["clean_sig"])
        elif it["clean_sig"].abs().max() > 0 and np.isfinite(it["snr_db"]):
            noise = (it["noisy_sig"] - it["clean_sig"]).numpy()
            clean = it["clean_sig"].numpy()
            if active_speech_mask(clean).any():
                assert abs(_snr_on_active_speech(clean, clean + noise) - it["snr_db"]) < 0.2
    with pytest.raises(ValueError, match="clean_share"):
        OnTheFlyMixtures(load_corpus("valid"), clean_share=0.8, easy_share=0.5)
    with pytest.raises(ValueError, match="no clean files"):
        OnTheFlyMixtures([])


def test_demucs_augment_keeps_pairs_consistent():
    torch.manual_seed(0)
    noisy, clean = torch.randn(4, 8000), torch.randn(4, 8000)
    n2, c2 = DemucsAugment(remix=False, bandmask=0.0, shift=0, revecho=0.0)(noisy, clean)
    assert torch.allclose(n2, noisy, atol=1e-6) and torch.equal(c2, clean)
    n3, c3 = Shift(100, same=True)(noisy - clean, clean)
    assert n3.shape == (4, 7900)
    with pytest.raises(ValueError, match="batch, time"):
        DemucsAugment()(noisy, clean[:2])


def test_embedded_manifests_idempotent_and_loadable(tmp_path):
    from speechbrain.dataio.dataset import DynamicItemDataset

    out = str(tmp_path / "emb")
    paths = prepare_embedded(out, n_valid=3, n_test_per_snr=2, progress=False)
    test = json.load(open(paths["test"]))
    assert len(test) == 10
    snrs = [e["snr_db"] for e in test.values()]
    assert sorted(set(snrs)) == list(TEST_SNRS) and all(snrs.count(s) == 2 for s in TEST_SNRS)
    train_voices = {e["voice"] for e in json.load(open(paths["train"])).values()}
    assert not train_voices & {e["voice"] for e in test.values()}
    for e in test.values():
        assert {"noisy_wav", "clean_wav", "length", "snr_db", "noise"} <= set(e)
        clean, _ = sf.read(e["clean_wav"].replace("{data_root}", out))
        noisy, _ = sf.read(e["noisy_wav"].replace("{data_root}", out))
        assert abs(_snr_on_active_speech(clean, noisy) - e["snr_db"]) < 0.2
    first = {p: open(p, "rb").read() for p in paths.values()}
    wav = test[next(iter(test))]["noisy_wav"].replace("{data_root}", out)
    mtime = os.path.getmtime(wav)
    prepare_embedded(out, n_valid=3, n_test_per_snr=2, progress=False)
    assert os.path.getmtime(wav) == mtime
    other = str(tmp_path / "emb2")
    prepare_embedded(other, n_valid=3, n_test_per_snr=2, progress=False)
    for p in paths.values():
        assert open(p.replace(out, other), "rb").read().replace(b"emb2", b"emb") == first[p]
    a = sf.read(wav)[0]
    b = sf.read(wav.replace(out, other))[0]
    assert np.array_equal(a, b)
    for split in ("train", "valid", "test"):
        ds = DynamicItemDataset.from_json(paths[split], replacements={"data_root": out})
        assert len(ds) > 0
