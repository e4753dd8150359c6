"""The demo chain's fixed description: categories, suppliers, locations, the future window."""

from __future__ import annotations

from dataclasses import dataclass

FUTURE_DAYS = 28  # promotions, drivers and events are known this far ahead of end_date


@dataclass(frozen=True)
class Category:
    """One category: SKU share, subcategories, mover mix, prices, seasonality, suppliers."""

    prefix: str
    share: float  # share of the SKUs
    subcategories: tuple[str, ...]
    mover_mix: tuple[float, float, float, float]  # fast, medium, slow, lumpy
    price_range: tuple[float, float]
    yearly_amplitude: float
    yearly_peak_doy: int
    suppliers: tuple[tuple[str, int, float], ...]  # name, nominal lead time days, lead time CV


CATEGORIES: dict[str, Category] = {
    "FRESH": Category(
        "FRS", 0.25, ("DAIRY", "PRODUCE", "BAKERY", "ICE_CREAM"), (0.45, 0.35, 0.15, 0.05),
        (0.8, 9.0), 0.10, 200, (("FRESHFARM", 2, 0.30), ("DAILYDAIRY", 3, 0.35)),
    ),
    "GROCERY": Category(
        "GRC", 0.35, ("PANTRY", "SNACKS", "DRINKS"), (0.30, 0.40, 0.20, 0.10),
        (1.0, 14.0), 0.06, 350, (("PANTRYCO", 5, 0.30), ("BEVWORKS", 7, 0.40)),
    ),
    "HOUSEHOLD": Category(
        "HHD", 0.22, ("CLEANING", "KITCHEN", "GARDEN"), (0.15, 0.35, 0.30, 0.20),
        (3.0, 45.0), 0.15, 120, (("CLEANPRO", 10, 0.30), ("HOMEGOODS", 14, 0.45)),
    ),
    "TOYS": Category(
        "TOY", 0.18, ("GAMES", "PLUSH", "OUTDOOR"), (0.05, 0.25, 0.40, 0.30),
        (5.0, 60.0), 0.10, 340, (("PLAYTIME", 18, 0.35), ("FUNFACTORY", 21, 0.45)),
    ),
}

# location, name, region, type, timezone, demand factor, mean temperature, temperature swing
LOCATIONS: tuple[tuple[str, str, str, str, str, float, float, float], ...] = (
    ("S01", "Boston Back Bay", "NORTHEAST", "store", "America/New_York", 1.30, 10.5, 12.0),
    ("S02", "Chicago Loop", "MIDWEST", "store", "America/Chicago", 1.00, 10.0, 14.0),
    ("S03", "Atlanta Midtown", "SOUTHEAST", "store", "America/New_York", 0.80, 17.0, 9.0),
    ("S04", "Denver Highlands", "MOUNTAIN", "store", "America/Denver", 0.60, 10.5, 11.0),
    ("S05", "San Diego Bay", "WEST", "store", "America/Los_Angeles", 1.10, 18.0, 4.0),
    ("WEB", "Online shop", "NATIONAL", "online", "America/New_York", 0.90, 0.0, 0.0),
    ("DC1", "Columbus distribution centre", "MIDWEST", "dc", "America/New_York", 0.0, 11.5, 12.0),
)

# mean daily demand (median of a lognormal, its sigma) and NB dispersion k per mover class;
