"""benchmarks/structure_speed.py: every candidate shape is timed offline and streaming, and
its row says what the shape costs (MACs, parameters, latency) as the package computes it."""

import pytest

from speechbrain_slim.complexity import macs_per_uf
from speechbrain_slim.streaming import StreamingEnhancer


def test_rows_describe_each_shape(load_script, monkeypatch):
    bench = load_script("benchmarks", "structure_speed.py")
    shapes = {"tiny x4": dict(hidden=4, depth=3, resample=4, gru_groups=2),
              "tiny x1": dict(hidden=8, depth=3, resample=1, gru_groups=2)}
    monkeypatch.setattr(bench, "CANDIDATES", shapes)
    result = bench.run(seconds=0.5, repeats=1, stream_seconds=0.2)
    assert [row["name"] for row in result["rows"]] == list(shapes)
    for row in result["rows"]:
        model = bench.build(shapes[row["name"]])
        macs = macs_per_uf(model)
        assert row["macs_ratio"] == pytest.approx(macs[0] / macs[-1])
        assert row["parameters"] == sum(p.numel() for p in model.parameters())
        assert row["latency_ms"] == StreamingEnhancer(model, uf=1.0).latency_ms
        off = row["offline_ms"]
        assert row["offline_ratio"] == pytest.approx(off["0.125"] / off["1.0"])
        assert all(value > 0 for value in (*off.values(), *row["stream_rtf"].values()))
    table = bench.format_result(result)
    assert all(f"| {name} |" in table for name in shapes)
