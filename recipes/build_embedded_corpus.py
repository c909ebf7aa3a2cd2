#!/usr/bin/env python3
"""Maintainer script: build the embedded clean-speech corpus from Debian TTS engines.

The project cannot download a speech corpus, so it ships a small one of its own, synthesised
deterministically by the TTS engines Debian packages (no network beyond apt is needed):

    apt-get install --no-install-recommends espeak-ng flite festival \
        festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox
    python recipes/build_embedded_corpus.py --out speechbrain_slim/data/corpus

Voices
------
* flite: kal, kal16, awb, rms, slt (16 kHz diphone / clustergen voices);
* festival: kal_diphone, ked_diphone, cmu_us_slt_arctic_hts;
* espeak-ng: the English accents it ships, each combined with one of its voice variants
  and its own pitch and rate (``prange`` is drawn but unused);
* every flite/festival voice also yields "derived speakers" through ``sox pitch`` (which shifts
  pitch and formants together, i.e. a smaller or larger vocal tract) and ``sox tempo``.

Voices are split by *speaker identity* (the underlying recording or espeak variant), so the
valid and test voices, including their pitch-shifted derivatives, never occur in training.
Sentences are written by this script (hand-written ones plus combinatorial ones from word
lists); every utterance gets a different sentence.

Output: ``<out>/<split>/<utt_id>.flac`` (16 kHz, mono, 16 bit) and ``<out>/corpus.json``
keyed by utterance id with ``wav`` (``{data_root}/...``), ``voice``, ``engine``, ``split``,
``duration`` (s) and ``text``. Re-running rebuilds identical audio (engines are
deterministic; this script seeds every choice).
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000

# --------------------------------------------------------------------------- sentences
HANDWRITTEN = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We will meet at half past seven in front of the old railway station.",
    "Could you turn the music down a little while I am on the phone?",
    "The weather forecast says it will rain all weekend, so bring an umbrella.",
    "My grandmother grew tomatoes, beans and pumpkins in her small garden.",
    "The train to Edinburgh leaves from platform nine at a quarter to four.",
    "He forgot his keys again and had to wait outside for an hour.",
    "Thank you for calling, your order number is four two seven nine.",
    "The museum is closed on Mondays but open late on Thursday evenings.",
    "She practised the piano every morning before breakfast for ten years.",
    "Is there a pharmacy near here that is still open at this time of night?",
    "The committee will announce its decision at the end of the month.",
    "A cold wind was blowing from the north when the ship finally reached the harbour.",
    "Remember to save your work before you shut down the computer.",
    "The children laughed when the puppy chased its own tail around the kitchen.",
    "I would like a cup of black coffee and a slice of lemon cake, please.",
    "Our flight was delayed by three hours because of the fog.",
    "The library has more than two hundred thousand books and a quiet reading room.",
    "Turn left at the traffic lights and the bakery is on your right.",
    "Nobody expected the small team from the village to win the championship.",
    "The doctor said I should drink more water and sleep at least eight hours.",
    "They painted the fence bright yellow so that it could be seen from the road.",
    "How many people are coming to the dinner party on Saturday?",
    "The engineer measured the voltage twice before replacing the broken fuse.",
    "Every autumn the leaves in the park turn red, orange and gold.",
    "If you need any help with the forms, just ask at the front desk.",
    "The concert was so loud that my ears were ringing the next morning.",
    "We have run out of milk, bread and eggs, so I am going shopping.",
    "The old clock on the wall has stopped at twenty past eleven.",
    "Speak clearly into the microphone and wait for the tone.",
    "The river flooded the fields after a week of heavy rain.",
    "Write your name at the top of the page and answer all the questions.",
    "Seven bright stars were shining above the dark hills.",
    "Would you rather travel by bus, by bicycle or on foot?",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Our neighbours are building a new wooden shed behind their house.",
    "The pilot announced that we would land in about twenty minutes.",
    "Good morning, this is your captain speaking from the flight deck.",
    "A small boat drifted slowly across the calm blue lake.",
    "I cannot find my glasses, have you seen them anywhere?",
    "The meeting has been moved from Tuesday to Wednesday afternoon.",
    "Fresh fish is delivered to the market every morning at dawn.",
    "He whistled a cheerful tune while he repaired the bicycle.",
    "The new bridge will connect the two halves of the city.",
    "Mind the gap between the train and the platform edge.",
    "The students listened carefully while the professor explained the experiment.",
    "After dinner we walked along the beach and watched the sunset.",
    "Please leave a message after the beep and I will call you back.",
    "The price of petrol has gone up again this week.",
]

NAMES = [
    "Anna", "Ben", "Carla", "David", "Emma", "Frank", "Grace", "Harry", "Iris", "Jack",
    "Karen", "Leo", "Maria", "Nick", "Olivia", "Peter", "Quinn", "Rosa", "Sam", "Tina",
    "the teacher", "my brother", "our neighbour", "the driver", "the nurse", "the farmer",
    "the manager", "a stranger", "the old man", "the little girl",
]
VERBS = [
    "found", "painted", "carried", "opened", "bought", "repaired", "cleaned", "sold",
    "borrowed", "dropped", "wrapped", "lost", "ordered", "checked", "moved", "hid",
    "washed", "measured", "described", "photographed",
]
ADJECTIVES = [
    "red", "heavy", "broken", "wooden", "shiny", "old", "tiny", "enormous", "green", "noisy",
    "strange", "expensive", "dusty", "soft", "bright", "empty", "round", "fragile",
]
OBJECTS = [
    "box", "guitar", "window", "bicycle", "letter", "lamp", "suitcase", "kettle", "map",
    "ladder", "basket", "umbrella", "clock", "blanket", "bottle", "camera", "chair", "radio",
    "envelope", "bucket",
]
PLACES = [
    "in the kitchen", "behind the garage", "at the station", "near the school",
    "on the top shelf", "under the bridge", "in the garden", "at the harbour",
    "next to the church", "in the attic", "by the river", "outside the bakery",
    "in the car park", "at the office", "on the balcony", "in the cellar",
]
TIMES = [
    "yesterday", "last night", "this morning", "on Sunday", "before lunch",
    "after the storm", "in the spring", "at midnight", "two days ago", "early today",
    "during the holidays", "last winter",
]
TEMPLATES = [
    "{n} {v} the {a} {o} {p} {t}.",
    "{T}, {n} {v} a {a} {o} {p}.",
    "Did {n} really say that the {a} {o} was {p}?",
    "I think {n} {v} the {o} {p}, but nobody saw it happen.",
    "When {n} {v} the {a} {o} {t}, everyone was surprised.",
    "The {a} {o} that {n} {v} {t} is still {p}.",
    "Why would {n} leave a {a} {o} {p}?",
    "{n} {v} the {o} {t} and then went home.",
    "There was a {a} {o} {p}, and {n} {v} it {t}.",
    "Tell {n} that the {o} is {p}, not {p2}.",
]
NUMBER_TEMPLATES = [
    "The code for the {p0} door is {d0} {d1} {d2} {d3}.",
    "Bus number {num} leaves every {m} minutes from the main square.",
    "The parcel weighs {num} grams and costs {m} pounds to send.",
    "Room {num} is on the {ord} floor, at the end of the corridor.",
]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh"]


def make_sentences(count, seed=0):
    """Return ``count`` distinct English sentences, deterministically from ``seed``."""
    rng = random.Random(seed)
    out, seen = [], set()
    pool = list(HANDWRITTEN)
    rng.shuffle(pool)
    for s in pool:
        if s not in seen:
            seen.add(s)
            out.append(s)
    while len(out) < count:
        if rng.random() < 0.15:
            s = rng.choice(NUMBER_TEMPLATES).format(
                p0=rng.choice(["front", "back", "side", "garden"]),
                d0=rng.choice(DIGITS), d1=rng.choice(DIGITS), d2=rng.choice(DIGITS),
                d3=rng.choice(DIGITS), num=rng.randint(2, 999), m=rng.randint(2, 45),
                ord=rng.choice(ORDINALS),
            )
        else:
            p, p2 = rng.sample(PLACES, 2)
            s = rng.choice(TEMPLATES).format(
                n=rng.choice(NAMES), v=rng.choice(VERBS), a=rng.choice(ADJECTIVES),
                o=rng.choice(OBJECTS), p=p, p2=p2, t=rng.choice(TIMES), T=rng.choice(TIMES),
            )
            s = s[0].upper() + s[1:]
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out[:count]


# --------------------------------------------------------------------------- voices
ESPEAK_ACCENTS = [
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
]
# Human-sounding espeak-ng variants (robotic, whispering and "demonic" ones left out).
ESPEAK_VARIANTS = [
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis", "Diogo", "Gene",
    "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Mr serious",
    "Nguyen", "RicishayMax", "Storm", "adam", "anika", "announcer", "antonio", "aunty",
    "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward", "f1", "f2", "f3", "f4",
    "f5", "grandma", "grandpa", "gustave", "iven", "iven2", "john", "kaukovalta", "klatt",
    "klatt2", "klatt3", "klatt4", "linda", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob",
    "robert", "sandro", "shelby", "steph", "steph2", "travis", "victor", "zac",
]
# Speaker identities of the natural-sounding voices and their split. Same recorded speaker
# in two engines = one identity. Test gets a flite voice (awb), valid a festival one (ked).
NATURAL_VOICES = [
    # (voice name, engine, engine voice, identity)
    ("flite-kal", "flite", "kal", "kal"),
    ("flite-kal16", "flite", "kal16", "kal"),
    ("festival-kal", "festival", "voice_kal_diphone", "kal"),
    ("flite-slt", "flite", "slt", "slt"),
    ("festival-slt", "festival", "voice_cmu_us_slt_arctic_hts", "slt"),
    ("flite-rms", "flite", "rms", "rms"),
    ("flite-awb", "flite", "awb", "awb"),
    ("festival-ked", "festival", "voice_ked_diphone", "ked"),
]
IDENTITY_SPLIT = {"kal": "train", "slt": "train", "rms": "train", "ked": "valid", "awb": "test"}
# sox derived speakers: (suffix, pitch shift in cents, tempo factor)
DERIVED = [("", 0, 1.0), ("-hi", 350, 1.06), ("-lo", -300, 0.94), ("-hi2", 600, 1.0)]


def make_voices(n_espeak, seed=0):
    """List voice dicts: name, engine, split, and engine parameters (deterministic)."""
    rng = random.Random(seed + 1)
    voices = []
    for name, engine, ev, ident in NATURAL_VOICES:
        for suffix, cents, tempo in DERIVED:
            voices.append(dict(name=name + suffix, engine=engine, engine_voice=ev,
                               identity=ident, split=IDENTITY_SPLIT[ident],
                               cents=cents, tempo=tempo))
    variants = sorted(ESPEAK_VARIANTS)
    rng.shuffle(variants)
    n_test = max(1, round(0.12 * len(variants)))
    n_valid = max(1, round(0.08 * len(variants)))
    variant_split = {}
    for i, v in enumerate(variants):
        variant_split[v] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    # Each espeak voice = (accent, variant) with its own pitch and rate; keep the split
    # proportions by drawing variants per split.
    by_split = {
        s: [v for v in variants if variant_split[v] == s] for s in ("train", "valid", "test")
    }
    quota = {"test": round(0.14 * n_espeak), "valid": round(0.1 * n_espeak)}
    quota["train"] = n_espeak - quota["test"] - quota["valid"]
    for split in ("train", "valid", "test"):
        pool = by_split[split]
        for k in range(quota[split]):
            variant = pool[k % len(pool)]
            accent = ESPEAK_ACCENTS[rng.randrange(len(ESPEAK_ACCENTS))]
            voices.append(dict(
                name=f"espeak-{accent}-{variant.replace(' ', '_')}-{k}", engine="espeak-ng",
                engine_voice=f"{accent}+{variant}", identity=f"espeak-{variant}", split=split,
                pitch=rng.randint(20, 80), prange=rng.randint(30, 90), rate=rng.randint(135, 195),
                cents=0, tempo=1.0,
            ))
    return voices


# --------------------------------------------------------------------------- synthesis
def _run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {res.stderr.decode(errors='replace')[:300]}")


def synthesize(voice, text, tmpdir):
    """Synthesise ``text`` with ``voice``; return float32 mono audio at 16 kHz."""
    raw = os.path.join(tmpdir, "raw.wav")
    if voice["engine"] == "espeak-ng":
        _run(["espeak-ng", "-v", voice["engine_voice"], "-p", str(voice["pitch"]),
              "-s", str(voice["rate"]), "-w", raw, text])
    elif voice["engine"] == "flite":
        _run(["flite", "-voice", voice["engine_voice"], "-t", text, "-o", raw])
    elif voice["engine"] == "festival":
        _run(["text2wave", "-eval", f"({voice['engine_voice']})", "-o", raw],
             input=text.encode())
    else:
        raise ValueError(f"unknown engine {voice['engine']}")
    if voice["cents"] or voice["tempo"] != 1.0:
        out = os.path.join(tmpdir, "fx.wav")
        fx = []
        if voice["cents"]:
            fx += ["pitch", str(voice["cents"])]
        if voice["tempo"] != 1.0:
            fx += ["tempo", "-s", str(voice["tempo"])]
        _run(["sox", raw, out] + fx)
        raw = out
    x, sr = sf.read(raw, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = np.gcd(sr, SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g)
    return trim_and_normalise(x)


def trim_and_normalise(x, margin_s=0.12, level_db=-3.0):
    """Trim leading/trailing silence (keep a margin) and peak-normalise."""
    frame = 160
    n = len(x) // frame
    e = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    active = np.nonzero(e > e.max() * 10 ** (-50 / 10))[0]
    m = int(margin_s * SAMPLE_RATE)
    if len(active):
        x = x[max(0, active[0] * frame - m): min(len(x), (active[-1] + 1) * frame + m)]
    peak = np.abs(x).max()
    if peak > 0:
        x = x / peak * 10 ** (level_db / 20)
    return x.astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="speechbrain_slim/data/corpus")
    parser.add_argument("--n-espeak", type=int, default=64, help="number of espeak-ng voices")
    parser.add_argument(
        "--utts-natural", type=int, default=6, help="utterances per flite/festival voice"
    )
    parser.add_argument("--utts-espeak", type=int, default=3, help="utterances per espeak-ng voice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-voices", type=int, default=None, help="smoke test: first N voices")
    args = parser.parse_args(argv)

    needed = ["espeak-ng", "flite", "text2wave", "sox"]
    missing = [t for t in needed if shutil.which(t) is None]
    if missing:
        sys.exit(f"missing TTS tools {missing}; see the module docstring for apt-get install")

    voices = make_voices(args.n_espeak, args.seed)
    counts = [args.utts_espeak if v["engine"] == "espeak-ng" else args.utts_natural
              for v in voices]
    sentences = make_sentences(sum(counts), args.seed)
    rng = random.Random(args.seed + 2)
    rng.shuffle(sentences)
    if args.max_voices:  # smoke test: same audio as the full build for these voices
        voices, counts = voices[: args.max_voices], counts[: args.max_voices]

    manifest = {}
    if os.path.isdir(args.out):
        for split in ("train", "valid", "test"):
            shutil.rmtree(os.path.join(args.out, split), ignore_errors=True)
    k = 0
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for vi, (voice, count) in enumerate(zip(voices, counts)):
            os.makedirs(os.path.join(args.out, voice["split"]), exist_ok=True)
            for u in range(count):
                text = sentences[k]
                k += 1
                x = synthesize(voice, text, tmp)
                uid = f"{voice['name']}_{u:02d}"
                rel = f"{voice['split']}/{uid}.flac"
                sf.write(os.path.join(args.out, rel), x, SAMPLE_RATE, subtype="PCM_16")
                dur = round(len(x) / SAMPLE_RATE, 3)
                total += dur
                manifest[uid] = dict(wav="{data_root}/" + rel, voice=voice["name"],
                                     identity=voice["identity"], engine=voice["engine"],
                                     split=voice["split"], duration=dur, text=text)
            print(f"[{vi + 1}/{len(voices)}] {voice['name']} ({voice['split']}) "
                  f"total {total / 60:.1f} min", flush=True)
    with open(os.path.join(args.out, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(f"wrote {len(manifest)} utterances, {total / 60:.1f} min, to {args.out}")


if __name__ == "__main__":
    main()
