"""`dagster dev` (through workspace.yaml) serves one asset graph with every stage, the asset
checks, the nightly schedule and the sensors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
QUERY = """
{
  assetNodes { assetKey { path } groupName hasAssetChecks }
  repositoriesOrError { ... on RepositoryConnection { nodes {
      schedules { name cronSchedule }
      sensors { name }
  } } }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_dagster_dev_serves_the_whole_graph(tmp_path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DO_NOT_TRACK": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    # Its own session, stopped by process group: `dagster dev` ignores SIGTERM from a shell.
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        data = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                data = _graphql(port)
                if data.get("assetNodes"):
                    break
            except OSError:
                pass
            time.sleep(2)
        assert data and data["assetNodes"], "dagster dev did not serve the asset graph"
        keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
        groups = {n["groupName"] for n in data["assetNodes"]}
        assert {"raw/sales", "stg_feed__sales", "int_sales_aggregated_to_daily",
                "fct_daily_demand", "forecast_backtest", "demand_forecasts",
                "reorder_recommendations", "policy_replay", "published_tables",
                "run_report"} <= keys
        assert {"ingest", "staging", "intermediate", "marts", "forecast", "replenish",
                "quality", "publish", "report"} <= groups
        assert sum(n["hasAssetChecks"] for n in data["assetNodes"]) >= 10
        repo = data["repositoriesOrError"]["nodes"][0]
        assert sorted(s["cronSchedule"] for s in repo["schedules"]) == ["0 2 * * *", "0 5 * * 0"]
        assert {s["name"] for s in repo["sensors"]} == {
            "feed_drop_sensor", "stockout_alert_sensor", "category_partitions_sensor"}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
