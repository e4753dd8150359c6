"""Settings of the customer tables (config section ``customers``; issue 18).

One pydantic model for everything the nightly's customer step reads: the stock-out probability
from which an inferred day counts (hits and censored demand alike), the hit definition, the
churn model's windows, the sales measure of the inference, how reorder lines and alerts use
the customers at risk, and the optional service-level uplift (off by default).
The plain dataclasses of restock.customers (HitSettings, ChurnSettings, InferenceSettings)
are built from it, so their defaults stay where the maths is documented.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from restock.customers.churn import ChurnSettings
from restock.customers.impact import HitSettings
from restock.customers.inferred_stockouts import InferenceSettings


class HitConfig(BaseModel):
    """The hit definition and the tables' window (restock/customers/impact.py)."""

    regular_purchases: int = Field(3, ge=1, description="purchase days of an item ...")
    regular_window_days: int = Field(180, ge=1, description="... in this many days = regular")
    window_days: int = Field(90, ge=1, description="the tables' window ending at as_of")
    at_risk_churn: float = Field(0.5, ge=0.0, le=1.0,
                                 description="churn_risk from which a customer is at risk")
    at_risk_requires_hit: bool = Field(True, description="only hit customers are at risk")


class ChurnConfig(BaseModel):
    """Windows of the churn model (restock/customers/churn.py)."""

    window_days: int = Field(90, ge=1, description="feature window before a cutoff")
    horizon_days: int = Field(90, ge=1, description="no purchase this long after = churned")
    step_days: int = Field(30, ge=1, description="spacing of the stacked training cutoffs")
    max_cutoffs: int = Field(6, ge=1, description="most recent training cutoffs used")


class CustomerSettings(BaseModel):
    """Customers hit by stock-outs: inference, hits, churn, and how the plan uses them."""

    threshold: float = Field(
        0.7, ge=0.0, le=1.0,
        description="inferred stock-out probability from which a day is out of stock (hits "
        "and censored demand)",
    )
    measure: Literal["quantity", "lines"] = Field(
        "quantity", description="sales measure of the inference (lines: order lines per day, "
        "for wholesalers with lumpy quantities)",
    )
    censor_inferred: bool = Field(
        True, description="series without inventory rows: inferred stock-outs above the "
        "threshold are censored demand for forecasting, as known ones",
    )
    censor_min_selling_share: float = Field(
        0.76, ge=0.0, le=1.0, description="... only for series selling on at least this share "
        "of their days (restock.customers.inferred_censoring.CENSOR_MIN_SELLING_SHARE: a gap "
        "of an intermittent or lumpy series is not a stock-out); 0 = every series",
    )
    hits: HitConfig = Field(default_factory=HitConfig)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    alert_min_customers_at_risk: int = Field(
        1, ge=1, description="a stock-out alert rises one severity level when at least this "
        "many customers at risk buy the item regularly",
    )
    service_uplift: bool = Field(
        False, description="raise the service-level target of items many regular customers "
        "depend on",
    )
    uplift_min_regular_customers: int = Field(
        10, ge=1, description="regular customers from which an item gets the uplift")
    uplift: float = Field(0.02, ge=0.0, le=0.5, description="added to the service-level target")
    uplift_max_service_level: float = Field(
        0.995, gt=0.0, lt=1.0, description="the uplift never raises a target above this")

    def hit_settings(self) -> HitSettings:
        return HitSettings(threshold=self.threshold, **self.hits.model_dump())

    def history_days_needed(self) -> int:
        """Days of sales up to as_of the customer tables read: the churn model's earliest
        training cutoff (two label horizons and ``max_cutoffs - 1`` steps back, as
        restock/customers/churn.py stacks them), its feature window, and the regular-buyer
        window of the hits inside it."""
        c, h = self.churn, self.hits
        return (2 * c.horizon_days + (c.max_cutoffs - 1) * c.step_days
                + max(c.window_days, h.window_days) + h.regular_window_days)

    def churn_settings(self) -> ChurnSettings:
        return ChurnSettings(**self.churn.model_dump())

    def inference_settings(self) -> InferenceSettings:
        return InferenceSettings(threshold=self.threshold)
