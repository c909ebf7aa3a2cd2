"""Fills the generated tables of README.md and docs/*.md from committed result files.

::

    python benchmarks/readme_tables.py            # rewrite every marked block
    python benchmarks/readme_tables.py --check    # exit status 1 if a block is out of date

A generated block sits between two markers and is replaced as a whole::

    <!-- table:shipped-model -->
    ... (written by this script: do not edit by hand) ...
    <!-- /table -->

Every table is read from a committed file: the shipped model's evaluation
(``hub/slim-demucs-real/results.json``, written by ``train.py``), the comparison with the peers
on the same test mixtures (``benchmarks/report/peers/peers.json``, ``benchmarks/peers.py``),
the speed benchmarks (``benchmarks/report/*.json``, ``benchmarks/run_all.py``) and the other
files named in ``TABLES``. Nothing is hard-coded: replace the shipped model (same folder, new
``results.json`` and a new ``peers.json`` of the same format) and rerun this script. A missing
file or key fails with a :class:`TableError` naming both; the shipped model's numbers in
``peers.json`` must agree with its ``results.json`` (a stale ``peers.json`` fails too).
``benchmarks/run_all.py`` calls this script after writing the benchmark report, and
``tests/test_readme_tables.py`` checks that the committed files are up to date.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCUMENTS = ("README.md", "docs/EXPERIMENTS.md", "docs/ARCHITECTURE.md", "docs/DATA.md")
SHIPPED = "hub/slim-demucs-real"
EMBEDDED = "hub/slim-demucs-embedded"
PEERS = "benchmarks/report/peers/peers.json"
PROFILE = "benchmarks/report/profile.json"
PEER_NAMES = {"rnnoise": "RNNoise", "dfn3": "DeepFilterNet3"}
METRICS = ("pesq", "stoi", "si_sdr")
# A system's numbers in peers.json and in results.json come from the same model on the same
# mixtures; they differ by more than this only when one of the files is stale.
AGREEMENT = {"pesq": 0.002, "stoi": 0.002, "si_sdr": 0.02, "mean_uf": 0.002}

BLOCK = re.compile(r"(<!-- table:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /table -->)",
                   re.DOTALL)


class TableError(ValueError):
    """A result file or a key that a table needs is missing, or two files disagree."""


class _Checked(dict):
    """A JSON object whose missing keys raise :class:`TableError` naming the file."""

    def __init__(self, path, pairs):
        super().__init__(pairs)
        self.path = path

    def __missing__(self, key):
        raise TableError(f"{self.path}: missing key {key!r} (found: {', '.join(map(str, self))})")


class Source:
    """One committed JSON file; ``get`` names the file and the key path when a key is missing."""

    def __init__(self, root, path):
        self.path = path
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            raise TableError(f"{path}: file not found (needed by the generated tables)")
        with open(full, encoding="utf-8") as stream:
            self.data = json.load(stream, object_pairs_hook=lambda pairs: _Checked(path, pairs))

    def get(self, *keys):
        value = self.data
        for depth, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                where = "/".join(str(k) for k in keys[: depth + 1])
                have = ", ".join(map(str, value)) if isinstance(value, dict) else type(value)
                raise TableError(f"{self.path}: missing key {where!r} (found: {have})")
            value = value[key]
        return value


def _num(value, spec):
    return "" if value is None else format(value, spec)


def _interval(gain, spec="+.3f"):
    low, high = gain["ci95"]
    return f"{gain['mean']:{spec}} [{low:{spec}}, {high:{spec}}]"


def _spec(metric):
    return "+.2f" if metric == "si_sdr" else "+.3f"


def _table(header, aligns, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _static_modes(results):
    """Static UF modes of a results.json (``"0.125"``, ...), in increasing UF."""
    return sorted((mode for mode in results.get("modes") if mode[0].isdigit()), key=float)


def _uf_label(mode):
    return f"UF {mode}"


def _peer_key(mode):
    """The system name benchmarks/peers.py gives a results.json mode."""
    return mode if mode == "auto" else f"uf{float(mode):g}" if float(mode) != 1 else "uf1.0"


def _shipped(root):
    results = Source(root, f"{SHIPPED}/results.json")
    peers = Source(root, PEERS)
    modes = [*_static_modes(results), "auto"]
    for mode in modes:
        ours = results.get("modes", mode)
        theirs = peers.get("overall", _peer_key(mode))
        for key, tolerance in AGREEMENT.items():
            if abs(ours[key] - theirs[key]) > tolerance:
                raise TableError(
                    f"{PEERS} is stale: {_peer_key(mode)} {key} {theirs[key]:.4f} there, "
                    f"{ours[key]:.4f} in {SHIPPED}/results.json; rerun "
                    "`python benchmarks/peers.py data/real_corpus/test.json --dnsmos 40`")
    return results, peers, modes


def shipped_model(root):
    """Test split: noisy, every UF, auto (results.json) and the peers (peers.json)."""
    results, peers, modes = _shipped(root)
    profile = Source(root, PROFILE)
    offline = profile.get("models", "shipped", "offline")
    times = offline["whole_pass_ms"]
    overall = peers.get("overall")
    rows = []
    noisy = results.get("noisy")
    rows.append(["noisy", f"{noisy['pesq']:.3f}", f"{noisy['stoi']:.3f}",
                 f"{noisy['si_sdr']:.2f}", _num(peers.get("overall", "noisy").get("dnsmos_ovrl"),
                                                ".2f"), "", "", "", ""])
    for mode in modes:
        row = results.get("modes", mode)
        peer = peers.get("overall", _peer_key(mode))
        label = "auto (router)" if mode == "auto" else _uf_label(mode)
        key = "auto" if mode == "auto" else f"{float(mode):g}"
        rows.append([label, f"{row['pesq']:.3f}", f"{row['stoi']:.3f}", f"{row['si_sdr']:.2f}",
                     _num(peer.get("dnsmos_ovrl"), ".2f"), f"{row['mean_uf']:.3f}",
                     f"{row['macs_per_sample']:,.0f}", f"{times[key] / times['1']:.2f}",
                     _num(peer.get("rtf"), ".3f")])
    for key, name in PEER_NAMES.items():
        if key in overall:
            row = overall[key]
            rows.append([name, f"{row['pesq']:.3f}", f"{row['stoi']:.3f}",
                         f"{row['si_sdr']:.2f}", _num(row.get("dnsmos_ovrl"), ".2f"), "", "", "",
                         _num(row.get("rtf"), ".3f")])
    lines = _table(["system", "PESQ", "STOI", "SI-SDR (dB)", "DNSMOS OVRL", "mean UF",
                    "MACs/sample", "time / time(UF 1)", "RTF"], ["---"] + ["---:"] * 8, rows)
    lines += ["", f"{peers.get('items')} mixtures, {peers.get('audio_seconds'):.0f} s of audio; "
              f"DNSMOS OVRL on the first {peers.get('dnsmos_items')}; real-time factor (RTF) on "
              f"{peers.get('threads')} thread. Ours: `{SHIPPED}/results.json`; DNSMOS, RTF and "
              f"the peers: `{PEERS}` (same mixtures, one run). Time / time(UF 1): CPU time of "
              f"one offline pass over {profile.get('audio_seconds'):g} s of noise, "
              f"{profile.get('threads')} thread, all UFs side by side (auto: its router's track, "
              f"mean UF {offline['auto_mean_uf']:.3f}, router included): `{PROFILE}` "
              "(`benchmarks/profile_blocks.py`, which also says where the time goes)."]
    return lines


def shipped_gains(root):
    """Gain over the noisy input with its paired 95% bootstrap interval."""
    results, peers, modes = _shipped(root)
    rows = []
    for mode in modes:
        gain = results.get("gain_over_noisy", mode)
        label = "auto (router)" if mode == "auto" else _uf_label(mode)
        rows.append([label, *(_interval(gain[k], _spec(k)) for k in METRICS)])
    for key, name in PEER_NAMES.items():
        if key in peers.get("gain_over_noisy"):
            gain = peers.get("gain_over_noisy", key)
            rows.append([name, *(_interval(gain[k], _spec(k)) for k in METRICS)])
    return _table(["system", "PESQ", "STOI", "SI-SDR (dB)"], ["---", "---:", "---:", "---:"],
                  rows)


def _shipped_groups(root, field, what, header, cell):
    """A ``system x group`` table of the test split's ``peers.json[field]`` summaries."""
    _, peers, modes = _shipped(root)
    summaries = peers.get(field)
    groups = list(peers.get(field, "noisy"))
    systems = ["noisy", _peer_key(modes[-2]), "auto", *[k for k in PEER_NAMES if k in summaries]]
    names = {"noisy": "noisy", "auto": "auto (router)", **PEER_NAMES,
             _peer_key(modes[-2]): _uf_label(modes[-2])}
    rows = [[names[system], *(cell(peers.get(field, system, group)) for group in groups)]
            for system in systems]
    counts = ", ".join(f"{g} {peers.get(field, 'noisy', g, 'count')}" for g in groups)
    return _table([header, *groups], ["---"] + ["---:"] * len(groups), rows) + [
        "", f"Mixtures per {what}: {counts} (`{PEERS}`)."]


def shipped_by_source(root):
    """PESQ / STOI per voice source of the test split (peers.json)."""
    return _shipped_groups(root, "by_source", "source", "PESQ / STOI",
                           lambda row: f"{row['pesq']:.2f} / {row['stoi']:.3f}")


def shipped_by_noise(root):
    """PESQ / SI-SDR per noise source (Debian package) of the test split (peers.json)."""
    return _shipped_groups(root, "by_noise", "noise source", "PESQ / SI-SDR (dB)",
                           lambda row: f"{row['pesq']:.2f} / {row['si_sdr']:.1f}")


ORACLE = "benchmarks/report/peers/utterance_oracle.json"


def shipped_routing(root):
    """The paper's headline on the shipped model: does "auto" reach static UF 0.25's PESQ with
    at least 20% fewer MACs (results.json), and what the per-utterance oracle reaches there."""
    results, _, _ = _shipped(root)
    oracle = Source(root, ORACLE)
    auto, quarter = results.get("modes", "auto"), results.get("modes", "0.25")
    smallest_mode = _static_modes(results)[0]
    smallest = results.get("modes", smallest_mode)
    bound = next(row for row in oracle.get("static") if row["uf"] == 0.25)
    if abs(bound["pesq"] - quarter["pesq"]) > AGREEMENT["pesq"]:
        raise TableError(f"{ORACLE} is stale: UF 0.25 PESQ {bound['pesq']:.4f} there, "
                         f"{quarter['pesq']:.4f} in {SHIPPED}/results.json; rerun "
                         "`python benchmarks/utterance_oracle.py data/real_corpus/test.json "
                         f"--json {ORACLE} ...` (README)")
    budget = (1 - oracle.get("saving")) * quarter["macs_per_sample"]
    reached = auto["pesq"] >= quarter["pesq"] and auto["macs_per_sample"] <= budget
    rows = [
        ["static UF 0.25", f"{quarter['pesq']:.3f}", f"{quarter['macs_per_sample']:,.0f}"],
        [f"auto (mean UF {auto['mean_uf']:.3f})", f"{auto['pesq']:.3f}",
         f"{auto['macs_per_sample']:,.0f}"],
        [f"static UF {smallest_mode}", f"{smallest['pesq']:.3f}",
         f"{smallest['macs_per_sample']:,.0f}"],
        ["per-utterance oracle", f"{bound['oracle_at_saved_macs']:.3f}", f"{budget:,.0f}"],
    ]
    verdict = "yes" if reached else "no"
    return _table(["operating point", "PESQ", "MACs/sample"], ["---", "---:", "---:"], rows) + [
        "", f"Does \"auto\" reach static UF 0.25's PESQ with at least "
        f"{oracle.get('saving'):.0%} fewer MACs ({budget:,.0f})? **{verdict}** "
        f"({auto['pesq'] - quarter['pesq']:+.3f} PESQ at "
        f"{1 - auto['macs_per_sample'] / quarter['macs_per_sample']:.0%} fewer MACs). The "
        f"oracle picks each test utterance's UF knowing its PESQ at every UF: the most any "
        f"per-utterance router could reach at that budget. `{SHIPPED}/results.json`, "
        f"`{ORACLE}`; plot: `benchmarks/report/peers/pareto.png`."]


def shipped_by_snr(root):
    """PESQ / STOI per SNR bucket and the router's mean UF there (results.json, peers.json)."""
    results, peers, modes = _shipped(root)
    snrs = list(results.get("by_snr", "noisy"))
    rows = []
    for mode in ["noisy", *modes]:
        label = {"noisy": "noisy", "auto": "auto (router)"}.get(mode) or _uf_label(mode)
        cells = []
        for snr in snrs:
            row = results.get("by_snr", mode, snr)
            cells.append(f"{row['pesq']:.2f} / {row['stoi']:.3f}")
        rows.append([label, *cells])
    for key, name in PEER_NAMES.items():
        if key in peers.get("by_snr"):
            rows.append([name, *(f"{peers.get('by_snr', key, s)['pesq']:.2f} / "
                                 f"{peers.get('by_snr', key, s)['stoi']:.3f}" for s in snrs)])
    rows.append(["router's mean UF", *(f"{results.get('by_snr', 'auto', s, 'mean_uf'):.3f}"
                                        for s in snrs)])
    clean = results.get("clean_input")
    return _table(["PESQ / STOI", *(f"{s} dB" for s in snrs)], ["---"] + ["---:"] * len(snrs),
                  rows) + [
        "", f"On the noise-free test inputs the router spends mean UF {clean['mean_uf']:.3f} "
        f"({100 * clean['smallest_uf_share']:.0f}% of frames at the smallest UF). "
        f"`{SHIPPED}/results.json`, peers `{PEERS}`."]


def _quality(root, path, title_noisy="noisy"):
    results = Source(root, path)
    noisy = results.get("noisy")
    rows = [[title_noisy, f"{noisy['pesq']:.3f}", f"{noisy['stoi']:.3f}",
             f"{noisy['si_sdr']:.2f}", "", ""]]
    for mode in [*_static_modes(results.data), "auto"]:
        row = results.get("modes", mode)
        rows.append(["auto (router)" if mode == "auto" else _uf_label(mode), f"{row['pesq']:.3f}",
                     f"{row['stoi']:.3f}", f"{row['si_sdr']:.2f}", f"{row['mean_uf']:.3f}",
                     f"{row['macs_per_sample']:,.0f}"])
    lines = _table(["input", "PESQ", "STOI", "SI-SDR (dB)", "mean UF", "MACs/sample"],
                   ["---", "---:", "---:", "---:", "---:", "---:"], rows)
    return results, lines


def embedded_model(root):
    """The embedded model on the embedded corpus's test split, with gains and per-SNR PESQ."""
    results, lines = _quality(root, f"{EMBEDDED}/results.json")
    snrs = list(results.get("by_snr", "noisy"))
    gains = [f"{_uf_label(m) if m != 'auto' else 'auto'}: "
             + ", ".join(f"{k.upper().replace('SI_SDR', 'SI-SDR')} "
                         f"{_interval(results.get('gain_over_noisy', m, k), _spec(k))}"
                         for k in METRICS)
             for m in ("1.0", "auto")]
    pesq = "; ".join(
        f"{'noisy' if m == 'noisy' else 'auto' if m == 'auto' else _uf_label(m)} "
        + " / ".join(f"{results.get('by_snr', m, s, 'pesq'):.2f}" for s in snrs)
        for m in ("noisy", "1.0", "auto"))
    router = " / ".join(f"{results.get('by_snr', 'auto', s, 'mean_uf'):.2f}" for s in snrs)
    clean = results.get("clean_input")
    lines += ["", f"Gain over noisy, mean [paired 95% bootstrap interval]: {'; '.join(gains)}.",
              f"PESQ per SNR bucket ({' / '.join(snrs)} dB): {pesq}. Router's mean UF per "
              f"bucket: {router}; on noise-free input {clean['mean_uf']:.3f} "
              f"({100 * clean['smallest_uf_share']:.0f}% of frames at UF 0.125). "
              f"`{EMBEDDED}/results.json`."]
    return lines


def valid_choice(root):
    """Valid split of the real corpus: the embedded model against the real one (peers_valid)."""
    noisy, models, peers = [], [], []
    for name, path in (("embedded", "benchmarks/report/peers_valid/embedded_model.json"),
                       ("real (shipped)", "benchmarks/report/peers_valid/real_model.json")):
        source = Source(root, path)
        for system in source.get("systems"):
            row = source.get("overall", system)
            cells = [f"{row['pesq']:.3f}", f"{row['stoi']:.3f}", f"{row['si_sdr']:.2f}",
                     _num(row.get("mean_uf"), ".3f")]
            if system == "noisy":
                noisy = noisy or [["noisy", *cells]]
            elif system in PEER_NAMES:
                peers.append([PEER_NAMES[system], *cells])
            else:
                mode = "auto" if system == "auto" else f"UF {system[2:]}"
                models.append([f"{name}, {mode}", *cells])
    rows = noisy + models + peers
    return _table(["system", "PESQ", "STOI", "SI-SDR (dB)", "mean UF"],
                  ["---", "---:", "---:", "---:", "---:"], rows) + [
        "", "`benchmarks/report/peers_valid/` (commands in its README.md)."]


def training_rules(root):
    """Backbone training rules at equal wall time (benchmarks/training_rules.py)."""
    source = Source(root, "benchmarks/report/rules/training_rules.json")
    ufs = list(source.get("initial"))
    rows = [["(initial)", "0", "", *(f"{source.get('initial', u, 'pesq'):.3f}" for u in ufs)]]
    for rule, row in source.get("rules").items():
        rows.append([rule, str(row["steps"]), f"{row['audio_per_second']:.1f}",
                     *(f"{row['valid'][u]['pesq']:.3f}" for u in ufs), f"{row['mean_pesq']:.3f}"])
    initial_mean = sum(source.get("initial", u, "pesq") for u in ufs) / len(ufs)
    rows[0].append(f"{initial_mean:.3f}")
    header = ["rule", "steps", "audio s / s", *(f"PESQ UF {u[2:]}" for u in ufs), "mean PESQ"]
    return _table(header, ["---"] + ["---:"] * (len(header) - 1), rows) + [
        "", f"{source.get('minutes'):g} min per rule from `{source.get('init')}` "
        f"(`{source.get('hparams')}`, lr {source.get('lr'):g}), valid PESQ on "
        f"{source.get('valid_items')} mixtures: `benchmarks/report/rules/training_rules.json`."]


def backbone_speed(root):
    """Wall time per UF next to the MAC ratio (benchmarks/backbone_speed.py)."""
    source = Source(root, "benchmarks/report/backbone.json")
    rows = []
    for row in source.get("paper"):
        target = row.get("target")
        rows.append([f"{row['uf']:g}", f"{row['macs_per_sample']:,.0f}", f"{row['seconds']:.3f}",
                     f"{row['time_ratio']:.2f}", f"{row['mac_ratio']:.2f}",
                     "" if target is None else f"<= {target:.2f}"])
    lines = _table(["UF", "MACs/sample", "wall time (s)", "time / time(UF 1)",
                    "MACs / MACs(UF 1)", "target"], ["---:"] * 6, rows)
    lines += ["", f"Paper config (hidden=32), {source.get('audio_seconds'):g} s of audio, batch 1, "
              f"{source.get('threads')} thread: `benchmarks/report/backbone.json`."]
    return lines


def backbone_vs_denoiser(root):
    """UF 1.0 against denoiser's Demucs with the same weights."""
    source = Source(root, "benchmarks/report/backbone.json")
    rows = []
    for name in ("dns48", "hidden=32"):
        row = source.get(name)
        rows.append([name, f"{row['slim_seconds']:.3f}", f"{row['reference_seconds']:.3f}",
                     f"{row['ratio']:.2f}", f"<= {row['target']:g}"])
    return _table(["config", "SlimDemucs (s)", "denoiser Demucs (s)", "ratio", "target"],
                  ["---", "---:", "---:", "---:", "---:"], rows)


def streaming_speed(root):
    """Per 16 ms frame on one thread (benchmarks/streaming_speed.py)."""
    source = Source(root, "benchmarks/report/streaming.json")
    rows = [[row["name"], str(row["uf"]), f"{row['ms_per_frame']:.2f}", f"{row['rtf']:.3f}",
             f"{row['latency_ms']:.1f}"] for row in source.get("rows")]
    return _table(["model", "UF", "ms per frame", "real-time factor", "latency (ms)"],
                  ["---", "---:", "---:", "---:", "---:"], rows) + [
        "", f"{source.get('audio_seconds'):g} s in chunks of {source.get('chunk')} samples, "
        f"{source.get('threads')} thread: `benchmarks/report/streaming.json`."]


def structure_speed(root):
    """time(UF 0.125) / time(UF 1) of several backbone shapes (benchmarks/structure_speed.py)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    from structure_speed import format_result

    path = "benchmarks/report/structure.json"
    return [*format_result(Source(root, path).data).splitlines(), "", f"`{path}`."]


def routed_speed(root):
    """Routed passes against the time their UF shares predict (benchmarks/routed_speed.py)."""
    source = Source(root, "benchmarks/report/routed.json")
    rows = [[row["track"], f"{row['mean_run_frames']:.1f}", f"{row['mean_uf']:.3f}",
             f"{row['measured_s']:.3f}", f"{row['predicted_s']:.3f}", f"{row['ratio']:.2f}",
             "" if row.get("target") is None else f"<= {row['target']:g}"]
            for row in source.get("tracks")]
    return _table(["track", "mean run (frames)", "mean UF", "measured (s)", "predicted (s)",
                   "ratio", "target"], ["---"] + ["---:"] * 6, rows) + [
        "", f"`{source.get('hparams')}`, {source.get('audio_seconds'):g} s, "
        f"{source.get('threads')} thread: `benchmarks/report/routed.json`."]


def corpus_report(root):
    """What each Debian package gave the real corpus (the corpus build's own report)."""
    path = f"{SHIPPED}/corpus_report.md"
    full = os.path.join(root, path)
    if not os.path.isfile(full):
        raise TableError(f"{path}: file not found (needed by the generated tables)")
    with open(full, encoding="utf-8") as stream:
        text = stream.read().strip("\n")
    return [*text.splitlines(), "", f"`{path}` (printed by the corpus build)."]


TABLES = {
    "shipped-model": shipped_model,
    "shipped-gains": shipped_gains,
    "shipped-by-source": shipped_by_source,
    "shipped-by-noise": shipped_by_noise,
    "shipped-by-snr": shipped_by_snr,
    "shipped-routing": shipped_routing,
    "embedded-model": embedded_model,
    "valid-choice": valid_choice,
    "training-rules": training_rules,
    "backbone-speed": backbone_speed,
    "backbone-vs-denoiser": backbone_vs_denoiser,
    "streaming-speed": streaming_speed,
    "structure-speed": structure_speed,
    "routed-speed": routed_speed,
    "corpus-report": corpus_report,
}


def render(text, root=ROOT, path="<text>"):
    """``text`` with every marked block regenerated; an unknown table name is an error."""

    def fill(match):
        name = match.group("name")
        if name not in TABLES:
            raise TableError(f"{path}: unknown table {name!r} (known: {', '.join(TABLES)})")
        body = "\n".join(TABLES[name](root))
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return BLOCK.sub(fill, text)


def update(root=ROOT, documents=DOCUMENTS, check=False):
    """Regenerates the blocks of ``documents``; returns the paths that changed (or would)."""
    changed = []
    for relative in documents:
        path = os.path.join(root, relative)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        new = render(text, root, relative)
        if new != text:
            changed.append(relative)
            if not check:
                with open(path, "w", encoding="utf-8") as stream:
                    stream.write(new)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit status 1 if a block is out of date")
    parser.add_argument("--root", default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        changed = update(args.root, check=args.check)
    except TableError as error:
        print(f"readme_tables: {error}", file=sys.stderr)
        return 2
    verb = "out of date" if args.check else "rewrote"
    for path in changed:
        print(f"{verb}: {path}")
    if not changed:
        print("tables up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
