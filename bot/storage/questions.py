"""Questions the FAQ could not answer, and the operators' answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.storage.db import from_db, to_db
from bot.storage.models import (
    NewOutboxMessage,
    Question,
)
from bot.storage.writes import (
    from_row,
    insert_outbox,
)

if TYPE_CHECKING:
    from bot.storage.store import Store


def _question(row: aiosqlite.Row) -> Question:
    return from_row(Question, row, created_at=from_db(row["created_at"]))


class QuestionRepo:
    """Questions the FAQ could not answer, and the operators' answers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        *,
        citizen_id: int,
        text: str,
        locale: str,
        now: datetime,
        notify: Callable[[Question], Iterable[NewOutboxMessage]] = lambda q: (),
    ) -> Question:
        """Store the question and queue `notify(question)` (the operator card) atomically."""
        async with self._store.transaction() as db:
            async with db.execute(
                "INSERT INTO questions (citizen_id, text, locale, created_at) VALUES (?, ?, ?, ?)"
                " RETURNING *",
                (citizen_id, text, locale, to_db(now)),
            ) as cursor:
                question = _question(await cursor.fetchone())
            for message in notify(question):
                await insert_outbox(db, message, now)
        return question

    async def get(self, *, question_id: int) -> Question | None:
        row = await self._store.fetchone("SELECT * FROM questions WHERE id = ?", (question_id,))
        return _question(row) if row else None

    async def answer(
        self,
        *,
        question_id: int,
        answer: str,
        answered_by: str,
        now: datetime,
        notify: Iterable[NewOutboxMessage] = (),
    ) -> bool:
        """Record the answer once and queue the citizen's message; False if already answered."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE questions SET status = 'answered', answer = ?, answered_by = ?,"
                " answered_at = ? WHERE id = ? AND status = 'open'",
                (answer, answered_by, to_db(now), question_id),
            )
            if cursor.rowcount != 1:
                return False
            for message in notify:
                await insert_outbox(db, message, now)
        return True

    async def open(self) -> list[Question]:
        return await self._with_status("open")

    async def answered(self) -> list[Question]:
        return await self._with_status("answered")

    async def _with_status(self, status: str) -> list[Question]:
        rows = await self._store.fetchall(
            "SELECT * FROM questions WHERE status = ? ORDER BY id", (status,)
        )
        return [_question(row) for row in rows]
