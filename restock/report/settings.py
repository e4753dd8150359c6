"""Settings of the run report (config section ``report``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReportSettings(BaseModel):
    """How the run report shows money."""

    currency: str = Field(
        "", max_length=8,
        description='label of money values, e.g. "EUR" or "$" ("" = none: values are unitless)',
    )
