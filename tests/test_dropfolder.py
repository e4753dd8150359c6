"""Drop folder completeness and safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from restock.sources.dropfolder import find_complete_drops


def _write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _tick(root: Path, state: dict, now: float):
    drops, new_state = find_complete_drops(root, state, now)
    json.dumps(new_state)  # the state must fit in a sensor cursor
    return drops, new_state


def test_marker_drop_is_found_on_the_first_tick(tmp_path):
    _write(tmp_path / "2024-03-28" / "sales.csv", "date,sku,location,quantity\n")
    _write(tmp_path / "2024-03-28" / "products.csv", "sku,category,lead_time_days\n")
    _write(tmp_path / "2024-03-28" / "_SUCCESS", "")
    drops, _ = _tick(tmp_path, {}, 100.0)
    assert [d.name for d in drops] == ["2024-03-28"]
    assert drops[0].has_marker
    assert drops[0].files == ("_SUCCESS", "products.csv", "sales.csv")


def test_stable_drop_is_found_only_on_the_second_unchanged_tick(tmp_path):
    _write(tmp_path / "d1" / "sales.csv", "a\n", mtime=1000)
    _write(tmp_path / "d1" / "sales" / "part-1.parquet", "x", mtime=1000)
    drops, state = _tick(tmp_path, {}, 100.0)
    assert drops == []
    drops, state = _tick(tmp_path, state, 160.0)
    assert [d.name for d in drops] == ["d1"]
    assert drops[0].files == ("sales.csv", "sales/part-1.parquet")
    assert not drops[0].has_marker


def test_growing_file_is_not_complete(tmp_path):
    path = _write(tmp_path / "d1" / "sales.csv", "a\n", mtime=1000)
    state: dict = {}
    for k in range(4):
        with path.open("a", encoding="utf-8") as f:
            f.write("more\n")
        os.utime(path, (1000 + k, 1000 + k))
        drops, state = _tick(tmp_path, state, 100.0 + k)
        assert drops == []
    drops, state = _tick(tmp_path, state, 200.0)  # stopped growing
    assert [d.name for d in drops] == ["d1"]


@pytest.mark.parametrize("name", ["sales.csv.tmp", "sales.part", ".~lock.sales.csv#"])
def test_temporary_file_blocks_completion_even_with_a_marker(tmp_path, name):
    _write(tmp_path / "d1" / "products.csv", "a\n", mtime=1000)
    _write(tmp_path / "d1" / name, "partial", mtime=1000)
    _write(tmp_path / "d1" / "_SUCCESS", "", mtime=1000)
    state: dict = {}
    for now in (1.0, 2.0, 3.0):
        drops, state = _tick(tmp_path, state, now)
        assert drops == []
    (tmp_path / "d1" / name).unlink()
    drops, state = _tick(tmp_path, state, 4.0)
    assert [d.name for d in drops] == ["d1"]


def test_symlinks_are_rejected_not_followed(tmp_path):
    root = tmp_path / "drops"
    outside = _write(tmp_path / "secret" / "passwd.csv", "root:x\n")
    _write(root / "d1" / "sales.csv", "a\n")
    os.symlink(outside, root / "d1" / "products.csv")  # file link to outside
    _write(root / "d2" / "sales.csv", "a\n")
    os.symlink(outside.parent, root / "d2" / "extra")  # folder link to outside
    os.symlink(outside.parent, root / "d3")  # the drop itself is a link
    _write(root / "d4" / "sales.csv", "a\n")
    os.symlink(root / "d4" / "sales.csv", root / "d4" / "inside_link.csv")  # even inside root
    _write(root / "ok" / "sales.csv", "a\n")
    _write(root / "ok" / "_SUCCESS", "")
    for marker in ("d1", "d2", "d4"):
        _write(root / marker / "_SUCCESS", "")
    state: dict = {}
    for now in (1.0, 2.0):
        drops, state = _tick(root, state, now)
        assert [d.name for d in drops] == ["ok"]
    assert set(state["rejected"]) == {"d1", "d2", "d3", "d4"}
    assert "symlink" in state["rejected"]["d1"]
    assert "symlink" in state["rejected"]["d3"]


def test_traversal_through_a_dotdot_link_is_rejected(tmp_path):
    # A file cannot be named "..", but a relative link can climb out of the root:
    root = tmp_path / "drops"
    _write(tmp_path / "outside.csv", "x\n")
    _write(root / "d1" / "_SUCCESS", "")
    os.symlink("../../outside.csv", root / "d1" / "sales.csv")
    drops, state = _tick(root, {}, 1.0)
    assert drops == []
    assert "d1" in state["rejected"]


def test_same_drop_same_run_key_and_changed_file_new_run_key(tmp_path):
    _write(tmp_path / "d1" / "sales.csv", "a\n", mtime=1000)
    _write(tmp_path / "d1" / "_SUCCESS", "", mtime=1000)
    first, state = _tick(tmp_path, {}, 1.0)
    again, state = _tick(tmp_path, state, 2.0)
    assert first[0].run_key == again[0].run_key
    assert first[0].run_key.startswith("d1-")
    _write(tmp_path / "d1" / "sales.csv", "a\nb\n", mtime=2000)
    changed, state = _tick(tmp_path, state, 3.0)
    assert changed[0].run_key != first[0].run_key
    # A same-size rewrite with a new mtime is a new drop too.
    _write(tmp_path / "d1" / "sales.csv", "a\nc\n", mtime=3000)
    touched, state = _tick(tmp_path, state, 4.0)
    assert touched[0].run_key not in {first[0].run_key, changed[0].run_key}


def test_empty_folders_loose_files_and_hidden_folders_are_not_drops(tmp_path):
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "loose.csv", "a\n")
    _write(tmp_path / ".uploading" / "_SUCCESS", "")
    state: dict = {}
    for now in (1.0, 2.0):
        drops, state = _tick(tmp_path, state, now)
        assert drops == []


def test_missing_root_gives_no_drops(tmp_path):
    assert _tick(tmp_path / "nope", {}, 1.0) == ([], {"observations": {}, "rejected": {}})
