"""The replay in units and days: honest headline, comparisons, baseline planners, shared draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.inventory import ReplenishSettings, make_reference_planner, replay_policies
from restock.inventory.baseline_planners import (
    empirical_cumulative,
    make_empirical_planner,
    normal_cumulative,
)
from restock.inventory.levels import allocate_fill_rates
from restock.inventory.objective import suggest_objective
from restock.inventory.replay import ReplayResult, headline_text, replay_window
from restock.inventory.replay_measures import compare_with_frontier


def _rows(static_inv, static_rate, static_lost, demand=1000.0):
    """Frontier 100 units -> 4% / 40 lost, 200 -> 1% / 10 lost; static points as given."""
    n = len(static_inv)
    return pd.DataFrame({
        "policy": ["recommended", "recommended", *["static"] * n],
        "parameter": [0.8, 0.95, *[3, 7, 14, 21][:n]],
        "category": "ALL",
        "objective": ["cycle_service", "cycle_service", *[None] * n],
        "avg_inventory_units": [100.0, 200.0, *static_inv],
        "stockout_rate": [0.04, 0.01, *static_rate],
        "lost_units": [40.0, 10.0, *static_lost],
        "demand_units": demand,
        "fill_rate": [0.96, 0.99, *[1 - x / demand for x in static_lost]],
    })


def test_comparison_on_a_hand_computed_frame_in_units_and_days():
    # static 3 d at 150 units: Restock 2.5% and 25 lost there; static 7 d at 175: 1.75%, 17.5
    rows = _rows([150.0, 175.0], [0.05, 0.01], [30.0, 14.0])
    comps, headline = compare_with_frontier(rows, np.array([np.nan]))
    by = comps.set_index("static_parameter")
    assert by.loc[3, "restock_stockout_rate_at_same_inventory"] == pytest.approx(0.025)
    assert by.loc[3, "restock_lost_units_at_same_inventory"] == pytest.approx(25.0)
    assert by.loc[3, "restock_fill_rate_at_same_inventory"] == pytest.approx(0.975)
    assert by.loc[3, "relative_lost_units_cut"] == pytest.approx(1 - 25 / 30)
    assert by.loc[7, "restock_lost_units_at_same_inventory"] == pytest.approx(17.5)
    assert by.loc[7, "relative_cut"] == pytest.approx(1 - 0.0175 / 0.01)  # a loss in days
    assert (comps["compared_with"] == "static").all()
    # cycle_service quotes days: the 7-day point loses, and the headline says so
    assert headline["static_parameter"] == 7 and headline["headline_measure"] == "stockout_rate"
    assert headline["losing_parameters"] == "7" and headline["winning_parameters"] == "3"
    # fill_rate quotes units: 25 < 30 and 17.5 > 14: the same point loses in units too
    rows_f = rows.assign(objective=rows["objective"].replace("cycle_service", "fill_rate"))
    _, head_f = compare_with_frontier(rows_f, np.array([np.nan]), "fill_rate")
    assert head_f["headline_measure"] == "lost_units"
    assert head_f["relative_lost_units_cut"] == pytest.approx(1 - 17.5 / 14)


def test_headline_for_a_win():
    rows = _rows([150.0, 200.0], [0.06, 0.02], [50.0, 20.0])
    comps, headline = compare_with_frontier(rows, np.array([np.nan]))
    text = headline_text(headline)
    assert text == (
        "Headline (stockout days): at the average inventory units of the static policy with 7 "
        "buffer days, Restock's stockout rate is 1.00% against 2.00% (50% lower); the smallest "
        "cut of the 2 comparable points")
    assert "-" not in text.split("(", 2)[2]  # no negative figure


def test_headline_for_a_loss():
    rows = _rows([150.0, 200.0], [0.01, 0.005], [10.0, 5.0])
    _, headline = compare_with_frontier(rows, np.array([np.nan]))
    text = headline_text(headline)
    assert text.startswith("Headline (stockout days): Restock loses at every comparable point "
                           "(3, 7 buffer days): ")
    assert "3 buffer days, Restock's stockout rate is 2.50% against 1.00% (150% higher)" in text
    assert "lower" not in text and "-" not in text


def test_headline_for_a_mixed_frontier():
    # 3 d wins (2.5% vs 5%), 7 d (1.75% vs 1%) and 14 d (1% vs 0.5%) lose
    rows = _rows([150.0, 175.0, 200.0], [0.05, 0.01, 0.005], [30.0, 14.0, 5.0])
    _, headline = compare_with_frontier(rows, np.array([np.nan]))
    text = headline_text(headline)
    assert text.startswith("Headline (stockout days): Restock loses at 7+ buffer days: ")
    assert text.endswith("(100% higher); but more units lost there: 10 against 5 (100% more); "
                         "it wins at 3 buffer days")  # the 14-day point: the worst cut is quoted
    assert "lower" not in text


def test_headline_names_the_other_measure_when_it_disagrees():
    # 7 d: fewer stockout days (1% vs 2%) but more lost units (10 vs 5)
    rows = _rows([150.0, 200.0], [0.06, 0.02], [50.0, 5.0])
    _, headline = compare_with_frontier(rows, np.array([np.nan]))
    assert "(50% lower); but more units lost there: 10 against 5 (100% more)" in \
        headline_text(headline)


def test_headline_in_units_under_fill_rate():
    rows = _rows([150.0, 200.0], [0.01, 0.02], [60.0, 20.0])
    rows["objective"] = rows["objective"].replace("cycle_service", "fill_rate")
    _, headline = compare_with_frontier(rows, np.array([np.nan]), "fill_rate")
    text = headline_text(headline)
    assert text.startswith("Headline (lost units): at the average inventory units of the "
                           "static policy with 7 buffer days, Restock loses 10 units of demand "
                           "against 20 (50% fewer; fill rate 99.0% against 98.0%); the smallest "
                           "cut of the 2 comparable points")
    # a single published comparison row (no losing list) still says a loss plainly
    loss = headline | {"relative_lost_units_cut": -0.25, "losing_parameters": None,
                       "winning_parameters": None}
    assert "Restock loses at every comparable point (7 buffer days)" in headline_text(loss)
    assert "25% more" in headline_text(loss)


def test_baseline_frontier_compared_with_restock_and_named():
    rows = _rows([150.0], [0.05], [30.0])
    base = pd.DataFrame({
        "policy": "naive_quantile", "parameter": [0.8, 0.95], "category": "ALL",
        "objective": "cycle_service", "avg_inventory_units": [120.0, 180.0],
        "stockout_rate": [0.04, 0.02], "lost_units": [40.0, 20.0], "demand_units": 1000.0,
        "fill_rate": [0.96, 0.98]})
    comps, headline = compare_with_frontier(pd.concat([rows, base]), np.array([np.nan]))
    naive = comps[comps["compared_with"] == "naive_quantile"].set_index("static_parameter")
    assert naive.loc[0.8, "restock_stockout_rate_at_same_inventory"] == pytest.approx(0.034)
    assert naive.loc[0.95, "restock_lost_units_at_same_inventory"] == pytest.approx(16.0)
    assert headline["compared_with"] == "static"
    frame = ReplayResult(rows, headline, comps).comparison_frame()
    assert frame["is_headline"].sum() == 1
    assert frame.loc[frame["is_headline"], "compared_with"].item() == "static"


# ---------------------------------------------------------------- baseline planners
def test_empirical_quantiles_on_a_tiny_history():
    window = np.array([[1.0, 3.0, 2.0, 0.0, np.nan]])  # the NaN day is filled with mean 1.5
    cum_mean, q = empirical_cumulative(window, horizon=3, levels=np.array([0.5, 1.0]),
                                       max_sum_days=2)
    assert cum_mean[0].tolist() == pytest.approx([1.5, 3.0, 4.5])
    # 1-day values 1, 3, 2, 0, 1.5: median 1.5, max 3; 2-day sums 4, 5, 2, 1.5: median 3, max 5
    assert q[0, 0].tolist() == pytest.approx([1.5, 3.0])
    assert q[0, 1].tolist() == pytest.approx([3.0, 5.0])
    # beyond 2 days: mean h + (q(2) - 2 mean) sqrt(h / 2)
    assert q[0, 2].tolist() == pytest.approx([4.5, 4.5 + 2.0 * np.sqrt(1.5)])


def test_empirical_planner_uses_only_the_last_56_days_up_to_t():
    dates = pd.date_range("2024-01-01", periods=100)
    units = np.where(np.arange(100) < 60, 1.0, 50.0)  # a jump on day 60
    demand = pd.DataFrame({"sku": "a", "location": "S", "date": dates, "units_sold": units,
                           "is_censored": False})
    plan = make_empirical_planner(demand, horizon=2, levels=(0.5,))(dates[59])
    c = plan.cumulative.set_index(["horizon_days", "level"])["quantity"]
    assert c.loc[(1, 0.0)] == pytest.approx(1.0) and c.loc[(2, 0.5)] == pytest.approx(2.0)


def test_normal_cumulative_sums_means_and_variances():
    mean = np.array([[1.0, 2.0]])
    sigma = np.array([[3.0, 4.0]])
    cum_mean, q = normal_cumulative(mean, sigma, np.array([0.5, 0.975]))
    assert cum_mean[0].tolist() == [1.0, 3.0]
    assert q[0, 1].tolist() == pytest.approx([3.0, 3.0 + 1.959964 * 5.0], rel=1e-5)
    assert q[0, 0, 1] == pytest.approx(1.0 + 1.959964 * 3.0, rel=1e-5)


# ---------------------------------------------------------------- the replay, several planners
def _synthetic(n=12, days=200, seed=3):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=days)
    mu = rng.uniform(0.5, 8, n)
    units = rng.negative_binomial(2, 2 / (2 + mu[:, None]), (n, days)).astype(float)
    demand = pd.DataFrame({
        "sku": np.repeat([f"s{i}" for i in range(n)], days), "location": "S",
        "category": "c", "date": np.tile(dates, n), "units_sold": units.ravel(),
        "is_censored": False, "on_hand": np.nan})
    products = pd.DataFrame({"sku": [f"s{i}" for i in range(n)], "category": "c",
                             "lead_time_days": 3.0, "lead_time_std_days": 1.0,
                             "unit_cost": rng.uniform(1, 10, n), "pack_size": 1, "moq": 1,
                             "active": True})
    return demand, products, dates


def test_several_planners_share_the_draws():
    demand, products, dates = _synthetic()
    settings = ReplenishSettings(replay_service_levels=[0.8, 0.9, 0.95])
    start, as_of = dates[-64], dates[-1]
    ref = make_reference_planner(demand)
    one = replay_policies(demand, products, None, ref, start, as_of, settings)
    many = replay_policies(demand, products, None,
                           {"recommended": ref, "naive_quantile": ref,
                            "empirical": make_empirical_planner(demand)},
                           start, as_of, settings)
    cols = ["avg_inventory_units", "stockout_rate", "lost_units", "demand_units", "orders"]
    s1 = one.rows[one.rows["policy"] == "static"].reset_index(drop=True)
    s2 = many.rows[many.rows["policy"] == "static"].reset_index(drop=True)
    pd.testing.assert_frame_equal(s1[cols], s2[cols])
    # the same planner under another name plays exactly the same frontier
    r = many.rows.set_index(["policy", "parameter", "category"])
    assert np.allclose(r.loc["recommended"][cols].to_numpy(dtype=float),
                       r.loc["naive_quantile"][cols].to_numpy(dtype=float))
    assert set(many.comparisons["compared_with"]) == {"static", "naive_quantile", "empirical"}
    assert {"planner_naive_quantile", "planner_empirical"} <= set(many.seconds)
    assert many.headline["conclusive"] is True


def test_both_objectives_and_fill_rate_headline_in_units():
    demand, products, dates = _synthetic()
    settings = ReplenishSettings(replay_service_levels=[0.8, 0.9, 0.95, 0.99],
                                 objective="fill_rate", replay_both_objectives=True)
    res = replay_policies(demand, products, None, make_reference_planner(demand), dates[-64],
                          dates[-1], settings)
    rec = res.rows[(res.rows["policy"] == "recommended") & (res.rows["category"] == "ALL")]
    assert set(rec["objective"]) == {"fill_rate", "cycle_service"}
    assert res.headline["objective"] == "fill_rate"
    assert headline_text(res.headline).startswith("Headline (lost units)")
    fr = rec[rec["objective"] == "fill_rate"].sort_values("parameter")
    assert fr["fill_rate"].is_monotonic_increasing


def test_allocate_fill_rates_meets_the_overall_fill_rate():
    from restock.inventory.distributions import CumulativeDemand, demand_mixture

    levels = np.array([0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 1.0])
    mean = np.array([10.0, 10.0, 100.0])
    sd = np.array([2.0, 8.0, 30.0])
    from scipy import stats

    h = np.arange(0, 15)
    z = np.clip(stats.norm.ppf(levels), -5, 5)
    q = (mean[:, None, None] * h[None, :, None] + sd[:, None, None] * np.sqrt(h)[None, :, None]
         * z[None, None, :])
    keys = pd.DataFrame({"sku": ["a", "b", "c"], "location": "S"})
    cum = CumulativeDemand(keys, levels, np.maximum(q, 0), mean[:, None] * h[None, :])
    prot = demand_mixture(cum, np.full(3, 7.0), np.zeros(3), 7.0)
    d = mean * 7
    t = allocate_fill_rates(prot, d, np.array([1.0, 1.0, 1.0]), np.array([0.95]), 0.7, 0.999)
    assert (t[:, 0] * d).sum() / d.sum() == pytest.approx(0.95, abs=1e-6)
    assert t[0, 0] > t[1, 0]  # the steady item gets more than the volatile one at equal cost


def test_suggest_objective():
    wholesale = pd.DataFrame({"quantity": np.tile([12, 24, 3, 6], 50),
                              "customer_id": [f"c{i % 40}" for i in range(200)]})
    shop = pd.DataFrame({"quantity": np.ones(200), "customer_id": [f"c{i}" for i in range(200)]})
    assert suggest_objective(wholesale) == "fill_rate"
    assert suggest_objective(shop) == "cycle_service"
    assert suggest_objective(wholesale.drop(columns="customer_id")) == "cycle_service"



def test_order_driven_feed_defaults_to_fill_rate_unless_the_config_chooses(tmp_path):
    """Issue 15: the objective follows the feed's sales when the config file chooses none."""
    from restock.config import RestockConfig

    wholesale, shop = tmp_path / "wholesale", tmp_path / "shop"
    wholesale.mkdir()
    (wholesale / "sales").mkdir()
    shop.mkdir()
    lines = pd.DataFrame({"date": "2024-01-02", "sku": "A", "location": "L",
                          "quantity": np.tile([12, 24, 3, 6], 50),
                          "customer_id": [f"c{i % 40}" for i in range(200)]})
    # two part files, CSV and Parquet: the evidence is over all of them
    lines.iloc[:100].to_csv(wholesale / "sales" / "part-1.csv", index=False)
    lines.iloc[100:].to_parquet(wholesale / "sales" / "part-2.parquet")
    lines.assign(quantity=1.0, customer_id=[f"c{i}" for i in range(200)]).to_csv(
        shop / "sales.csv", index=False)

    config = RestockConfig.load(None)
    said = config.follow_feed_objective(wholesale, None)
    assert config.replenish.objective == "fill_rate"
    assert config.replenish.service_level_mode == "fill_rate"
    assert "40 customers" in said and "median 9 units" in said
    config = RestockConfig.load(None)
    assert config.follow_feed_objective(shop, None) is None
    assert config.replenish.objective == "cycle_service"
    # the user's choice wins, under either name
    for chosen in ("objective: cycle_service", "service_level_mode: cycle"):
        path = tmp_path / "restock.yml"
        path.write_text(f"replenish:\n  {chosen}\n")
        config = RestockConfig.load(path)
        assert config.follow_feed_objective(wholesale, path) is None
        assert config.replenish.objective == "cycle_service"
    # a feed without sales files is left to the reader to report
    config = RestockConfig.load(None)
    assert config.follow_feed_objective(tmp_path / "missing", None) is None
    assert config.replenish.objective == "cycle_service"

def test_replay_window_fits_a_short_feed():
    settings = ReplenishSettings()
    # FreshRetailNet: 90 days, as of 14 days before the end -> 76 days of data
    first = pd.Timestamp("2024-03-28")
    as_of = first + pd.Timedelta(days=76)
    w = replay_window(first, as_of, settings)
    assert w.start == first + pd.Timedelta(days=28) and w.days == 48 and w.shortened
    assert replay_window(first - pd.Timedelta(days=400), as_of, settings).days == 91
    tiny = replay_window(as_of - pd.Timedelta(days=10), as_of, settings)
    assert tiny.days == 5 and tiny.start < as_of


def test_replay_window_grows_with_lead_times_and_to_a_year_at_weekly_grain():
    settings = ReplenishSettings()  # 91 days, 3 cycles, 7-day review
    first, as_of = pd.Timestamp("2012-01-09"), pd.Timestamp("2014-11-03")  # MAN's span
    assert replay_window(first, as_of, settings, lead_time_days=14).days == 91
    # 49-day lead times: warm-up 50 + 3 x (49 + 7) = 218 days
    assert replay_window(first, as_of, settings, lead_time_days=49).days == 218
    weekly = replay_window(first, as_of, settings, lead_time_days=49, grain="week")
    assert weekly.days == 364 and not weekly.shortened and weekly.start.weekday() == 0
    # a short weekly feed: shortened, and the note says from what
    short = replay_window(as_of - pd.Timedelta(days=200), as_of, settings, grain="week")
    assert short.shortened and short.days == 172 and "from 364" in short.note


def test_short_window_is_not_conclusive_and_says_why(caplog):
    demand, products, dates = _synthetic(days=120)
    products["lead_time_days"] = 30.0
    settings = ReplenishSettings(replay_service_levels=[0.8, 0.95])
    res = replay_policies(demand, products, None, make_reference_planner(demand), dates[-29],
                          dates[-1], settings)
    assert res.headline.get("conclusive", False) is False or res.headline == {}
    frame = res.comparison_frame()
    assert not frame["conclusive"].any()
    assert "not conclusive" in caplog.text


def test_nothing_to_replay_is_said_not_raised(caplog):
    demand, products, dates = _synthetic(days=60)
    res = replay_policies(demand, products.assign(active=False), None,
                          make_reference_planner(demand), dates[-20], dates[-1],
                          ReplenishSettings())
    assert res.rows.empty and res.headline["conclusive"] is False
    assert "not conclusive" in caplog.text
    assert headline_text(res.headline).startswith("No comparable replay point")


def test_headline_outside_the_frontier_claims_no_comparable_loss():
    rows = _rows([300.0], [0.001], [5.0])  # beyond Restock's highest point: not comparable
    _, headline = compare_with_frontier(rows, np.array([np.nan]))
    text = headline_text(headline)
    assert "every comparable point" not in text and "outside Restock's frontier" in text
