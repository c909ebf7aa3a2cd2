"""Build a training corpus of real recordings from Debian packages installed on this machine.

    sudo apt-get install -y --no-install-recommends asterisk-core-sounds-en-g722 \\
        fillets-ng-data fillets-ng-data-cs klettres-data tuxpaint-stamps-default ktuberling-data \\
        hedgewars-data ufoai-sound colobot-common-sounds bucklespring-data sonic-pi-samples
    python -m speechbrain_slim.data.real_corpus --out data/real_corpus

Every recording is decoded (OGG/WAV/FLAC with soundfile, Asterisk's G.722 prompts with the
``G722`` codec), mixed down, resampled to 16 kHz, trimmed of leading/trailing silence and written
as FLAC under ``OUT/speech/`` or ``OUT/noise/``. Speech recordings become clean training targets
only if they pass three checks (the thresholds are arguments of :func:`speech_quality`):

* **clipping**: at most ``0.1%`` of the samples at or above 0.99 of full scale;
* **noise floor**: the loudest 20 ms frames (95th percentile) at least ``30 dB`` above the
  quietest (5th percentile), measured before trimming, so hiss and hum between words are seen;
* **bandwidth**: the long-term spectrum of active frames reaches within ``50 dB`` of its peak
  up to at least ``6 kHz`` (drops telephone-rate and low-passed recordings).

Splits are made **by voice**: a recording's *group* is the speaker when the package says who
speaks (Asterisk's one voice, the Fish Fillets character named in the file name, a Hedgewars
voice pack) and the language folder otherwise (Tux Paint, KTuberling and KLettres record one
volunteer set per language). Groups are ordered by a hash of their name and the test and valid
splits filled with whole groups until each holds its share of the speech; groups larger than
``max_heldout_share`` of all speech always train. Noise recordings are split by file within each
category (``ufoai/ambience``, ``colobot/music``, ...), so no test noise is ever heard in
training. Ufo:AI's ``civilians/`` and ``soldiers/`` voices are *talkers*: babble and interfering
speech, never clean targets or plain noise. ``/usr/share/sounds/alsa`` is never read (reserved
for evaluation).

The folder then holds SpeechBrain JSON manifests keyed by id:

* ``speech_{train,valid,test}.json``: ``wav``, ``length`` (s), ``group``, ``source``, ``language``;
* ``noise_{train,valid,test}.json`` and ``talkers_{...}.json``: ``wav``, ``length``, ``category``;
* ``rir_{train,valid,test}.json``: room impulse responses simulated with pyroomacoustics;
* ``valid.json`` / ``test.json``: fixed mixtures (``noisy_wav``, ``clean_wav``, ``snr_db``,
  ``noise``, ``group``) of held-out voices in held-out noise at -2.5 ... 17.5 dB;
* ``report.json`` / ``report.md``: per package, files found, removed by each check, kept, minutes.

A second run with the same arguments does nothing.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor

from speechbrain_slim.data.corpus_splits import (
    SPLITS,
    built_with,
    manifest_names,
    split_files,
    split_groups,
)
from speechbrain_slim.data.fixed_mixtures import export_subset, simulate_rirs, write_manifests
from speechbrain_slim.data.prepare import write_json
from speechbrain_slim.data.real_recordings import APT_PACKAGES, find_sources, process_recording

__all__ = ["build_real_corpus", "main"]

DONE_FILE = "real_corpus_done.json"


def _report(entries):
    rows = {}
    for e in entries:
        row = rows.setdefault(e["package"], {"found": 0, "kept": 0, "minutes": 0.0, "removed": {}})
        row["found"] += 1
        if e["removed"] is None:
            row["kept"] += 1
            row["minutes"] += e["length"] / 60
        else:
            reason = e["removed"].split(":")[0]
            row["removed"][reason] = row["removed"].get(reason, 0) + 1
    for row in rows.values():
        row["minutes"] = round(row["minutes"], 1)
    return rows


def _report_md(rows, splits):
    lines = ["| package | found | kept | minutes kept | removed |", "|---|---:|---:|---:|---|"]
    for package, row in sorted(rows.items()):
        removed = ", ".join(f"{k} {v}" for k, v in sorted(row["removed"].items())) or "-"
        lines.append(f"| {package} | {row['found']} | {row['kept']} | {row['minutes']} | "
                     f"{removed} |")
    lines += ["", "| split | speech groups | speech minutes | noise files | noise minutes |",
              "|---|---:|---:|---:|---:|"]
    for split, s in splits.items():
        lines.append(f"| {split} | {s['groups']} | {s['speech_minutes']} | {s['noise_files']} | "
                     f"{s['noise_minutes']} |")
    return "\n".join(lines) + "\n"

def build_real_corpus(out_dir, seed=1234, jobs=2, n_valid=120, n_test_per_snr=40,
                      n_rirs=(300, 30, 30), sources=None, progress=True):
    """Build the corpus in ``out_dir`` (see the module docstring); returns the manifest paths.

    Arguments
    ---------
    out_dir : str
        Output folder (``{data_root}`` of every manifest).
    seed : int
        Seed of the fixed mixtures and the simulated rooms.
    jobs : int
        Decoding processes.
    n_valid : int
        Fixed valid mixtures.
    n_test_per_snr : int
        Test utterances, each mixed at every SNR of ``TEST_SNRS``.
    n_rirs : tuple of int
        Simulated rooms for train, valid and test.
    sources : list of dict, optional
        Recordings to use (default: :func:`find_sources`); tests pass a small list.
    progress : bool
        Print what is done.
    """
    out_dir = os.path.abspath(out_dir)
    settings = dict(seed=seed, n_valid=n_valid, n_test_per_snr=n_test_per_snr,
                    n_rirs=list(n_rirs))
    names = manifest_names(out_dir, ("speech", "noise", "talkers", "rir"))
    done = os.path.join(out_dir, DONE_FILE)
    if built_with(done, settings):
        return names
    entries = find_sources() if sources is None else list(sources)
    if not any(e["kind"] == "speech" for e in entries):
        raise RuntimeError("no speech recordings found: install the packages with\n  apt-get "
                           "install -y --no-install-recommends " + " ".join(APT_PACKAGES))
    if progress:
        print(f"decoding {len(entries)} recordings with {jobs} process(es) ...", flush=True)
    decoded = os.path.join(out_dir, "decoded.json")  # a rerun after a failure starts here
    results = None
    if os.path.isfile(decoded):
        with open(decoded, encoding="utf-8") as f:
            results = json.load(f)
        if [r["path"] for r in results] != [e["path"] for e in entries]:
            results = None
    if results is None:
        work = [(e, out_dir) for e in entries]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                results = list(pool.map(process_recording, work, chunksize=16))
        else:
            results = [process_recording(w) for w in work]
        write_json(results, decoded)
    kept = [r for r in results if r["removed"] is None]
    speech = [r for r in kept if r["kind"] == "speech"]
    durations = {}
    for r in speech:
        durations[r["group"]] = durations.get(r["group"], 0.0) + r["length"]
    assignment = split_groups(durations)
    others = split_files([r for r in kept if r["kind"] != "speech"])
    manifests = {name: {} for name in names}
    def uid(r):  # "{data_root}/speech/tuxpaint/ro/x.flac" -> "speech_tuxpaint_ro_x"
        return r["wav"].split("/", 1)[1][: -len(".flac")].replace("/", "_")

    for r in speech:
        key = f"speech_{assignment[r['group']]}"
        manifests[key][uid(r)] = {k: r[k] for k in ("wav", "length", "group", "source",
                                                    "language")}
    for r in others:
        kind = "talkers" if r["kind"] == "talker" else "noise"
        manifests[f"{kind}_{r['split']}"][uid(r)] = {"wav": r["wav"], "length": r["length"],
                                                     "category": r["group"]}
    for split, count in zip(SPLITS, n_rirs):
        manifests[f"rir_{split}"] = simulate_rirs(count, seed, out_dir, split)
    write_manifests(manifests, names, out_dir, seed, n_valid, n_test_per_snr)
    splits = {}
    for split in SPLITS:
        groups = {e["group"] for e in manifests[f"speech_{split}"].values()}
        splits[split] = {
            "groups": len(groups),
            "speech_minutes": round(sum(e["length"] for e in manifests[f"speech_{split}"].values())
                                    / 60, 1),
            "noise_files": len(manifests[f"noise_{split}"]),
            "noise_minutes": round(sum(e["length"] for e in manifests[f"noise_{split}"].values())
                                   / 60, 1),
            "group_names": sorted(groups),
        }
    rows = _report(results)
    write_json({"packages": rows, "splits": splits, "settings": settings},
               os.path.join(out_dir, "report.json"))
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(_report_md(rows, splits))
    write_json(settings, done)
    if progress:
        print(_report_md(rows, splits))
    return names

def main(argv=None):
    """``python -m speechbrain_slim.data.real_corpus --out DIR [--export-subset DIR] ...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--jobs", type=int, default=2, help="decoding processes")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--n-valid", type=int, default=120)
    parser.add_argument("--n-test-per-snr", type=int, default=40)
    parser.add_argument("--export-subset", metavar="DIR",
                        help="then copy one test mixture per SNR to DIR (the demo's subset)")
    args = parser.parse_args(argv)
    build_real_corpus(args.out, seed=args.seed, jobs=args.jobs, n_valid=args.n_valid,
                      n_test_per_snr=args.n_test_per_snr)
    if args.export_subset:
        print(export_subset(os.path.abspath(args.out), args.export_subset))


if __name__ == "__main__":
    main()
