"""Which series a policy replay plays: all of them, or a stratified, seeded sample.

The replay is a measurement, not an output: its stockout rates and inventories are averages over
series, so beyond a few thousand series more of them narrow an already narrow interval while
the replay's cost (a backtest at the replay start and a re-plan at every review) keeps growing
with them. ``settings.replay_max_series`` caps it; the sample keeps every category's share of
the series (largest-remainder allocation, at least one per category) and is drawn with
``settings.replay_seed``, so the same feed always replays the same series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["sku", "location"]


def sample_replay_series(series: pd.DataFrame, max_series: int | None,
                         seed: int = 42) -> pd.DataFrame:
    """At most ``max_series`` rows of ``series`` (sku, location, category), stratified.

    Parameters
    ----------
    series : DataFrame
        One row per sku x location with its category.
    max_series : int or None
        The cap; None or a cap at or above the row count keeps every series.
    seed : int

    Returns
    -------
    DataFrame
        The kept rows, sorted by sku and location, with a fresh index.
    """
    frame = series.drop_duplicates(KEYS).sort_values(KEYS).reset_index(drop=True)
    n = len(frame)
    if max_series is None or n <= max_series:
        return frame
    if max_series < 1:
        raise ValueError("max_series must be at least 1")
    category = frame["category"].astype(str).to_numpy() if "category" in frame \
        else np.full(n, "")
    names, counts = np.unique(category, return_counts=True)
    exact = counts * max_series / n
    take = np.floor(exact).astype(int)
    # largest remainders get the seats left over
    left = max_series - take.sum()
    order = np.argsort(-(exact - take), kind="stable")
    take[order[:left]] += 1
    # every category is seen when the cap allows it (taken from the largest strata)
    for i in np.flatnonzero(take == 0):
        if take.sum() >= max_series:
            donor = int(np.argmax(take))
            if take[donor] <= 1:
                break
            take[donor] -= 1
        take[i] = 1
    rng = np.random.default_rng(seed)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(category == name), size=min(k, c), replace=False)
        for name, k, c in zip(names, take, counts, strict=True) if k > 0
    ])
    return frame.iloc[np.sort(keep)].reset_index(drop=True)
