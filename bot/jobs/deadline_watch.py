"""The deadline watch: before each running deadline, remind the complaint's group (as a reply
to its card); once it has passed, tell the supervisors' chat and the group, once.

Each deadline row carries `watch_at`, the next moment something is due for it (the reminder,
then the escalation). A tick takes the rows whose moment has come, queues the messages and
moves `watch_at` on, in one transaction per row with a dedupe key per complaint, deadline and
date: a restart or a crash in the middle of a tick loses and doubles nothing, and a tick costs
what is due, not what is stored.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.jobs import every_check
from bot.storage.deadlines import RunningDeadline
from bot.storage.models import NewOutboxMessage

log = logging.getLogger(__name__)
BATCH = 200
PASSED = timedelta(seconds=1)  # a deadline ends at 23:59:59: it has passed a second later


def register(scheduler, app) -> None:
    every_check(scheduler, app, tick, "deadline_watch")


async def tick(app) -> int:
    """Remind and escalate what is due now; returns how many deadlines moved on."""
    now = app.clock.now()
    moved = 0
    while True:
        items = await app.store.deadlines.to_watch(now=now, limit=BATCH)
        for item in items:
            moved += await _advance(app, item, now)
        if len(items) < BATCH:
            return moved


async def _advance(app, item: RunningDeadline, now) -> bool:
    group = item.operator_group or app.complaints.default_group()
    channel = app.complaints.operator_channel
    day = item.due_at.astimezone(app.settings.tz).date().isoformat()
    payload = {
        "complaint_id": item.complaint_id,
        "kind": item.kind,
        "due_at": item.due_at.isoformat(),
    }
    messages = []
    if now <= item.due_at:  # the reminder; the escalation follows once the deadline passed
        key = f"deadline_reminder:{item.complaint_id}:{item.kind}:{day}"
        if group is not None:
            messages.append(
                NewOutboxMessage(channel, group, "deadline_reminder", payload, None, key)
            )
        return await app.store.deadlines.advance(
            item, watch_at=item.due_at + PASSED, messages=messages, now=now
        )
    key = f"deadline_escalation:{item.complaint_id}:{item.kind}:{day}"
    supervisors = app.settings.supervisor_chat_id
    if supervisors is not None:
        messages.append(
            NewOutboxMessage(channel, str(supervisors), "deadline_escalation", payload, None, key)
        )
    if group is not None and str(supervisors) != group:
        in_group = payload | {"in_group": True}
        messages.append(
            NewOutboxMessage(channel, group, "deadline_escalation", in_group, None, f"{key}:group")
        )
    return await app.store.deadlines.advance(item, watch_at=None, messages=messages, now=now)
