"""Shared fixtures: where the real data sets are, a small demo feed, one end-to-end run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("DO_NOT_TRACK", "1")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when the data sets are absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data set not available: {path} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def small_demo_feed(tmp_path_factory) -> Path:
    """A small deterministic demo feed (every contract table), shared by the whole session."""
    from restock.feed.demo import generate_demo_feed

    out = tmp_path_factory.mktemp("demo") / "feed"
    generate_demo_feed(out, seed=11, n_skus=40, years=2)
    return out
