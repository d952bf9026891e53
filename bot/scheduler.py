"""Background jobs: deliver the outbox, and watch the legal deadlines. Each job reads its work
from the store, so a restart loses nothing."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import broadcasts, hearing_reminders

log = logging.getLogger(__name__)


def build_scheduler(app) -> AsyncIOScheduler:
    """An AsyncIOScheduler with the app's jobs; the caller starts and shuts it down."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    scheduler.add_job(
        app.outbox.run_once,
        "interval",
        seconds=app.settings.outbox_interval_seconds,
        id="outbox",
        max_instances=1,  # one sender at a time: a row is never sent twice in parallel
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        app.complaints.queue_deadline_digest,
        "interval",
        minutes=app.settings.deadline_check_minutes,
        id="deadlines",
        max_instances=1,
        coalesce=True,
    )
    hearing_reminders.register(scheduler, app)
    broadcasts.register(scheduler, app)
    return scheduler
