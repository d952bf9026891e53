"""The scheduler: one AsyncIOScheduler in the municipality's time zone with every job of
`bot.jobs` (one module per job, each with `register(scheduler, app)`)."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import (
    broadcasts,
    deadline_watch,
    follow_ups,
    hearing_reminders,
    morning_digest,
    outbox_delivery,
    survey_invitations,
)

JOBS = [
    outbox_delivery,
    deadline_watch,
    morning_digest,
    follow_ups,
    survey_invitations,
    hearing_reminders,
    broadcasts,
]


def build_scheduler(app) -> AsyncIOScheduler:
    """An AsyncIOScheduler with the app's jobs; the caller starts and shuts it down."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    for job in JOBS:
        job.register(scheduler, app)
    return scheduler
