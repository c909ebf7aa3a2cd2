"""Summaries of per-item metric scores: means that count what a metric could not score.

* :func:`finite_mean`: the mean of the scores a metric could compute, and how many failed.
* :class:`QualityStats`: per-utterance scores with group keys (SNR bucket, UF, ...),
  summarised as means per group and rendered as a markdown table.

Authors
 * speechbrain-slim contributors 2026
"""

from collections import OrderedDict

import numpy as np
import torch

__all__ = ["QualityStats", "finite_mean", "summarise_rows"]


def finite_mean(values):
    """Mean of the values a metric could compute, and how many it could not (NaN).

    PESQ, STOI and DNSMOS return NaN for inputs they cannot score (silence, too
    short); every summary reports that count beside the mean, so that a mean over
    fewer items than the table says cannot pass unnoticed.

    Arguments
    ---------
    values : sequence of float
        Scores, NaN where the metric failed.

    Returns
    -------
    mean : float
        Mean of the finite values (NaN when there are none).
    failed : int
        Number of NaN values.

    Example
    -------
    >>> finite_mean([2.0, float("nan"), 4.0])
    (3.0, 1)
    """
    values = np.asarray([float(v) for v in values], dtype=float)
    failed = int(np.isnan(values).sum())
    kept = values[~np.isnan(values)]
    return (float(kept.mean()) if len(kept) else float("nan")), failed


def summarise_rows(rows, names):
    """``{"count": n, name: finite mean, name_failed: k (when k > 0)}`` over dict rows.

    The one summary of a set of items: each metric's mean over the items it scored, and
    how many it could not score (:func:`finite_mean`); a row without a metric is skipped
    for that metric.

    Example
    -------
    >>> summarise_rows([{"pesq": 2.0}, {"pesq": float("nan")}, {"stoi": 0.5}], ["pesq", "stoi"])
    {'count': 3, 'pesq': 2.0, 'pesq_failed': 1, 'stoi': 0.5}
    """
    summary = {"count": len(rows)}
    for name in names:
        summary[name], failed = finite_mean(row[name] for row in rows if name in row)
        if failed:
            summary[f"{name}_failed"] = failed
    return summary


class QualityStats:
    """Accumulates per-utterance metric values and summarises them per group.

    Each utterance has an id, a dict of scores (NaN allowed: a metric that could
    not be computed) and optional group labels such as ``{"snr": "0-5", "uf": 0.5}``.
    :meth:`summarize` returns the mean of each metric over all utterances, or per
    value of one or more group keys, ignoring NaN; ``count`` is the number of
    utterances in the group and ``<metric>_failed`` (present when not 0) how many of
    them the metric could not score. Like ``speechbrain.utils.metric_stats.MetricStats``
    it has ``append``, ``clear`` and ``summarize``.

    Example
    -------
    >>> stats = QualityStats()
    >>> stats.append("a", {"pesq": 3.0, "si_sdr": 15.0}, snr="low", uf=0.5)
    >>> stats.append("b", {"pesq": 2.0, "si_sdr": float("nan")}, snr="low", uf=1.0)
    >>> stats.append("c", {"pesq": 4.0, "si_sdr": 20.0}, snr="high", uf=1.0)
    >>> stats.summarize()
    {'all': {'count': 3, 'pesq': 3.0, 'si_sdr': 17.5, 'si_sdr_failed': 1}}
    >>> stats.summarize("snr")["low"]
    {'count': 2, 'pesq': 2.5, 'si_sdr': 15.0, 'si_sdr_failed': 1}
    >>> print(stats.to_markdown("uf"))
    | uf | count | pesq | si_sdr |
    |---|---|---|---|
    | 0.5 | 1 | 3.00 | 15.00 |
    | 1.0 | 2 | 3.00 | 20.00 (1 failed) |
    """

    def __init__(self):
        self.clear()

    def clear(self):
        """Forgets all stored utterances."""
        self.ids = []
        self.scores = []
        self.groups = []

    def __len__(self):
        return len(self.ids)

    def append(self, utt_id, scores, **groups):
        """Stores one utterance.

        Arguments
        ---------
        utt_id : str
            Utterance id.
        scores : dict
            Metric name -> value (float, 0-d tensor or NaN).
        **groups
            Group labels, e.g. ``snr="0-5"``, ``uf=0.5``.
        """
        self.ids.append(utt_id)
        self.scores.append({name: float(value) for name, value in scores.items()})
        self.groups.append(dict(groups))

    def append_batch(self, ids, scores, **groups):
        """Stores a batch of utterances.

        Arguments
        ---------
        ids : list of str
            Utterance ids.
        scores : dict
            Metric name -> sequence (list, array or tensor) with one value per id.
        **groups
            Group label per key: one value for the whole batch, or a sequence
            with one value per id.

        Example
        -------
        >>> stats = QualityStats()
        >>> stats.append_batch(["a", "b"], {"stoi": torch.tensor([0.9, 0.7])}, snr=["0", "5"])
        >>> round(stats.summarize("snr")["5"]["stoi"], 4)
        0.7
        """
        columns = {name: _as_list(values) for name, values in scores.items()}
        group_columns = {
            key: _as_list(value)
            if isinstance(value, (list, tuple, np.ndarray, torch.Tensor))
            else [value] * len(ids)
            for key, value in groups.items()
        }
        for index, utt_id in enumerate(ids):
            self.append(
                utt_id,
                {name: values[index] for name, values in columns.items()},
                **{key: values[index] for key, values in group_columns.items()},
            )

    def metric_names(self):
        """Returns metric names in first-seen order."""
        names = OrderedDict()
        for scores in self.scores:
            names.update(dict.fromkeys(scores))
        return list(names)

    def summarize(self, by=None):
        """Means of every metric, overall or per group.

        Arguments
        ---------
        by : str or tuple of str, optional
            Group key(s). With one key, groups are keyed by its value; with
            several, by the tuple of values. Utterances lacking a key fall
            in group ``None``. With ``by=None`` there is one group, ``"all"``.

        Returns
        -------
        dict
            Group -> ``{"count": n, metric: NaN-ignoring mean, ...}``, groups
            in sorted order (as strings when values are not comparable).
        """
        keys = (by,) if isinstance(by, str) else tuple(by or ())
        members = OrderedDict()
        for scores, groups in zip(self.scores, self.groups):
            if not keys:
                label = "all"
            elif len(keys) == 1:
                label = groups.get(keys[0])
            else:
                label = tuple(groups.get(key) for key in keys)
            members.setdefault(label, []).append(scores)
        names = self.metric_names()
        summary = {}
        for label in _sorted_labels(members):
            summary[label] = summarise_rows(members[label], names)
        return summary

    def to_markdown(self, by=None, precision=2):
        """Renders :meth:`summarize` as a markdown table.

        Arguments
        ---------
        by : str or tuple of str, optional
            Group key(s), as in :meth:`summarize`.
        precision : int
            Decimals of the metric means.

        Returns
        -------
        str
            The table, one row per group.
        """
        summary = self.summarize(by)
        names = self.metric_names()
        if by is None:
            first = "group"
        else:
            first = by if isinstance(by, str) else " / ".join(by)
        lines = [
            "| " + " | ".join([first, "count", *names]) + " |",
            "|" + "---|" * (len(names) + 2),
        ]
        for label, entry in summary.items():
            label_text = " / ".join(map(str, label)) if isinstance(label, tuple) else str(label)
            cells = [label_text, str(entry["count"])]
            for name in names:
                failed = entry.get(f"{name}_failed")
                note = f" ({failed} failed)" if failed else ""
                cells.append(f"{entry[name]:.{precision}f}{note}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _as_list(values):
    """Turns a tensor, array or sequence into a list of Python scalars."""
    if torch.is_tensor(values):
        return values.detach().cpu().tolist()
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)


def _sorted_labels(members):
    """Sorts group labels, falling back to their string form for mixed types."""
    try:
        return sorted(members)
    except TypeError:
        return sorted(members, key=str)
