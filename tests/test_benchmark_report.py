"""Benchmark reports: run_all.py assembles its sections and plots; learning_diagnostics.py's
clean-input check scores what a model does to speech without noise."""

import json

import pytest
import torch

from speechbrain_slim.evaluation import evaluate
from speechbrain_slim.lobes.slim_demucs import SlimDemucs


def test_plots_are_written_from_benchmark_results(tmp_path, load_script):
    run_all = load_script("benchmarks", "run_all.py")
    backbone = {"audio_seconds": 10, "paper": [
        {"uf": uf, "mac_ratio": uf, "time_ratio": 0.3 + 0.7 * uf} for uf in (0.125, 0.5, 1.0)]}
    routed = {"audio_seconds": 10, "tracks": [
        {"track": "runs 8", "mean_uf": 0.4, "predicted_s": 0.2, "measured_s": 0.23}]}
    streaming = {"rows": [{"name": "paper uf=1", "uf": 1.0, "ms_per_frame": 2.5,
                           "latency_ms": 53.2}]}
    for plot, result in ((run_all.plot_backbone, backbone), (run_all.plot_routed, routed),
                         (run_all.plot_streaming, streaming)):
        path = tmp_path / f"{plot.__name__}.png"
        plot(result, str(path))
        assert path.stat().st_size > 1000


def test_quality_section_reads_the_model_folders_results(tmp_path, load_script):
    run_all = load_script("benchmarks", "run_all.py")
    torch.manual_seed(0)
    model = SlimDemucs(hidden=4, depth=2, normalize="running").eval()
    clean = 0.3 * torch.sin(torch.arange(8000) / 8.0)
    item = {"id": "a", "noisy_sig": clean + 0.05 * torch.randn(8000), "clean_sig": clean,
            "snr_db": 5.0}
    results = evaluate(model, None, [item], modes=(0.125, 1.0), progress=False)
    (tmp_path / "results.json").write_text(json.dumps(results))
    text = run_all.quality_section(str(tmp_path), 0, str(tmp_path))
    assert "| noisy |" in text and "report/pareto.png" in text
    assert (tmp_path / "pareto.png").is_file()
    missing = run_all.quality_section(str(tmp_path / "none"), 0, str(tmp_path))
    assert "quality not reported" in missing


def test_skipped_sections_keep_their_last_markdown(tmp_path, load_script):
    run_all = load_script("benchmarks", "run_all.py")
    report = tmp_path / "REPORT.md"
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "routed.md").write_text("## Routed passes\n\nkept\n")
    run_all.main(["--out", str(report), "--skip", "backbone", "routed", "streaming", "structure",
                  "memory", "quality"])
    text = report.read_text()
    assert text.startswith("# speechbrain-slim benchmark report") and "kept" in text


def test_clean_input_check_scores_the_model_on_speech_without_noise(load_script):
    """learning_diagnostics' clean-input check: a model that returns its input keeps STOI 1
    and its level; one that halves the speech loses 6 dB; unscorable items are left out."""
    diagnostics = load_script("benchmarks", "learning_diagnostics.py")
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    speech = 0.3 * torch.sin(2 * torch.pi * 220 * t) * (1 + torch.sin(2 * torch.pi * 3 * t))
    items = [({"id": "a"}, speech[None], speech[None]),
             ({"id": "b"}, speech[None, :800], speech[None, :800])]  # too short for STOI

    class Scaled(torch.nn.Module):
        def __init__(self, gain):
            super().__init__()
            self.gain = gain

        def forward(self, wav, uf):
            return self.gain * wav, {}

    kept = diagnostics.clean_input(Scaled(1.0), items, {"a": "voices/x"})
    assert kept["uf1"]["ids"] == ["a"]
    assert kept["uf1"]["mean"]["stoi"] > 0.999 and kept["uf0.125"]["by_source"] == {
        "voices": kept["uf0.125"]["mean"]["stoi"]}
    halved = diagnostics.clean_input(Scaled(0.5), items, {"a": "voices/x"})
    assert halved["uf1"]["mean"]["level_db"] == pytest.approx(-6.02, abs=0.01)
    assert "| 0.125 |" in "\n".join(diagnostics.clean_input_lines(halved))
