"""Repositories over one SQLite connection. All SQL of the project lives in `bot/storage/`.

One connection is shared by every coroutine, so each repository call holds the store's lock for
its statement or transaction: without it, one coroutine's statements could land inside another
coroutine's open transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.broadcasts import BroadcastRepo
from bot.storage.check_attempts import CheckAttemptRepo
from bot.storage.citizens import CitizenRepo
from bot.storage.complaint_media import ComplaintMediaRepo
from bot.storage.complaint_messages import ComplaintMessageRepo
from bot.storage.complaints import ComplaintRepo
from bot.storage.conversations import ConversationRepo
from bot.storage.db import connect
from bot.storage.deadlines import DeadlineRepo
from bot.storage.hearings import HearingRepo
from bot.storage.inbound import InboundRepo
from bot.storage.outbox import OutboxRepo
from bot.storage.questions import QuestionRepo
from bot.storage.surveys import SurveyRepo


class Store:
    """The database and its repositories, one module per aggregate (`bot/storage/<name>.py`)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.lock = asyncio.Lock()
        self.citizens = CitizenRepo(self)
        self.conversations = ConversationRepo(self)
        self.complaints = ComplaintRepo(self)
        self.outbox = OutboxRepo(self)
        self.inbound = InboundRepo(self)
        self.questions = QuestionRepo(self)
        self.check_attempts = CheckAttemptRepo(self)
        self.complaint_media = ComplaintMediaRepo(self)
        self.complaint_messages = ComplaintMessageRepo(self)
        self.deadlines = DeadlineRepo(self)
        self.surveys = SurveyRepo(self)
        self.hearings = HearingRepo(self)
        self.broadcasts = BroadcastRepo(self)

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        return cls(await connect(path))

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the lock and run the block in one IMMEDIATE transaction."""
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # one trip to aiosqlite's thread instead of three (execute, fetch, close)
        async with self.lock:
            return list(await self.db.execute_fetchall(sql, tuple(params)))

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        async with self.lock:
            cursor = await self.db.execute(sql, tuple(params))
            return cursor.rowcount
