"""POST a JSON body to a webhook: no redirects, a timeout, bounded retries, masked errors.

* A 3xx answer is a failed delivery ("redirected ... not followed"): the opener never follows
  it, so credentials (Basic auth from the URL's userinfo, tokens in the query) never reach
  another origin, and a redirect to a login page is never reported as delivered.
* Connection errors, timeouts, HTTP 429 and 5xx are retried ``retries`` times with exponential
  backoff; other 4xx fail at once.
* ``check`` inspects a 2xx body for the app's own error (Slack's non-"ok" text, DingTalk/WeCom
  ``errcode``, Feishu ``code``) and returns a one-line reason, or None when delivered.
* Every URL in a message goes through ``mask_url``.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from restock.secrets import mask_url, scrub

log = logging.getLogger("restock.alerting")

USER_AGENT = "restock-alerting"
MAX_BODY_IN_REASON = 200


class DeliveryError(RuntimeError):
    """A message was not delivered; ``str()`` is one line with every secret masked."""


@dataclass(frozen=True)
class HttpOptions:
    """How hard to try one delivery."""

    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse every redirect: urllib then raises HTTPError with the 3xx status."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None



def pause_before_retry(options: HttpOptions, attempt: int, what: str, last: str) -> None:
    """Wait ``backoff * 2**attempt`` before attempt ``attempt + 1``, saying so in the log;
    nothing after the last attempt. One backoff rule for every channel (webhooks, e-mail)."""
    if attempt < options.retries:
        wait = options.backoff * 2**attempt
        log.warning("%s failed (%s); retry %d/%d in %.1fs",
                    what, last, attempt + 1, options.retries, wait)
        options.sleep(wait)

def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect())


def split_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """(url without userinfo, headers): user:password@ becomes an Authorization: Basic header
    (urllib does not take credentials from the URL)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    header = "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": header}


def _one_line(body: bytes, secrets: list[str | None]) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\r", " ").replace("\n", " ")
    text = scrub(text, secrets)
    return text[:MAX_BODY_IN_REASON] + ("..." if len(text) > MAX_BODY_IN_REASON else "")


def post_json(
    url: str,
    payload: object,
    *,
    check: Callable[[int, bytes], str | None] | None = None,
    options: HttpOptions | None = None,
    secrets: list[str | None] | None = None,
) -> int:
    """POST ``payload`` as JSON to ``url``; return the HTTP status of the delivered request.

    Raises
    ------
    DeliveryError
        Not delivered: a redirect, a 4xx, 5xx/connection errors after the retries, or the app's
        own error in a 2xx body; the message is one line naming the masked URL.
    """
    options = options or HttpOptions()
    safe = mask_url(url)
    hidden = [*(secrets or []), url]
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DeliveryError(f"{safe}: webhook URL must be http(s), got scheme {scheme!r}")
    target, auth = split_userinfo(url)
    hidden += [auth.get("Authorization", "").removeprefix("Basic ") or None]
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               **auth}
    opener = _opener()
    last = ""
    for attempt in range(options.retries + 1):
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            target, data=body, method="POST", headers=headers)
        try:
            with opener.open(request, timeout=options.timeout) as response:
                status = int(response.status)
                answer = response.read()
        except urllib.error.HTTPError as e:
            status = e.code
            answer = e.read() if e.fp is not None else b""
            if 300 <= status < 400:
                where = mask_url(e.headers.get("Location")) if e.headers else ""
                raise DeliveryError(
                    f"{safe}: redirected (HTTP {status}{' to ' + where if where else ''}); "
                    "redirects are not followed, so the message was not delivered"
                ) from None
            detail = _one_line(answer, hidden)
            last = f"HTTP {status}" + (f": {detail}" if detail else "")
            if status != 429 and status < 500:
                raise DeliveryError(f"{safe}: rejected: {last}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", e)
            last = scrub(f"{type(reason).__name__}: {reason}", hidden)
        else:
            problem = check(status, answer) if check else None
            if problem:
                raise DeliveryError(
                    f"{safe}: HTTP {status} but the app refused it: "
                    f"{scrub(problem, hidden)}"
                )
            return status
        pause_before_retry(options, attempt, f"delivery to {safe}", last)
    raise DeliveryError(f"{safe}: failed after {options.retries + 1} attempts: {last}")


def check_slack(status: int, body: bytes) -> str | None:
    """Slack incoming webhooks answer the text ``ok``; anything else is an error code."""
    text = body.decode("utf-8", "replace").strip()
    return None if text == "ok" else (text[:MAX_BODY_IN_REASON] or "empty answer, expected 'ok'")


def _json_answer(body: bytes) -> dict | None:
    try:
        answer = json.loads(body.decode("utf-8", "replace") or "null")
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def check_errcode(status: int, body: bytes) -> str | None:
    """DingTalk and WeCom answer ``{"errcode": 0, "errmsg": "ok"}``; errcode != 0 is an error."""
    answer = _json_answer(body)
    if answer is None or "errcode" not in answer:
        return f"unexpected answer {body[:MAX_BODY_IN_REASON]!r}, expected JSON with errcode"
    if answer.get("errcode") != 0:
        return f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"
    return None


def check_feishu(status: int, body: bytes) -> str | None:
    """Feishu/Lark answer ``{"code": 0, "msg": "success"}`` (older bots: ``StatusCode`` 0)."""
    answer = _json_answer(body)
    if answer is None:
        return f"unexpected answer {body[:MAX_BODY_IN_REASON]!r}, expected JSON with code"
    code = answer.get("code", answer.get("StatusCode"))
    if code != 0:
        return f"code {code}: {answer.get('msg', answer.get('StatusMessage', ''))}"
    return None
