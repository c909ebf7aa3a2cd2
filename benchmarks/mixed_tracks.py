"""What mixing widths costs: PESQ of per-frame UF tracks against the static line.

    python benchmarks/mixed_tracks.py results/slim_demucs_embedded/1234/data/valid.json \
        --source hub/slim-demucs-embedded
    python benchmarks/mixed_tracks.py valid.json --hparams hparams/slim_demucs_embedded.yaml \
        --checkpoint results/.../save/backbone/CKPT+...

Routing can only beat the static UFs if a track that mixes widths scores at least as
well as the static line (static UFs joined by straight lines in PESQ vs MACs) at the
MACs it spends. This runs, on a split's mixtures, every static UF and hand-made tracks:
bursts of UF 1.0 in runs of 1, 4 and 32 frames over UF 0.125 (~10% of frames), runs of
32 frames at the second-smallest UF (~40%), and the two smallest UFs alternating frame by
frame. Each row gives PESQ, mean UF, MACs per sample and the gap to the static line at
those MACs (negative: mixing loses).

Authors
 * speechbrain-slim contributors 2026
"""

import numpy as np
import torch


def burst_track(frames, base, burst, run, share, generator):
    """``[1, frames]`` at ``base`` with runs of ``run`` frames at ``burst`` (~``share``)."""
    track = torch.full((1, frames), float(base))
    starts = torch.nonzero(torch.rand(frames, generator=generator) < share / run).reshape(-1)
    for start in starts.tolist():
        track[0, start : start + run] = float(burst)
    return track


def track_recipes(ufs):
    """Name -> function(frames, generator) of the tracks to score."""
    small, second, large = ufs[0], ufs[1], ufs[-1]
    recipes = {
        f"{large:g} bursts, runs of {run}": (
            lambda frames, gen, run=run: burst_track(frames, small, large, run, 0.1, gen)
        )
        for run in (1, 4, 32)
    }
    recipes[f"{second:g} runs of 32"] = lambda frames, gen: burst_track(
        frames, small, second, 32, 0.4, gen
    )
    recipes[f"{small:g}/{second:g} alternating"] = lambda frames, gen: torch.tensor(
        [small, second]
    ).repeat(frames // 2 + 1)[:frames].reshape(1, frames)
    return recipes


def static_line(static_rows, macs):
    """PESQ of the static line (linear in MACs between static UFs) at ``macs``."""
    points = sorted((row["macs"], row["pesq"]) for row in static_rows)
    return float(np.interp(macs, [m for m, _ in points], [p for _, p in points]))


def mixed_track_table(model, manifest, limit=None, seed=0):
    """Rows ``{mode, mean_uf, macs, pesq, si_sdr, gap}``: static UFs, then the mixed tracks."""
    from common import mean_rows, mixtures, score_runs

    generator = torch.Generator().manual_seed(seed)
    recipes = track_recipes(model.ufs)
    scores = {}
    with torch.inference_mode():
        for _, noisy, clean in mixtures(manifest, limit):
            frames = model.bottleneck_frames(noisy.shape[-1])
            tracks = {f"static {uf:g}": uf for uf in model.ufs}
            tracks.update({name: make(frames, generator) for name, make in recipes.items()})
            score_runs(scores, {name: model(noisy, uf) for name, uf in tracks.items()}, clean)
    rows = mean_rows(scores)
    static = [row for row in rows if row["mode"].startswith("static")]
    for row in rows:
        row["gap"] = row["pesq"] - static_line(static, row["macs"])
    return rows


def main(argv=None):
    from common import model_from_args, split_model_parser

    parser = split_model_parser(__doc__, "valid.json (or test.json) of the embedded data")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = mixed_track_table(model_from_args(parser, args), args.manifest, args.limit)
    print("| track | mean UF | MACs/sample | PESQ | vs static line |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['mode']} | {row['mean_uf']:.3f} | {row['macs']:,.0f} | "
              f"{row['pesq']:.3f} | {row['gap']:+.3f} |")


if __name__ == "__main__":
    main()
