"""Shared fixtures and helpers: where the real data sets are, the live database servers, a small
demo feed, one end-to-end run."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("DO_NOT_TRACK", "1")

#: A nightly as cheap as its blocking checks allow, for tests about what happens around the
#: forecasts (history, blocking checks): two quick candidates, one backtest fold, a short replay
#: of a few series. Append further sections (``quality:``) as needed.
FAST_NIGHTLY_CONFIG = """\
forecast:
  folds: 1
  sample_per_unit: 20
  candidates: [seasonal_naive, moving_average]
replenish:
  replay_days: 28
  replay_max_series: 10
  replay_service_levels: [0.9, 0.95]
  static_buffer_days: [7.0, 14.0]
"""

#: The live test servers (CI's .ci/run starts them): PostgreSQL trusts local connections as
#: user postgres, MariaDB lets root in without a password. Append "/<database>".
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when the data sets are absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data set not available: {path} (../shared/data is absent)")
    return path


@functools.cache
def db_server_reason(url: str) -> str | None:
    """Why no database server answers at ``url`` (a SQLAlchemy URL), or None when one does.

    Probed once per URL and session (3 s connect timeout): a missing server then costs one
    timeout, not one per test. The reason shows the URL with any password masked.
    """
    import sqlalchemy as sa

    from restock.secrets import mask_url

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return f"no server at {mask_url(url)}: {type(exc).__name__}"


def require_db_server(url: str) -> None:
    """Skip the calling test, with the reason, unless a database server answers at ``url``."""
    reason = db_server_reason(url)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def small_demo_feed(tmp_path_factory) -> Path:
    """A small deterministic demo feed (every contract table), shared by the whole session."""
    from restock.feed.demo import generate_demo_feed

    out = tmp_path_factory.mktemp("demo") / "feed"
    generate_demo_feed(out, seed=11, n_skus=40, years=2)
    return out


@pytest.fixture(scope="session")
def nightly_run(small_demo_feed, tmp_path_factory):
    """One `restock run` with the default config on the small demo feed: (warehouse, outcome,
    dagster_home).

    A nightly is the slowest thing the suite does, so the end-to-end modules (pipeline,
    customers, partitions) share this one instead of running their own. It is recorded on a
    DAGSTER_HOME of its own (as `make run` records into var/dagster_home); DAGSTER_HOME is set
    for the run only. Read it, never write it: a test that runs or materializes again works on
    :func:`copy_run` of it.
    """
    from pipelines.runner import run_nightly

    warehouse = tmp_path_factory.mktemp("nightly") / "restock.duckdb"
    home = tmp_path_factory.mktemp("dagster_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        outcome = run_nightly(small_demo_feed, warehouse)
    assert outcome.success, f"run failed: {outcome.failures}"
    return warehouse, outcome, home


def copy_run(warehouse: Path, folder: Path) -> Path:
    """Copy the folder of a run's ``warehouse`` (published tables, work DB, reports, state) to
    ``folder`` (which must not exist); returns the copy's warehouse path.

    The links that swap publications in (restock.duckdb -> restock_parquet -> a version,
    reports/latest) are relative and copied as links, so the copy is a warehouse of its own.
    """
    shutil.copytree(Path(warehouse).parent, folder, symlinks=True)
    return Path(folder) / Path(warehouse).name
