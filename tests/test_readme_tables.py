"""benchmarks/readme_tables.py: the README's and docs' tables are the committed JSON's."""

import json
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def tables(load_script):
    return load_script("benchmarks", "readme_tables.py")


def test_committed_documents_are_up_to_date(tables):
    assert tables.update(ROOT, check=True) == [], (
        "generated tables are stale: run `python benchmarks/readme_tables.py` and commit")


def test_every_table_is_used_and_every_block_is_known(tables):
    used = set()
    for relative in tables.DOCUMENTS:
        with open(os.path.join(ROOT, relative), encoding="utf-8") as stream:
            text = stream.read()
        used |= {match.group("name") for match in tables.BLOCK.finditer(text)}
        assert text.count("<!-- table:") == text.count("<!-- /table -->"), relative
    assert used == set(tables.TABLES)
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "<!-- table:shipped-model -->" in readme and "<!-- table:backbone-speed -->" in readme


def copy_sources(tmp_path):
    """The files the tables read, copied into a fake repository root."""
    for relative in ("hub/slim-demucs-real/results.json", "hub/slim-demucs-real/corpus_report.md",
                     "hub/slim-demucs-embedded/results.json", "benchmarks/report"):
        source, target = os.path.join(ROOT, relative), tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.png"))
        else:
            shutil.copy(source, target)
    return tmp_path


def test_regenerating_rewrites_a_stale_block_and_reads_the_json(tables, tmp_path):
    root = copy_sources(tmp_path)
    path = root / "hub/slim-demucs-real/results.json"
    results = json.loads(path.read_text())
    results["noisy"]["pesq"] = 1.111
    path.write_text(json.dumps(results))
    (root / "README.md").write_text("x\n<!-- table:shipped-model -->\nold\n<!-- /table -->\ny\n")
    assert tables.update(str(root), check=True) == ["README.md"]
    assert tables.update(str(root)) == ["README.md"]
    text = (root / "README.md").read_text()
    assert text.startswith("x\n<!-- table:shipped-model -->\n| system |") and text.endswith(
        "<!-- /table -->\ny\n")
    assert "| noisy | 1.111 |" in text and "old" not in text
    assert tables.update(str(root)) == []          # a second run changes nothing


def test_a_missing_key_fails_naming_the_file_and_key(tables, tmp_path):
    root = copy_sources(tmp_path)
    path = root / "benchmarks/report/backbone.json"
    data = json.loads(path.read_text())
    del data["paper"][0]["time_ratio"]
    del data["dns48"]
    path.write_text(json.dumps(data))
    (root / "README.md").write_text("<!-- table:backbone-vs-denoiser -->\n<!-- /table -->\n")
    with pytest.raises(tables.TableError, match=r"backbone\.json: missing key 'dns48'"):
        tables.update(str(root))
    assert tables.main(["--root", str(root)]) == 2
    (root / "README.md").write_text("<!-- table:backbone-speed -->\n<!-- /table -->\n")
    with pytest.raises(tables.TableError, match=r"backbone\.json: missing key 'time_ratio'"):
        tables.update(str(root))


def test_missing_file_unknown_table_and_stale_peers_fail(tables, tmp_path):
    root = copy_sources(tmp_path)
    (root / "README.md").write_text("<!-- table:no-such-table -->\n<!-- /table -->\n")
    with pytest.raises(tables.TableError, match="unknown table 'no-such-table'"):
        tables.update(str(root))
    (root / "README.md").write_text("<!-- table:shipped-gains -->\n<!-- /table -->\n")
    path = root / "hub/slim-demucs-real/results.json"
    results = json.loads(path.read_text())
    results["modes"]["auto"]["pesq"] += 0.05    # a new model's results.json, peers.json not rerun
    path.write_text(json.dumps(results))
    with pytest.raises(tables.TableError, match="peers.json is stale"):
        tables.update(str(root))
    os.remove(root / "benchmarks/report/peers/peers.json")
    with pytest.raises(tables.TableError, match="peers.json: file not found"):
        tables.update(str(root))
