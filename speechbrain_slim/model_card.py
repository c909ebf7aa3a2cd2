"""The model card (``README.md``) of a hub folder.

:func:`model_card` writes the card in SpeechBrain's style: what the model is, its training
data (:func:`training_data_text`, :data:`TRAINING_DATA`), its complexity per UF, its
results, how to install and use it, its limitations, what loading it trusts and how to
cite it. Its python blocks run as written once the folder is published
(:func:`speechbrain_slim.hub.validate` runs them against the local folder).

Authors
 * speechbrain-slim contributors 2026
"""

__all__ = ["REPO_ID_PLACEHOLDER", "TRAINING_DATA", "model_card", "results_table",
           "training_data_text"]

REPO_ID_PLACEHOLDER = "ORG/NAME"


def results_table(results):
    """Markdown table from a results JSON: a list of rows or ``{"rows": [...], ...}``.

    Example
    -------
    >>> print(results_table([{"uf": 0.5, "pesq": 2.5}, {"uf": "auto", "pesq": 2.75}]))
    | uf | pesq |
    |---|---|
    | 0.500 | 2.500 |
    | auto | 2.750 |
    """
    rows = results.get("rows", []) if isinstance(results, dict) else results
    if not rows:
        return None
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key in columns:
            value = row.get(key, "")
            cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


TRAINING_DATA = {
    "embedded": (
        "The embedded corpus of speechbrain-slim: 19.6 minutes of English speech from 73 "
        "synthetic voices (espeak-ng, flite and festival, with pitch/tempo variants) mixed on "
        "the fly with 8 families of generated noise (coloured, modulated, bursty, babble, hum, "
        "clicks, tonal, reverberant) at -5 to 20 dB SNR, 5% noise-free and 10% very easy "
        "items, 16 kHz; tested on 13 held-out voices at -2.5 to 17.5 dB SNR."
    ),
    "real": (
        "Real recordings that install as Debian packages, built into a corpus by "
        "`python -m speechbrain_slim.data.real_corpus` (clipped, noisy-floor and band-limited "
        "takes removed): 154 minutes of training speech from 44 voice groups (Asterisk's "
        "US-English prompts, Czech voice acting from Fish Fillets, Tux Paint's spoken "
        "descriptions, KTuberling's and KLettres' words and letters in many languages, "
        "Hedgewars voice packs) and 99 minutes of training noise recordings (Ufo:AI ambience, "
        "machines, doors, weapons and footsteps, Colobot and Fish Fillets music, Sonic Pi "
        "samples, keyboard clicks), babble of real voices and Ufo:AI talkers, some synthetic "
        "noise; mixed on the fly at -5 to 20 dB SNR with simulated rooms (pyroomacoustics, 30% "
        "of items, reverberant target), microphone colouration (30%) and band-limiting (10%), "
        "levels -30 to 0 dB; 16 kHz. Tested on 8 held-out voice groups in held-out noise "
        "recordings at -2.5 to 17.5 dB SNR. Licences: GPL-2+/GPL-3 (games), CC-BY-SA-3.0 "
        "(Asterisk prompts), CC0/CC-BY-SA (Sonic Pi)."
    ),
    "voicebank": "VoiceBank+DEMAND (Valentini-Botinhao et al., 2016), 28 training speakers.",
}


def training_data_text(hparams):
    """The model card's training-data paragraph for a recipe's hparams (its ``dataset``).

    Example
    -------
    >>> training_data_text({"dataset": "folders", "clean_folder": "/d/libri",
    ...                     "noise_folder": "/d/musan", "rir_folder": None})[:52]
    'Clean speech from /d/libri and noise from /d/musan, '
    >>> training_data_text({"dataset": "real"})[:35]
    'Real recordings that install as Deb'
    """
    dataset = hparams.get("dataset", "embedded")
    if dataset == "folders":
        rooms = f", rooms from {hparams['rir_folder']}" if hparams.get("rir_folder") else ""
        return (f"Clean speech from {hparams.get('clean_folder')} and noise from "
                f"{hparams.get('noise_folder')}{rooms}, mixed on the fly (speechbrain-slim "
                "folders recipe).")
    return TRAINING_DATA.get(dataset, f"dataset {dataset!r}")


def model_card(model, router, name, repo_id=REPO_ID_PLACEHOLDER, results=None, times=None):
    """The model card (``README.md``) of a hub folder, in SpeechBrain's style.

    Arguments
    ---------
    model : SlimDemucs
        The backbone (its UFs, rate, lookahead and complexity table go into the card).
    router : Router or None
        The router (None: fixed UFs only).
    name : str
        The model's name (its last ``/`` part titles the card).
    repo_id : str
        The Hub repo id the card's code loads from.
    results : dict or list, optional
        ``train.py``'s ``results.json`` (``modes`` ...), or table rows; ``notes`` and
        ``training_data`` keys of a dict are used too.
    times : dict, optional
        ``{uf: CPU seconds per second of audio}`` from
        :func:`speechbrain_slim.complexity.time_per_uf`: the complexity table then shows
        the measured time per UF beside the MACs.

    Returns
    -------
    str

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> card = model_card(SlimDemucs(hidden=4, depth=2), None, "models/tiny", "ORG/tiny")
    >>> card.splitlines()[0], "# Dynamically slimmed DEMUCS speech enhancement (tiny)" in card
    ('---', True)
    """
    from speechbrain_slim.complexity import complexity_table, format_table

    if isinstance(results, dict) and "modes" in results:  # train.py's results.json
        from speechbrain_slim.evaluation import format_results

        table = (
            "On the test split the recipe evaluated (PESQ-WB, STOI, SI-SDR; mean UF and "
            "MACs per sample actually spent, router included):\n\n" + format_results(results)
        )
    else:
        table = results_table(results) if results else None
    notes = results.get("notes", "") if isinstance(results, dict) else ""
    data = results.get("training_data") if isinstance(results, dict) else None
    data = data or TRAINING_DATA["embedded"]
    results_text = table or (
        "_Results will be filled in once the trained model is exported with "
        "`--results results.json`._"
    )
    timed = ("\nRTF and time ratio: CPU time measured when this folder was written (1 thread); "
             "`speechbrain-slim info` measures them on your machine.\n" if times else "")
    routing = "a router that picks" if router is not None else "no router (fixed UFs only);"
    short = name.split("/")[-1]
    residual = (
        " The network predicts a correction that is added to its input (`residual: True`), "
        "so at every UF it starts from the noisy signal itself." if model.residual else ""
    )
    return f"""---
language: en
license: apache-2.0
library_name: speechbrain
tags:
- speech-enhancement
- denoising
- dynamic-neural-networks
- speechbrain
- audio-to-audio
metrics:
- PESQ
- SI-SDR
- STOI
pipeline_tag: audio-to-audio
---

# Dynamically slimmed DEMUCS speech enhancement ({short})

This repository provides everything to enhance noisy speech with a **dynamically slimmable
causal DEMUCS** (Miccini et al., "Adaptive Slimming for Scalable and Efficient Speech
Enhancement", WASPAA 2025) and {routing} a utilization factor (UF) from
{list(model.ufs)} for every {1000 * model.total_stride / model.sample_rate:g} ms frame:
easy stretches run a narrow model, hard ones the full one. Everything runs with
[speechbrain-slim](https://github.com/speechbrain-slim/speechbrain-slim), a SpeechBrain
plugin. The model works on {model.sample_rate} Hz mono audio; EnhanceSlim resamples other rates
and enhances every channel of multi-channel audio separately.{residual}

## Training data

{data}

## Complexity (MACs per input sample, analytic)

{format_table(complexity_table(model, times=times))}
{timed}
## Results

{results_text}
{notes}

## Install

```bash
pip install speechbrain-slim
```

## Enhance a file

```python
from speechbrain_slim import EnhanceSlim

enhancer = EnhanceSlim.from_hparams(source="{repo_id}", savedir="pretrained_models/{short}")
enhancer.enhance_file("{repo_id}/example.wav", output_filename="enhanced.wav")
print(enhancer.last_routing["mean_uf"], enhancer.last_routing["macs_per_sample"])
```

## Enhance a batch at a chosen UF or UF cap

```python
import torch
from speechbrain_slim import EnhanceSlim

enhancer = EnhanceSlim.from_hparams(source="{repo_id}", savedir="pretrained_models/{short}")
noisy = torch.randn(2, {model.sample_rate}) * 0.1
cheap = enhancer.enhance_batch(noisy, uf="max=0.5")    # router, capped at UF 0.5
fixed = enhancer.enhance_batch(noisy, uf={model.ufs[0]:g})   # every frame at UF {model.ufs[0]:g}
print(cheap.shape, enhancer.last_routing["mean_uf"])
```

From the command line: `speechbrain-slim enhance noisy/ -o enhanced/ --source {repo_id}`.

## Limitations

- Trained only on the data above: speech and noise unlike it (other languages, real
  rooms and reverberation, music, very low SNRs, and for the embedded corpus real human
  voices and recorded noise) are outside its training domain; judge it on your own audio.
- The reported MACs are analytic counts of the work done; wall time falls far less than MACs
  at small UFs on CPUs (per-op overhead and memory traffic dominate).
- The model is causal with a {1000 * model.lookahead / model.sample_rate:.1f} ms lookahead, but
  this interface works offline on whole signals; long signals are processed in overlapping
  chunks whose recurrent state is warmed up on a few seconds of context (see the docstring of
  `speechbrain_slim.inference`).
- The Hub does not guarantee the model's behaviour in safety-critical uses (hearing aids,
  emergency calls) without evaluation there.

## What loading this model trusts

`hyperparams.yaml` only builds speechbrain-slim's `SlimDemucs` and `Router`, a
`torch.nn.ModuleDict` and SpeechBrain's `Pretrainer`, so `EnhanceSlim.from_hparams` loads it
without `trust_remote_code=True`; a folder whose yaml names any other code (`!apply:`, other
modules) is refused unless you pass it. `enhance_model.ckpt` holds tensors only and is read
with `torch.load(..., weights_only=True)`: loading the model runs no code from this
repository, only speechbrain-slim's (and SpeechBrain's and torch's).

## Citing

```bibtex
@inproceedings{{miccini2025adaptive,
  title={{Adaptive Slimming for Scalable and Efficient Speech Enhancement}},
  author={{Miccini, Riccardo and others}},
  booktitle={{IEEE Workshop on Applications of Signal Processing to Audio and Acoustics (WASPAA)}},
  year={{2025}}
}}
@misc{{speechbrain,
  title={{SpeechBrain: A General-Purpose Speech Toolkit}},
  author={{Mirco Ravanelli and others}},
  year={{2021}},
  eprint={{2106.04624}},
  archivePrefix={{arXiv}}
}}
```
"""
