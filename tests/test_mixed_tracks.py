"""benchmarks/mixed_tracks.py: the hand-made tracks and the static line they are judged by."""

import pytest
import torch

UFS = (0.125, 0.25, 0.5, 1.0)


def test_tracks_mix_the_intended_widths(load_script):
    bench = load_script("benchmarks", "mixed_tracks.py")
    generator = torch.Generator().manual_seed(0)
    tracks = {name: make(4000, generator) for name, make in bench.track_recipes(UFS).items()}
    for run in (1, 4, 32):
        track = tracks[f"1 bursts, runs of {run}"]
        assert set(track.unique().tolist()) == {0.125, 1.0}
        assert float((track == 1.0).float().mean()) == pytest.approx(0.1, abs=0.03)
    assert set(tracks["0.25 runs of 32"].unique().tolist()) == {0.125, 0.25}
    alternating = tracks["0.125/0.25 alternating"][0]
    assert alternating[:4].tolist() == [0.125, 0.25, 0.125, 0.25]


def test_the_static_line_interpolates_in_macs(load_script):
    bench = load_script("benchmarks", "mixed_tracks.py")
    rows = [{"macs": 1000.0, "pesq": 1.2}, {"macs": 3000.0, "pesq": 1.4}]
    assert bench.static_line(rows, 2000.0) == pytest.approx(1.3)
    assert bench.static_line(rows, 1000.0) == pytest.approx(1.2)
