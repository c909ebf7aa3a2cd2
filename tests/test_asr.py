"""Tests of ASR chaining: EnhancedASR with a real EncoderDecoderASR, and the ASR_enhance yaml."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_slim.asr import EnhancedASR, EnhanceFrontend
from speechbrain_slim.hub import write_hub_folder
from speechbrain_slim.inference import EnhanceSlim
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

RECIPE = os.path.join(os.path.dirname(__file__), "..", "recipes", "ASR_enhance", "hparams",
                      "train_asr_enhance.yaml")

# A tiny randomly initialised attentional seq2seq ASR at 8 kHz (nothing downloaded).
ASR_YAML = """\
sample_rate: 8000
vocab: 8
audio_normalizer: !new:speechbrain.dataio.preprocess.AudioNormalizer
    sample_rate: !ref <sample_rate>
compute_features: !new:speechbrain.lobes.features.Fbank
    sample_rate: !ref <sample_rate>
    n_mels: 20
enc_linear: !new:speechbrain.nnet.linear.Linear
    input_size: 20
    n_neurons: 16
encoder: !new:speechbrain.nnet.containers.LengthsCapableSequential
    compute_features: !ref <compute_features>
    enc_linear: !ref <enc_linear>
embedding: !new:speechbrain.nnet.embedding.Embedding
    num_embeddings: !ref <vocab>
    embedding_dim: 8
rnn_decoder: !new:speechbrain.nnet.RNN.AttentionalRNNDecoder
    enc_dim: 16
    input_size: 8
    rnn_type: gru
    attn_type: content
    hidden_size: 16
    attn_dim: 16
    num_layers: 1
out_linear: !new:speechbrain.nnet.linear.Linear
    input_size: 16
    n_neurons: !ref <vocab>
decoder: !new:speechbrain.decoders.seq2seq.S2SRNNGreedySearcher
    embedding: !ref <embedding>
    decoder: !ref <rnn_decoder>
    linear: !ref <out_linear>
    bos_index: 1
    eos_index: 2
    min_decode_ratio: 0.0
    max_decode_ratio: 0.1
tokenizer: !new:sentencepiece.SentencePieceProcessor
    model_file: {tokenizer}
modules:
    encoder: !ref <encoder>
    decoder: !ref <decoder>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables: {{}}
"""


def tiny_modules():
    torch.manual_seed(0)
    model = SlimDemucs(hidden=8, depth=3, normalize="running", bottleneck="grouped_gru",
                       gru_groups=2).eval()
    return model, Router(model.ufs, frame_stride=model.total_stride, channels=8).eval()


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    return write_hub_folder(*tiny_modules(), str(tmp_path_factory.mktemp("hub") / "tiny"))


@pytest.fixture(scope="module")
def asr(tmp_path_factory):
    import sentencepiece as spm

    folder = tmp_path_factory.mktemp("asr")
    corpus = folder / "text.txt"
    corpus.write_text("a b ab ba aab\n" * 20)
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "spm"), vocab_size=8, model_type="char",
        unk_id=0, bos_id=1, eos_id=2, pad_id=3, minloglevel=2)
    (folder / "hyperparams.yaml").write_text(ASR_YAML.format(tokenizer=folder / "spm.model"))
    torch.manual_seed(0)
    return EncoderDecoderASR.from_hparams(source=str(folder), run_opts={"device": "cpu"})


@pytest.fixture(scope="module")
def enhancer(hub_folder):
    return EnhanceSlim.from_hparams(source=hub_folder, run_opts={"device": "cpu"})


class Recorder:
    """Wraps the ASR and records what reaches it."""

    def __init__(self, asr):
        self.asr, self.seen = asr, []
        self.audio_normalizer = asr.audio_normalizer

    def transcribe_batch(self, wavs, wav_lens):
        self.seen.append((wavs.shape, wav_lens.clone()))
        return self.asr.transcribe_batch(wavs, wav_lens)


def test_chain_with_a_real_encoder_decoder_asr(asr, enhancer, tmp_path):
    recorder = Recorder(asr)
    chain = EnhancedASR(enhancer, recorder, uf="max=0.5")
    assert chain.sample_rate == 8000
    wavs = 0.1 * torch.randn(2, 16000)
    wavs[1, 12000:] = 0
    lens = torch.tensor([1.0, 0.75])
    words, tokens = chain.transcribe_batch(wavs, lens)
    assert len(words) == 2 and all(isinstance(text, str) for text in words)
    shape, seen_lens = recorder.seen[-1]
    assert shape == (2, 8000) and torch.equal(seen_lens, lens)
    assert chain.last_routing["mean_uf"].shape == (2,)
    # direct chaining gives the same transcription as the chain
    direct = asr.transcribe_batch(chain.enhance(wavs, lens), lens)[0]
    assert direct == words

    path = tmp_path / "noisy.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal((22050, 2)).astype("float32"),
             22050)
    text = chain.transcribe_file(str(path))
    assert isinstance(text, str)
    assert recorder.seen[-1][0] == (1, 8000)  # 1 s at the ASR's 8 kHz, channels averaged


def test_recipe_yaml_loads_and_runs_the_frontend_frozen(hub_folder, tmp_path):
    overrides = {
        "data_folder": str(tmp_path), "output_folder": str(tmp_path / "out"),
        "enhance_source": hub_folder, "enhance_hidden": 8, "enhance_depth": 3,
        "enhance_normalize": "running", "enhance_gru_groups": 2, "enhance_frame_stride": 16,
        "enhance_router_channels": 8, "enhance_uf": "max=0.5",
    }
    with open(RECIPE, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    pretrainer = hparams["pretrainer"]
    pretrainer.collect_files()
    pretrainer.load_collected()
    state = torch.load(os.path.join(hub_folder, "enhance_model.ckpt"), weights_only=True)
    loaded = hparams["enhance_model"].state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key], state[key]) for key in state)

    frontend = hparams["enhance_frontend"]
    assert isinstance(frontend, EnhanceFrontend)
    frontend.train()
    assert not frontend.training
    assert not any(p.requires_grad for p in frontend.parameters())
    wavs = (0.1 * torch.randn(2, 8000)).requires_grad_()
    lens = torch.tensor([1.0, 0.5])
    enhanced = frontend(wavs, lens)
    assert enhanced.shape == (2, 8000) and not enhanced.requires_grad
    assert enhanced[1, 4000:].abs().max() == 0
    reference = EnhanceSlim.from_hparams(source=hub_folder, run_opts={"device": "cpu"})
    expected = reference.enhance_batch(wavs.detach(), lens, uf="max=0.5")
    assert torch.allclose(enhanced, expected, atol=1e-6)
    feats = hparams["compute_features"](enhanced)
    logits = hparams["asr_encoder"](feats)
    assert logits.shape[-1] == hparams["output_neurons"]
