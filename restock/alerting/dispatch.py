"""Route a run's alerts to their owners, one digest per owner, on every channel of the owner.

``dispatch_alerts`` never raises for a delivery problem: a failing channel is reported (one
line) and the other channels and owners still get their messages. An alert already sent for the
same sku+location within ``dedup_days`` is skipped, unless its severity rose since.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from restock.alerting.delivery import DeliveryError, HttpOptions
from restock.alerting.digest import DEFAULT_LEGEND, SEVERITY_RANK, build_digest, sort_alerts
from restock.alerting.routes import Route, route_for
from restock.alerting.state import SentState, as_utc
from restock.secrets import scrub

log = logging.getLogger("restock.alerting")

SENT, FAILED, SKIPPED = "sent", "failed", "skipped"


@dataclass
class ChannelResult:
    """What happened on one channel of one owner."""

    owner: str
    channel: str
    type: str
    status: str  # sent | failed | skipped
    reason: str  # one line
    listed: int = 0

    def line(self) -> str:
        return f"{self.owner} / {self.channel}: {self.status} - {self.reason}"


@dataclass
class OwnerResult:
    """One owner's share of the run's alerts."""

    owner: str
    alerts: int  # routed to this owner in this run
    duplicates: int  # of those, already sent within the window (skipped)
    listed: int = 0  # in the digest
    not_listed: int = 0  # counted at its end
    channels: list[ChannelResult] = field(default_factory=list)


@dataclass
class DispatchReport:
    """Per owner and channel: sent / failed (with a one-line reason) / skipped duplicates."""

    owners: list[OwnerResult] = field(default_factory=list)
    unrouted: int = 0
    state_problem: str | None = None

    @property
    def results(self) -> list[ChannelResult]:
        return [c for o in self.owners for c in o.channels]

    @property
    def failed(self) -> list[ChannelResult]:
        return [c for c in self.results if c.status == FAILED]

    @property
    def sent(self) -> list[ChannelResult]:
        return [c for c in self.results if c.status == SENT]

    @property
    def ok(self) -> bool:
        return not self.failed

    def owner(self, name: str) -> OwnerResult | None:
        return next((o for o in self.owners if o.owner == name), None)

    def summary(self) -> str:
        """One line for the run log: owners, and channels sent / failed / skipped."""
        results = self.results
        count = {k: sum(c.status == k for c in results) for k in (SENT, FAILED, SKIPPED)}
        text = (f"alert digests for {len(self.owners)} owner(s): {count[SENT]} sent, "
                f"{count[FAILED]} failed, {count[SKIPPED]} skipped (already sent)")
        if self.unrouted:
            text += f", {self.unrouted} alerts unrouted"
        return text

    def lines(self) -> list[str]:
        out = [f"{o.owner}: {o.alerts} alerts, {o.duplicates} already sent, {o.listed} listed"
               f"{f', {o.not_listed} more counted' if o.not_listed else ''}"
               for o in self.owners]
        out += [c.line() for c in self.results]
        if self.unrouted:
            out.append(f"{self.unrouted} alerts matched no route and there is no default route")
        if self.state_problem:
            out.append(self.state_problem)
        return out


def _is_duplicate(state: SentState, sku: object, location: object, severity: str,
                  now: datetime, window: timedelta) -> bool:
    last = state.last_sent(sku, location)
    if last is None:
        return False
    at, previous = last
    if now - at >= window:
        return False
    # Re-alert when the risk got worse (e.g. medium -> critical) within the window.
    return SEVERITY_RANK.get(severity, 9) >= SEVERITY_RANK.get(previous, 9)


def dispatch_alerts(
    alerts: pd.DataFrame,
    routes: list[Route],
    state_path: Path,
    now: datetime,
    env: Mapping[str, str],
    *,
    top_n: int = 10,
    dedup_days: float = 7,
    legend: str = DEFAULT_LEGEND,
    run_label: str | None = None,
    http: HttpOptions | None = None,
    clock: Callable[[], float] = time.time,
) -> DispatchReport:
    """Send one digest per owner of ``alerts`` on each of the owner's channels.

    Parameters
    ----------
    alerts : DataFrame
        The run's stockout alerts (sku, location, severity, stockout_probability,
        projected_stockout_date, recommended_order_qty; category and days_to_stockout used
        when present).
    routes : list of Route
        From ``parse_routes``; the first matching route owns an alert, the default the rest.
    state_path : Path
        JSON file of what was already sent (beside the warehouse); created if missing.
    now : datetime
        The dispatch time (naive means UTC), for the de-duplication window.
    env : mapping
        Where the ``*_env`` names are looked up (``os.environ`` in production).
    top_n, dedup_days, legend, run_label, http, clock
        Alerts listed per digest; the de-duplication window; the severity legend line; a label
        for the title (e.g. the as_of date); retries/timeout; the clock used for signatures.
    """
    now = as_utc(now)
    window = timedelta(days=float(dedup_days))
    http = http or HttpOptions()
    state = SentState.load(state_path)
    report = DispatchReport(state_problem=state.problem)
    if alerts is None or len(alerts) == 0:
        _save(state, state_path, now, window, report)
        return report
    frame = sort_alerts(alerts).drop_duplicates(["sku", "location"], keep="first")
    if "category" not in frame:
        frame = frame.assign(category=None)
    owners: dict[str, list[int]] = {}
    by_owner_route: dict[str, Route] = {}
    unrouted = 0
    for pos, row in enumerate(frame.itertuples(index=False)):
        route = route_for(routes, getattr(row, "category", None), row.location)
        if route is None:
            unrouted += 1
            continue
        owners.setdefault(route.owner, []).append(pos)
        by_owner_route.setdefault(route.owner, route)
    report.unrouted = unrouted
    if unrouted:
        log.warning("%d alerts matched no alert route and no default route is configured",
                    unrouted)
    changed = False
    for owner, positions in owners.items():
        mine = frame.iloc[positions]
        dup = [_is_duplicate(state, r.sku, r.location, str(r.severity).lower(), now, window)
               for r in mine.itertuples(index=False)]
        fresh = mine.loc[[not d for d in dup]]
        result = OwnerResult(owner=owner, alerts=len(mine), duplicates=sum(dup))
        report.owners.append(result)
        channels = by_owner_route[owner].channels
        if len(fresh) == 0:
            reason = (f"all {len(mine)} alerts were already sent in the last "
                      f"{dedup_days:g} days")
            result.channels = [ChannelResult(owner, c.label, c.type, SKIPPED, reason)
                               for c in channels]
            log.info("alerts for %s: %s", owner, reason)
            continue
        digest = build_digest(owner, fresh, top_n, legend=legend, run_label=run_label)
        result.listed, result.not_listed = len(digest.listed), digest.not_listed
        for channel in channels:
            try:
                detail = channel.send(digest, env, http, clock=clock)
            except DeliveryError as e:
                outcome = ChannelResult(owner, channel.label, channel.type, FAILED, str(e))
            except Exception as e:  # a bug or an unforeseen error must not stop the others
                names = (channel.url_env, channel.secret_env,
                         channel.settings.get("password_env"))
                text = scrub(f"{type(e).__name__}: {e}", [env.get(n or "") for n in names])
                outcome = ChannelResult(owner, channel.label, channel.type, FAILED,
                                        " ".join(text.split())[:300])
            else:
                extra = f"; {result.duplicates} already sent" if result.duplicates else ""
                outcome = ChannelResult(
                    owner, channel.label, channel.type, SENT,
                    f"{len(digest.listed)} listed, {digest.not_listed} more counted{extra}; "
                    f"{detail}", listed=len(digest.listed))
            result.channels.append(outcome)
            (log.info if outcome.status == SENT else log.warning)(
                "alert digest %s", outcome.line())
        if any(c.status == SENT for c in result.channels):
            # The generic webhook carries every alert; people's channels only the listed ones.
            whole = any(c.status == SENT and c.type == "webhook" for c in result.channels)
            delivered = sort_alerts(fresh)
            if not whole:
                delivered = delivered.head(len(digest.listed))
            for r in delivered.itertuples(index=False):
                state.mark(r.sku, r.location, now, str(r.severity).lower(), owner)
            changed = True
    if changed or state.problem:
        _save(state, state_path, now, window, report)
    return report


def _save(state: SentState, path: Path, now: datetime, window: timedelta,
          report: DispatchReport) -> None:
    state.prune(now, max(window, timedelta(days=1)))
    try:
        state.save(path)
    except OSError as e:
        problem = (f"could not write the alert state file {path} ({type(e).__name__}: "
                   f"{e.strerror or e}); the alerts sent now may repeat in the next run")
        log.warning(problem)
        report.state_problem = (f"{report.state_problem}; {problem}" if report.state_problem
                                else problem)
