"""The thread of a complaint after filing: the citizen's additions, the operators' clarifying
questions and the citizen's answers. Each is written in one transaction with what it causes
(the copy for the operator group, the question for the citizen, the citizen's dialog step)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.storage.db import from_db, to_db
from bot.storage.models import NewOutboxMessage, Step
from bot.storage.writes import apply_step, insert_outbox

if TYPE_CHECKING:
    from bot.storage.store import Store

ADDITION, QUESTION, ANSWER = "addition", "question", "answer"


@dataclass(frozen=True)
class ComplaintMessage:
    id: int
    complaint_id: int
    kind: str
    body: str | None
    photos: tuple[str, ...]
    asked_by: str | None
    answers: int | None
    created_at: datetime


def _message(row: aiosqlite.Row) -> ComplaintMessage:
    return ComplaintMessage(
        row["id"],
        row["complaint_id"],
        row["kind"],
        row["body"],
        tuple(json.loads(row["photos"])),
        row["asked_by"],
        row["answers"],
        from_db(row["created_at"]),
    )


class ComplaintMessageRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self,
        *,
        complaint_id: int,
        kind: str,
        body: str | None,
        now: datetime,
        photos: Iterable[str] = (),
        asked_by: str | None = None,
        answers: int | None = None,
        dedupe_key: str | None = None,
        notify: Iterable[NewOutboxMessage] = (),
        step: Step | None = None,
    ) -> int | None:
        """Store one message of the thread with its notices (their payload's `message_id`
        None is filled in) and the dialog step; None when `dedupe_key` was stored before."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "INSERT INTO complaint_messages (complaint_id, kind, body, photos, asked_by,"
                " answers, dedupe_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (
                    complaint_id,
                    kind,
                    body,
                    json.dumps(list(photos)),
                    asked_by,
                    answers,
                    dedupe_key,
                    to_db(now),
                ),
            )
            if not rows:
                return None
            message_id = rows[0][0]
            for message in notify:
                payload = {**message.payload}
                if payload.get("message_id", 0) is None:
                    payload["message_id"] = message_id
                key = message.dedupe_key and message.dedupe_key.format(message_id=message_id)
                await insert_outbox(db, replace(message, payload=payload, dedupe_key=key), now)
            if step is not None:
                await apply_step(db, step)
        return message_id

    async def get(self, *, message_id: int) -> ComplaintMessage | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaint_messages WHERE id = ?", (message_id,)
        )
        return _message(row) if row else None

    async def answer_to(self, *, question_id: int) -> ComplaintMessage | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaint_messages WHERE answers = ? ORDER BY id LIMIT 1",
            (question_id,),
        )
        return _message(row) if row else None

    async def of_complaint(self, *, complaint_id: int) -> list[ComplaintMessage]:
        rows = await self._store.fetchall(
            "SELECT * FROM complaint_messages WHERE complaint_id = ? ORDER BY id",
            (complaint_id,),
        )
        return [_message(row) for row in rows]
