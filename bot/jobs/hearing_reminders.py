"""Queue the hearing reminders now due (default 2 days and 2 hours before; per hearing in its
file). Each reminder is keyed by hearing, version, offset and citizen, so running the job again,
or after a restart, queues nothing twice; a hearing moved since gets reminders for its new time
only (the old ones are dropped with the change)."""

from __future__ import annotations

REMINDER_CHECK_SECONDS = 60


def register(scheduler, app) -> None:
    scheduler.add_job(
        app.hearings.queue_reminders,
        "interval",
        seconds=REMINDER_CHECK_SECONDS,
        id="hearing_reminders",
        max_instances=1,
        coalesce=True,
    )
