"""Alerts to people: channels, routing to owners, one digest per owner per run, de-duplication.

A plain library (no Dagster): the alert sensor calls ``parse_routes`` on the config's
``alert_routes`` and ``dispatch_alerts`` on a newly published run's alerts. See docs/ALERTS.md.
"""

from restock.alerting.channels import (
    Channel,
    dingtalk_payload,
    dingtalk_sign,
    feishu_payload,
    feishu_sign,
    slack_payload,
    teams_payload,
    webhook_payload,
    wecom_payload,
)
from restock.alerting.delivery import DeliveryError, HttpOptions, post_json
from restock.alerting.digest import (
    DEFAULT_LEGEND,
    Digest,
    alerts_payload,
    build_digest,
    severity_legend,
    severity_legend_from,
)
from restock.alerting.dispatch import ChannelResult, DispatchReport, OwnerResult, dispatch_alerts
from restock.alerting.routes import (
    AlertConfigError,
    AlertingConfig,
    Route,
    parse_alerting,
    parse_routes,
    route_for,
)
from restock.alerting.state import SentState
from restock.secrets import mask_url

__all__ = [
    "AlertConfigError", "AlertingConfig", "Channel", "ChannelResult", "DEFAULT_LEGEND",
    "DeliveryError", "Digest", "DispatchReport", "HttpOptions", "OwnerResult", "Route",
    "SentState", "alerts_payload", "build_digest", "dingtalk_payload", "dingtalk_sign",
    "dispatch_alerts", "feishu_payload", "feishu_sign", "mask_url",
    "parse_alerting", "parse_routes", "post_json", "route_for", "severity_legend",
    "severity_legend_from", "slack_payload", "teams_payload", "webhook_payload", "wecom_payload",
]
