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


def _publish_alerts(warehouse, run_id: str, extra: bool = False):
    more = ", ('SKU-3', 'S1', date '2024-07-05', 0.90, 30.0, 'critical')" if extra else ""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.demand_forecasts as "
            "select ? as run_id, date '2024-06-30' as as_of", [run_id])
        con.execute(
            "create or replace table marts.stockout_alerts as select * from (values "
            "('SKU-1', 'S1', date '2024-07-02', 0.81, 24.0, 'critical'), "
            f"('SKU-2', 'S2', date '2024-07-09', 0.40, 12.0, 'medium'){more}) "
            "t(sku, location, projected_stockout_date, stockout_probability, "
            "recommended_order_qty, severity)")


def test_alert_sensor_posts_new_run_once(tmp_path, monkeypatch, webhook):
    """Without alert routes, RESTOCK_ALERT_WEBHOOK_URL gets every alert of a new publication,
    as before (now with the route's owner); an alert sent in the last dedup_days is not sent
    again."""
    url, received = webhook
    warehouse = tmp_path / "restock.duckdb"
    _publish_alerts(warehouse, "run-1")
    monkeypatch.setenv("RESTOCK_ALERT_WEBHOOK_URL", url)
    sensor = defs.resolve_sensor_def("stockout_alert_sensor")
    resources = {"restock": RestockResource(feed=str(tmp_path), warehouse=str(warehouse))}

    ctx = dg.build_sensor_context(resources=resources)
    sensor.evaluate_tick(ctx)
    assert len(received) == 1
    assert received[0]["count"] == 2
    assert [a["sku"] for a in received[0]["alerts"]] == ["SKU-1", "SKU-2"]  # most severe first
    assert set(received[0]) == {"count", "alerts", "owner"}  # today's payload + its owner
    assert received[0]["owner"] == "Alert webhook"
    assert received[0]["alerts"][0]["projected_stockout_date"] == "2024-07-02"
    cursor = ctx.cursor
    assert cursor == "run-1"

    # Same published run again: nothing posted.
    sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources=resources))
    assert len(received) == 1
    # A new publication with the same two alerts and a new one: only the new one is posted.
    _publish_alerts(warehouse, "run-2", extra=True)
    ctx = dg.build_sensor_context(cursor=cursor, resources=resources)
    sensor.evaluate_tick(ctx)
    assert len(received) == 2
    assert [a["sku"] for a in received[1]["alerts"]] == ["SKU-3"]
    assert ctx.cursor == "run-2"
    # Nothing new at all: no post.
    _publish_alerts(warehouse, "run-3", extra=True)
    sensor.evaluate_tick(dg.build_sensor_context(cursor="run-2", resources=resources))
    assert len(received) == 2


def test_alert_sensor_routes_to_owners_and_survives_a_failing_channel(tmp_path, monkeypatch,
                                                                     webhook):
    """Configured routes win over the old URL; a channel that fails (here its URL variable is
    not set) is reported in the log, the tick still succeeds and the other owner gets theirs."""
    url, received = webhook
    warehouse = tmp_path / "restock.duckdb"
    _publish_alerts(warehouse, "run-1")
    config = tmp_path / "alerts.yml"
    config.write_text(
        "alerting:\n  alert_routes:\n"
        "    - owner: Store S1\n      match: {location: S1}\n"
        "      channels: [{type: slack, url_env: RESTOCK_TEST_UNSET_SLACK_URL}]\n"
        "    - owner: Planning desk\n      default: true\n"
        "      channels: [{type: webhook, url_env: RESTOCK_TEST_DESK_URL}]\n")
    monkeypatch.delenv("RESTOCK_TEST_UNSET_SLACK_URL", raising=False)
    monkeypatch.setenv("RESTOCK_TEST_DESK_URL", url)
    monkeypatch.setenv("RESTOCK_ALERT_WEBHOOK_URL", url + "/not-used")
    resources = {"restock": RestockResource(feed=str(tmp_path), warehouse=str(warehouse),
                                            config_path=str(config))}
    sensor = defs.resolve_sensor_def("stockout_alert_sensor")
    ctx = dg.build_sensor_context(resources=resources)
    sensor.evaluate_tick(ctx)
    assert ctx.cursor == "run-1"
    [payload] = received
    assert payload["owner"] == "Planning desk"
    assert [a["sku"] for a in payload["alerts"]] == ["SKU-2"]  # SKU-1 is Store S1's
