"""Settings of transfers and purchase order proposals (the ``actions:`` section of the run config)
and of the ERP write-back (``publish.erp_writeback``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the library modules import scipy: only when the settings are used
    from restock.inventory.purchase_orders import PurchaseOrderSettings
    from restock.inventory.transfers import TransferSettings


class TransferConfig(BaseModel):
    """How transfers between locations are planned (restock.inventory.transfers)."""

    enabled: bool = Field(True, description="plan transfers before the purchase orders")
    default_lanes: bool = Field(
        False,
        description="add a lane between every pair of locations of the same region (locations "
        "table) where transfer_lanes has none; off: only the feed's lanes (no lanes: no "
        "transfers, reorder lines as without the feature)",
    )
    default_lane_lead_time_days: float = Field(1.0, ge=0)
    default_lane_cost_per_unit: float = Field(0.0, ge=0)
    min_cut_per_unit: float = Field(
        1e-3, ge=0, description="move a chunk only when it cuts the destination's stockout "
        "probability by at least this much per unit")
    max_chunk: int = Field(500, ge=1, description="largest chunk of units one greedy step moves")

    def to_settings(self, default_service_level: float = 0.95) -> TransferSettings:
        """The library's TransferSettings."""
        from restock.inventory.transfers import TransferSettings

        return TransferSettings(
            default_lanes=self.default_lanes,
            default_lane_lead_time_days=self.default_lane_lead_time_days,
            default_lane_cost_per_unit=self.default_lane_cost_per_unit,
            default_service_level=default_service_level,
            min_cut_per_unit=self.min_cut_per_unit,
            max_chunk=self.max_chunk,
        )


class PurchaseOrderConfig(BaseModel):
    """How reorder lines become purchase order proposals (restock.inventory.purchase_orders)."""

    unknown_supplier: str = Field("(no supplier)", min_length=1,
                                  description="supplier name of products without one")
    first_order_offset_days: int = Field(
        0, ge=0, description="order days count from as_of + this (0: an order may go out on "
        "as_of)")

    def to_settings(self) -> PurchaseOrderSettings:
        """The library's PurchaseOrderSettings."""
        from restock.inventory.purchase_orders import PurchaseOrderSettings

        return PurchaseOrderSettings(unknown_supplier=self.unknown_supplier,
                                     first_order_offset_days=self.first_order_offset_days)


class ActionSettings(BaseModel):
    """From reorder lines to what a buyer does: transfers first, then orders per supplier."""

    transfers: TransferConfig = Field(default_factory=TransferConfig)
    purchase_orders: PurchaseOrderConfig = Field(default_factory=PurchaseOrderConfig)


class ErpWritebackSettings(BaseModel):
    """Write the purchase order proposals into the ERP database after publication.

    Off unless ``url_env`` names an environment variable (the SQLAlchemy URL, password included,
    stays in the environment: never in the config file or the logs).
    """

    url_env: str | None = Field(
        None, description="environment variable holding the ERP's SQLAlchemy URL; unset = off")
    table: str = Field("restock_purchase_orders", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    db_schema: str | None = Field(None, alias="schema",
                                  pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

    model_config = {"populate_by_name": True}
