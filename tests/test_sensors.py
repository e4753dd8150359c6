"""The drop-folder sensor starts one run per complete drop; the alert sensor posts once."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import duckdb
import pytest

from assets.resources import RestockResource
from pipelines.definitions import defs


def _drop_sensor():
    return defs.resolve_sensor_def("feed_drop_sensor")


def test_drop_sensor_skips_without_folder(monkeypatch):
    monkeypatch.delenv("RESTOCK_DROP_FOLDER", raising=False)
    result = _drop_sensor().evaluate_tick(dg.build_sensor_context())
    assert not result.run_requests
    assert "RESTOCK_DROP_FOLDER" in (result.skip_message or "")


def test_drop_sensor_requests_one_run_per_complete_drop(tmp_path, monkeypatch):
    root = tmp_path / "drops"
    drop = root / "2024-06-30"
    drop.mkdir(parents=True)
    (drop / "products.csv").write_text("sku,category,lead_time_days\nA,X,3\n")
    (drop / "sales.csv").write_text("date,sku,location,quantity\n2024-06-30,A,S1,2\n")
    (drop / "_SUCCESS").write_text("")
    partial = root / "2024-07-01"
    partial.mkdir()
    (partial / "sales.csv.part").write_text("date,sku")  # still being written, no marker
    monkeypatch.setenv("RESTOCK_DROP_FOLDER", str(root))

    sensor = _drop_sensor()
    first = sensor.evaluate_tick(dg.build_sensor_context())
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    feed = request.run_config["ops"]["raw_feed"]["config"]["feed"]
    assert feed == str(drop)
    # Same drop on the next tick: same run key, so Dagster never starts it twice.
    second = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    keys = {r.run_key for r in second.run_requests}
    assert keys <= {request.run_key}


class _Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    yield f"http://127.0.0.1:{server.server_port}/alerts", _Collector.received
    server.shutdown()


def _publish_alerts(warehouse, run_id: str):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.demand_forecasts as "
            "select ? as run_id, date '2024-06-30' as as_of", [run_id])
        con.execute(
            "create or replace table marts.stockout_alerts as select * from (values "
            "('SKU-1', 'S1', date '2024-07-02', 0.81, 24.0, 'critical'), "
            "('SKU-2', 'S2', date '2024-07-09', 0.40, 12.0, 'medium')) "
            "t(sku, location, projected_stockout_date, stockout_probability, "
            "recommended_order_qty, severity)")


def test_alert_sensor_posts_new_run_once(tmp_path, monkeypatch, webhook):
    url, received = webhook
    warehouse = tmp_path / "restock.duckdb"
    _publish_alerts(warehouse, "run-1")
    monkeypatch.setenv("RESTOCK_ALERT_WEBHOOK_URL", url)
    sensor = defs.resolve_sensor_def("stockout_alert_sensor")
    resources = {"restock": RestockResource(feed=str(tmp_path), warehouse=str(warehouse))}

    ctx = dg.build_sensor_context(resources=resources)
    sensor.evaluate_tick(ctx)
    assert len(received) == 1
    payload = json.dumps(received[0])
    assert "SKU-1" in payload and "SKU-2" in payload
    cursor = ctx.cursor
    assert cursor == "run-1"

    # Same published run again: nothing posted.
    sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources=resources))
    assert len(received) == 1
    # A new publication: posted.
    _publish_alerts(warehouse, "run-2")
    sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources=resources))
    assert len(received) == 2
