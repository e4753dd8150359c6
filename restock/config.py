"""The run configuration: one YAML file, one typed section per stage, sane defaults."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, model_validator

from restock.alerting import AlertConfigError, AlertingConfig, Route, parse_alerting, parse_routes
from restock.customers.settings import CustomerSettings
from restock.errors import ConfigError, ConfigFileNotFoundError
from restock.forecasting.settings import ForecastSettings
from restock.history import HistorySettings
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
    allow_stale: bool = Field(
        False, description="a feed older than freshness_days warns instead of blocking "
        "publication (`restock run --allow-stale`: a backfill or a deliberate what-if run)"
    )
    max_order_multiple: float = Field(
        50.0, description="an order above this multiple of the max 28-day demand is absurd"
    )
    order_floor_units: float = Field(
        100.0, description="orders up to this many units are never called absurd (tiny series)"
    )
    max_forecast_multiple: float = Field(
        5.0,
        gt=0,
        description="a daily forecast or quantile above this multiple of the series' max daily "
        "demand, or a cumulative quantile over k days above it times the max k-day total, "
        "blocks publication (check_forecast_magnitudes)",
    )
    forecast_floor_units: float = Field(
        10.0,
        ge=0,
        description="daily forecasts and quantiles up to this many units (k times it for a "
        "k-day total) are never called implausible: slow movers and cold starts",
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
    parquet_keep_versions: int = Field(
        3, ge=1, description="Parquet version folders kept (the live one and the newest before it)"
    )
    parquet_grace_seconds: float = Field(
        600.0, ge=0, description="an older Parquet version is deleted only after this long, so a "
        "reader that opened it can finish"
    )
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


_ALERTING = AlertingConfig()
#: the environment variable of today's generic webhook (also the default route's ``url_env``)
ALERT_WEBHOOK_ENV = "RESTOCK_ALERT_WEBHOOK_URL"


class AlertingSettings(BaseModel):
    """Alerts to people (config key ``alerting``; docs/ALERTS.md). Validated as a whole by
    ``restock.alerting.parse_alerting``, so a bad route fails at load and in preflight."""

    top_n: int = Field(_ALERTING.top_n, description="alerts listed per digest")
    dedup_days: float = Field(
        _ALERTING.dedup_days, description="an alert for the same sku+location is not repeated "
        "within this many days (unless its severity rose)"
    )
    timeout_seconds: float = Field(_ALERTING.timeout_seconds,
                                   description="per HTTP request / SMTP connection")
    retries: int = Field(_ALERTING.retries, description="after the first attempt, on 5xx / 429 / "
                         "connection errors")
    alert_routes: list[dict] = Field(
        default_factory=list, description="owner, match (category/location) or default, channels"
    )

    @model_validator(mode="after")
    def _routes_are_valid(self) -> AlertingSettings:
        parse_alerting(self.model_dump())  # AlertConfigError is a ValueError: pydantic reports it
        return self

    def parsed(self) -> AlertingConfig:
        """The validated section: routes with their channels, digest size, window, delivery."""
        return parse_alerting(self.model_dump())


def alert_routes(config: RestockConfig, env: Mapping[str, str]) -> tuple[list[Route], dict]:
    """The routes to dispatch a run's alerts on, and the environment to resolve them in.

    ``alerting.alert_routes`` when given. Without routes, the generic webhook of before
    (``RESTOCK_ALERT_WEBHOOK_URL``, else ``replenish.alert_webhook_url``) becomes the default
    route, so a setup that only has the URL keeps receiving every alert; neither set: no routes.
    """
    environment = dict(env)
    routes = config.alerting.parsed().routes
    if routes:
        return routes, environment
    url = environment.get(ALERT_WEBHOOK_ENV) or config.replenish.alert_webhook_url
    if not url:
        return [], environment
    environment[ALERT_WEBHOOK_ENV] = url
    return parse_routes([{"owner": "Alert webhook", "default": True,
                          "channels": [{"type": "webhook", "url_env": ALERT_WEBHOOK_ENV}]}]), \
        environment


class RestockConfig(BaseModel):
    """Everything a run can be told, with defaults for all of it."""

    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    replenish: ReplenishSettings = Field(default_factory=ReplenishSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
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
        try:
            parse_alerting(data.get("alerting"))
        except AlertConfigError as exc:
            raise ConfigError(f"config file {p}: alerting: {exc}") from None
        return cls.model_validate(data)

    def follow_feed_objective(self, feed_dir: str | Path, path: str | Path | None) -> str | None:
        """Set ``replenish.objective`` from the feed's sales when the file at ``path`` (None: no
        file) chooses no objective (neither ``objective`` nor the older ``service_level_mode``).

        Issue 15: an order-driven feed (UCI Online Retail's wholesale lines) is judged on lost
        units, so it defaults to ``fill_rate``; store sales keep ``cycle_service``
        (:func:`restock.inventory.objective.suggest_objective` has the rule and its
        measurements). Returns the log line when it changed the objective, else None.
        """
        if path is not None:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            chosen = data.get("replenish") or {}
            if "objective" in chosen or "service_level_mode" in chosen:
                return None
        from restock.inventory.objective import suggest_feed_objective

        objective, evidence = suggest_feed_objective(Path(feed_dir))
        if objective == self.replenish.objective or evidence is None:
            return None
        fields = self.replenish.model_dump(exclude={"service_level_mode"})
        self.replenish = ReplenishSettings.model_validate({**fields, "objective": objective})
        return (f"replenish.objective {objective} (not set in the config; suggested by the feed's "
                f"sales: {evidence['customer_share']:.0%} of lines with a customer, "
                f"{evidence['customers']:,} customers, median {evidence['median_units_per_line']:g}"
                f" units a line); set replenish.objective to choose")


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
