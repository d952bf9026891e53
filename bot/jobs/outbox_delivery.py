"""Deliver the outbox: every few seconds, send what is due, lane by lane."""

from __future__ import annotations


def register(scheduler, app) -> None:
    scheduler.add_job(
        app.outbox.run_once,
        "interval",
        seconds=app.settings.outbox_interval_seconds,
        id="outbox",
        max_instances=1,  # one sender at a time: a row is never sent twice in parallel
        coalesce=True,
        misfire_grace_time=None,
    )
