"""Stockout alerts: which lines alert, severity, and posting to a real local webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

from restock.inventory import AlertPostError, ReplenishSettings, build_stockout_alerts, post_alerts

PLAN = pd.Timestamp("2024-01-01")


def _lines() -> pd.DataFrame:
    def day(n):
        return PLAN + pd.Timedelta(days=n) if n is not None else pd.NaT

    cases = [  # sku, days to stockout, probability, stock known
        ("soon", 2, 0.40, True),  # within 3 days -> critical
        ("before_arrival", 6, 0.30, True),  # before the day-7 arrival -> high
        ("likely", None, 0.30, True),  # only the probability -> medium
        ("very_likely", None, 0.90, True),  # probability >= 0.8 -> critical
        ("fine", None, 0.10, True),  # no alert
        ("after_arrival", 10, 0.10, True),  # runs out after the order could arrive: no alert
        ("unknown", 1, np.nan, False),  # stock unknown: no alert
    ]
    return pd.DataFrame({
        "sku": [c[0] for c in cases], "location": "S1", "category": "food",
        "projected_stockout_date": [day(c[1]) for c in cases],
        "stockout_probability": [c[2] for c in cases],
        "recommended_order_qty": 12.0, "stock_known": [c[3] for c in cases],
        "lead_time_days": 7.0, "next_possible_arrival": PLAN + pd.Timedelta(days=7),
        "plan_date": PLAN,
    })


def test_alert_selection_and_severity():
    alerts = build_stockout_alerts(_lines(), ReplenishSettings())
    got = dict(zip(alerts["sku"], alerts["severity"], strict=True))
    assert got == {"soon": "critical", "very_likely": "critical", "before_arrival": "high",
                   "likely": "medium"}
    assert alerts["sku"].tolist()[:2] == ["soon", "very_likely"]  # critical, soonest first
    assert list(alerts.columns[:6]) == ["sku", "location", "projected_stockout_date",
                                        "stockout_probability", "recommended_order_qty",
                                        "severity"]
    soon = alerts.set_index("sku").loc["soon"]
    assert soon.days_to_stockout == 2
    assert "runs out in 2 days (2024-01-03)" in soon.explanation


def test_no_lines_no_alerts():
    assert build_stockout_alerts(_lines().iloc[:0], ReplenishSettings()).empty


class _Recorder(BaseHTTPRequestHandler):
    statuses: list[int] = []
    bodies: list[bytes] = []
    auth: list[str | None] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(body)
        type(self).auth.append(self.headers.get("Authorization"))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (_Recorder,), {"statuses": [], "bodies": [], "auth": []})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()


def test_post_alerts_sends_one_json_document(server):
    httpd, handler = server
    alerts = build_stockout_alerts(_lines(), ReplenishSettings())
    url = f"http://127.0.0.1:{httpd.server_port}/hook"
    assert post_alerts(url, alerts) == 200
    assert len(handler.bodies) == 1
    doc = json.loads(handler.bodies[0])
    assert doc["count"] == 4
    first = doc["alerts"][0]
    assert first["sku"] == "soon" and first["projected_stockout_date"] == "2024-01-03"
    assert doc["alerts"][1]["projected_stockout_date"] is None  # NaT -> null


def test_post_alerts_retries_transient_errors(server):
    httpd, handler = server
    handler.statuses[:] = [503, 429]
    url = f"http://127.0.0.1:{httpd.server_port}/hook"
    assert post_alerts(url, _lines().iloc[:0], backoff=0.01) == 200
    assert len(handler.bodies) == 3


def test_post_alerts_fails_clearly_without_leaking_the_token(server):
    httpd, handler = server
    handler.statuses[:] = [400]
    url = f"http://user:secret@127.0.0.1:{httpd.server_port}/hook/T0KEN?key=abc"
    with pytest.raises(AlertPostError) as err:
        post_alerts(url, _lines().iloc[:0], backoff=0.01)
    msg = str(err.value)
    assert f"127.0.0.1:{httpd.server_port}" in msg and "HTTP 400" in msg
    assert "secret" not in msg and "T0KEN" not in msg and "abc" not in msg
    assert len(handler.bodies) == 1  # a 4xx is not retried
    assert handler.auth == ["Basic dXNlcjpzZWNyZXQ="]  # user:secret sent as basic auth


def test_post_alerts_unreachable_host_after_retries():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AlertPostError, match=f"127.0.0.1:{port} failed after 3 attempts"):
        post_alerts(f"http://127.0.0.1:{port}/x", _lines().iloc[:0], retries=2, backoff=0.01,
                    timeout=2)
