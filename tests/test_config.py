"""The example config documents the real defaults; bad config fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from restock.config import RestockConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "restock.example.yml"


def test_example_config_matches_the_defaults():
    assert RestockConfig.load(EXAMPLE) == RestockConfig()


def test_partial_config_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "my.yml"
    path.write_text("forecast:\n  horizon: 42\nreplenish:\n  review_days: 14\n")
    cfg = RestockConfig.load(path)
    assert cfg.forecast.horizon == 42 and cfg.replenish.review_days == 14
    assert cfg.forecast.folds == RestockConfig().forecast.folds


def test_bad_values_and_missing_files_fail_clearly(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("forecast:\n  horizon: 0\n")
    with pytest.raises(ValidationError, match="horizon"):
        RestockConfig.load(path)
    with pytest.raises(FileNotFoundError, match="config file not found"):
        RestockConfig.load(tmp_path / "nope.yml")


def test_a_bad_alert_route_fails_at_load_in_one_line(tmp_path):
    from restock.errors import ConfigError

    path = tmp_path / "alerts.yml"
    path.write_text("alerting:\n  alert_routes:\n    - owner: Ana\n      default: true\n"
                    "      channels: [{type: slak, url_env: SLACK_URL}]\n")
    with pytest.raises(ConfigError, match=r"alert_routes\[0\] \(Ana\).*did you mean 'slack'"):
        RestockConfig.load(path)
    path.write_text("alerting:\n  top_m: 3\n")
    with pytest.raises(ConfigError, match="did you mean 'alerting.top_n'"):
        RestockConfig.load(path)


def test_alert_routes_from_config_or_todays_webhook(tmp_path):
    from restock.config import alert_routes

    path = tmp_path / "routes.yml"
    path.write_text("alerting:\n  top_n: 5\n  alert_routes:\n    - owner: Ana\n"
                    "      match: {category: FOODS*}\n"
                    "      channels: [{type: slack, url_env: SLACK_URL}]\n")
    cfg = RestockConfig.load(path)
    assert cfg.alerting.parsed().top_n == 5
    routes, _ = alert_routes(cfg, {"RESTOCK_ALERT_WEBHOOK_URL": "http://x/hook"})
    assert [r.owner for r in routes] == ["Ana"]  # configured routes win over the old URL

    assert alert_routes(RestockConfig(), {}) == ([], {})
    routes, env = alert_routes(RestockConfig(), {"RESTOCK_ALERT_WEBHOOK_URL": "http://x/hook"})
    [route] = routes
    assert route.default and [c.type for c in route.channels] == ["webhook"]
    assert env["RESTOCK_ALERT_WEBHOOK_URL"] == "http://x/hook"
    inline = RestockConfig.model_validate({"replenish": {"alert_webhook_url": "http://y/hook"}})
    routes, env = alert_routes(inline, {})
    assert len(routes) == 1 and env["RESTOCK_ALERT_WEBHOOK_URL"] == "http://y/hook"
