"""What any per-utterance choice of UF can reach: an oracle bound on routing's PESQ.

    python benchmarks/utterance_oracle.py results/slim_demucs_embedded/1234/data/test.json \
        --source hub/slim-demucs-embedded
    python benchmarks/utterance_oracle.py test.json --hparams hparams/slim_demucs_embedded.yaml \
        --checkpoint results/.../save/backbone/CKPT+...

Runs every static UF on every mixture and scores PESQ against the clean reference. An
oracle that knows those scores gives each utterance the UF that maximises
``PESQ - lambda * MACs``; sweeping ``lambda`` traces the best trade-offs any per-utterance
choice can reach (the upper convex hull; between its vertices the line joining them bounds
every mix of choices). The table compares that bound with the static UFs at the MACs of
each static UF and at ``--saving`` (default 20%) fewer MACs than each. If the bound at
20% fewer MACs than static UF 0.25 is below static UF 0.25's PESQ, no router that keeps
one width per utterance can match UF 0.25 with that saving on this backbone and split;
a per-frame router could only do better by mixing widths inside an utterance, which
``mixed_tracks.py`` measures.

Authors
 * speechbrain-slim contributors 2026
"""

import numpy as np
import torch


def oracle_hull(pesq, macs, lambdas=None):
    """Upper convex hull ``[(macs, pesq), ...]`` (increasing MACs) of per-item oracle choices.

    Arguments
    ---------
    pesq : numpy.ndarray
        ``[items, ufs]`` PESQ of each item at each static UF.
    macs : numpy.ndarray
        ``[ufs]`` MACs per sample of each static UF.
    lambdas : numpy.ndarray, optional
        Prices of a MAC to sweep (default: every slope between two UFs of one item).

    Example
    -------
    >>> pesq = np.array([[1.0, 2.0], [1.0, 1.1]])  # item 0 gains a lot from the wide UF
    >>> oracle_hull(pesq, np.array([1.0, 2.0]))
    [(1.0, 1.0), (1.5, 1.5), (2.0, 1.55)]
    """
    pesq, macs = np.asarray(pesq, dtype=float), np.asarray(macs, dtype=float)
    if lambdas is None:
        gains = (pesq[:, None, :] - pesq[:, :, None]) / (macs[None, :] - macs[:, None] + 1e-12)
        slopes = np.unique(gains[gains > 0])
        lambdas = np.concatenate([[0.0], slopes * (1 - 1e-9), slopes * (1 + 1e-9), [np.inf]])
    points = set()
    for price in lambdas:
        value = pesq - (0.0 if np.isinf(price) else price) * macs[None, :]
        choice = np.zeros(len(pesq), dtype=int) if np.isinf(price) else value.argmax(axis=1)
        points.add((float(macs[choice].mean()), float(pesq[np.arange(len(pesq)), choice].mean())))
    hull = []
    for point in sorted(points):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    return [(round(m, 9), round(p, 9)) for m, p in hull]


def _cross(a, b, c):
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def bound_at(hull, macs):
    """The oracle's best mean PESQ at a budget of ``macs`` per sample (hull interpolation);
    ``nan`` below the cheapest choice."""
    if macs < hull[0][0]:
        return float("nan")
    return float(np.interp(macs, [m for m, _ in hull], [p for _, p in hull]))


def per_item_pesq(model, manifest, limit=None):
    """``[items, ufs]`` PESQ and ``[ufs]`` MACs per sample of each static UF on a split."""
    from common import mixtures, score_runs

    scores = {}
    with torch.inference_mode():
        for _, noisy, clean in mixtures(manifest, limit):
            score_runs(scores, {uf: model(noisy, uf) for uf in model.ufs}, clean)
    pesq = np.stack([scores[uf]["pesq"] for uf in model.ufs], axis=1)
    macs = np.array([np.mean(scores[uf]["macs"]) for uf in model.ufs])
    return pesq, macs


def oracle_summary(pesq, macs, ufs, saving=0.2):
    """JSON-able bound: the hull, and per static UF its PESQ, the bound at its MACs and at
    ``saving`` fewer MACs."""
    hull = oracle_hull(pesq, macs)
    rows = []
    for index, uf in enumerate(ufs):
        budget = (1 - saving) * macs[index]
        rows.append({"uf": float(uf), "macs_per_sample": float(macs[index]),
                     "pesq": float(pesq[:, index].mean()),
                     "oracle_at_macs": bound_at(hull, macs[index]),
                     "saved_macs_per_sample": float(budget),
                     "oracle_at_saved_macs": bound_at(hull, budget)})
    return {"items": int(len(pesq)), "saving": saving, "hull": [list(p) for p in hull],
            "static": rows}


def format_summary(summary):
    """The bound as a markdown table."""
    lines = [f"{summary['items']} items", "",
             f"| static UF | MACs/sample | PESQ | oracle at these MACs | MACs "
             f"{1 - summary['saving']:.0%} | oracle there |", "|---:|---:|---:|---:|---:|---:|"]
    for row in summary["static"]:
        lines.append(f"| {row['uf']:g} | {row['macs_per_sample']:,.0f} | {row['pesq']:.3f} | "
                     f"{row['oracle_at_macs']:.3f} | {row['saved_macs_per_sample']:,.0f} | "
                     f"{row['oracle_at_saved_macs']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    import json

    from common import model_from_args, split_model_parser

    parser = split_model_parser(__doc__, "test.json (or valid.json) of the embedded data")
    parser.add_argument("--saving", type=float, default=0.2, help="MACs saving to test")
    parser.add_argument("--json", help="also write the bound here (+ .md beside it)")
    parser.add_argument("--plot", help="also draw results.json's Pareto plot with the bound "
                                       "(needs --results)")
    parser.add_argument("--results", help="the model's results.json (its routed modes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = model_from_args(parser, args)
    pesq, macs = per_item_pesq(model, args.manifest, args.limit)
    summary = oracle_summary(pesq, macs, model.ufs, args.saving)
    table = format_summary(summary)
    print(table)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(summary, stream, indent=2)
        with open(args.json.rsplit(".", 1)[0] + ".md", "w", encoding="utf-8") as stream:
            stream.write(table + "\n")
    if args.plot:
        if not args.results:
            parser.error("--plot needs --results")
        from speechbrain_slim.evaluation import pareto_plot

        with open(args.results, encoding="utf-8") as stream:
            pareto_plot(json.load(stream), args.plot, oracle=summary["hull"])


if __name__ == "__main__":
    main()
