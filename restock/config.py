"""The run configuration: one YAML file, one typed section per stage, sane defaults."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from restock.errors import ConfigError, ConfigFileNotFoundError
from restock.forecasting.settings import ForecastSettings
from restock.inventory.action_settings import ActionSettings, ErpWritebackSettings
from restock.inventory.settings import ReplenishSettings
from restock.report.settings import ReportSettings


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
    erp_writeback: ErpWritebackSettings = Field(default_factory=ErpWritebackSettings)


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
    report: ReportSettings = Field(default_factory=ReportSettings)
    actions: ActionSettings = Field(default_factory=ActionSettings)

    @classmethod
    def load(cls, path: str | Path | None) -> RestockConfig:
        """Read a YAML config file; no file means all defaults.

        Strict: an unknown key anywhere (``forcast:``, ``forecast.horizn``) raises
        :class:`restock.errors.ConfigError` naming the file, the key and the closest known
        key; so do a YAML syntax error (with its line) and a file that is not a mapping. Bad
        values still raise pydantic's ``ValidationError``; a missing file raises
        :class:`restock.errors.ConfigFileNotFoundError` (a ``FileNotFoundError``).
        """
        if path is None:
            return cls()
        p = Path(path)
        if not p.is_file():
            raise ConfigFileNotFoundError(
                f"config file not found: {p}; check the path or leave --config out for defaults"
            )
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"config file {p}:{where}: YAML syntax error: {problem}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p}: cannot read it: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p} must hold a mapping of sections")
        unknown = unknown_keys(cls, data)
        if unknown:
            raise ConfigError(f"config file {p}: " + "; ".join(unknown))
        return cls.model_validate(data)


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model behind a field annotation (``Model``, ``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [_model_of(a) for a in typing.get_args(annotation)]
        models = [m for m in models if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def unknown_keys(model: type[BaseModel], data: dict, prefix: str = "") -> list[str]:
    """One message per key of ``data`` that ``model`` (recursively) does not know.

    Each message names the dotted key and, when one is close (difflib), the known key meant:
    ``unknown key 'forecast.horizn' (did you mean 'forecast.horizon'?)``.
    """
    known: dict[str, str] = {}
    for name, info in model.model_fields.items():
        known[name] = name
        if info.alias:
            known[info.alias] = name
    problems: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else (
                f" (known: {', '.join(sorted(known))})" if not prefix else "")
            problems.append(f"unknown key '{dotted}'{hint}")
            continue
        sub = _model_of(model.model_fields[known[key]].annotation)
        if sub is not None and isinstance(value, dict):
            problems.extend(unknown_keys(sub, value, f"{dotted}."))
    return problems
