"""restock.alerting: each channel's payload against its app's format, delivered to a local HTTP
server; redirects, retries and app errors; one digest per owner; de-duplication; e-mail to a
local SMTP sink. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socketserver
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from restock.alerting import (
    AlertConfigError,
    HttpOptions,
    alerts_payload,
    build_digest,
    dingtalk_payload,
    dispatch_alerts,
    mask_url,
    parse_alerting,
    parse_routes,
    severity_legend_from,
    slack_payload,
)

NOW = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
FAST = HttpOptions(timeout=5, retries=2, backoff=0.01, sleep=lambda s: None)


# --- local servers -----------------------------------------------------------------------------
class Recorder:
    """A local HTTP server: records every request and answers per path."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: dict[str, tuple[int, dict, bytes]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                recorder.requests.append({
                    "path": parts.path, "query": parse_qs(parts.query),
                    "headers": dict(self.headers.items()), "body": body,
                })
                status, headers, answer = recorder.answers.get(parts.path, (200, {}, b"ok"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str, userinfo: str = "", query: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def on(self, path: str, status: int = 200, body: object = b"ok", **headers: str) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.answers[path] = (status, headers, data)

    def at(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http():
    server = Recorder()
    server.on("/slack", body=b"ok")
    server.on("/teams", status=202, body=b"")
    server.on("/ding", body={"errcode": 0, "errmsg": "ok"})
    server.on("/wecom", body={"errcode": 0, "errmsg": "ok"})
    server.on("/feishu", body={"code": 0, "msg": "success", "data": {}})
    server.on("/hook", body=b"")
    yield server
    server.close()


class SmtpSink:
    """A tiny SMTP server (socketserver): EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def __init__(self, starttls: bool = False):
        self.messages: list[dict] = []
        self.commands: list[str] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str):
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                self.reply("220 sink ESMTP")
                mail_from, rcpts = None, []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode().rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    sink.commands.append(verb)
                    if verb == "EHLO":
                        extra = ["250-STARTTLS"] if starttls else []
                        for x in ["250-sink", *extra, "250-AUTH PLAIN"]:
                            self.reply(x)
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 sink")
                    elif verb == "AUTH":
                        self.reply("235 ok")
                    elif verb == "MAIL":
                        mail_from = line.split(":", 1)[1].strip()
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip())
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = []
                        while True:
                            row = self.rfile.readline().decode()
                            if row in (".\r\n", ".\n", ""):
                                break
                            data.append(row[1:] if row.startswith("..") else row)
                        sink.messages.append({"from": mail_from, "to": rcpts,
                                              "data": "".join(data)})
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 ok")
                    else:
                        self.reply("502 not implemented")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.close()


# --- data --------------------------------------------------------------------------------------
def _alerts(rows=None) -> pd.DataFrame:
    rows = rows or [
        ("FOODS_1_001", "CA_1", "FOODS", "critical", 0.91, 2),
        ("FOODS_1_002", "CA_1", "FOODS", "high", 0.55, 6),
        ("FOODS_2_003", "TX_1", "FOODS", "medium", 0.25, None),
        ("HOBBIES_1_004", "TX_1", "HOBBIES", "high", 0.60, 5),
        ("HOUSEHOLD_1_005", "WI_1", "HOUSEHOLD", "critical", 0.85, 1),
    ]
    plan = pd.Timestamp("2024-07-01")
    return pd.DataFrame({
        "sku": [r[0] for r in rows], "location": [r[1] for r in rows],
        "projected_stockout_date": [plan + pd.Timedelta(days=r[5]) if r[5] is not None
                                    else pd.NaT for r in rows],
        "stockout_probability": [r[4] for r in rows],
        "recommended_order_qty": [40.0] * len(rows),
        "severity": [r[3] for r in rows],
        "category": [r[2] for r in rows],
        "days_to_stockout": [float(r[5]) if r[5] is not None else float("nan") for r in rows],
    })


def _one_route(*channels: dict) -> list:
    return parse_routes([{"owner": "Ana", "default": True, "channels": list(channels)}])


def _json(req: dict) -> dict:
    assert req["headers"]["Content-Type"].startswith("application/json")
    return json.loads(req["body"])


# --- redaction and config ----------------------------------------------------------------------
def test_mask_url_hides_passwords_tokens_and_path_secrets():
    masked = mask_url("https://bob:hunter2@oapi.dingtalk.com/robot/send?access_token=abc123"
                      "&timestamp=17&sign=xyz%3D&Password=p&page=2")
    assert "hunter2" not in masked and "abc123" not in masked and "xyz" not in masked
    assert masked.startswith("https://bob:***@oapi.dingtalk.com/robot/send?")
    assert "timestamp=17" in masked and "page=2" in masked and "Password=***" in masked
    assert mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1") \
        .endswith("key=***")
    slack = mask_url("https://hooks.slack.com/services/T0ABC/B0DEF/abcdefghijklmnopqrstuvwx")
    assert slack == "https://hooks.slack.com/services/T0ABC/B0DEF/***"
    feishu = mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/"
                      "5e3d587e-d78e-4a07-bd07-265f269f86fd")
    assert feishu.endswith("/hook/***")
    assert "sig=***" in mask_url("https://x.logic.azure.com/workflows/1/invoke?sv=1.0&sig=S3C")
    assert mask_url("http://[::1]:99/x?token=t") == "http://[::1]:99/x?token=***"
    assert mask_url(None) == "" and mask_url("http://u:pw@h:notaport/") == "http://u:***@h:notaport/"


@pytest.mark.parametrize(("raw", "needle"), [
    ([{"owner": "A", "default": True, "chanels": []}], "unknown key 'chanels' (did you mean "
                                                       "'channels'?)"),
    ([{"owner": "A", "default": True, "channels": [{"type": "slak", "url_env": "S"}]}],
     "unknown channel type 'slak' (did you mean 'slack'?"),
    ([{"owner": "A", "default": True, "channels": [{"type": "slack", "url": "https://h"}]}],
     "put it in an environment variable and give its name as 'url_env'"),
    ([{"owner": "A", "default": True,
       "channels": [{"type": "slack", "url_env": "https://hooks.slack.com/x"}]}],
     "takes the NAME of an environment variable"),
    ([{"owner": "A", "default": True, "channels": [{"type": "dingtalk", "url_env": "D",
                                                    "secret": "SEC1"}]}], "'secret_env'"),
    ([{"owner": "A", "match": {"categry": "X"}, "channels": [{"type": "slack",
                                                              "url_env": "S"}]}],
     "unknown key 'categry' (did you mean 'category'?)"),
    ([{"owner": "A", "category": "X", "channels": [{"type": "slack", "url_env": "S"}]}],
     "put 'category' under 'match:'"),
    ([{"owner": "A", "channels": [{"type": "slack", "url_env": "S"}]}], "or 'default: true'"),
    ([{"owner": "A", "default": True, "channels": [{"type": "slack", "url_env": "S"}]},
      {"owner": "B", "default": True, "channels": [{"type": "slack", "url_env": "S"}]}],
     "only one route may be the default"),
    ([{"owner": "A", "default": True, "channels": [{"type": "email", "host": "h",
                                                    "from": "r@x"}]}], "missing 'to'"),
    ([{"owner": "A", "match": {"location": "CA_*"}, "channels": [{"type": "slack",
                                                                  "url_env": "S"}]},
      {"owner": "A", "match": {"category": "X"}, "channels": [{"type": "teams",
                                                               "url_env": "T"}]}],
     "already has other channels"),
])
def test_parse_routes_rejects_with_one_line(raw, needle):
    with pytest.raises(AlertConfigError) as info:
        parse_routes(raw)
    message = str(info.value)
    assert needle in message and "\n" not in message and "https://h" not in message


def test_parse_routes_accepts_every_channel_type_and_aliases():
    routes = parse_routes([
        {"owner": "Ana", "match": {"category": ["FOODS*", "DAIRY"], "location": "CA_*"},
         "channels": [
             {"type": "webhook", "url_env": "W"}, {"type": "slack", "url_env": "S"},
             {"type": "teams", "url_env": "T"},
             {"type": "dingtalk", "url_env": "D", "secret_env": "DS", "at_mobiles": [1380000]},
             {"type": "wecom", "url_env": "WC"}, {"type": "lark", "url_env": "F"},
             {"type": "email", "host": "smtp.example.com", "from": "r@example.com",
              "to": "ana@example.com", "password_env": "PW", "username": "r", "port": 587}]},
        {"owner": "Ana", "match": {"location": "WI_1"}},  # same owner: channels inherited
        {"owner": "Desk", "default": True, "channels": [{"type": "webhook", "url_env": "W"}]},
    ])
    assert [c.type for c in routes[0].channels] == [
        "webhook", "slack", "teams", "dingtalk", "wecom", "feishu", "email"]
    assert routes[1].channels is routes[0].channels
    assert routes[0].matches("foods", "CA_2") and not routes[0].matches("FOODS", "TX_1")
    assert routes[0].channels[6].settings["to"] == ["ana@example.com"]
    assert parse_routes(None) == []


# --- each channel's format ---------------------------------------------------------------------
def test_each_channel_posts_its_documented_format(http, tmp_path):
    env = {
        "HOOK": http.url("/hook", userinfo="restock:s3cret"),
        "SLACK": http.url("/slack"), "TEAMS": http.url("/teams"),
        "DING": http.url("/ding", query="access_token=tok123"), "DING_SECRET": "SECabc",
        "WECOM": http.url("/wecom", query="key=wkey"),
        "FEISHU": http.url("/feishu"), "FEISHU_SECRET": "fsecret",
    }
    routes = _one_route(
        {"type": "webhook", "url_env": "HOOK"}, {"type": "slack", "url_env": "SLACK"},
        {"type": "teams", "url_env": "TEAMS"},
        {"type": "dingtalk", "url_env": "DING", "secret_env": "DING_SECRET",
         "at_mobiles": ["13800000000"]},
        {"type": "wecom", "url_env": "WECOM"},
        {"type": "feishu", "url_env": "FEISHU", "secret_env": "FEISHU_SECRET"},
    )
    alerts = _alerts()
    report = dispatch_alerts(alerts, routes, tmp_path / "state.json", NOW, env, top_n=3,
                             http=FAST)
    assert report.ok and [c.status for c in report.results] == ["sent"] * 6, report.lines()
    for c in report.results:  # no secret in the report
        assert "s3cret" not in c.reason and "tok123" not in c.reason and "wkey" not in c.reason
    legend = "Severity: CRITICAL"

    # generic webhook: today's shape {"count", "alerts": [...]} with every alert (a machine
    # reads it, top_n is for people), most severe first, + owner; Basic auth from the userinfo
    (hook,) = http.at("/hook")
    body = _json(hook)
    assert set(body) == {"count", "alerts", "owner"} and body["owner"] == "Ana"
    assert body["count"] == 5 and len(body["alerts"]) == 5
    order = [0, 4, 3, 1, 2]  # critical .91, .85, high .60, .55, medium
    assert body["alerts"] == alerts_payload(alerts.iloc[order])["alerts"]
    assert set(body["alerts"][0]) >= {"sku", "location", "projected_stockout_date",
                                      "stockout_probability", "recommended_order_qty",
                                      "severity"}
    auth = hook["headers"]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "restock:s3cret"

    # Slack: text fallback + blocks (header, mrkdwn sections, context legend)
    slack = _json(http.at("/slack")[0])
    assert isinstance(slack["text"], str) and "Ana" in slack["text"]
    types = [b["type"] for b in slack["blocks"]]
    assert types[0] == "header" and types[-1] == "context" and "section" in types
    assert slack["blocks"][0]["text"]["type"] == "plain_text"
    section = next(b for b in slack["blocks"] if b["type"] == "section")
    assert section["text"]["type"] == "mrkdwn"
    assert "*CRITICAL* FOODS_1_001 @ CA_1" in section["text"]["text"]
    assert "2 more" in json.dumps(slack["blocks"])
    assert slack["blocks"][-1]["elements"][0]["text"].startswith(legend)

    # Teams: message with one Adaptive Card attachment
    teams = _json(http.at("/teams")[0])
    assert teams["type"] == "message"
    (att,) = teams["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert all(b["type"] == "TextBlock" for b in card["body"])
    assert card["body"][-1]["text"].startswith(legend)

    # DingTalk: markdown msgtype; timestamp (ms) + sign as query parameters, recomputed here
    ding_req = http.at("/ding")[0]
    ding = _json(ding_req)
    assert ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    assert legend in ding["markdown"]["text"] and "@13800000000" in ding["markdown"]["text"]
    assert ding["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    q = ding_req["query"]
    assert q["access_token"] == ["tok123"]
    ts = q["timestamp"][0]
    assert len(ts) == 13 and ts.isdigit()
    want = base64.b64encode(hmac.new(b"SECabc", f"{ts}\nSECabc".encode(),
                                     hashlib.sha256).digest()).decode()
    assert q["sign"] == [want]

    # WeCom: markdown msgtype with content under 4096 bytes, key kept in the query
    wecom_req = http.at("/wecom")[0]
    wecom = _json(wecom_req)
    assert wecom["msgtype"] == "markdown" and set(wecom["markdown"]) == {"content"}
    assert len(wecom["markdown"]["content"].encode()) <= 4096
    assert '<font color="warning">CRITICAL</font>' in wecom["markdown"]["content"]
    assert wecom_req["query"] == {"key": ["wkey"]}

    # Feishu: interactive card; timestamp (s) + sign in the body, recomputed here
    feishu = _json(http.at("/feishu")[0])
    assert feishu["msg_type"] == "interactive"
    title = feishu["card"]["header"]["title"]
    assert title["tag"] == "plain_text" and title["content"].startswith("Restock: 5 stockout")
    assert feishu["card"]["header"]["template"] == "red"
    tags = [e["tag"] for e in feishu["card"]["elements"]]
    assert tags == ["div", "hr", "note"]
    assert feishu["card"]["elements"][0]["text"]["tag"] == "lark_md"
    fts = feishu["timestamp"]
    assert len(fts) == 10 and fts.isdigit()
    key = f"{fts}\nfsecret".encode()
    assert feishu["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# --- delivery failures -------------------------------------------------------------------------
def test_redirect_is_a_failed_delivery_and_forwards_no_credentials(http, tmp_path):
    other = Recorder()  # another origin (another port)
    try:
        http.on("/moved", status=302, body=b"", Location=other.url("/steal", query="x=1"))
        env = {"HOOK": http.url("/moved", userinfo="restock:s3cret", query="token=tok9")}
        report = dispatch_alerts(_alerts(), _one_route({"type": "webhook", "url_env": "HOOK"}),
                                 tmp_path / "state.json", NOW, env, http=FAST)
        (result,) = report.results
        assert result.status == "failed" and "redirected (HTTP 302" in result.reason
        assert "not followed" in result.reason
        assert "s3cret" not in result.reason and "tok9" not in result.reason
        assert len(http.at("/moved")) == 1  # not retried
        assert other.requests == []  # nothing, and so no credentials, reached the other origin
        assert not (tmp_path / "state.json").exists() or \
            json.loads((tmp_path / "state.json").read_text())["sent"] == {}
    finally:
        other.close()


def test_server_error_is_retried_then_failed(http, tmp_path):
    http.on("/down", status=500, body=b"internal error")
    waits: list[float] = []
    options = HttpOptions(timeout=5, retries=2, backoff=0.25, sleep=waits.append)
    report = dispatch_alerts(_alerts(), _one_route({"type": "slack", "url_env": "S"}),
                             tmp_path / "state.json", NOW, {"S": http.url("/down")},
                             http=options)
    (result,) = report.results
    assert result.status == "failed"
    assert "failed after 3 attempts: HTTP 500" in result.reason
    assert len(http.at("/down")) == 3 and waits == [0.25, 0.5]


def test_connection_refused_is_retried_then_failed(tmp_path):
    closed = Recorder()
    url = closed.url("/x")
    closed.close()
    report = dispatch_alerts(_alerts(), _one_route({"type": "teams", "url_env": "T"}),
                             tmp_path / "state.json", NOW, {"T": url}, http=FAST)
    assert report.results[0].status == "failed"
    assert "after 3 attempts" in report.results[0].reason


@pytest.mark.parametrize(("path", "answer", "needle"), [
    ("/slack", b"invalid_token", "invalid_token"),
    ("/ding", {"errcode": 310000, "errmsg": "sign not match"}, "errcode 310000"),
    ("/wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, "errcode 93000"),
    ("/feishu", {"code": 19021, "msg": "sign match fail", "data": {}}, "code 19021"),
    ("/wecom", b"<html>proxy login</html>", "expected JSON"),
])
def test_app_level_error_in_a_200_is_a_failure(http, tmp_path, path, answer, needle):
    kind = {"/slack": "slack", "/ding": "dingtalk", "/wecom": "wecom", "/feishu": "feishu"}[path]
    http.on(path, status=200, body=answer)
    report = dispatch_alerts(_alerts(), _one_route({"type": kind, "url_env": "U"}),
                             tmp_path / "state.json", NOW, {"U": http.url(path)}, http=FAST)
    (result,) = report.results
    assert result.status == "failed" and needle in result.reason
    assert "refused it" in result.reason and len(http.at(path)) == 1  # app errors not retried


def test_a_failing_channel_does_not_stop_the_others(http, tmp_path):
    http.on("/down", status=503, body=b"")
    routes = _one_route({"type": "webhook", "url_env": "DOWN", "name": "ops-hook"},
                        {"type": "slack", "url_env": "MISSING"},
                        {"type": "slack", "url_env": "SLACK"})
    env = {"DOWN": http.url("/down"), "SLACK": http.url("/slack")}
    report = dispatch_alerts(_alerts(), routes, tmp_path / "state.json", NOW, env, http=FAST)
    statuses = [(c.channel, c.status) for c in report.results]
    assert statuses == [("ops-hook", "failed"), ("slack", "failed"), ("slack", "sent")]
    assert "MISSING" in report.results[1].reason and "not set" in report.results[1].reason
    assert not report.ok and len(report.failed) == 2
    assert len(http.at("/slack")) == 1
    # delivered on one channel: the listed alerts count as sent
    sent = json.loads((tmp_path / "state.json").read_text())["sent"]
    assert len(sent) == 5


# --- routing, digest, de-duplication -----------------------------------------------------------
def _three_owner_routes():
    return parse_routes([
        {"owner": "Fresh buyer", "match": {"category": "FOODS*"},
         "channels": [{"type": "webhook", "url_env": "FRESH"}]},
        {"owner": "Texas store", "match": {"location": ["TX_*"]},
         "channels": [{"type": "webhook", "url_env": "TEXAS"}]},
        {"owner": "Fresh buyer", "match": {"location": "WI_1"}},  # same owner, other match
        {"owner": "Desk", "default": True, "channels": [{"type": "webhook", "url_env": "DESK"}]},
    ])


def test_one_digest_per_owner_with_top_n_and_the_rest_counted(http, tmp_path):
    env = {"FRESH": http.url("/fresh"), "TEXAS": http.url("/texas"), "DESK": http.url("/desk")}
    extra = [(f"FOODS_9_{i:03d}", "CA_2", "FOODS", "medium", 0.3, None) for i in range(6)]
    alerts = _alerts([
        ("FOODS_1_001", "CA_1", "FOODS", "critical", 0.91, 2),
        ("FOODS_2_003", "TX_1", "FOODS", "medium", 0.25, None),  # category route comes first
        ("HOBBIES_1_004", "TX_1", "HOBBIES", "high", 0.60, 5),
        ("HOUSEHOLD_1_005", "WI_1", "HOUSEHOLD", "critical", 0.85, 1),
        ("HOBBIES_2_006", "CA_3", "HOBBIES", "medium", 0.22, None),  # default route
        *extra,
    ])
    report = dispatch_alerts(alerts, _three_owner_routes(), tmp_path / "s.json", NOW, env,
                             top_n=3, http=FAST)
    assert [(o.owner, o.alerts, o.listed, o.not_listed) for o in report.owners] == [
        ("Fresh buyer", 9, 3, 6), ("Texas store", 1, 1, 0), ("Desk", 1, 1, 0)]
    assert [len(http.at(p)) for p in ("/fresh", "/texas", "/desk")] == [1, 1, 1]
    fresh = _json(http.at("/fresh")[0])
    assert [a["sku"] for a in fresh["alerts"]][:3] == ["FOODS_1_001", "HOUSEHOLD_1_005",
                                                       "FOODS_9_000"]
    assert fresh["count"] == 9 and {a["location"] for a in fresh["alerts"]} == {
        "CA_1", "TX_1", "WI_1", "CA_2"}
    assert [a["sku"] for a in _json(http.at("/texas")[0])["alerts"]] == ["HOBBIES_1_004"]
    assert [a["sku"] for a in _json(http.at("/desk")[0])["alerts"]] == ["HOBBIES_2_006"]


def test_unrouted_alerts_are_reported_without_a_default_route(http, tmp_path):
    routes = parse_routes([{"owner": "Texas", "match": {"location": "TX_*"},
                            "channels": [{"type": "webhook", "url_env": "T"}]}])
    report = dispatch_alerts(_alerts(), routes, tmp_path / "s.json", NOW,
                             {"T": http.url("/hook")}, http=FAST)
    assert report.unrouted == 3 and report.owners[0].alerts == 2
    assert any("matched no route" in line for line in report.lines())


def test_no_repeat_within_the_window_and_a_repeat_after_it(http, tmp_path):
    routes = _one_route({"type": "slack", "url_env": "S"})
    env, state = {"S": http.url("/slack")}, tmp_path / "alerts_state.json"
    first = dispatch_alerts(_alerts(), routes, state, NOW, env, dedup_days=7, http=FAST)
    assert first.sent and len(http.at("/slack")) == 1

    again = dispatch_alerts(_alerts(), routes, state, NOW + timedelta(days=3), env,
                            dedup_days=7, http=FAST)
    (skipped,) = again.results
    assert skipped.status == "skipped" and "already sent in the last 7 days" in skipped.reason
    assert again.owners[0].duplicates == 5 and len(http.at("/slack")) == 1

    # one new item and one escalation (medium -> critical) within the window: only those two
    rows = [("FOODS_2_003", "TX_1", "FOODS", "critical", 0.95, 1),
            ("NEW_1", "CA_1", "FOODS", "medium", 0.3, None),
            ("FOODS_1_001", "CA_1", "FOODS", "critical", 0.91, 2)]
    mixed = dispatch_alerts(_alerts(rows), routes, state, NOW + timedelta(days=4), env,
                            dedup_days=7, http=FAST)
    assert mixed.owners[0].duplicates == 1 and mixed.owners[0].listed == 2
    text = _json(http.at("/slack")[-1])["blocks"][1]["text"]["text"]
    assert "FOODS_2_003" in text and "NEW_1" in text and "FOODS_1_001" not in text

    after = dispatch_alerts(_alerts(), routes, state, NOW + timedelta(days=8), env,
                            dedup_days=7, http=FAST)
    # day 8: the day-0 sends have expired; FOODS_2_003 was sent (as critical) on day 4
    assert after.results[0].status == "sent" and after.owners[0].duplicates == 1
    assert len(http.at("/slack")) == 3


def test_failed_delivery_is_not_recorded_so_the_next_run_retries(http, tmp_path):
    http.on("/down", status=500, body=b"")
    routes = _one_route({"type": "slack", "url_env": "S"})
    state = tmp_path / "s.json"
    dispatch_alerts(_alerts(), routes, state, NOW, {"S": http.url("/down")}, http=FAST)
    report = dispatch_alerts(_alerts(), routes, state, NOW + timedelta(hours=1),
                             {"S": http.url("/slack")}, http=FAST)
    assert report.results[0].status == "sent" and report.owners[0].duplicates == 0


@pytest.mark.parametrize("content", ["{not json", '{"sent": []}', '{"sent": {"a": {"at": 5}}}',
                                     ""])
def test_corrupt_state_file_is_named_and_rebuilt(http, tmp_path, content, caplog):
    state = tmp_path / "alerts_state.json"
    state.write_text(content)
    report = dispatch_alerts(_alerts(), _one_route({"type": "slack", "url_env": "S"}), state,
                             NOW, {"S": http.url("/slack")}, http=FAST)
    assert report.results[0].status == "sent"
    assert str(state) in report.state_problem and "rebuilt empty" in report.state_problem
    assert str(state) in caplog.text
    assert len(json.loads(state.read_text())["sent"]) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["alerts_state.json"]  # no temp file left


def test_unwritable_state_is_reported_not_raised(http, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    report = dispatch_alerts(_alerts(), _one_route({"type": "slack", "url_env": "S"}),
                             blocker / "state.json", NOW, {"S": http.url("/slack")}, http=FAST)
    assert report.results[0].status == "sent" and "could not write" in report.state_problem


def test_no_alerts_sends_nothing(http, tmp_path):
    report = dispatch_alerts(_alerts().iloc[0:0], _one_route({"type": "slack", "url_env": "S"}),
                             tmp_path / "s.json", NOW, {"S": http.url("/slack")}, http=FAST)
    assert report.owners == [] and http.requests == []


# --- e-mail ------------------------------------------------------------------------------------
def test_email_digest_plain_and_html_to_a_local_smtp_server(smtp, tmp_path):
    routes = _one_route({"type": "email", "host": "127.0.0.1", "port": smtp.port,
                         "starttls": False, "from": "restock@example.com",
                         "to": ["ana@example.com", "desk@example.com"],
                         "username": "restock", "password_env": "SMTP_PW"})
    report = dispatch_alerts(_alerts(), routes, tmp_path / "s.json", NOW,
                             {"SMTP_PW": "pw-123"}, top_n=4, run_label="as_of 2024-07-01",
                             http=FAST)
    (result,) = report.results
    assert result.status == "sent", result.reason
    assert "pw-123" not in result.reason
    (sent,) = smtp.messages
    assert sent["from"] == "<restock@example.com>"
    assert sent["to"] == ["<ana@example.com>", "<desk@example.com>"]
    msg = email.message_from_string(sent["data"], policy=email.policy.default)
    assert msg["Subject"] == "Restock: 5 stockout alerts for Ana (2 critical) - as_of 2024-07-01"
    assert msg["To"] == "ana@example.com, desk@example.com"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "CRITICAL" in plain and "FOODS_1_001 @ CA_1" in plain and "91% stockout risk" in plain
    assert "1 more alert not listed" in plain and "Severity: CRITICAL" in plain
    assert "<table" in html and "FOODS_1_001" in html and "Severity: CRITICAL" in html
    assert "AUTH" in smtp.commands


def test_email_refuses_clear_text_when_starttls_is_not_offered(smtp, tmp_path):
    routes = _one_route({"type": "email", "host": "127.0.0.1", "port": smtp.port,
                         "from": "restock@example.com", "to": "ana@example.com",
                         "username": "restock", "password_env": "SMTP_PW"})  # starttls default
    report = dispatch_alerts(_alerts(), routes, tmp_path / "s.json", NOW, {"SMTP_PW": "pw-123"},
                             http=FAST)
    (result,) = report.results
    assert result.status == "failed" and "STARTTLS" in result.reason
    assert smtp.messages == [] and "AUTH" not in smtp.commands


def test_email_and_webhook_fail_independently(http, tmp_path):
    closed = SmtpSink()
    port = closed.port
    closed.close()
    routes = _one_route({"type": "email", "host": "127.0.0.1", "port": port, "starttls": False,
                         "from": "r@example.com", "to": "a@example.com"},
                        {"type": "wecom", "url_env": "W"})
    report = dispatch_alerts(_alerts(), routes, tmp_path / "s.json", NOW,
                             {"W": http.url("/wecom")}, http=FAST)
    assert [c.status for c in report.results] == ["failed", "sent"]
    assert "after 3 attempts" in report.results[0].reason


def test_hostile_names_do_not_become_links_or_markup_and_legend_follows_settings():
    class Settings:  # the alert_* fields of ReplenishSettings
        alert_critical_days, alert_critical_probability = 2, 0.9
        alert_high_probability, alert_probability_threshold = 0.6, 0.25

    legend = severity_legend_from(Settings())
    assert "within 2 days" in legend and ">= 90%" in legend and "above 25%" in legend
    alerts = _alerts([("[win](http://evil.example)", "<b>S1</b>", "X", "high", 0.996, 3),
                      ("FOODS_1_001", "CA_1", "FOODS", "medium", 0.004, None)])
    digest = build_digest("Ana", alerts, top_n=5, legend=legend)
    ding = dingtalk_payload(digest)["markdown"]["text"]
    assert "[win](" not in ding and "\\[win\\](http://evil.example)" in ding
    assert "<b>" not in ding and "&lt;b&gt;S1&lt;/b&gt;" in ding
    assert "FOODS_1_001 @ CA_1" in ding  # SKU underscores are not mangled
    assert ">99% stockout risk" in ding and "<1% stockout risk" in ding  # never "100%"/"0%"
    slack = json.dumps(slack_payload(digest))
    assert "<http" not in slack and "&lt;b&gt;" in slack
    html = digest.html()
    assert "<b>S1</b>" not in html and "&lt;b&gt;S1&lt;/b&gt;" in html


def test_report_summary_line(http, tmp_path):
    http.on("/down", status=404, body=b"no such hook")
    routes = _one_route({"type": "slack", "url_env": "S"}, {"type": "teams", "url_env": "D"})
    report = dispatch_alerts(_alerts(), routes, tmp_path / "s.json", NOW,
                             {"S": http.url("/slack"), "D": http.url("/down")}, http=FAST)
    assert report.summary() == ("alert digests for 1 owner(s): 1 sent, 1 failed, 0 skipped "
                                "(already sent)")
    assert "rejected: HTTP 404: no such hook" in report.failed[0].reason
    assert len(http.at("/down")) == 1  # a 4xx is not retried


def test_parse_alerting_section():
    cfg = parse_alerting({"top_n": 5, "dedup_days": 3, "retries": 1, "alert_routes": [
        {"owner": "Desk", "default": True, "channels": [{"type": "webhook", "url_env": "W"}]}]})
    assert (cfg.top_n, cfg.dedup_days, cfg.retries, cfg.timeout_seconds) == (5, 3.0, 1, 10.0)
    assert cfg.routes[0].owner == "Desk" and parse_alerting(None).routes == []
    with pytest.raises(AlertConfigError, match=r"alerting: unknown key 'top' \(did you mean"):
        parse_alerting({"top": 5})
    with pytest.raises(AlertConfigError, match="alerting.top_n: must be a whole number"):
        parse_alerting({"top_n": 2.5})
    with pytest.raises(AlertConfigError, match="alerting.retries"):
        parse_alerting({"retries": True})


def test_the_config_example_in_docs_parses():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[1] / "docs" / "ALERTS.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    cfg = parse_alerting(yaml.safe_load(blocks[0])["alerting"])
    assert [r.owner for r in cfg.routes][-1] == "Planning desk" and cfg.top_n == 10
    for block in blocks[1:]:  # each channel example
        parse_routes([{"owner": "x", "default": True, "channels": yaml.safe_load(block)
                       if block.lstrip().startswith("-") else [yaml.safe_load(block)]}])


def test_only_delivered_alerts_count_as_sent(http, tmp_path):
    people = _one_route({"type": "slack", "url_env": "S"})
    state = tmp_path / "people.json"
    dispatch_alerts(_alerts(), people, state, NOW, {"S": http.url("/slack")}, top_n=2,
                    http=FAST)
    assert len(json.loads(state.read_text())["sent"]) == 2  # the 3 counted ones come back
    again = dispatch_alerts(_alerts(), people, state, NOW + timedelta(hours=1),
                            {"S": http.url("/slack")}, top_n=2, http=FAST)
    assert again.owners[0].duplicates == 2 and again.owners[0].listed == 2

    machine = _one_route({"type": "webhook", "url_env": "W"})
    state = tmp_path / "machine.json"
    dispatch_alerts(_alerts(), machine, state, NOW, {"W": http.url("/hook")}, top_n=2,
                    http=FAST)
    assert len(json.loads(state.read_text())["sent"]) == 5  # the webhook carried all five
