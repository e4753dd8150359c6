"""Publishing: contract columns, atomic swaps, readers never see a mix, DuckDB 1.x can read."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from _workdb import build_work_db
from conftest import PG_SERVER, require_db_server

from restock.config import PublishSettings
from restock.contract import PUBLISHED_TABLES, RUN_COLUMNS, TYPED_COLUMNS
from restock.paths import RunPaths
from restock.publishing import publish_tables, verify_published

REPO = Path(__file__).resolve().parents[1]
PG_URL = f"{PG_SERVER}/test"
DUCKDB1_CACHE = Path(tempfile.gettempdir()) / "restock-test-cache" / "duckdb-1.1"



def make_work_db(path: Path, rows_per_table: int, tag: str = "a") -> dict[str, int]:
    """A work DB with results.<table> for every published table (plus one extra column)."""
    return build_work_db(path, lambda n, _table: rows_per_table + n, tag)  # counts differ


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_hashes(folder: Path) -> dict[str, str]:
    real = Path(os.path.realpath(folder))
    return {p.name: _sha256(p) for p in sorted(real.iterdir())}


@pytest.fixture
def setup(tmp_path):
    paths = RunPaths.from_warehouse(tmp_path / "pub" / "restock.duckdb").ensure()
    work = tmp_path / "work.duckdb"
    counts = make_work_db(work, 50)
    return paths, work, counts


def test_published_tables_have_contract_columns_then_extras_and_run_columns(setup):
    paths, work, counts = setup
    summary = publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    assert summary["tables"] == counts
    assert verify_published(paths) == counts
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for table, columns in PUBLISHED_TABLES.items():
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'marts' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
            ]
            typed = [t.name for t in TYPED_COLUMNS.get(table, ())]
            assert cols == [*columns, *typed, "extra_note", *RUN_COLUMNS]
            run_ids, as_ofs = con.execute(
                f'select list(distinct run_id), list(distinct as_of) from marts."{table}"'
            ).fetchone()
            assert run_ids == ["run-1"]
            assert [str(d) for d in as_ofs] == ["2024-03-28"]
    # Parquet: a symlink to a complete version folder with the same rows.
    assert paths.parquet_dir.is_symlink()
    with duckdb.connect() as con:
        for table, n in counts.items():
            got = con.execute(
                "select count(*), min(run_id) from read_parquet(?)",
                [str(paths.parquet_dir / f"{table}.parquet")],
            ).fetchone()
            assert got == (n, "run-1")
    # The file is in the requested (1.x-readable) storage format; nothing left behind.
    leftovers = [p.name for p in paths.root.iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_publication_caps_duckdb_memory_at_the_run_setting(setup, monkeypatch):
    """Publishing an M5-size run took 8.3 GB at DuckDB's default (80% of RAM), 3.5 GB at the
    run's 3 GB: every connection of the publication takes the limit, none outside it does."""
    import restock.publishing.common as common

    paths, work, counts = setup
    seen = []
    real = common.duckdb.connect

    def spy(database=":memory:", read_only=False, config=None):
        con = real(database, read_only=read_only, config=config)
        seen.append(con.execute("select current_setting('memory_limit')").fetchone()[0])
        return con

    monkeypatch.setattr(common.duckdb, "connect", spy)
    summary = publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings(),
                             duckdb_memory_limit="300MB")
    assert summary["tables"] == counts
    assert seen and all(v in ("286.1 MiB", "300.0 MB") for v in seen), seen
    outside = common.connect()
    assert outside.execute("select current_setting('memory_limit')").fetchone()[0] not in (
        "286.1 MiB", "300.0 MB")


def test_missing_contract_column_fails_before_touching_outputs(setup):
    paths, work, _ = setup
    publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    before = _sha256(paths.warehouse)
    with duckdb.connect(str(work)) as con:
        con.execute("alter table results.stockout_alerts drop column severity")
    with pytest.raises(ValueError, match="stockout_alerts.*severity"):
        publish_tables(work, paths, "run-2", "2024-03-29", PublishSettings())
    assert _sha256(paths.warehouse) == before


_READER = textwrap.dedent(
    """
    import json, sys, duckdb
    path = sys.argv[1]
    def snapshot(con):
        out = {}
        for (t,) in con.execute("select table_name from information_schema.tables "
                                "where table_schema = 'marts' order by 1").fetchall():
            out[t] = con.execute(f'select count(*), min(run_id), max(run_id) from marts."{t}"'
                                 ).fetchone()
        return out
    con = duckdb.connect(path, read_only=True)
    print(json.dumps(snapshot(con)), flush=True)
    sys.stdin.readline()                  # publish happens meanwhile
    print(json.dumps(snapshot(con)), flush=True)
    con.close()
    con = duckdb.connect(path, read_only=True)
    print(json.dumps(snapshot(con)), flush=True)
    """
)


def test_reader_holding_the_file_open_keeps_old_data_and_does_not_block(setup, tmp_path):
    paths, work, counts = setup
    publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(paths.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(reader.stdout.readline())
        counts2 = make_work_db(work, 80, tag="b")
        summary = publish_tables(work, paths, "run-2", "2024-03-29", PublishSettings())
        assert summary["tables"] == counts2
        reader.stdin.write("go\n")
        reader.stdin.flush()
        during = json.loads(reader.stdout.readline())
        after = json.loads(reader.stdout.readline())
        assert reader.wait(timeout=30) == 0
    finally:
        reader.kill()
    assert first == during  # the open connection still sees the old, complete data
    assert {t: v[0] for t, v in first.items()} == counts
    assert {tuple(v[1:]) for v in first.values()} == {("run-1", "run-1")}
    assert {t: v[0] for t, v in after.items()} == counts2
    assert {tuple(v[1:]) for v in after.values()} == {("run-2", "run-2")}


_KILLED_PUBLISH = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from restock.config import PublishSettings
    from restock.paths import RunPaths
    from restock.publishing import publish_tables
    def hold():
        print("ready", flush=True)
        time.sleep(120)
    publish_tables(Path(sys.argv[1]), RunPaths.from_warehouse(sys.argv[2]), "run-killed",
                   "2024-03-30", PublishSettings(), before_swap=hold)
    """
)


def test_kill_before_swap_leaves_published_outputs_byte_identical(setup):
    paths, work, counts = setup
    publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    db_hash = _sha256(paths.warehouse)
    parquet_hashes = _tree_hashes(paths.parquet_dir)
    make_work_db(work, 70, tag="c")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISH, str(work), str(paths.warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        # Everything is written: the tmp file and the new parquet version exist.
        assert any(".tmp-" in p.name for p in paths.root.iterdir())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert _sha256(paths.warehouse) == db_hash
    assert _tree_hashes(paths.parquet_dir) == parquet_hashes
    assert verify_published(paths) == counts
    # The next publish cleans the leftovers and succeeds.
    counts3 = make_work_db(work, 60, tag="d")
    publish_tables(work, paths, "run-3", "2024-03-31", PublishSettings())
    assert verify_published(paths) == counts3
    assert [p.name for p in paths.root.iterdir() if ".tmp-" in p.name] == []
    versions = paths.parquet_dir.with_name(paths.parquet_dir.name + ".versions")
    assert len(list(versions.iterdir())) == 2  # current + previous, no tmp folder


def _duckdb1_path() -> Path:
    """duckdb 1.1 installed into a cache folder outside the venv (skip when PyPI is away)."""
    marker = DUCKDB1_CACHE / "duckdb"
    if not marker.exists():
        uv = Path(sys.executable).with_name("uv")
        try:
            done = subprocess.run(
                [
                    str(uv),
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(DUCKDB1_CACHE),
                    "--python",
                    sys.executable,
                    "duckdb>=1.1,<1.2",
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot install duckdb 1.1 from PyPI: {exc}")
        if done.returncode != 0:
            pytest.skip(f"cannot install duckdb 1.1 from PyPI: {done.stderr.strip()[-300:]}")
    return DUCKDB1_CACHE


def test_published_file_opens_with_duckdb_1x_client(setup):
    paths, work, counts = setup
    publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    target = _duckdb1_path()
    code = textwrap.dedent(
        """
        import json, sys, duckdb
        assert duckdb.__version__.startswith("1.1"), duckdb.__version__
        con = duckdb.connect(sys.argv[1], read_only=True)
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'marts'").fetchall()]
        print(json.dumps({t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0]
                          for t in tables}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(paths.warehouse)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == counts


@pytest.fixture
def pg_target(monkeypatch):
    """A fresh schema on the local PostgreSQL server: (schema, settings, engine), dropped after."""
    require_db_server(PG_URL)
    import sqlalchemy as sa

    schema = f"restock_t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("RESTOCK_TEST_PG_URL", PG_URL)
    settings = PublishSettings(postgres_url_env="RESTOCK_TEST_PG_URL", postgres_schema=schema)
    engine = sa.create_engine(PG_URL)
    try:
        yield schema, settings, engine
    finally:
        with engine.begin() as conn:
            for suffix in ("", "_stage", "_old"):
                conn.exec_driver_sql(f'drop schema if exists "{schema}{suffix}" cascade')
        engine.dispose()


@pytest.mark.db
def test_postgres_readers_see_old_or_new_never_a_mix(setup, pg_target):
    import sqlalchemy as sa

    paths, work, counts = setup
    schema, settings, engine = pg_target
    summary = publish_tables(work, paths, "run-1", "2024-03-28", settings)
    assert summary["postgres"]["schema"] == schema
    with engine.connect() as conn:
        got = {
            t: conn.exec_driver_sql(f'select count(*) from "{schema}"."{t}"').scalar()
            for t in counts
        }
        assert got == counts
        cols = list(
            conn.execute(
                sa.text(
                    "select column_name from information_schema.columns where "
                    "table_schema = :s and table_name = 'stockout_alerts' "
                    "order by ordinal_position"
                ),
                {"s": schema},
            ).scalars()
        )
        assert cols == [
            *PUBLISHED_TABLES["stockout_alerts"],
            *(t.name for t in TYPED_COLUMNS["stockout_alerts"]),
            "extra_note",
            *RUN_COLUMNS,
        ]
    # Same values in Postgres as in DuckDB, including awkward text, NULL vs '', types.
    probes = [
        'select "row", loaded_at, as_of from {s}.quarantine',
        "select detail, passed, failed_rows from {s}.data_quality_results",
    ]
    with engine.connect() as conn:
        in_pg = [
            sorted(
                (tuple(r) for r in conn.exec_driver_sql(q.format(s=f'"{schema}"')).all()),
                key=repr,
            )
            for q in probes
        ]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        in_duckdb = [sorted(con.execute(q.format(s="marts")).fetchall(), key=repr) for q in probes]
    assert in_pg == in_duckdb
    assert {r[0] for r in in_duckdb[1]} == {None, "", "detail"}
    assert all("\n" in r[0] and "," in r[0] for r in in_duckdb[0])

    expected = {"run-1": counts}
    observations: list[tuple] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_loop():
        # Two tables in one repeatable-read transaction, over and over.
        reader = sa.create_engine(PG_URL, isolation_level="REPEATABLE READ")
        try:
            while not stop.is_set():
                with reader.begin() as conn:
                    a = conn.exec_driver_sql(
                        f"select count(*), min(run_id), max(run_id) "
                        f'from "{schema}".demand_forecasts'
                    ).one()
                    time.sleep(0.002)  # widen the window between the two reads
                    b = conn.exec_driver_sql(
                        f'select count(*), min(run_id), max(run_id) from "{schema}".quarantine'
                    ).one()
                observations.append((tuple(a), tuple(b)))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            reader.dispose()

    thread = threading.Thread(target=read_loop)
    thread.start()
    try:
        for k in range(2, 5):
            counts_k = make_work_db(work, 40 + 15 * k, tag=str(k))
            expected[f"run-{k}"] = counts_k
            publish_tables(work, paths, f"run-{k}", "2024-03-28", settings)
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert len(observations) > 10
    seen = set()
    for a, b in observations:
        run = a[1]
        assert a[1] == a[2] == b[1] == b[2], (a, b)
        assert a[0] == expected[run]["demand_forecasts"]
        assert b[0] == expected[run]["quarantine"]
        seen.add(run)
    assert "run-4" in seen and len(seen) >= 2
    with engine.connect() as conn:
        left = (
            conn.execute(
                sa.text("select nspname from pg_namespace where nspname like :p"),
                {"p": f"{schema}%"},
            )
            .scalars()
            .all()
        )
    assert left == [schema]


@pytest.mark.db
def test_postgres_reader_mid_transaction_keeps_old_tables_and_publish_waits(setup, pg_target):
    """A reader that read one table before the swap reads the same run from the next table."""
    import sqlalchemy as sa

    paths, work, counts = setup
    schema, settings, engine = pg_target
    reader = sa.create_engine(PG_URL, isolation_level="REPEATABLE READ")
    try:
        publish_tables(work, paths, "run-1", "2024-03-28", settings)
        counts2 = make_work_db(work, 90, tag="z")
        hook_entered, first_read = threading.Event(), threading.Event()
        seen: dict[str, tuple] = {}
        errors: list[BaseException] = []

        def read_across_the_swap():
            try:
                hook_entered.wait(30)
                with reader.begin() as conn:
                    # Read the tables in the reverse of their creation order: the order in
                    # which a plain DROP ... CASCADE would lock them and deadlock with us.
                    seen["a"] = tuple(
                        conn.exec_driver_sql(
                            f'select count(*), min(run_id) from "{schema}".quarantine'
                        ).one()
                    )
                    first_read.set()
                    time.sleep(1.5)  # the publisher tries to swap meanwhile
                    seen["b"] = tuple(
                        conn.exec_driver_sql(
                            f'select count(*), min(run_id) from "{schema}".demand_forecasts'
                        ).one()
                    )
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                errors.append(exc)
                first_read.set()

        def before_swap():
            hook_entered.set()
            first_read.wait(30)

        thread = threading.Thread(target=read_across_the_swap)
        thread.start()
        publish_tables(work, paths, "run-2", "2024-03-29", settings, before_swap=before_swap)
        thread.join(timeout=60)
        assert not errors, errors
        assert seen["a"] == (counts["quarantine"], "run-1")
        assert seen["b"] == (counts["demand_forecasts"], "run-1")
        with engine.connect() as conn:
            now = conn.exec_driver_sql(
                f'select count(*), min(run_id) from "{schema}".quarantine'
            ).one()
        assert tuple(now) == (counts2["quarantine"], "run-2")
    finally:
        reader.dispose()


def test_postgres_failure_leaves_every_target_unchanged_and_hides_password(
    setup, monkeypatch, caplog
):
    from restock.publishing import PublishError

    paths, work, counts = setup
    publish_tables(work, paths, "run-1", "2024-03-28", PublishSettings())
    db_hash, parquet_hashes = _sha256(paths.warehouse), _tree_hashes(paths.parquet_dir)
    versions = paths.parquet_dir.with_name(paths.parquet_dir.name + ".versions")
    versions_before = sorted(p.name for p in versions.iterdir())
    secret = "Publ1shSecretPw"
    # Nothing listens on port 9: the Postgres load fails after DuckDB and Parquet are built.
    monkeypatch.setenv("RESTOCK_TEST_PG_URL", f"postgresql+psycopg://bi:{secret}@127.0.0.1:9/x")
    settings = PublishSettings(postgres_url_env="RESTOCK_TEST_PG_URL")
    make_work_db(work, 75, tag="f")
    caplog.set_level("DEBUG")
    with pytest.raises(PublishError) as info:
        publish_tables(work, paths, "run-2", "2024-03-29", settings)
    assert secret not in str(info.value) and "***" in str(info.value)
    assert secret not in caplog.text
    assert _sha256(paths.warehouse) == db_hash
    assert _tree_hashes(paths.parquet_dir) == parquet_hashes
    assert sorted(p.name for p in versions.iterdir()) == versions_before
    assert [p.name for p in paths.root.iterdir() if ".tmp-" in p.name] == []


def test_unset_postgres_variable_skips_postgres_and_duckdb_can_be_off(setup, monkeypatch):
    paths, work, counts = setup
    monkeypatch.delenv("RESTOCK_TEST_UNSET_PG_URL", raising=False)
    settings = PublishSettings(duckdb=False, postgres_url_env="RESTOCK_TEST_UNSET_PG_URL")
    summary = publish_tables(work, paths, "run-1", "2024-03-28", settings)
    assert "postgres" not in summary and "duckdb" not in summary
    assert not paths.warehouse.exists()
    with duckdb.connect() as con:
        total = con.execute(
            "select count(*) from read_parquet(?, union_by_name = true)",
            [str(paths.parquet_dir / "*.parquet")],
        ).fetchone()[0]
    assert total == sum(counts.values())
    assert [p.name for p in paths.root.iterdir() if ".tmp-" in p.name] == []
