"""Reorder maths against hand-computed values: quantiles, lead-time mixture, rounding, lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from restock.contract import PUBLISHED_TABLES
from restock.inventory import ReplenishSettings, build_reorder_lines, round_order_qty
from restock.inventory.distributions import (
    covering_lead_time_atoms,
    dense_cumulative,
    lead_time_atoms,
    resolve_lead_times,
)
from restock.inventory.levels import (
    lost_sales_quantile,
    order_quantity,
    policy_levels,
    whole_unit_level,
    whole_units_of,
)
from restock.inventory.reorder_lines import projected_stockout_dates

LEVELS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995]
AS_OF = pd.Timestamp("2024-03-31")


def normal_cumulative(keys: list[tuple[str, str]], mean_daily: float, sd_daily: float,
                      horizon: int = 28) -> pd.DataFrame:
    """Cumulative quantiles of i.i.d. normal daily demand: N(h mu, h sigma^2)."""
    rows = []
    for sku, loc in keys:
        for h in range(1, horizon + 1):
            m, s = mean_daily * h, sd_daily * np.sqrt(h)
            rows.append((sku, loc, h, 0.0, m))
            rows += [(sku, loc, h, lv, m + s * stats.norm.ppf(lv)) for lv in LEVELS]
    return pd.DataFrame(rows, columns=["sku", "location", "horizon_days", "level", "quantity"])


def keys_frame(keys: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(keys, columns=["sku", "location"])


# ---------------------------------------------------------------- quantiles and the mixture
def test_normal_quantile_on_the_grid_and_between_levels():
    keys = [("a", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    sd14 = 2.0 * np.sqrt(14)
    lv = policy_levels(cum, np.array([7.0]), np.array([0.0]), np.array([0.95, 0.93]), 7)
    # On the grid: the normal quantile 42 + 1.6449 x 7.483 = 54.309.
    assert lv.reorder_point[0, 0] == pytest.approx(42 + stats.norm.ppf(0.95) * sd14, abs=1e-6)
    # Between 0.925 and 0.95: linear in the level.
    q925, q95 = stats.norm.ppf([0.925, 0.95], 42, sd14)
    assert lv.reorder_point[0, 1] == pytest.approx(q925 + 0.2 * (q95 - q925), abs=1e-6)
    assert lv.lead_time_demand[0] == pytest.approx(42.0)
    assert lv.safety_stock[0, 0] == pytest.approx(stats.norm.ppf(0.95) * sd14, abs=1e-6)
    assert lv.review_demand[0] == pytest.approx(21.0)


def test_empirical_grid_and_fractional_horizon():
    # A hand-made grid: at horizon 2 the quantiles are 10 (0.5), 20 (0.9), 30 (0.95), 40 (0.99);
    # at horizon 3 they are 20, 40, 60, 80.
    rows = []
    for h, scale in [(1, 0.5), (2, 1.0), (3, 2.0)]:
        rows.append(("a", "L", h, 0.0, 10 * scale))
        for lv, q in [(0.5, 10), (0.9, 20), (0.95, 30), (0.99, 40)]:
            rows.append(("a", "L", h, lv, q * scale))
    cq = pd.DataFrame(rows, columns=["sku", "location", "horizon_days", "level", "quantity"])
    cum = dense_cumulative(cq, keys_frame([("a", "L")]))
    # L = 1, R = 1 -> horizon 2: 0.925 lies halfway between 20 and 30.
    lv = policy_levels(cum, np.array([1.0]), np.array([0.0]), np.array([0.925, 0.95]), 1)
    assert lv.reorder_point[0] == pytest.approx([25.0, 30.0], abs=1e-6)
    # L = 1.5, R = 1 -> horizon 2.5: halfway between 30 and 60 at 0.95.
    lv = policy_levels(cum, np.array([1.5]), np.array([0.0]), np.array([0.95]), 1)
    assert lv.reorder_point[0, 0] == pytest.approx(45.0, abs=1e-6)


def test_lead_time_atoms_keep_the_mean():
    atoms, w = lead_time_atoms(np.array([7.0, 20.0]), np.array([2.0, 10.0]))
    assert w.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert (atoms * w).sum(axis=1) == pytest.approx([7.0, 20.0], rel=1e-6)
    assert (atoms[:, 1:] >= atoms[:, :-1]).all()
    atoms0, w0 = lead_time_atoms(np.array([7.0]), np.array([0.0]))
    assert atoms0.ravel() == pytest.approx([7.0] * atoms0.size)


def test_lost_sales_quantile_hand_computed():
    # p + (1 - p)^2 / 2 = t  ->  p = sqrt(2 t - 1)
    got = lost_sales_quantile(np.array([0.8, 0.95, 0.99, 0.5, 0.3]))
    assert got == pytest.approx([np.sqrt(0.6), np.sqrt(0.9), np.sqrt(0.98), 0.0, 0.0])
    assert got[0] == pytest.approx(0.774597, abs=1e-6)
    p = got[:3]
    assert p + (1 - p) ** 2 / 2 == pytest.approx([0.8, 0.95, 0.99])
    # Monte Carlo of the event it approximates: D <= S, or S < D <= D' (the previous cycle's
    # excess, lost, left that much stock), D and D' independent.
    rng = np.random.default_rng(3)
    d, d_prev = rng.gamma(4.0, 2.5, (2, 500_000))
    s = np.quantile(d, got[0])
    assert ((d <= s) | ((d > s) & (d <= d_prev))).mean() == pytest.approx(0.8, abs=0.003)


def test_covering_lead_time_matches_monte_carlo_of_overtaking_orders():
    """M = max_i (L_i - i R): the time until every order placed up to a review has arrived."""
    mean, std, review = np.array([21.0, 7.0]), np.array([9.45, 2.8]), 7.0
    atoms, w = covering_lead_time_atoms(mean, std, review)
    assert w.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert (atoms[:, 1:] >= atoms[:, :-1]).all()
    rng = np.random.default_rng(1)
    for i in range(2):
        k, theta = (mean[i] / std[i]) ** 2, std[i] ** 2 / mean[i]
        lead = rng.gamma(k, theta, size=(400_000, 10))
        m = (lead - review * np.arange(10)).max(axis=1)
        assert (atoms[i] * w[i]).sum() == pytest.approx(m.mean(), rel=0.005)
        # the top atom is the mean of M's top 0.2%
        top = np.sort(m)[-int(0.002 * m.size):].mean()
        assert atoms[i, -1] == pytest.approx(top, rel=0.02)
    # 21 +- 9.45 days against a weekly review: earlier orders are often still in transit
    assert (atoms[0] * w[0]).sum() > 24.0
    plain, _ = lead_time_atoms(mean, std)
    assert (atoms >= plain - 1e-6).all()


def test_covering_lead_time_is_the_lead_time_without_spread_or_overlap():
    mean, std = np.array([7.0, 5.0]), np.array([0.0, 0.5])
    atoms, w = covering_lead_time_atoms(mean, std, 7.0)
    plain, pw = lead_time_atoms(mean, std)
    assert atoms[0] == pytest.approx(plain[0])  # a fixed lead time: nothing overtakes
    assert atoms[1] == pytest.approx(plain[1], abs=0.01)  # orders never overlap: M = L
    keys = [("a", "L"), ("b", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    base = policy_levels(cum, np.array([14.0, 14.0]), np.array([0.0, 6.0]), np.array([0.95]), 7)
    covered = policy_levels(cum, np.array([14.0, 14.0]), np.array([0.0, 6.0]),
                            np.array([0.95]), 7, cover_earlier_orders=True)
    assert covered.reorder_point[0, 0] == pytest.approx(base.reorder_point[0, 0])
    assert covered.reorder_point[1, 0] > base.reorder_point[1, 0] + 1.0


def test_lead_time_mixture_zero_spread_equals_plain_and_spread_raises_it():
    keys = [("a", "L"), ("b", "L"), ("c", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    lv = policy_levels(cum, np.full(3, 7.0), np.array([0.0, 2.0, 4.0]), np.array([0.95]), 7)
    rp = lv.reorder_point[:, 0]
    assert rp[0] == pytest.approx(stats.norm.ppf(0.95, 42, 2 * np.sqrt(14)), abs=1e-6)
    assert rp[0] < rp[1] < rp[2]
    # Monte Carlo of the compound: L ~ gamma, D | L ~ N(3 (L + 7), 4 (L + 7)).
    rng = np.random.default_rng(0)
    for i, sd_l in [(1, 2.0), (2, 4.0)]:
        lead = rng.gamma((7 / sd_l) ** 2, sd_l**2 / 7, 400_000) + 7
        d = rng.normal(3 * lead, 2 * np.sqrt(lead))
        assert rp[i] == pytest.approx(np.quantile(d, 0.95), rel=0.01)
    # The mean over P is unchanged by the spread of L.
    assert lv.lead_time_demand == pytest.approx([42.0] * 3, rel=1e-4)


def test_fill_rate_mode_matches_the_normal_loss_function():
    keys = [("a", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    lv = policy_levels(cum, np.array([7.0]), np.array([0.0]), np.array([0.95]), 7,
                       mode="fill_rate")
    sd = 2 * np.sqrt(14)
    # Smallest r with sigma x L((r - mu) / sigma) <= 0.05 x 21.
    def loss(z: float) -> float:
        return sd * (stats.norm.pdf(z) - z * stats.norm.sf(z)) - 0.05 * 21

    z = optimize.brentq(loss, -3, 5)
    assert lv.reorder_point[0, 0] == pytest.approx(42 + z * sd, abs=0.25)
    cyc = policy_levels(cum, np.array([7.0]), np.array([0.0]), np.array([0.95]), 7)
    assert lv.reorder_point[0, 0] < cyc.reorder_point[0, 0]


def test_stockout_probability_over_the_lead_time():
    keys = [("a", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    lv = policy_levels(cum, np.array([7.0]), np.array([0.0]), np.array([0.95]), 7)
    p_out = 1 - lv.lead_demand.cdf(np.array([[25.0]]))[0, 0]
    assert p_out == pytest.approx(stats.norm.sf(25, 21, 2 * np.sqrt(7)), abs=0.01)



def test_lead_time_zero_protects_the_review_period_only():
    """Same-day supply: P = R, nothing is at risk before the order lands, no 1-day fallback."""
    keys = [("a", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    lv = policy_levels(cum, np.array([0.0]), np.array([0.0]), np.array([0.95]), 7)
    assert lv.lead_time_demand[0] == pytest.approx(21.0)
    assert lv.review_demand[0] == pytest.approx(21.0)
    assert lv.reorder_point[0, 0] == pytest.approx(stats.norm.ppf(0.95, 21, 2 * np.sqrt(7)),
                                                   abs=1e-6)
    assert lv.lead_demand.mean[0] == 0.0
    assert lv.lead_demand.cdf(np.array([[0.0]]))[0, 0] == 1.0  # no stockout before arrival
    products = pd.DataFrame({"sku": ["a", "b"], "lead_time_days": [0.0, -2.0]})
    out = resolve_lead_times(keys_frame([("a", "L"), ("b", "L")]), products, None, 3)
    assert out["lead_time_days"].tolist() == [0.0, 1.0]  # only a negative one falls back


# ---------------------------------------------------------------- rounding and caps
@pytest.mark.parametrize(
    ("raw", "pack", "moq", "expected"),
    [
        (63, 12, 1, 72),  # 5.25 packs -> 6 packs
        (48, 12, 24, 48),  # exact packs, MOQ met
        (5, 12, 24, 24),  # 1 pack is below the MOQ of 24 -> 2 packs
        (5, 12, 30, 36),  # MOQ 30 is not a pack multiple -> 3 packs
        (2.3, 1, 1, 3),
        (0, 6, 10, 0),
        (-5, 6, 10, 0),
    ],
)
def test_pack_and_moq_rounding(raw, pack, moq, expected):
    assert round_order_qty(np.array([raw]), np.array([pack]), np.array([moq]))[0] == expected


def test_order_only_at_or_below_the_reorder_point():
    qty = order_quantity(np.array([20.0, 61.0, 61.5]), np.array([61.0] * 3),
                         np.array([83.0] * 3), np.array([12.0] * 3), np.array([24.0] * 3))
    assert qty.tolist() == [72.0, 24.0, 0.0]


def test_whole_units_top_up_to_the_floor_of_the_level():
    # Poisson(2) demand over the protection interval, calibrated quantile 3.3: P(D <= 3.3) =
    # P(D <= 3) = 0.857 already; buying the fraction (position 4) would give P(D <= 4) = 0.947.
    assert stats.poisson.cdf(3.3, 2) == pytest.approx(stats.poisson.cdf(3, 2))
    assert whole_unit_level(np.array([3.3, 3.3, 4.0, 3.9999999999]),
                            np.array([True, False, True, True])).tolist() == [3.0, 3.3, 4.0, 4.0]
    # position 1, order-up-to 3.3: 2 units for a whole-unit series, 3 (2.3 rounded up) else
    qty = order_quantity(np.array([1.0, 1.0]), np.array([3.3, 3.3]), np.array([3.3, 3.3]),
                         np.ones(2), np.ones(2), np.array([True, False]))
    assert qty.tolist() == [2.0, 3.0]
    # at the floor already: due, but nothing to order
    assert order_quantity(np.array([3.0]), np.array([3.3]), np.array([3.3]), np.ones(1),
                          np.ones(1), True).tolist() == [0.0]
    # packs and MOQ still round up from the whole-unit gap: 7 - 1 = 6 -> one pack of 12
    assert order_quantity(np.array([1.0]), np.array([7.6]), np.array([7.6]), np.array([12.0]),
                          np.array([1.0]), True).tolist() == [12.0]
    sales = np.array([[1.0, 0.0, np.nan, 3.0], [1.0, 0.5, 2.0, 0.0]])
    assert whole_units_of(sales).tolist() == [True, False]


def test_reorder_lines_round_levels_down_for_whole_unit_series():
    keys = [("a", "L"), ("b", "L")]
    cq = normal_cumulative(keys, 3.0, 2.0, horizon=14)
    products = pd.DataFrame({"sku": ["a", "b"], "category": "C", "lead_time_days": 7.0,
                             "lead_time_std_days": 0.0, "pack_size": 1, "moq": 1,
                             "active": True})
    dates = pd.date_range(end=AS_OF, periods=28)
    demand = pd.DataFrame({"sku": np.repeat(["a", "b"], 28), "location": "L", "category": "C",
                           "date": np.tile(dates, 2),
                           "units_sold": np.r_[np.full(28, 3.0), np.full(28, 2.5)],
                           "is_censored": False})
    series = keys_frame(keys).assign(category="C", demand_class="smooth", model="m",
                                     is_cold_start=False, backtest_rmsse=np.nan,
                                     mean_daily_demand=3.0)
    stock = keys_frame(keys).assign(stock_known=True, on_hand=10.0, on_order=0.0,
                                    backorders=0.0)
    daily = keys_frame(keys).merge(pd.DataFrame({"date": pd.date_range(AS_OF, periods=15)[1:]}),
                                   how="cross").assign(forecast=3.0)
    lines = build_reorder_lines(products, stock, None, series, cq, daily, demand, AS_OF,
                                ReplenishSettings(lost_sales=False),
                                service_level_override=0.95)
    rp = 42 + stats.norm.ppf(0.95) * 2 * np.sqrt(14)  # 54.31
    got = lines.set_index("sku")
    assert got.loc["a", "reorder_point"] == np.floor(rp) == 54.0  # sold in whole units
    # Sold by the half unit but ordered in whole units: the position after ordering lies in
    # [S, S + 1), so S is lowered until the service level averaged over that unit is 95%.
    sd = 2 * np.sqrt(14)
    lot_rp = optimize.brentq(
        lambda x: integrate.quad(lambda u: stats.norm.cdf(x + u, 42, sd), 0, 1)[0] - 0.95,
        40, 60)
    assert lot_rp == pytest.approx(53.82, abs=0.01)
    assert got.loc["b", "reorder_point"] == pytest.approx(lot_rp, abs=0.03)
    assert got.loc["b", "protection_quantile"] == pytest.approx(rp)
    assert "lowered to 53.8 for ordering in lots of 1" in got.loc["b", "explanation"]
    assert got.loc["a", "recommended_order_qty"] == 44.0  # 54 - 10
    assert got.loc["b", "recommended_order_qty"] == 44.0  # 43.84 rounded up
    assert got.loc["a", "safety_stock"] == pytest.approx(54.0 - 42.0)
    plain = build_reorder_lines(products, stock, None, series, cq, daily, demand, AS_OF,
                                ReplenishSettings(lot_adjustment=False, lost_sales=False),
                                service_level_override=0.95).set_index("sku")
    assert plain.loc["b", "reorder_point"] == pytest.approx(rp)
    assert plain.loc["b", "recommended_order_qty"] == 45.0  # 44.31 rounded up


def test_max_stock_caps_order_up_to_but_not_below_reorder_point():
    keys = [("a", "L"), ("b", "L"), ("c", "L")]
    cum = dense_cumulative(normal_cumulative(keys, 3.0, 2.0), keys_frame(keys))
    lv = policy_levels(cum, np.full(3, 7.0), np.zeros(3), np.array([0.95]), 7,
                       max_stock=np.array([np.nan, 60.0, 40.0]), review_periods_above=1.0)
    rp = 42 + stats.norm.ppf(0.95) * 2 * np.sqrt(14)
    assert lv.order_up_to[:, 0] == pytest.approx([rp + 21, 60.0, rp], abs=1e-6)
    assert lv.order_up_to_capped[:, 0].tolist() == [False, True, True]
    assert lv.max_stock_below_reorder_point[:, 0].tolist() == [False, False, True]


def test_lead_times_from_purchase_orders_need_three_receipts():
    series = keys_frame([("a", "L1"), ("a", "L2"), ("b", "L1")])
    products = pd.DataFrame({"sku": ["a", "b"], "lead_time_days": [7.0, 5.0],
                             "lead_time_std_days": [1.0, None]})
    lt = pd.DataFrame({"sku": ["a", "a"], "location": ["L1", "L2"], "n_receipts": [3, 2],
                       "lead_time_mean_days": [10.0, 20.0], "lead_time_std_days": [3.0, 4.0]})
    out = resolve_lead_times(series, products, lt, 3)
    assert out["lead_time_days"].tolist() == [10.0, 7.0, 5.0]
    assert out["lead_time_std_days"].tolist() == [3.0, 1.0, 0.0]
    assert out["lead_time_source"].tolist() == ["purchase_orders", "products", "products"]


def test_projected_stockout_date_with_and_without_arrivals():
    keys = keys_frame([("a", "L")])
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=14)
    fc = pd.DataFrame({"sku": "a", "location": "L", "date": dates, "forecast": 3.0})
    # Cumulative 3, 6, 9, 12 > 10 on day 4.
    got = projected_stockout_dates(keys, np.array([10.0]), fc)
    assert got.iloc[0] == AS_OF + pd.Timedelta(days=4)
    po = pd.DataFrame({"sku": ["a"], "location": ["L"], "expected_date": [dates[1]],
                       "open_quantity": [10.0]})
    # 10 on hand + 10 arriving on day 2: cumulative 21 > 20 on day 7.
    got = projected_stockout_dates(keys, np.array([10.0]), fc, po)
    assert got.iloc[0] == AS_OF + pd.Timedelta(days=7)
    assert pd.isna(projected_stockout_dates(keys, np.array([100.0]), fc).iloc[0])


# ---------------------------------------------------------------- build_reorder_lines
def _inputs(stock_known: bool = True):
    keys = [("a", "S1"), ("b", "S1"), ("c", "S1")]
    cq = pd.concat([normal_cumulative(keys[:2], 3.0, 2.0), normal_cumulative(keys[2:], 0.0, 0.0)])
    products = pd.DataFrame({
        "sku": ["a", "b", "c", "d"], "category": "food", "lead_time_days": 7.0,
        "lead_time_std_days": 0.0, "unit_cost": 1.0, "moq": [24, 1, 1, 1],
        "pack_size": [12, 1, 1, 1], "max_stock": [np.nan, 40.0, np.nan, np.nan],
        "service_level": [0.95, 0.95, 0.9, 0.9], "active": [True, True, True, False],
    })
    sa = pd.DataFrame({"sku": ["a", "b", "c", "d"], "location": "S1", "category": "food",
                       "demand_class": "smooth", "model": "auto_ets", "is_cold_start": False,
                       "backtest_rmsse": 0.82, "mean_daily_demand": [3.0, 3.0, 0.0, 1.0]})
    sp = pd.DataFrame({"sku": ["a", "b", "c"], "location": "S1", "stock_known": stock_known,
                       "on_hand": [20.0, 100.0, 5.0] if stock_known else [np.nan] * 3,
                       "on_order": [10.0, 0.0, 0.0], "backorders": [5.0, 0.0, 0.0],
                       "snapshot_date": AS_OF})
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=28)
    fc = pd.DataFrame({"sku": np.repeat(["a", "b", "c"], 28), "location": "S1",
                       "date": np.tile(dates, 3), "forecast": np.repeat([3.0, 3.0, 0.0], 28)})
    return products, sp, sa, cq, fc


def test_reorder_lines_hand_computed():
    products, sp, sa, cq, fc = _inputs()
    settings = ReplenishSettings(lot_adjustment=False, lost_sales=False)
    lines = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF, settings)
    contract = list(PUBLISHED_TABLES["reorder_recommendations"])
    assert list(lines.columns[:len(contract)]) == contract
    for extra in ["abc_class", "xyz_class", "projected_stockout_date", "stock_known",
                  "demand_class", "pack_size", "moq"]:
        assert extra in lines
    assert lines["sku"].tolist() == ["a", "b", "c"]  # d is inactive
    a = lines.iloc[0]
    rp = 42 + stats.norm.ppf(0.95) * 2 * np.sqrt(14)
    assert a.inventory_position == 25.0  # 20 + 10 - 5
    assert a.reorder_point == pytest.approx(rp, abs=1e-6)
    assert a.order_up_to == pytest.approx(rp, abs=1e-6)  # (R, S) default
    # 54.31 - 25 = 29.31 -> 3 packs of 12 = 36 (MOQ 24 met).
    assert a.recommended_order_qty == 36.0
    assert a.days_of_cover == pytest.approx(20 / 3)
    assert a.projected_stockout_date == AS_OF + pd.Timedelta(days=7)  # 21 > 20
    assert a.stockout_probability == pytest.approx(stats.norm.sf(25, 21, 2 * np.sqrt(7)),
                                                   abs=0.01)
    assert a.explanation.startswith("Order 36 (3 packs of 12).")
    assert "auto_ets (backtest RMSSE 0.82)" in a.explanation
    assert "MOQ 24 met" in a.explanation
    b = lines.iloc[1]
    assert b.recommended_order_qty == 0.0 and b.explanation.startswith("No order.")
    c = lines.iloc[2]  # zero forecast: cover hits the cap, nothing to order
    assert c.days_of_cover == settings.days_of_cover_cap
    assert c.reorder_point == pytest.approx(0.0, abs=1e-9)
    assert c.recommended_order_qty == 0.0


def test_reorder_lines_with_review_stock_and_max_stock_below_reorder_point():
    products, sp, sa, cq, fc = _inputs()
    products.loc[products["sku"] == "b", "max_stock"] = 30.0
    sp.loc[sp["sku"] == "b", "on_hand"] = 10.0
    settings = ReplenishSettings(order_up_to_review_periods=1.0, lot_adjustment=False,
                                 lost_sales=False)
    lines = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF, settings)
    b = lines.set_index("sku").loc["b"]
    rp = 42 + stats.norm.ppf(0.95) * 2 * np.sqrt(14)
    assert b.order_up_to == pytest.approx(rp, abs=1e-6)
    assert b.recommended_order_qty == np.ceil(rp - 10.0)
    assert "below the reorder point" in b.explanation
    a = lines.set_index("sku").loc["a"]
    assert a.order_up_to == pytest.approx(rp + 21, abs=1e-6)


def test_reorder_lines_stock_unknown():
    products, sp, sa, cq, fc = _inputs(stock_known=False)
    lines = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF,
                                ReplenishSettings(lot_adjustment=False, lost_sales=False))
    assert lines["recommended_order_qty"].eq(0).all()
    assert lines["on_hand"].isna().all() and lines["inventory_position"].isna().all()
    assert lines["stockout_probability"].isna().all()
    assert lines["days_of_cover"].isna().all()
    assert lines["explanation"].str.startswith("Stock unknown").all()
    assert np.isfinite(lines["reorder_point"]).all()


def test_reorder_lines_class_targets_from_demand():
    products, sp, sa, cq, fc = _inputs()
    products["service_level"] = np.nan
    days = pd.date_range(AS_OF - pd.Timedelta(days=363), AS_OF)
    rng = np.random.default_rng(3)
    demand = pd.concat([
        pd.DataFrame({"sku": "a", "location": "S1", "date": days, "units_sold": 30.0}),
        pd.DataFrame({"sku": "b", "location": "S1", "date": days,
                      "units_sold": rng.poisson(1.0, days.size).astype(float)}),
        pd.DataFrame({"sku": "c", "location": "S1", "date": days,
                      "units_sold": (rng.random(days.size) < 0.02) * 1.0}),
    ])
    settings = ReplenishSettings(service_allocation="class")
    lines = build_reorder_lines(products, sp, None, sa, cq, fc, demand, AS_OF, settings)
    got = dict(zip(lines["sku"], lines["abc_class"] + lines["xyz_class"], strict=True))
    assert got["a"] == "AX" and got["c"][1] == "Z"
    assert lines.set_index("sku").loc["a", "service_level_target"] == settings.service_levels["AX"]


# ---------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mean_daily=st.floats(0.0, 50.0),
    cv=st.floats(0.0, 3.0),
    lead=st.floats(1.0, 30.0),
    lead_sd=st.floats(0.0, 10.0),
    target=st.floats(0.5, 0.995),
    pack=st.integers(1, 24),
    moq=st.integers(1, 100),
    on_hand=st.floats(0.0, 500.0),
    on_order=st.floats(0.0, 200.0),
    max_stock=st.one_of(st.none(), st.floats(1.0, 1000.0)),
    k=st.sampled_from([0.0, 1.0]),
    mode=st.sampled_from(["cycle", "fill_rate"]),
)
def test_properties_of_policy_and_order(mean_daily, cv, lead, lead_sd, target, pack, moq,
                                        on_hand, on_order, max_stock, k, mode):
    keys = [("a", "L")]
    cq = normal_cumulative(keys, mean_daily, cv * mean_daily, horizon=14)
    cum = dense_cumulative(cq, keys_frame(keys))
    lv = policy_levels(cum, np.array([lead]), np.array([lead_sd]), np.array([target]), 7,
                       mode=mode, max_stock=np.array([np.nan if max_stock is None else max_stock]),
                       review_periods_above=k)
    rp, ss, up = lv.reorder_point[0, 0], lv.safety_stock[0, 0], lv.order_up_to[0, 0]
    assert np.isfinite([rp, ss, up]).all()
    assert up >= rp >= ss >= 0
    qty = order_quantity(np.array([on_hand + on_order]), np.array([rp]), np.array([up]),
                         np.array([pack]), np.array([moq]))[0]
    assert qty >= 0
    assert qty % pack == 0
    if qty > 0:
        assert qty >= moq
        assert on_hand + on_order + qty >= up - 1e-6


def test_reorder_lines_carry_customers_and_the_optional_service_uplift():
    products, sp, sa, cq, fc = _inputs()
    settings = ReplenishSettings(lot_adjustment=False, lost_sales=False)
    base = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF, settings)
    assert (base["customers_at_risk"] == 0).all() and (base["revenue_at_risk"] == 0).all()
    customers = pd.DataFrame({"sku": ["a", "b"], "location": "S1", "regular_customers": [12, 2],
                              "customers_at_risk": [3, 0], "revenue_at_risk": [450.0, 0.0]})
    lines = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF, settings,
                                customers=customers).set_index("sku")
    assert lines.loc["a", "customers_at_risk"] == 3 and lines.loc["a", "revenue_at_risk"] == 450
    assert lines.loc["c", "customers_at_risk"] == 0
    # without an uplift column the targets are unchanged
    assert lines["service_level_target"].tolist() == base["service_level_target"].tolist()
    uplift = customers.assign(service_uplift=[0.02, 0.0], service_level_cap=0.995)
    raised = build_reorder_lines(products, sp, None, sa, cq, fc, None, AS_OF, settings,
                                 customers=uplift).set_index("sku")
    assert raised.loc["a", "service_level_target"] == pytest.approx(0.97)
    assert raised.loc["a", "service_level_source"].endswith("+customers")
    assert raised.loc["b", "service_level_target"] == lines.loc["b", "service_level_target"]
    assert raised.loc["a", "reorder_point"] >= lines.loc["a", "reorder_point"]
