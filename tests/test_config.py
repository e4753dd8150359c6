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
