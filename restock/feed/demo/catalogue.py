"""The catalogue: what each SKU is and where it is sold.

SKU attributes (category, supplier, mover class, price, pack, lifecycle), the assortment per
location, and the shelf caps the stock simulation settles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.feed.demo.chain import CATEGORIES, FUTURE_DAYS, LOCATIONS

# small k = lumpy (var = mu + mu^2 / k)
_MOVERS = {
    "fast": (12.0, 0.6, 6.0),
    "medium": (2.5, 0.5, 3.0),
    "slow": (0.6, 0.4, 1.5),
    "lumpy": (0.15, 0.5, 0.25),
}
_MOVER_NAMES = tuple(_MOVERS)


def draw_products(rng: np.random.Generator, n_skus: int, n_hist: int) -> tuple[pd.DataFrame, dict]:
    """SKU attributes: category, supplier, mover class, price, pack, lifecycle."""
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[c].share for c in names])
    counts = np.maximum(1, np.floor(shares * n_skus).astype(int))
    counts[1] += n_skus - counts.sum()  # remainder to GROCERY, the largest
    cat_idx = np.repeat(np.arange(len(names)), counts)

    sku, subcat, supplier, lead, lead_cv, mover = [], [], [], [], [], []
    for i, c in enumerate(cat_idx):
        spec = CATEGORIES[names[c]]
        sku.append(f"{spec.prefix}-{i + 1:04d}")
        subcat.append(spec.subcategories[rng.integers(len(spec.subcategories))])
        sup = spec.suppliers[rng.integers(len(spec.suppliers))]
        supplier.append(sup[0])
        lead.append(sup[1])
        lead_cv.append(sup[2])
        mover.append(_MOVER_NAMES[rng.choice(4, p=np.array(spec.mover_mix))])
    mover_arr = np.array(mover)
    median = np.array([_MOVERS[m][0] for m in mover])
    sigma = np.array([_MOVERS[m][1] for m in mover])
    base = median * np.exp(sigma * rng.standard_normal(n_skus))
    k = np.array([_MOVERS[m][2] for m in mover])
    trend = np.clip(rng.normal(0.0, 0.12, n_skus), -0.3, 0.3)  # log growth per year

    lo = np.array([CATEGORIES[names[c]].price_range[0] for c in cat_idx])
    hi = np.array([CATEGORIES[names[c]].price_range[1] for c in cat_idx])
    price = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    price = np.maximum(np.round(price) - 0.01, 0.49)  # shelf prices end in .99
    cost = np.round(price * rng.uniform(0.50, 0.75, n_skus), 2)

    packs = np.where(
        np.isin(mover_arr, ["fast", "medium"]) & np.isin(cat_idx, [0, 1]),
        rng.choice([6, 12, 24], n_skus),
        rng.choice([1, 1, 2, 4], n_skus),
    )
    packs = np.where(mover_arr == "lumpy", 1, packs)
    moq = packs * rng.choice([1, 1, 2], n_skus)

    # lifecycle: cold starts in the last ~40 days, some mid-history launches, a few delisted
    launch = np.zeros(n_skus, dtype=np.int64)
    stop = np.full(n_skus, n_hist + FUTURE_DAYS, dtype=np.int64)
    order = rng.permutation(n_skus)
    n_cold = max(2, round(0.03 * n_skus))
    n_mid = max(1, round(0.05 * n_skus))
    n_off = max(2, round(0.01 * n_skus))
    cold, mid, off = (order[:n_cold], order[n_cold:n_cold + n_mid],
                      order[n_cold + n_mid:n_cold + n_mid + n_off])
    launch[cold] = rng.integers(n_hist - 40, n_hist - 9, len(cold))
    launch[mid] = rng.integers(min(90, n_hist // 4), max(n_hist - 200, n_hist // 2), len(mid))
    stop[off] = rng.integers(n_hist - 200, n_hist - 59, len(off))
    active = stop > n_hist

    # a few SKUs state their own service level, a few carry a shelf capacity (max_stock)
    service_level = np.full(n_skus, np.nan)
    explicit = rng.choice(n_skus, max(2, round(0.06 * n_skus)), replace=False)
    service_level[explicit] = rng.choice([0.90, 0.95, 0.98, 0.99], len(explicit))
    max_stock_flag = np.zeros(n_skus, dtype=bool)
    max_stock_flag[rng.choice(n_skus, max(2, round(0.05 * n_skus)), replace=False)] = True
    # a stated lead time spread for ~60% of SKUs; the rest leave it to the purchase orders
    lead_std = np.where(
        rng.random(n_skus) < 0.6, np.round(np.array(lead) * np.array(lead_cv), 1), np.nan
    )
    info = {
        "sku": np.array(sku),
        "cat_idx": cat_idx,
        "category": np.array([names[c] for c in cat_idx]),
        "subcategory": np.array(subcat),
        "mover": mover_arr,
        "base": base,
        "k": k,
        "trend": trend,
        "price": price,
        "lead": np.array(lead, dtype=float),
        "lead_cv": np.array(lead_cv),
        "pack": packs.astype(np.int64),
        "moq": moq.astype(np.int64),
        "launch": launch,
        "stop": stop,
        "promo_beta": rng.uniform(2.0, 4.0, n_skus),  # lift = exp(beta * discount)
        "max_stock_flag": max_stock_flag,
    }
    products = pd.DataFrame(
        {
            "sku": info["sku"],
            "name": [f"{s.title().replace('_', ' ')} item {i + 1}" for i, s in enumerate(subcat)],
            "category": info["category"],
            "subcategory": info["subcategory"],
            "supplier": supplier,
            "lead_time_days": np.array(lead, dtype=np.int64),
            "lead_time_std_days": lead_std,
            "unit_cost": cost,
            "unit_price": price,
            "moq": info["moq"],
            "pack_size": info["pack"],
            "max_stock": np.nan,
            "service_level": service_level,
            "active": np.where(active, "true", "false"),
        }
    )
    return products, info


def draw_assortment(rng: np.random.Generator, sku_info: dict) -> dict:
    """Which SKU is sold where: ~62% of stores, fewer fresh items online."""
    n_skus = len(sku_info["sku"])
    selling = [i for i, loc in enumerate(LOCATIONS) if loc[3] in ("store", "online")]
    listed = np.zeros((n_skus, len(selling)), dtype=bool)
    for j, li in enumerate(selling):
        online = LOCATIONS[li][3] == "online"
        p = np.where(sku_info["category"] == "FRESH", 0.25, 0.55) if online else 0.62
        listed[:, j] = rng.random(n_skus) < p
    nowhere = ~listed.any(axis=1)
    listed[nowhere, rng.integers(0, len(selling) - 1, int(nowhere.sum()))] = True
    sku_idx, col = np.nonzero(listed)
    loc_idx = np.array(selling)[col]
    n_series = len(sku_idx)
    return {
        "sku_idx": sku_idx,
        "loc_idx": loc_idx,
        "online": np.array([LOCATIONS[li][3] == "online" for li in loc_idx]),
        # each store sells at its own level, with some item-store noise
        "factor": np.array([LOCATIONS[li][5] for li in loc_idx])
        * np.exp(0.15 * rng.standard_normal(n_series)),
    }


def finish_products(
    products: pd.DataFrame, sku_info: dict, series: dict, sim: dict
) -> pd.DataFrame:
    """Fill max_stock of the capped SKUs: the largest shelf among their locations."""
    products = products.copy()
    caps = pd.Series(sim["max_stock"]).groupby(series["sku_idx"]).max()
    caps = caps[caps.notna()]
    products.loc[caps.index.to_numpy(), "max_stock"] = caps.to_numpy()
    return products
