"""The morning digest: at DIGEST_TIME on working days, each operator group gets the counts of
overdue deadlines, deadlines due today and due within two working days, and the most urgent few
dozen (`/overdue` and `/due` list the rest). Rendered when sent; one per group and day."""

from __future__ import annotations

from bot.storage.models import NewOutboxMessage

MISFIRE_GRACE_SECONDS = 3 * 3600  # a bot started late in the morning still sends it


def register(scheduler, app) -> None:
    at = app.settings.digest_time
    scheduler.add_job(
        queue_digest,
        "cron",
        args=[app],
        hour=at.hour,
        minute=at.minute,
        id="morning_digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
    )


async def queue_digest(app) -> int:
    """Queue today's digest for every operator group (none on a day off); returns how many
    were queued now (a second run on the same day queues none)."""
    now = app.clock.now()
    if not app.complaints.planner.is_working_day(now):
        return 0
    day = now.astimezone(app.settings.tz).date().isoformat()
    default = app.complaints.default_group()
    messages = [
        NewOutboxMessage(
            app.complaints.operator_channel,
            group,
            "deadline_digest",
            {"group": group, "is_default": group == default},
            None,
            f"deadline_digest:{group}:{day}",
        )
        for group in app.complaints.operator_groups()
    ]
    return await app.store.outbox.add(messages=messages, now=now)
