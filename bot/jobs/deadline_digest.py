"""The deadline digest for each operator group: which open complaints are due soon or late."""

from __future__ import annotations

from datetime import timedelta

from bot.dialogs.events import Reply
from bot.domain.complaints import OPEN_STATUSES
from bot.storage.models import Complaint, NewOutboxMessage


def register(scheduler, app) -> None:
    scheduler.add_job(
        queue_digest,
        "interval",
        args=[app],
        minutes=app.settings.deadline_check_minutes,
        id="deadlines",
        max_instances=1,
        coalesce=True,
    )


async def queue_digest(app, warn_days: int = 2) -> int:
    """Once a local day, tell each operator group which open complaints are due soon or late.

    Returns the number of complaints listed. The dedupe key makes repeated runs on the same
    day harmless.
    """
    now = app.clock.now()
    due = await app.store.complaints.open_due_before(
        moment=now + timedelta(days=warn_days), open_statuses=OPEN_STATUSES
    )
    by_group: dict[str, list[Complaint]] = {}
    for complaint in due:
        group = app.complaints.group_of(complaint)
        if group is not None:
            by_group.setdefault(str(group), []).append(complaint)
    t = app.notices.complaints.operator_texts()
    _ = t.gettext
    today = now.astimezone(app.settings.tz).date().isoformat()
    messages = []
    for group, complaints in by_group.items():
        lines = [_("Deadlines: these complaints need an answer soon.")]
        for complaint in complaints:
            template = (
                _("No. {number}: overdue since {date}")
                if complaint.due_at < now
                else _("No. {number}: due {date}")
            )
            lines.append(
                "• " + template.format(number=complaint.reg_number, date=t.date(complaint.due_at))
            )
        messages.append(
            NewOutboxMessage(
                channel=app.complaints.operator_channel,
                recipient=group,
                kind="deadline_digest",
                payload={"replies": [Reply(text="\n".join(lines)).to_dict()]},
                dedupe_key=f"deadline_digest:{group}:{today}",
            )
        )
    await app.store.outbox.add(messages=messages, now=now)
    return len(due)
