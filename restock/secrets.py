"""Secrets in URLs: one helper to render any URL with its passwords masked.

Database URLs (SQLAlchemy), webhook URLs and anything else with ``scheme://`` may carry a
password in the userinfo (``user:pw@host``) or in a query parameter (``?password=...``,
``&token=...``). SQLAlchemy's ``render_as_string(hide_password=True)`` masks only the first.
Everything that logs, prints, raises or returns a URL renders it with :func:`mask_url`; text
that may echo a URL or a password (driver messages) goes through :func:`scrub`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
# Query parameter names whose value is a secret (compared lower-cased, '-' read as '_').
SECRET_PARAMS = frozenset({
    "password", "passwd", "pwd", "pass", "secret", "client_secret", "token", "access_token",
    "auth_token", "refresh_token", "id_token", "key", "api_key", "apikey", "access_key",
    "secret_key", "private_key", "sas", "sig", "signature", "x_amz_signature",
    "x_amz_security_token", "x_amz_credential", "auth", "authorization", "credential",
    "credentials", "sslpassword", "session_token", "sign", "code",
})
# A path segment that looks like a token (16+ letters, digits, - or _ with a digit, or 24+ of
# them): Slack, Feishu and Teams webhooks keep their secret in the path, not the query. Masked in
# http(s) URLs only (a database URL's path is the database name).
_TOKEN_SEGMENT = re.compile(r"^(?:(?=.*\d)[A-Za-z0-9_\-]{16,}|[A-Za-z0-9_\-]{24,})$")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter called ``name`` holds a secret."""
    key = name.strip().lower().replace("-", "_")
    return key in SECRET_PARAMS or any(word in key for word in _SECRET_WORDS)


def mask_url(url: object) -> str:
    """``url`` as text with the userinfo password and every secret query value masked.

    Accepts a string or anything whose ``str()`` is a URL (a SQLAlchemy ``URL`` renders its
    password in clear with ``render_as_string(hide_password=False)`` only, so the text form is
    taken from that when available). Text that does not parse as a URL is returned with any
    ``user:password@`` masked. Never raises.
    """
    if url is None:
        return ""
    text = _as_text(url)
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an invalid IPv6 literal: mask anything that looks like userinfo
        return re.sub(r"(//[^/:@\s]*:)[^@/\s]*@", rf"\g<1>{MASK}@", text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        masked = []
        for piece in query.split("&"):
            name, sep, _value = piece.partition("=")
            if sep and is_secret_param(unquote(name)):
                masked.append(f"{name}={MASK}")
            else:
                masked.append(piece)
        query = "&".join(masked)
    out = f"{parts.scheme}://{netloc}" if parts.scheme else netloc
    if not parts.scheme and not netloc:
        out = ""
    path = parts.path
    if parts.scheme.lower() in ("http", "https"):
        path = "/".join(MASK if _TOKEN_SEGMENT.match(seg) else seg for seg in path.split("/"))
    out += path
    if query:
        out += "?" + query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


def url_secrets(url: object) -> list[str]:
    """The secret values in ``url`` (userinfo password, secret query values), raw and decoded.

    For :func:`scrub`: a driver message may echo any of them.
    """
    text = _as_text(url)
    found: list[str] = []
    try:
        parts = urlsplit(text)
    except ValueError:
        return found
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if is_secret_param(name) and value:
            found.append(value)
    for piece in parts.query.split("&"):
        name, sep, value = piece.partition("=")
        if sep and value and is_secret_param(unquote(name)):
            found.append(value)
    # longest first, so a secret containing another is replaced whole
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, secrets: list[str | None] | tuple[str | None, ...] = ()) -> str:
    """``text`` with every URL in it masked and every given secret value replaced (for
    exception messages that may echo a URL or a password verbatim)."""
    out = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), str(text))
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def _as_text(url: object) -> str:
    render = getattr(url, "render_as_string", None)
    if callable(render):
        try:
            return str(render(hide_password=False))
        except TypeError:
            pass
    return str(url)
