"""Time grain of a feed: day, week or month (DATA_CONTRACT v1.1, "Additions").

A feed may declare its grain in ``feed.yml`` (``grain: week`` or ``grain: month``; a sales row
is then the total of the period that starts on its date). Without it, the grain is detected
from the sales dates (:func:`detect_grain`): ``month`` when every date with demand is the 1st of
a month, ``week`` when every date with demand of each series falls on that series' one weekday,
else ``day``. A detection needs evidence: at least :data:`MIN_EVIDENCE` dates beyond each
series' first (a few sparse daily sales falling on one weekday by chance must not turn a daily
feed weekly); with less the grain is ``day``.

Only numpy, pandas and yaml: the feed reader and forecasting both import this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GRAINS = ("day", "week", "month")
FEED_FILE = "feed.yml"
#: Dates (beyond each series' first) that must agree before a coarser grain is detected.
MIN_EVIDENCE = 20


class GrainError(ValueError):
    """feed.yml names a grain that is not day, week or month."""


def read_feed_grain(feed_dir: Path) -> str | None:
    """The ``grain`` of ``feed_dir/feed.yml``, or None without the file or the key."""
    import yaml

    path = Path(feed_dir) / FEED_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    grain = data.get("grain") if isinstance(data, dict) else None
    if grain is None:
        return None
    grain = str(grain).strip().lower()
    if grain not in GRAINS:
        raise GrainError(f"{path}: grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    return grain


def detect_grain(series: pd.Series | np.ndarray, dates: pd.Series | np.ndarray) -> str:
    """The grain of dated demand rows (one row per series and date with demand).

    Parameters
    ----------
    series : array-like
        Series key of each row (e.g. ``sku|location``).
    dates : array-like
        Date of each row (rows without demand should be left out: a daily spine of zeros
        says nothing about the grain).
    """
    frame = pd.DataFrame({"s": np.asarray(series), "d": pd.to_datetime(np.asarray(dates))})
    frame = frame.drop_duplicates()
    if frame.empty:
        return "day"
    evidence = len(frame) - frame["s"].nunique()
    if evidence < MIN_EVIDENCE:
        return "day"
    if (frame["d"].dt.day == 1).all():
        return "month"
    weekdays = frame.assign(w=frame["d"].dt.weekday).groupby("s")["w"].nunique()
    if (weekdays == 1).all():
        return "week"
    return "day"


def period_days(grain: str) -> float:
    """Mean days per period (7, 365.25 / 12, 1)."""
    return {"day": 1.0, "week": 7.0, "month": 365.25 / 12}[grain]
