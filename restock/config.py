"""The run configuration: one YAML file, one typed section per stage, sane defaults."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from restock.forecasting.settings import ForecastSettings
from restock.inventory.settings import ReplenishSettings


class QualitySettings(BaseModel):
    """Data-quality gate thresholds."""

    volume_change_warn: float = Field(0.5, description="warn when rows change by more than this")
    outlier_factor: float = Field(
        20.0, description="flag a day above this multiple of the series' recent median"
    )
    freshness_days: int = Field(3, description="latest sales date may lag as_of by this much")
    max_order_multiple: float = Field(
        50.0, description="an order above this multiple of the max 28-day demand is absurd"
    )
    order_floor_units: float = Field(
        100.0, description="orders up to this many units are never called absurd (tiny series)"
    )


class PublishSettings(BaseModel):
    """Where the published tables go."""

    duckdb: bool = True
    duckdb_storage_version: str = "v1.0.0"
    parquet: bool = True
    postgres_url_env: str | None = Field(
        None, description="name of the environment variable holding the SQLAlchemy URL"
    )
    postgres_schema: str = "restock"


class SourceSettings(BaseModel):
    """Where the feed comes from: a feed directory (default) or an ERP database."""

    kind: str = Field("feed", pattern="^(feed|sql)$")
    url_env: str | None = Field(None, description="environment variable with the SQLAlchemy URL")
    mapping: str | None = Field(None, description="YAML file mapping contract tables to the ERP")
    full_reload: bool = False


class WarehouseSettings(BaseModel):
    """How the work DB (DuckDB) may use the machine."""

    duckdb_memory_limit: str = Field(
        "3GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB's memory_limit for every work-DB connection and dbt; DuckDB "
        "spills to disk beyond it (its default, 80% of RAM, let the ingest of an M5-size feed "
        "hold 10 GB)",
    )


class RestockConfig(BaseModel):
    """Everything a run can be told, with defaults for all of it."""

    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    replenish: ReplenishSettings = Field(default_factory=ReplenishSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)

    @classmethod
    def load(cls, path: str | Path | None) -> RestockConfig:
        """Read a YAML config file; no file means all defaults."""
        if path is None:
            return cls()
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {p} must hold a mapping of sections")
        return cls.model_validate(data)
