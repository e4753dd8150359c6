"""``moving_average_capped`` (robust.py): one-off order lines capped before averaging."""

from __future__ import annotations

import numpy as np
import pytest

from restock.forecasting.models import COMPLEXITY_ORDER, check_candidates
from restock.forecasting.robust import CAP_MULTIPLE, capped_moving_average


def test_a_single_huge_line_is_capped_and_ordinary_days_are_not():
    days = 100
    values = np.zeros((2, days))
    values[:, ::5] = 2.0  # a 2-unit order every fifth day
    values[0, -3] = 500.0  # one huge line in the window
    fc = capped_moving_average(values, np.zeros(2, dtype=int), 28, 7)
    plain = values[:, -28:].sum(axis=1) / 28
    assert fc.shape == (2, 7) and np.allclose(fc, fc[:, :1])
    assert fc[1, 0] == plain[1]  # nothing to cap
    assert np.isclose(fc[0, 0], plain[0] - (500.0 - CAP_MULTIPLE * 2.0) / 28)


def test_days_before_the_fit_window_and_empty_series():
    values = np.full((2, 60), np.nan)
    values[0, 30:] = 1.0
    fc = capped_moving_average(values, np.array([30, 60]), 28, 3)
    assert np.allclose(fc[0], 1.0) and np.allclose(fc[1], 0.0)


def test_it_is_a_known_candidate_ranked_just_after_the_moving_average():
    assert check_candidates(["moving_average_capped"]) == ["moving_average_capped"]
    assert COMPLEXITY_ORDER.index("moving_average_capped") == \
        COMPLEXITY_ORDER.index("moving_average") + 1


def test_keep_volume_spreads_the_capped_orders_back_over_every_day():
    # a sale of 2 every day and an order of 100 every 10th day over 60 days: the cap (4 x the
    # median selling day, 8) cuts each order to 8; keeping the volume scales the capped
    # average by the window's units over its capped units
    values = np.full((1, 60), 2.0)
    values[0, 9::10] = 100.0
    plain = capped_moving_average(values, np.zeros(1, dtype=int), 28, 3)
    kept = capped_moving_average(values, np.zeros(1, dtype=int), 28, 3, keep_volume=True)
    capped_days = np.minimum(values, CAP_MULTIPLE * 2.0)
    assert plain[0, 0] == pytest.approx(capped_days[0, -28:].mean())
    ratio = values.sum() / capped_days.sum()
    assert kept[0] == pytest.approx(plain[0] * ratio)
    # over the whole window the kept average matches the units sold per day
    assert kept[0, 0] == pytest.approx(values[0, -28:].mean(), rel=0.15)
