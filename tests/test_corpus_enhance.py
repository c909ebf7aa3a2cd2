"""Tests of corpus enhancement: torchrun shards (gloo), resuming after a kill, batches of
similar length, and SpeechBrain CSV/JSON manifests in and out."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.dataio.dataio import load_data_csv, load_data_json

from speechbrain_slim import cli
from speechbrain_slim.corpus_enhance import (
    REPORT_NAME,
    STATE_FOLDER,
    assign_batches,
    plan_batches,
)
from speechbrain_slim.hub import write_hub_folder
from speechbrain_slim.lobes.router import Router
from speechbrain_slim.lobes.slim_demucs import SlimDemucs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    torch.manual_seed(0)
    model = SlimDemucs(hidden=4, depth=2, normalize="running", bottleneck="grouped_gru",
                       gru_groups=2)
    router = Router(model.ufs, frame_stride=model.total_stride, channels=4)
    return write_hub_folder(model.eval(), router.eval(),
                            str(tmp_path_factory.mktemp("hub") / "tiny"))


def write_corpus(folder, count=12, subtype="PCM_16", seed=0):
    """Short files of a few lengths (some of one batch key), a stereo 22.05 kHz file."""
    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True)
    for index in range(count):
        frames = (4000, 4000, 4002, 6000, 8000)[index % 5] + index // 5 * 400
        name = f"sub/f{index}.wav" if index % 3 == 0 else f"f{index}.wav"
        data = (0.1 * rng.standard_normal(frames)).astype("float32")
        sf.write(folder / name, data, 16000, subtype=subtype)
    stereo = (0.1 * rng.standard_normal((5000, 2))).astype("float32")
    sf.write(folder / "stereo.wav", stereo, 22050, subtype=subtype)


def audio_files(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names
                  if name.endswith(".wav") and not name.startswith(".tmp-"))


def read_report(output):
    with open(os.path.join(output, REPORT_NAME), newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def progress_records(output):
    folder = os.path.join(output, STATE_FOLDER)
    records = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as stream:
            records += [json.loads(line) for line in stream]
    return records


def torchrun(args, processes=2):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    return command, env


def test_two_gloo_processes_equal_one_bit_for_bit(source, tmp_path):
    corpus = tmp_path / "in"
    write_corpus(corpus)
    (corpus / "broken.wav").write_text("not audio")
    options = ["--source", source, "-q", "--batch-size", "3", "--threads", "1"]
    single = tmp_path / "single"
    assert cli.main(["enhance", str(corpus), "-o", str(single), *options]) == 1  # broken.wav
    command, env = torchrun(["-m", "speechbrain_slim.cli", "enhance", str(corpus), "-o",
                             str(tmp_path / "two"), *options])
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode != 0, result.stdout[-3000:]  # a file failed: the status says so
    assert "[rank 0]" in result.stdout and "[rank 1]" in result.stdout
    assert "enhanced 13 of 14 files" in result.stdout and "1 failed" in result.stdout

    names = audio_files(single)
    assert len(names) == 13 and names == audio_files(tmp_path / "two")
    for name in names:
        assert (single / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    records = progress_records(tmp_path / "two")
    outputs = [os.path.relpath(r["output"], tmp_path / "two") for r in records]
    assert sorted(outputs) == sorted(names + ["broken.wav"])  # each file exactly once
    assert {r["rank"] for r in records} == {0, 1}
    report = read_report(tmp_path / "two")
    assert len(report) == 14
    statuses = {os.path.basename(row["input"]): row["status"] for row in report}
    assert statuses.pop("broken.wav") == "failed"
    assert set(statuses.values()) == {"enhanced"}
    failed = next(row for row in report if row["status"] == "failed")
    assert "unreadable or unsupported audio file" in failed["error"]
    for row in report:
        if row["status"] == "enhanced":
            assert float(row["duration"]) > 0 and float(row["rtf"]) > 0
            assert float(row["macs"]) > 0 and 0.125 <= float(row["mean_uf"]) <= 1.0
    # balanced by duration: neither rank holds much more audio than the other
    seconds = [sum(float(row["duration"]) for row in report
                   if row["status"] == "enhanced" and row["rank"] == str(rank))
               for rank in (0, 1)]
    assert max(seconds) - min(seconds) < 0.6


def test_shards_are_balanced_by_duration_not_count():
    probes = [{"done": False, "key": None, "duration": 10.0}] + [
        {"done": False, "key": None, "duration": 1.0}] * 10
    batches = plan_batches(probes, batch_size=4)
    costs = [sum(probes[i]["duration"] for i in batch) for batch in batches]
    shards = assign_batches(batches, costs, world_size=2)
    assert [len(shard) for shard in shards] == [1, 10]
    assert sorted(i for shard in shards for batch in shard for i in batch) == list(range(11))
    done = [dict(probe, done=index < 3) for index, probe in enumerate(probes)]
    assert sorted(i for batch in plan_batches(done, 4) for i in batch) == list(range(3, 11))


KILLABLE = textwrap.dedent("""
    import os, sys, time
    from speechbrain_slim import audio_files, cli

    closes, close = [0], audio_files.AudioFileSink.close
    marker = os.environ["READY_MARKER"] + os.environ.get("RANK", "0")

    def slow_close(self):  # the third output of each rank hangs before its rename
        closes[0] += 1
        if closes[0] == 3:
            with open(marker + ".tmp", "w") as stream:
                stream.write(str(os.getpid()))
            os.replace(marker + ".tmp", marker)
            time.sleep(120)
        return close(self)

    audio_files.AudioFileSink.close = slow_close
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_killed_run_resumes_without_loss_or_truncation(source, tmp_path):
    corpus = tmp_path / "in"
    write_corpus(corpus, count=10)
    output = tmp_path / "out"
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    args = ["enhance", str(corpus), "-o", str(output), "--source", source, "-q",
            "--threads", "1"]
    command, env = torchrun([str(script), *args])
    env["READY_MARKER"] = str(tmp_path / "ready")
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    deadline = time.time() + 180
    while not all(os.path.exists(f"{tmp_path}/ready{rank}") for rank in (0, 1)):
        assert run.poll() is None, run.stdout.read().decode()[-3000:]
        assert time.time() < deadline, "the run never reached its third file"
        time.sleep(0.1)
    for rank in (0, 1):  # torchrun starts each rank in a session of its own
        os.kill(int(open(f"{tmp_path}/ready{rank}").read()), signal.SIGKILL)  # mid-write
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run.stdout.close()
    partial = [name for _, _, names in os.walk(output) for name in names
               if name.startswith(".tmp-")]
    assert len(partial) == 2  # one half-written output per rank
    before = {os.path.relpath(r["output"], output): r for r in progress_records(output)}
    assert len(before) == 4  # two files done per rank
    stamps = {name: os.stat(output / name).st_mtime_ns for name in before}

    command, env = torchrun(["-m", "speechbrain_slim.cli", *args])
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "enhanced 11 of 11 files" in result.stdout
    assert "4 done earlier, skipped" in result.stdout
    assert "2 partial outputs of a killed run removed" in result.stdout
    report = {os.path.relpath(row["output"], output): row for row in read_report(output)}
    assert {name for name, row in report.items() if row["status"] == "skipped"} == set(before)
    assert sum(row["status"] == "enhanced" for row in report.values()) == 7
    for name in before:  # skipped, not written again
        assert os.stat(output / name).st_mtime_ns == stamps[name]
    names = audio_files(corpus)
    assert audio_files(output) == names
    assert not [name for _, _, names_ in os.walk(output) for name in names_
                if name.startswith(".tmp-")]
    reference = tmp_path / "reference"  # an uninterrupted one-process run, file by file
    assert cli.main(["enhance", str(corpus), "-o", str(reference), "--source", source,
                     "-q"]) == 0
    for name in names:
        assert sf.info(output / name).frames == sf.info(corpus / name).frames
        assert (output / name).read_bytes() == (reference / name).read_bytes(), name
    records = progress_records(output)  # across both runs, each file enhanced once
    assert sorted(os.path.relpath(r["output"], output) for r in records) == names


def test_batched_files_equal_files_enhanced_alone(source, tmp_path):
    corpus = tmp_path / "in"
    write_corpus(corpus, subtype="FLOAT")
    sf.write(corpus / "silent.wav", np.zeros(4000, dtype="float32"), 16000)  # f0's key
    sf.write(corpus / "cut.wav", np.full(4000, 0.1, dtype="float32"), 16000, subtype="PCM_16")
    (corpus / "cut.wav").write_bytes((corpus / "cut.wav").read_bytes()[:-2000])
    alone, batched = tmp_path / "alone", tmp_path / "batched"
    assert cli.main(["enhance", str(corpus), "-o", str(alone), "--source", source, "-q",
                     "--resume"]) == 0  # file by file, with a report
    assert cli.main(["enhance", str(corpus), "-o", str(batched), "--source", source, "-q",
                     "--batch-size", "4"]) == 0
    sizes = [r["batch"] for r in progress_records(batched)]
    assert max(sizes) >= 2 and sizes.count(1) >= 2  # some files shared a batch, some not
    for name in audio_files(corpus):
        a, rate_a = sf.read(alone / name)
        b, rate_b = sf.read(batched / name)
        assert rate_a == rate_b and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    alone_rows = {row["input"]: row for row in read_report(alone)}
    for row in read_report(batched):  # the same routing, the MACs of its own length
        fields = ("mean_uf", "macs", "duration", "warning")
        assert [row[key] for key in fields] == [alone_rows[row["input"]][key] for key in fields]
    warned = {os.path.basename(row["input"]): row["warning"] for row in read_report(batched)
              if row["warning"]}
    assert sorted(warned) == ["cut.wav", "silent.wav"]  # enhanced alone, warned as usual
    assert "silent audio file" in warned["silent.wav"] and "truncated" in warned["cut.wav"]


def test_manifests_in_and_out(source, tmp_path):
    data = tmp_path / "data"
    write_corpus(data, count=4)
    csv_path = tmp_path / "train.csv"
    csv_path.write_text(
        "ID,duration,wav,spk_id,wrd,noise\n"
        "u0,0.25,$data_root/sub/f0.wav,s1,HELLO WORLD,$data_root/n.wav\n"
        "u1,0.25,$data_root/f1.wav,s2,\"A, B\",$data_root/n.wav\n"
        "u2,0.23,$data_root/stereo.wav,s1,X,$data_root/n.wav\n")
    json_path = tmp_path / "valid.json"
    json_path.write_text(json.dumps({
        "v2": {"wav": "{data_root}/f2.wav", "length": 4002, "words": "HI"},
        "v3": {"wav": {"file": "{data_root}/sub/f3.wav", "start": 100, "stop": 3000},
               "words": "SEGMENT"},
    }))
    output = tmp_path / "enhanced"
    status = cli.main(["enhance", str(csv_path), str(json_path), "-o", str(output), "--source",
                       source, "-q", "--replace", f"data_root={data}"])
    assert status == 0
    with open(output / "train.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    with open(csv_path, newline="", encoding="utf-8") as stream:
        original = list(csv.DictReader(stream))
    assert [row["ID"] for row in rows] == ["u0", "u1", "u2"]
    assert list(rows[0]) == ["ID", "duration", "wav", "spk_id", "wrd", "noise"]
    for old, new in zip(original, rows):  # every other column as written
        assert {k: v for k, v in new.items() if k != "wav"} == {
            k: v for k, v in old.items() if k != "wav"}
    loaded = load_data_csv(output / "train.csv", {"data_root": str(data)})
    assert loaded["u1"]["wav"] == str(output / "f1.wav") and loaded["u1"]["wrd"] == "A, B"
    assert loaded["u2"]["wav"] == str(output / "stereo.wav")
    assert loaded["u0"]["noise"] == f"{data}/n.wav"
    enhanced = load_data_json(output / "valid.json")
    assert enhanced["v2"] == {"wav": str(output / "f2.wav"), "length": 4002, "words": "HI"}
    assert enhanced["v3"]["wav"] == {"file": str(output / "sub" / "f3.wav"), "start": 100,
                                     "stop": 3000}
    for entry in ("sub/f0.wav", "f1.wav", "stereo.wav", "f2.wav", "sub/f3.wav"):
        assert sf.info(output / entry).frames == sf.info(data / entry).frames
    assert len(read_report(output)) == 5


def test_manifest_errors_are_clear(source, tmp_path, capsys):
    manifest = tmp_path / "train.csv"
    manifest.write_text("ID,wav\nu0,$data_root/a.wav\n")
    assert cli.main(["enhance", str(manifest), "-o", str(tmp_path / "o"), "--source",
                     source]) == 2
    assert "pass --replace NAME=VALUE" in capsys.readouterr().err
    manifest.write_text("ID,audio\nu0,/a.wav\n")
    assert cli.main(["enhance", str(manifest), "-o", str(tmp_path / "o"), "--source",
                     source]) == 2
    assert "has no 'wav' audio path" in capsys.readouterr().err
    data = tmp_path / "data"
    write_corpus(data, count=2)
    (data / "broken.wav").write_text("not audio")
    manifest.write_text(f"ID,wav\nu0,{data}/f1.wav\nbad,{data}/broken.wav\n")
    assert cli.main(["enhance", str(manifest), "-o", str(tmp_path / "o"), "--source",
                     source, "-q"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "1 failed entries left out" in out
    with open(tmp_path / "o" / "train.csv", encoding="utf-8") as stream:
        assert [line.split(",")[0] for line in stream.read().splitlines()] == ["ID", "u0"]
