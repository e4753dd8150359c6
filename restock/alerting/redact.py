"""Render URLs safely: one helper for every URL that reaches a message, a log line or an error.

Webhook URLs are credentials. ``mask_url`` keeps what a person needs to recognise the endpoint
(scheme, host, port, the shape of the path) and replaces:

* the password in the userinfo (``user:***@host``);
* the value of every query parameter whose name looks secret (``access_token``, ``key``,
  ``token``, ``sign``, ``sig``, ``secret``, ``password``, ...);
* path segments that look like tokens (16+ letters, digits, ``-`` or ``_`` with at least one
  digit, or 24+ of them): Slack, Feishu and Teams put the secret in the path, not the query.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"

# Names compared after lower-casing and removing "-" and "_" (so "access-token", "Access_Token",
# "accesstoken" all match).
_SECRET_NAMES = frozenset({
    "accesstoken", "token", "key", "apikey", "sign", "sig", "signature", "secret",
    "clientsecret", "password", "passwd", "pwd", "pass", "auth", "authorization", "code",
    "credential", "credentials", "session", "sessionid", "webhooktoken",
})
_SECRET_SUFFIXES = ("token", "secret", "password", "key", "signature")
_TOKEN_SEGMENT = re.compile(r"^(?:(?=.*\d)[A-Za-z0-9_\-]{16,}|[A-Za-z0-9_\-]{24,})$")


def is_secret_name(name: str) -> bool:
    """True for a query-parameter (or setting) name that is likely to hold a secret."""
    flat = name.lower().replace("-", "").replace("_", "")
    return flat in _SECRET_NAMES or flat.endswith(_SECRET_SUFFIXES)


def mask_url(url: str | None) -> str:
    """``url`` with its userinfo password, secret query values and token-like path segments
    replaced by ``***``. Never raises: an unparseable value is masked whole."""
    if not url:
        return ""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{port}" if port is not None else "")
    if parts.username is not None:
        user = quote(parts.username, safe="%")
        netloc = f"{user}:{MASK}@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    path = "/".join(MASK if _TOKEN_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{quote(k, safe='')}={MASK if is_secret_name(k) else quote(v, safe='/:,')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def mask_secrets(text: str, secrets: list[str | None]) -> str:
    """``text`` with every non-empty value of ``secrets`` (longest first) replaced by ``***``:
    for exception messages that might echo a URL or a password verbatim."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
