"""The `restock` command fails clearly on bad arguments and missing inputs."""

from __future__ import annotations

import subprocess
import sys

from pipelines.cli import main


def test_run_with_missing_feed_says_so(tmp_path, capsys):
    code = main(["run", "--feed", str(tmp_path / "nope"),
                 "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 2
    assert "feed directory not found" in capsys.readouterr().err


def test_run_rejects_a_bad_as_of(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--feed", str(tmp_path), "--warehouse",
         str(tmp_path / "w.duckdb"), "--as-of", "24/04/2016"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "--as-of must be YYYY-MM-DD" in result.stderr


def test_second_overlapping_run_fails_clearly(tmp_path):
    from pipelines.runner import RunLockedError, warehouse_lock
    from restock.paths import RunPaths

    paths = RunPaths.from_warehouse(tmp_path / "w.duckdb").ensure()
    with warehouse_lock(paths):
        try:
            with warehouse_lock(paths):
                raise AssertionError("a second writer got the lock")
        except RunLockedError as exc:
            assert "another Restock run" in str(exc)
