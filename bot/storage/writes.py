"""Writes shared by the repositories inside one transaction: outbox rows, the conversation, the
inbound mark, and ids known only inside the transaction."""

from __future__ import annotations

import json
import sqlite3
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

_INSERT_OUTBOX = (
    "INSERT INTO outbox (channel, recipient, citizen_id, kind, payload, dedupe_key,"
    " next_attempt_at, created_at, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_SAVE_CONVERSATION = (
    "INSERT INTO conversations (citizen_id, state, data, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (citizen_id) DO UPDATE SET state = excluded.state,"
    " data = excluded.data, updated_at = excluded.updated_at"
)
_MARK_INBOUND_DONE = (
    "UPDATE inbound_messages SET status = 'done', params = '{}'"
    " WHERE channel = ? AND message_sid = ?"
)


def _outbox_params(message: NewOutboxMessage, now: datetime) -> tuple:
    return (
        message.channel,
        message.recipient,
        message.citizen_id,
        message.kind,
        json.dumps(message.payload, ensure_ascii=False),
        message.dedupe_key,
        to_db(now),
        to_db(now),
        lane_of(message.kind) if message.lane is None else message.lane,
    )


def _conversation_params(citizen_id: int, conversation: Conversation, now: datetime) -> tuple:
    return (
        citizen_id,
        conversation.state,
        json.dumps(conversation.data, ensure_ascii=False),
        to_db(now),
    )


async def insert_outbox(db: aiosqlite.Connection, message: NewOutboxMessage, now: datetime) -> int:
    """Queue one message; 0 when its dedupe key is queued already, else 1."""
    cursor = await db.execute(_INSERT_OUTBOX, _outbox_params(message, now))
    return cursor.rowcount


async def save_conversation(
    db: aiosqlite.Connection, citizen_id: int, conversation: Conversation, now: datetime
) -> None:
    await db.execute(_SAVE_CONVERSATION, _conversation_params(citizen_id, conversation, now))


async def mark_inbound_done(db: aiosqlite.Connection, inbound: InboundRef) -> None:
    await db.execute(_MARK_INBOUND_DONE, (inbound.channel, inbound.message_sid))


async def apply_step(db: aiosqlite.Connection, step: Step) -> None:
    """Write what one handled event leaves behind, inside the caller's transaction."""
    await save_conversation(db, step.citizen_id, step.conversation, step.now)
    for message in step.messages:
        await insert_outbox(db, message, step.now)
    if step.inbound is not None:
        await mark_inbound_done(db, step.inbound)


# The same writes on the plain sqlite3 connection, for a whole transaction in one trip
# (`Store.atomic`): the hot path of every message.


def insert_outbox_now(conn: sqlite3.Connection, message: NewOutboxMessage, now: datetime) -> int:
    """`insert_outbox` on the plain sqlite3 connection (one trip for a whole transaction)."""
    return conn.execute(_INSERT_OUTBOX, _outbox_params(message, now)).rowcount


def save_conversation_now(
    conn: sqlite3.Connection, citizen_id: int, conversation: Conversation, now: datetime
) -> None:
    conn.execute(_SAVE_CONVERSATION, _conversation_params(citizen_id, conversation, now))


def mark_inbound_done_now(conn: sqlite3.Connection, inbound: InboundRef) -> None:
    conn.execute(_MARK_INBOUND_DONE, (inbound.channel, inbound.message_sid))


def apply_step_now(conn: sqlite3.Connection, step: Step) -> None:
    """`apply_step` on the plain connection, inside the caller's transaction."""
    save_conversation_now(conn, step.citizen_id, step.conversation, step.now)
    for message in step.messages:
        insert_outbox_now(conn, message, step.now)
    if step.inbound is not None:
        mark_inbound_done_now(conn, step.inbound)


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
