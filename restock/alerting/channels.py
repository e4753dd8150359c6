"""Alert channels: each wraps a digest in its app's documented message format and delivers it.

=========  ==================================================================================
type       message format (and signing)
=========  ==================================================================================
webhook    today's generic JSON: {"count", "alerts": [...]} with every alert (+ "owner")
slack      incoming webhook: {"text": fallback, "blocks": [header, section (mrkdwn), context]};
           Slack answers the text "ok"
teams      Workflows / incoming webhook: {"type": "message", "attachments": [{"contentType":
           "application/vnd.microsoft.card.adaptive", "content": AdaptiveCard 1.4}]}
dingtalk   custom robot: {"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}};
           with a secret: ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(key=secret,
           msg=timestamp + "\\n" + secret)) as query parameters; answers {"errcode": 0}
wecom      group robot: {"msgtype": "markdown", "markdown": {"content"}} (4096 bytes at most);
           answers {"errcode": 0}
feishu     custom bot (alias lark): {"msg_type": "interactive", "card": {header, elements}};
           with a secret: body fields ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(
           key=timestamp + "\\n" + secret, msg=b"")); answers {"code": 0}
email      SMTP (STARTTLS by default, or implicit TLS, or none): plain text + HTML alternative
=========  ==================================================================================

Secrets (URLs, signing secrets, SMTP passwords) are read from environment variables named in
the config, never from the config itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from restock.alerting.delivery import (
    DeliveryError,
    HttpOptions,
    check_errcode,
    check_feishu,
    check_slack,
    pause_before_retry,
    post_json,
)
from restock.alerting.digest import Digest
from restock.secrets import mask_url, scrub

log = logging.getLogger("restock.alerting")

WECOM_MARKDOWN_MAX_BYTES = 4096
DINGTALK_MAX_BYTES = 18000  # the robot refuses bodies above ~20 000 bytes
SLACK_SECTION_MAX = 2900  # section text is limited to 3000 characters


def _env(env: Mapping[str, str], name: str | None, what: str) -> str:
    value = env.get(name or "") if name else None
    if not value:
        raise DeliveryError(f"environment variable {name} ({what}) is not set")
    return value


def _cut_utf8(text: str, max_bytes: int, note: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    keep = max_bytes - len(note.encode("utf-8")) - 1
    return data[:keep].decode("utf-8", "ignore").rsplit("\n", 1)[0] + "\n" + note


# --- payloads (pure functions: tested against each app's format) ------------------------------
def webhook_payload(d: Digest) -> dict:
    """Today's generic payload (every alert of the owner, not only the top N: a machine reads
    it) plus the owner's name."""
    return {"count": len(d.records), "alerts": d.records, "owner": d.owner}


def slack_payload(d: Digest) -> dict:
    blocks: list[dict] = [{"type": "header",
                           "text": {"type": "plain_text", "text": d.title[:150], "emoji": True}}]
    chunk: list[str] = []
    for line in [*d.slack_lines(), *([d.more_line] if d.more_line else [])]:
        if chunk and len("\n".join([*chunk, line])) > SLACK_SECTION_MAX:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line[:SLACK_SECTION_MAX])
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": d.legend}]})
    return {"text": d.title, "blocks": blocks[:50]}


_TEAMS_COLOR = {"critical": "Attention", "high": "Warning", "medium": "Default"}


def teams_payload(d: Digest) -> dict:
    body: list[dict] = [{"type": "TextBlock", "text": d.title, "weight": "Bolder",
                         "size": "Medium", "wrap": True}]
    for a in d.listed:
        body.append({
            "type": "TextBlock", "wrap": True, "spacing": "Small",
            "text": f"**{a.severity.upper()}** {a.sku} @ {a.location}: {a.detail()}",
            "color": _TEAMS_COLOR.get(a.severity, "Default"),
        })
    if d.more_line:
        body.append({"type": "TextBlock", "text": d.more_line, "wrap": True})
    body.append({"type": "TextBlock", "text": d.legend, "wrap": True, "isSubtle": True,
                 "size": "Small"})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body,
            "msteams": {"width": "Full"}}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


def dingtalk_payload(d: Digest, at_mobiles: list[str] | None = None) -> dict:
    text = d.markdown(heading="### ")
    if at_mobiles:  # DingTalk only notifies a mobile named both in "at" and in the text
        text += "\n\n" + " ".join(f"@{m}" for m in at_mobiles)
    text = _cut_utf8(text, DINGTALK_MAX_BYTES, "(cut to DingTalk's message size)")
    return {"msgtype": "markdown", "markdown": {"title": d.title[:64], "text": text},
            "at": {"atMobiles": list(at_mobiles or []), "isAtAll": False}}


_WECOM_COLOR = {"critical": "warning", "high": "warning", "medium": "comment"}


def wecom_payload(d: Digest) -> dict:
    def mark(s: str) -> str:
        return f'<font color="{_WECOM_COLOR.get(s, "comment")}">{s.upper()}</font>'

    text = d.markdown(heading="### ", severity_markup=mark)
    text = _cut_utf8(text, WECOM_MARKDOWN_MAX_BYTES, "(cut to WeCom's 4096-byte limit)")
    return {"msgtype": "markdown", "markdown": {"content": text}}


_FEISHU_TEMPLATE = {"critical": "red", "high": "orange", "medium": "yellow"}


def feishu_payload(d: Digest) -> dict:
    lines = d.markdown_lines()
    if d.more_line:
        lines.append(d.more_line)
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": d.title},
                   "template": _FEISHU_TEMPLATE.get(d.top_severity, "blue")},
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}},
            {"tag": "hr"},
            {"tag": "note", "elements": [{"tag": "plain_text", "content": d.legend}]},
        ],
    }}


# --- signing ----------------------------------------------------------------------------------
def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")) (not URL-quoted)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """Feishu/Lark: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


# --- channels ---------------------------------------------------------------------------------
@dataclass
class Channel:
    """One configured channel of a route."""

    type: str
    name: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.type

    def identity(self) -> tuple:
        return (self.type, self.name, self.url_env, self.secret_env,
                tuple(sorted((k, repr(v)) for k, v in self.settings.items())))

    def payload(self, digest: Digest) -> dict:
        builder = _PAYLOADS[self.type]
        if self.type == "dingtalk":
            return builder(digest, self.settings.get("at_mobiles"))
        return builder(digest)

    def send(self, digest: Digest, env: Mapping[str, str], options: HttpOptions,
             clock: Callable[[], float] = time.time) -> str:
        """Deliver ``digest``; return a one-line detail. Raises DeliveryError."""
        if self.type == "email":
            return send_email(self.settings, digest, env, options)
        url = _env(env, self.url_env, f"the {self.type} webhook URL")
        secret = env.get(self.secret_env) if self.secret_env else None
        if self.secret_env and not secret:
            raise DeliveryError(f"environment variable {self.secret_env} (the {self.type} "
                                "signing secret) is not set")
        payload = self.payload(digest)
        check = None
        if self.type == "slack":
            check = check_slack
        elif self.type in ("dingtalk", "wecom"):
            check = check_errcode
        elif self.type == "feishu":
            check = check_feishu
        if self.type == "dingtalk" and secret:
            ts = int(clock() * 1000)
            url = _with_query(url, timestamp=str(ts), sign=dingtalk_sign(ts, secret))
        elif self.type == "feishu" and secret:
            ts = int(clock())
            payload = {"timestamp": str(ts), "sign": feishu_sign(ts, secret), **payload}
        status = post_json(url, payload, check=check, options=options, secrets=[secret])
        return f"HTTP {status} from {mask_url(url)}"


_PAYLOADS = {
    "webhook": webhook_payload, "slack": slack_payload, "teams": teams_payload,
    "dingtalk": dingtalk_payload, "wecom": wecom_payload, "feishu": feishu_payload,
}


# --- e-mail -----------------------------------------------------------------------------------
def email_message(settings: Mapping, digest: Digest) -> EmailMessage:
    """The digest as a multipart/alternative message: plain text first, then HTML."""
    msg = EmailMessage()
    msg["Subject"] = digest.title
    msg["From"] = settings["from"]
    msg["To"] = ", ".join(settings["to"])
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=str(settings["from"]).rpartition("@")[2] or None)
    msg.set_content(digest.plain())
    msg.add_alternative(digest.html(), subtype="html")
    return msg


def send_email(settings: Mapping, digest: Digest, env: Mapping[str, str],
               options: HttpOptions) -> str:
    host = settings["host"]
    use_ssl = bool(settings.get("ssl", False))
    starttls = bool(settings.get("starttls", not use_ssl))
    port = int(settings.get("port") or (465 if use_ssl else 587 if starttls else 25))
    username = settings.get("username")
    password = None
    if settings.get("password_env"):
        password = _env(env, settings["password_env"], "the SMTP password")
    where = f"smtp://{host}:{port}"
    msg = email_message(settings, digest)
    last = ""
    for attempt in range(options.retries + 1):
        try:
            context = ssl.create_default_context()
            if use_ssl:
                smtp = smtplib.SMTP_SSL(host, port, timeout=options.timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=options.timeout)
            with smtp:
                smtp.ehlo()
                if starttls:
                    # Refuse to go on in clear text when STARTTLS was asked for.
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if username:
                    smtp.login(username, password or "")
                refused = smtp.send_message(msg)
            if refused:
                return f"sent via {where}; refused by the server: {', '.join(refused)}"
            return f"sent via {where} to {len(settings['to'])} recipient(s)"
        # smtplib's exceptions are OSErrors: the order of these clauses matters.
        except smtplib.SMTPResponseException as e:
            reason = _smtp_reason(e, password)
            if not 400 <= e.smtp_code < 500:  # 5xx: permanent (bad login, refused sender)
                raise DeliveryError(f"{where}: {reason}") from None
            last = reason
        except smtplib.SMTPServerDisconnected as e:
            last = _smtp_reason(e, password)
        except smtplib.SMTPException as e:  # no STARTTLS, all recipients refused, ...
            raise DeliveryError(f"{where}: {_smtp_reason(e, password)}") from None
        except OSError as e:  # refused, unreachable, timeout, TLS handshake
            last = _smtp_reason(e, password)
        pause_before_retry(options, attempt, f"e-mail via {where}", last)
    raise DeliveryError(f"{where}: failed after {options.retries + 1} attempts: {last}")


def _smtp_reason(e: Exception, password: str | None) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) \
            else str(e.smtp_error)
        detail = f"SMTP {e.smtp_code} {text}"
    else:
        detail = f"{type(e).__name__}: {e}"
    return scrub(" ".join(detail.split()), [password])
