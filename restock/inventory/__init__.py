"""Inventory maths: safety stock, reorder lines, stockout alerts, policy replay."""

from restock.inventory.settings import ReplenishSettings

__all__ = ["ReplenishSettings"]
