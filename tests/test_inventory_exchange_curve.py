"""Exchange-curve allocation of service levels and the lot-size adjustment, against hand maths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from restock.inventory import ReplenishSettings
from restock.inventory.distributions import CumulativeDemand, Mixture, demand_mixture
from restock.inventory.levels import allocate_service_levels, lot_adjusted_level, lot_spread

GRID = np.concatenate([[0.0], np.linspace(0.001, 0.999, 499), [1.0]])


def _normal_mixture(means, sds) -> Mixture:
    """One-atom mixtures whose quantile functions are normal (fine grid, clipped tails)."""
    means, sds = np.asarray(means, float), np.asarray(sds, float)
    p = np.clip(GRID, 1e-6, 1 - 1e-6)
    knots = means[:, None] + sds[:, None] * stats.norm.ppf(p)[None, :]
    return Mixture(GRID, knots[:, None, :], np.ones((means.size, 1)), means)


def test_allocation_meets_the_average_and_equalises_the_marginal_cost():
    # Normal demand: S_i(t) = m_i + sd_i z(t), dS/dt = sd_i / phi(z). At the optimum every
    # item pays the same stock value per point of service: c_i sd_i / phi(z_i) = lambda.
    sds = np.array([1.0, 3.0, 10.0])
    cost = np.array([1.0, 1.0, 1.0])
    mix = _normal_mixture([50.0, 50.0, 50.0], sds)
    t = allocate_service_levels(mix, cost, np.array([0.9]), 0.6, 0.995)[:, 0]
    assert t.mean() == pytest.approx(0.9, abs=1e-9)
    assert t[0] > t[1] > t[2]  # the steadiest item gets the most service
    price = cost * sds / stats.norm.pdf(stats.norm.ppf(t))
    assert price.max() / price.min() < 1.35  # equal up to the grid's resolution
    # ...and it holds less stock than the same 90% for everyone.
    uniform = (sds * stats.norm.ppf(0.9)).sum()
    allocated = (sds * stats.norm.ppf(t)).sum()
    assert allocated < uniform - 1.0


def test_allocation_under_lost_sales_prices_the_lost_sales_quantile():
    # Lost sales: a target t costs S_i(q(t)), q(t) = sqrt(2t - 1); the marginal price is
    # c_i sd_i / phi(z(q(t))) x dq/dt, dq/dt = 1 / q(t); equal across items at the optimum.
    sds = np.array([1.0, 3.0, 10.0])
    mix = _normal_mixture([50.0, 50.0, 50.0], sds)
    t = allocate_service_levels(mix, np.ones(3), np.array([0.9]), 0.6, 0.995,
                                lost_sales=True)[:, 0]
    back = allocate_service_levels(mix, np.ones(3), np.array([0.9]), 0.6, 0.995)[:, 0]
    assert t.mean() == pytest.approx(0.9, abs=1e-9)
    assert t[0] > t[1] > t[2]
    q = np.sqrt(2 * t - 1)
    price = sds / stats.norm.pdf(stats.norm.ppf(q)) / q
    assert price.max() / price.min() < 1.35
    assert not np.allclose(t, back, atol=1e-3)  # a different curve, a different optimum


def test_allocation_gives_dear_items_less_service():
    mix = _normal_mixture([20.0, 20.0], [4.0, 4.0])
    t = allocate_service_levels(mix, np.array([1.0, 20.0]), np.array([0.9]), 0.6, 0.995)[:, 0]
    assert t[0] > 0.9 > t[1]
    assert t.mean() == pytest.approx(0.9, abs=1e-9)


def test_allocation_respects_bounds_fixed_items_and_out_of_range_averages():
    mix = _normal_mixture([10.0, 10.0, 10.0, 10.0], [0.5, 2.0, 8.0, 30.0])
    free = np.array([True, True, True, False])
    t = allocate_service_levels(mix, np.ones(4), np.array([0.5, 0.95, 0.999]), 0.7, 0.99,
                                free)
    assert np.isnan(t[3]).all()
    assert np.nanmean(t[:3, 1]) == pytest.approx(0.95, abs=1e-9)
    assert (t[:3, 1] >= 0.7 - 1e-12).all() and (t[:3, 1] <= 0.99 + 1e-12).all()
    # An average the bounds cannot reach is given to every item as it is.
    assert t[:3, 0] == pytest.approx([0.5] * 3) and t[:3, 2] == pytest.approx([0.999] * 3)


def test_zero_demand_items_get_the_top_bound_for_free():
    mix = _normal_mixture([0.0, 10.0], [0.0, 3.0])
    t = allocate_service_levels(mix, np.ones(2), np.array([0.8]), 0.6, 0.99)[:, 0]
    assert t[0] == pytest.approx(0.99) and t[1] == pytest.approx(0.61)


def test_lot_spread():
    spread = lot_spread(np.array([12, 12, 1, 1, 4]), np.array([24, 1, 1, 1, 6]),
                        np.array([False, True, True, False, True]))
    # lot = max(pack, MOQ in whole packs): 24, 12, 1, 1, 8; whole units spread over lot - 1
    assert spread.tolist() == [24.0, 11.0, 0.0, 1.0, 7.0]


def test_lot_adjusted_level_against_numerical_integration():
    # Position after ordering uniform on [S, S + 24]: mean of Phi over it = 0.95.
    mix = _normal_mixture([42.0], [7.5])
    plain = mix.quantile(np.array([[0.95]]))
    got = lot_adjusted_level(mix, np.array([[0.95]]), plain, np.array([24.0]))[0, 0]
    want = optimize.brentq(
        lambda s: integrate.quad(lambda u: stats.norm.cdf(s + u, 42, 7.5), 0, 24)[0] / 24 - 0.95,
        0, 60)
    assert got == pytest.approx(want, abs=0.1)
    assert got < plain[0, 0] - 5  # a lot of 24 buys most of the safety stock already
    # No spread: the plain quantile.
    same = lot_adjusted_level(mix, np.array([[0.95]]), plain, np.array([0.0]))
    assert same[0, 0] == plain[0, 0]


def test_lot_adjusted_level_is_floored_at_zero():
    mix = _normal_mixture([1.0], [0.5])
    plain = mix.quantile(np.array([[0.8]]))
    assert lot_adjusted_level(mix, np.array([[0.8]]), plain, np.array([48.0]))[0, 0] == 0.0


def test_nightly_lines_use_the_exchange_curve_by_default():
    from restock.inventory import build_reorder_lines

    as_of = pd.Timestamp("2024-03-31")
    keys = pd.DataFrame({"sku": ["steady", "volatile"], "location": "S1"})
    h = np.arange(1, 29)
    lev = np.array([0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995])
    rows = []
    for sku, sd in (("steady", 0.5), ("volatile", 4.0)):
        for hh in h:
            q = 5 * hh + sd * np.sqrt(hh) * stats.norm.ppf(lev)
            rows += [(sku, "S1", hh, 0.0, 5.0 * hh)] + [(sku, "S1", hh, lv, x)
                                                         for lv, x in zip(lev, q, strict=True)]
    cq = pd.DataFrame(rows, columns=["sku", "location", "horizon_days", "level", "quantity"])
    products = pd.DataFrame({"sku": ["steady", "volatile"], "category": "C",
                             "lead_time_days": 7.0, "lead_time_std_days": 0.0, "unit_cost": 2.0,
                             "pack_size": 1, "moq": 1, "active": True})
    series = keys.assign(category="C", demand_class="smooth", model="m", is_cold_start=False,
                         backtest_rmsse=np.nan, mean_daily_demand=5.0)
    daily = keys.merge(pd.DataFrame({"date": pd.date_range(as_of, periods=29)[1:]}),
                       how="cross").assign(forecast=5.0)
    lines = build_reorder_lines(products, None, None, series, cq, daily, None, as_of,
                                ReplenishSettings()).set_index("sku")
    t = lines["service_level_target"]
    assert t.mean() == pytest.approx(0.95, abs=1e-6)
    assert t["steady"] > 0.95 > t["volatile"]
    assert (lines["service_level_source"] == "exchange_curve").all()
    assert "exchange curve: 95% on average" in lines.loc["volatile", "explanation"]
    classes = build_reorder_lines(products, None, None, series, cq, daily, None, as_of,
                                  ReplenishSettings(service_allocation="class"))
    assert (classes["service_level_source"] == "class").all()
    assert classes["service_level_target"].tolist() == [0.9, 0.9]  # CZ without demand


def test_demand_mixture_feeds_the_allocation():
    # The nightly allocates on the protection-interval mixture: check the plumbing on a
    # CumulativeDemand whose horizons scale like a random walk.
    levels = GRID
    h = np.arange(0, 15)
    sd = np.array([1.0, 6.0])
    p = np.clip(levels, 1e-6, 1 - 1e-6)
    q = 3 * h[None, :, None] + sd[:, None, None] * np.sqrt(h)[None, :, None] \
        * stats.norm.ppf(p)[None, None, :]
    cum = CumulativeDemand(pd.DataFrame({"sku": ["a", "b"], "location": "L"}), levels,
                           np.maximum(q, 0), 3.0 * np.repeat(h[None, :], 2, axis=0))
    mix = demand_mixture(cum, np.array([7.0, 7.0]), np.zeros(2), 7.0)
    t = allocate_service_levels(mix, np.ones(2), np.array([0.9]), 0.6, 0.995)[:, 0]
    assert t[0] > t[1] and t.mean() == pytest.approx(0.9)


def test_per_cycle_fill_rate_point_counts_only_the_shortage_a_cycle_adds():
    # Volatile demand (the wholesale case): 10 a day with a daily sd of 30, L = 14, R = 7
    sd_day = 30.0
    lead = _normal_mixture([140.0], [sd_day * np.sqrt(14)])
    prot = _normal_mixture([210.0], [sd_day * np.sqrt(21)])
    allowed = np.array([[0.05 * 70.0]])  # fill rate 0.95 of a cycle's 70 units
    cumulative = prot.fill_rate_point(allowed)[0, 0]
    per_cycle = prot.fill_rate_point(allowed, lead=lead)[0, 0]

    def loss(mean, sd, r):  # E[(D - r)+] of a normal, by the standard loss function
        z = (r - mean) / sd
        return sd * (stats.norm.pdf(z) - z * stats.norm.sf(z))

    added = loss(210.0, sd_day * np.sqrt(21), per_cycle) - loss(140.0, sd_day * np.sqrt(14),
                                                                 per_cycle)
    r = np.array([[per_cycle]])
    on_grid = (prot.expected_shortage(r) - lead.expected_shortage(r))[0, 0]
    assert on_grid == pytest.approx(3.5, rel=1e-3)  # what the cycle adds is what is allowed
    assert added == pytest.approx(3.5, rel=0.05)  # and so for the normal the grid stands for
    # the shortfall left from the last cycle is not counted twice: a lower point
    assert per_cycle < cumulative - 1
    assert loss(210.0, sd_day * np.sqrt(21), cumulative) == pytest.approx(3.5, rel=0.05)


def test_fill_rate_level_of_a_series_expecting_no_demand_is_its_cycle_quantile():
    # Two series with the same quantile table (a pooled tail up to 400 units over 21 days) and
    # a forecast of 0 for the first: the fill rate is a share of nothing for it, and the
    # shortage rule "E[(D - r)+] <= 0" would put its level at the top of the tail.
    from restock.inventory.levels import policy_levels

    levels = np.concatenate([[0.0], np.linspace(0.01, 0.99, 99), [1.0]])
    h = np.arange(0, 29, dtype=float)
    tail = np.where(levels > 0.9, (levels - 0.9) / 0.1 * 400.0, 0.0)  # 0 up to p90
    q = np.repeat((tail[None, :] * np.minimum(h[:, None] / 21, 1.0))[None], 2, axis=0)
    mean = np.stack([np.zeros_like(h), 2.0 * h])
    cum = CumulativeDemand(pd.DataFrame({"sku": ["dead", "live"], "location": "L"}), levels,
                           q, mean)
    pl = policy_levels(cum, np.array([14.0, 14.0]), np.zeros(2), np.array([0.8]), 7,
                       mode="fill_rate")
    dead, live = pl.reorder_point[:, 0]
    assert dead == pytest.approx(0.0, abs=1e-9)  # the 0.8 quantile of its table
    assert live > 100.0  # a series with demand keeps its fill-rate level from the tail
