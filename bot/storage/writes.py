"""Writes shared by the repositories inside one transaction: outbox rows, the conversation, the
inbound mark, and ids known only inside the transaction."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

import aiosqlite

from bot.storage.db import to_db
from bot.storage.models import (
    Conversation,
    InboundRef,
    NewOutboxMessage,
    Step,
    lane_of,
)


async def insert_outbox(db: aiosqlite.Connection, message: NewOutboxMessage, now: datetime) -> int:
    """Queue one message; 0 when its dedupe key is queued already, else 1."""
    cursor = await db.execute(
        "INSERT INTO outbox (channel, recipient, citizen_id, kind, payload, dedupe_key,"
        " next_attempt_at, created_at, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (
            message.channel,
            message.recipient,
            message.citizen_id,
            message.kind,
            json.dumps(message.payload, ensure_ascii=False),
            message.dedupe_key,
            to_db(now),
            to_db(now),
            lane_of(message.kind) if message.lane is None else message.lane,
        ),
    )
    return cursor.rowcount


async def save_conversation(
    db: aiosqlite.Connection, citizen_id: int, conversation: Conversation, now: datetime
) -> None:
    await db.execute(
        "INSERT INTO conversations (citizen_id, state, data, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (citizen_id) DO UPDATE SET state = excluded.state,"
        " data = excluded.data, updated_at = excluded.updated_at",
        (
            citizen_id,
            conversation.state,
            json.dumps(conversation.data, ensure_ascii=False),
            to_db(now),
        ),
    )


async def mark_inbound_done(db: aiosqlite.Connection, inbound: InboundRef) -> None:
    await db.execute(
        "UPDATE inbound_messages SET status = 'done', params = '{}'"
        " WHERE channel = ? AND message_sid = ?",
        (inbound.channel, inbound.message_sid),
    )


async def apply_step(db: aiosqlite.Connection, step: Step) -> None:
    """Write what one handled event leaves behind, inside the caller's transaction."""
    await save_conversation(db, step.citizen_id, step.conversation, step.now)
    for message in step.messages:
        await insert_outbox(db, message, step.now)
    if step.inbound is not None:
        await mark_inbound_done(db, step.inbound)


def from_row(cls, row: aiosqlite.Row, **converted: Any):
    """Build a dataclass from the row's columns of the same names; `converted` overrides."""
    columns = set(row.keys())
    values = {f.name: row[f.name] for f in fields(cls) if f.name in columns}
    return cls(**(values | converted))


def bind_ids(
    message: NewOutboxMessage, complaint_id: int, event_id: int | None = None
) -> NewOutboxMessage:
    """Fill in the ids known only inside the transaction.

    `{complaint_id}` in the dedupe key is replaced, and the payload keys `complaint_id` and
    `event_id` set to None get the ids.
    """
    key = message.dedupe_key
    if key and "{complaint_id}" in key:
        key = key.replace("{complaint_id}", str(complaint_id))
    ids = {"complaint_id": complaint_id, "event_id": event_id}
    payload = {k: ids[k] if k in ids and v is None else v for k, v in message.payload.items()}
    return replace(message, payload=payload, dedupe_key=key)
