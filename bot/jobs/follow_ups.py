"""The follow-up: FOLLOW_UP_DAYS after an answer, ask the citizen "Has the problem been
solved?" with yes / no / don't know (answered by `bot/dialogs/follow_up.py`). Asked once per
answer: the question's row and its outbox row are written in one transaction."""

from __future__ import annotations

from bot.domain.complaints import ANSWERED
from bot.jobs import every_check
from bot.storage.models import NewOutboxMessage

BATCH = 200


def register(scheduler, app) -> None:
    every_check(scheduler, app, tick, "follow_ups")


async def tick(app) -> int:
    """Ask every follow-up whose day has come; returns how many were asked."""
    now = app.clock.now()
    asked = 0
    while True:
        due = await app.store.deadlines.follow_ups_due(now=now, limit=BATCH)
        for follow_up in due:
            complaint = await app.store.complaints.get(complaint_id=follow_up.complaint_id)
            citizen = complaint and await app.store.citizens.get(citizen_id=complaint.citizen_id)
            if complaint is None or citizen is None or complaint.status != ANSWERED:
                await app.store.deadlines.mark_follow_up(
                    event_id=follow_up.event_id, now=now, outcome="skipped"
                )
                continue
            message = NewOutboxMessage(
                channel=citizen.channel,
                recipient=citizen.user_key,
                citizen_id=citizen.id,
                kind="follow_up",
                payload={"complaint_id": complaint.id, "event_id": follow_up.event_id},
                dedupe_key=f"follow_up:{follow_up.event_id}",
            )
            asked += await app.store.deadlines.mark_follow_up(
                event_id=follow_up.event_id, now=now, messages=[message]
            )
        if len(due) < BATCH:
            return asked
