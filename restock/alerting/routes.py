"""``alert_routes``: who owns which alerts, and on which channels they hear about them.

Config shape (a list; the first matching route wins, a ``default: true`` route takes the rest)::

    alert_routes:
      - owner: Ana Lima (fresh buyer)
        match: {category: ["FOODS*", DAIRY], location: "CA_*"}   # glob or list of globs
        channels:
          - {type: slack, url_env: SLACK_FRESH_URL}
          - {type: email, host: smtp.example.com, from: restock@example.com,
             to: [ana@example.com], username: restock, password_env: SMTP_PASSWORD}
      - owner: Planning desk
        default: true
        channels: [{type: webhook, url_env: RESTOCK_ALERT_WEBHOOK_URL}]

An owner named in several routes (to match "category X *or* location Y") gives its channels
once; later routes of the same owner leave ``channels`` out. Secrets are never inline: URLs,
signing secrets and passwords are named by environment variable (``url_env``, ``secret_env``,
``password_env``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from restock.alerting.channels import Channel


class AlertConfigError(ValueError):
    """alert_routes is invalid; the message is one line naming the route and key."""


ROUTE_KEYS = ("owner", "match", "default", "channels")
MATCH_KEYS = ("category", "location")
CHANNEL_KEYS = {
    "webhook": ("url_env",),
    "slack": ("url_env",),
    "teams": ("url_env",),
    "dingtalk": ("url_env", "secret_env", "at_mobiles"),
    "wecom": ("url_env",),
    "feishu": ("url_env", "secret_env"),
    "email": ("host", "port", "starttls", "ssl", "username", "password_env", "from", "to"),
}
CHANNEL_ALIASES = {"lark": "feishu", "msteams": "teams", "smtp": "email", "wechat_work": "wecom",
                   "generic": "webhook"}
REQUIRED = {"email": ("host", "from", "to")}
INLINE_SECRETS = {"url": "url_env", "webhook_url": "url_env", "secret": "secret_env",
                  "password": "password_env", "token": "url_env", "key": "url_env"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _unknown(where: str, key: object, allowed: tuple[str, ...]) -> AlertConfigError:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
    return AlertConfigError(f"{where}: unknown key '{key}'{hint}")


def _globs(where: str, value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list | tuple) or not items or not all(
            isinstance(v, str | int) and str(v).strip() for v in items):
        raise AlertConfigError(f"{where}: give a name, a glob or a non-empty list of them")
    return tuple(str(v).strip() for v in items)


@dataclass
class Route:
    """Alerts whose category and location match go to ``owner`` on ``channels``."""

    owner: str
    channels: list[Channel]
    categories: tuple[str, ...] | None = None
    locations: tuple[str, ...] | None = None
    default: bool = False
    index: int = field(default=0, compare=False)

    def matches(self, category: object, location: object) -> bool:
        if self.default:
            return True
        return _match(self.categories, category) and _match(self.locations, location)


def _match(globs: tuple[str, ...] | None, value: object) -> bool:
    if globs is None:
        return True
    if value is None or (isinstance(value, float) and value != value):  # None / NaN
        return False
    text = str(value).lower()
    return any(fnmatchcase(text, g.lower()) for g in globs)


def _parse_channel(where: str, raw: object) -> Channel:
    if not isinstance(raw, dict):
        raise AlertConfigError(f"{where}: a channel is a mapping with at least 'type'")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise AlertConfigError(f"{where}: missing 'type' (one of {', '.join(CHANNEL_KEYS)})")
    kind = CHANNEL_ALIASES.get(kind.lower(), kind.lower())
    if kind not in CHANNEL_KEYS:
        close = difflib.get_close_matches(kind, list(CHANNEL_KEYS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise AlertConfigError(f"{where}: unknown channel type '{raw.get('type')}' ({hint}one "
                               f"of {', '.join(CHANNEL_KEYS)})")
    allowed = ("type", "name", *CHANNEL_KEYS[kind])
    for key in raw:
        if key in INLINE_SECRETS and key not in allowed:
            raise AlertConfigError(
                f"{where}: '{key}' would put a secret in the config file; put it in an "
                f"environment variable and give its name as '{INLINE_SECRETS[key]}'")
        if key not in allowed:
            raise _unknown(f"{where} ({kind})", key, allowed)
    for key in ("url_env", "secret_env", "password_env"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            shown = "a URL" if isinstance(value, str) and "://" in value else repr(value)[:20]
            raise AlertConfigError(f"{where}: '{key}' takes the NAME of an environment "
                                   f"variable (like SLACK_URL), got {shown}")
    if kind != "email" and not raw.get("url_env"):
        raise AlertConfigError(f"{where} ({kind}): missing 'url_env' (the environment variable "
                               "holding the webhook URL)")
    for key in REQUIRED.get(kind, ()):
        if raw.get(key) in (None, "", []):
            raise AlertConfigError(f"{where} ({kind}): missing '{key}'")
    settings = {k: v for k, v in raw.items()
                if k not in ("type", "name", "url_env", "secret_env")}
    if kind == "email":
        to = settings["to"]
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise AlertConfigError(f"{where} (email): 'to' must be an address or a list of them")
        settings["to"] = list(to)
        if "port" in settings and not (isinstance(settings["port"], int)
                                       and 0 < settings["port"] < 65536):
            raise AlertConfigError(f"{where} (email): 'port' must be a number 1-65535")
        if settings.get("ssl") and settings.get("starttls"):
            raise AlertConfigError(f"{where} (email): choose 'ssl' (implicit TLS, port 465) or "
                                   "'starttls' (port 587), not both")
    if kind == "dingtalk" and "at_mobiles" in settings:
        mobiles = settings["at_mobiles"]
        mobiles = [mobiles] if isinstance(mobiles, str | int) else mobiles
        if not isinstance(mobiles, list):
            raise AlertConfigError(f"{where} (dingtalk): 'at_mobiles' must be a list of numbers")
        settings["at_mobiles"] = [str(m) for m in mobiles]
    name = raw.get("name")
    return Channel(type=kind, name=None if name is None else str(name),
                   url_env=raw.get("url_env"), secret_env=raw.get("secret_env"),
                   settings=settings)


def parse_routes(raw: list[dict] | None) -> list[Route]:
    """Validate ``alert_routes``; raise AlertConfigError (one line) on the first problem."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AlertConfigError("alert_routes: must be a list of routes")
    routes: list[Route] = []
    owner_channels: dict[str, list[Channel]] = {}
    defaults = 0
    for i, item in enumerate(raw):
        where = f"alert_routes[{i}]"
        if not isinstance(item, dict):
            raise AlertConfigError(f"{where}: a route is a mapping with 'owner' and 'channels'")
        for key in item:
            if key not in ROUTE_KEYS:
                if key in MATCH_KEYS:
                    raise AlertConfigError(f"{where}: put '{key}' under 'match:'")
                raise _unknown(where, key, ROUTE_KEYS)
        owner = item.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            raise AlertConfigError(f"{where}: missing 'owner' (who receives these alerts)")
        owner = owner.strip()
        where = f"alert_routes[{i}] ({owner})"
        default = item.get("default", False)
        if not isinstance(default, bool):
            raise AlertConfigError(f"{where}: 'default' must be true or false")
        match = item.get("match")
        categories = locations = None
        if match is not None:
            if default:
                raise AlertConfigError(f"{where}: a default route takes every unmatched alert; "
                                       "drop 'match' or 'default'")
            if not isinstance(match, dict) or not match:
                raise AlertConfigError(f"{where}: 'match' needs category and/or location")
            for key in match:
                if key not in MATCH_KEYS:
                    raise _unknown(f"{where} match", key, MATCH_KEYS)
            if "category" in match:
                categories = _globs(f"{where} match.category", match["category"])
            if "location" in match:
                locations = _globs(f"{where} match.location", match["location"])
        elif not default:
            raise AlertConfigError(f"{where}: give 'match' (category and/or location) or "
                                   "'default: true'")
        defaults += default
        if defaults > 1:
            raise AlertConfigError(f"{where}: only one route may be the default")
        raw_channels = item.get("channels")
        if raw_channels is None:
            if owner not in owner_channels:
                raise AlertConfigError(f"{where}: missing 'channels' (where to send the digest)")
            channels = owner_channels[owner]
        else:
            if not isinstance(raw_channels, list) or not raw_channels:
                raise AlertConfigError(f"{where}: 'channels' must be a non-empty list")
            channels = [_parse_channel(f"{where} channels[{j}]", c)
                        for j, c in enumerate(raw_channels)]
            known = owner_channels.get(owner)
            if known is not None and [c.identity() for c in known] != [
                    c.identity() for c in channels]:
                raise AlertConfigError(
                    f"{where}: owner '{owner}' already has other channels in an earlier route; "
                    "leave 'channels' out here (one digest per owner) or use another owner")
            owner_channels.setdefault(owner, channels)
        routes.append(Route(owner=owner, channels=channels, categories=categories,
                            locations=locations, default=default, index=i))
    return routes


def route_for(routes: list[Route], category: object, location: object) -> Route | None:
    """The first non-default route that matches, else the default route, else None."""
    for route in routes:
        if not route.default and route.matches(category, location):
            return route
    return next((r for r in routes if r.default), None)


ALERTING_KEYS = ("top_n", "dedup_days", "timeout_seconds", "retries", "alert_routes")


@dataclass
class AlertingConfig:
    """The whole ``alerting:`` section: digest size, repeat window, delivery effort, routes."""

    routes: list[Route] = field(default_factory=list)
    top_n: int = 10
    dedup_days: float = 7.0
    timeout_seconds: float = 10.0
    retries: int = 2


def parse_alerting(raw: dict | None) -> AlertingConfig:
    """Validate an ``alerting:`` mapping (keys: top_n, dedup_days, timeout_seconds, retries,
    alert_routes); raise AlertConfigError (one line) on the first problem."""
    if raw is None:
        return AlertingConfig()
    if not isinstance(raw, dict):
        raise AlertConfigError("alerting: must be a mapping")
    for key in raw:
        if key not in ALERTING_KEYS:
            raise _unknown("alerting", key, ALERTING_KEYS)
    out = AlertingConfig(routes=parse_routes(raw.get("alert_routes")))
    limits = {"top_n": (int, 1, 500), "dedup_days": (float, 0, 365),
              "timeout_seconds": (float, 0.1, 300), "retries": (int, 0, 10)}
    for key, (kind, low, high) in limits.items():
        if key not in raw:
            continue
        value = raw[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            kind is float or float(value).is_integer())
        if not ok or not low <= value <= high:
            raise AlertConfigError(f"alerting.{key}: must be a {'whole ' if kind is int else ''}"
                                   f"number from {low} to {high}, got {value!r}")
        setattr(out, key, kind(value))
    return out
