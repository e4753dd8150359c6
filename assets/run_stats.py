"""Step durations of a run, as the Dagster instance recorded them (what the UI's timeline shows).

Read by the report asset (the stages that ran before it) and by `restock run` (every step).
"""

from __future__ import annotations

import dagster as dg


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds per finished step of ``run_id`` (an asset or a check), in the order they started.

    The instance keeps each step's start and end from the run's event log; a step still running
    (the caller's own) has no end yet and is left out. A retried step counts from its first
    start to its last end.
    """
    stats = [s for s in instance.get_run_step_stats(run_id)
             if s.start_time is not None and s.end_time is not None]
    stats.sort(key=lambda s: s.start_time)
    return {s.step_key: round(float(s.end_time - s.start_time), 2) for s in stats}
