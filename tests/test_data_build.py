"""Tests of the corpus build script: sentences, voice splits, and (with TTS tools) a smoke run."""

import shutil

import pytest
import soundfile as sf

from speechbrain_slim.data.corpus import CORPUS_DIR, load_corpus


def test_sentences_and_voices_deterministic_and_split_by_identity(load_script):
    b = load_script("recipes", "build_embedded_corpus.py")
    s1, s2 = b.make_sentences(300), b.make_sentences(300)
    assert s1 == s2 and len(set(s1)) == 300
    v = b.make_voices(64)
    assert v == b.make_voices(64)
    split_of = {}
    for voice in v:
        assert split_of.setdefault(voice["identity"], voice["split"]) == voice["split"]
    assert {x["split"] for x in v} == {"train", "valid", "test"}


TOOLS = ("flite", "espeak-ng", "text2wave", "sox")


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="TTS engines missing")
def test_build_smoke_reproduces_committed_audio(tmp_path, load_script):
    b = load_script("recipes", "build_embedded_corpus.py")
    b.main(["--out", str(tmp_path), "--max-voices", "1"])
    built = load_corpus("train", str(tmp_path))
    committed = load_corpus(corpus_dir=CORPUS_DIR)
    assert len(built) == 6
    for uid, e in built.items():
        assert committed[uid]["text"] == e["text"]
        assert (sf.read(e["wav"])[0] == sf.read(committed[uid]["wav"])[0]).all()
