"""Scheduled jobs, one module per job. Each job reads all its work from the store, holds no
state and is idempotent, so a restart or a crash in the middle loses and doubles nothing."""

from __future__ import annotations


def every_check(scheduler, app, tick, job_id: str) -> None:
    """Run `tick(app)` every DEADLINE_CHECK_MINUTES, one at a time (a late run is merged into
    the next, never run twice side by side)."""
    scheduler.add_job(
        tick,
        "interval",
        args=[app],
        minutes=app.settings.deadline_check_minutes,
        id=job_id,
        max_instances=1,
        coalesce=True,
    )
