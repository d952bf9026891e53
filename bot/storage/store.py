"""Repositories over one SQLite connection. All SQL of the project lives in `bot/storage/`.

One connection is shared by every coroutine, so each repository call holds the store's lock for
its statement or transaction: without it, one coroutine's statements could land inside another
coroutine's open transaction.

Each trip to aiosqlite's worker thread costs about 0.17 ms of event-loop wake-ups against a few
microseconds of SQL for the indexed statements of a dialog step or of one outbox row. So:
- `run(fn)` / `atomic(fn)` run a whole synchronous function (a transaction: BEGIN, statements,
  COMMIT) in ONE trip, never one trip per statement;
- with `inline=True` (only for statements that touch a handful of rows through an index) the
  function runs right on the event loop's thread, holding the same lock, with no wait at all for
  another process's write lock: if the database is busy, it is rolled back and run again in the
  worker thread, which waits as long as `busy_timeout` allows. Long queries never run inline.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.broadcasts import BroadcastRepo
from bot.storage.check_attempts import CheckAttemptRepo
from bot.storage.citizens import CitizenRepo
from bot.storage.complaint_media import ComplaintMediaRepo
from bot.storage.complaint_messages import ComplaintMessageRepo
from bot.storage.complaints import ComplaintRepo
from bot.storage.conversations import ConversationRepo
from bot.storage.db import BUSY_TIMEOUT_MS, connect
from bot.storage.deadlines import DeadlineRepo
from bot.storage.hearings import HearingRepo
from bot.storage.inbound import InboundRepo
from bot.storage.outbox import OutboxRepo
from bot.storage.questions import QuestionRepo
from bot.storage.surveys import SurveyRepo

T = TypeVar("T")
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED


class _Busy(Exception):
    """Another connection holds the write lock: the inline attempt was undone."""


def _patiently(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """In the worker thread: `fn` may wait up to `busy_timeout` for another process's lock."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _in_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """`fn(conn, *args)` in one IMMEDIATE transaction; rolled back if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Store:
    """The database and its repositories, one module per aggregate (`bot/storage/<name>.py`)."""

    def __init__(self, db: aiosqlite.Connection, *, inline: bool = True) -> None:
        self.db = db
        self.lock = asyncio.Lock()
        self.inline = inline  # STORE_INLINE=false: every statement through the worker thread
        self._raw: sqlite3.Connection = db._conn  # the sqlite3 connection behind aiosqlite
        # Never wait for another process's lock on the event loop's thread: only the worker
        # thread waits (`_patiently`), for as long as `busy_timeout` allows.
        self._raw.execute("PRAGMA busy_timeout = 0")
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
    async def open(cls, path: Path | str, *, inline: bool = True) -> Store:
        return cls(await connect(path), inline=inline)

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the lock and run the block in one IMMEDIATE transaction."""
        async with self.lock:
            await self.db._execute(_patiently, self._raw, _begin_immediate)
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def run(self, fn: Callable[..., T], *args: Any, inline: bool = False) -> T:
        """`fn(conn, *args)` with the lock held, in one trip: on the sqlite3 connection in
        aiosqlite's thread, or (`inline`, for a few indexed rows) right here. `fn` must be a
        single statement or a whole transaction (`atomic`), so that a busy database leaves
        nothing half done when the inline attempt gives way to the thread."""
        async with self.lock:
            if inline and self.inline:
                try:
                    return self._inline(fn, args)
                except _Busy:
                    pass
            return await self.db._execute(_patiently, self._raw, fn, *args)

    async def atomic(self, fn: Callable[..., T], *args: Any, inline: bool = False) -> T:
        """`fn(conn, *args)` in one IMMEDIATE transaction, in one trip (see `run`)."""
        return await self.run(_in_transaction, fn, *args, inline=inline)

    def _inline(self, fn: Callable[..., T], args: tuple) -> T:
        raw = self._raw
        try:
            return fn(raw, *args)
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) in _BUSY_CODES:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise _Busy from error
            raise

    async def fetchone(
        self, sql: str, params: Iterable[Any] = (), *, inline: bool = False
    ) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params, inline=inline)
        return rows[0] if rows else None

    async def fetchall(
        self, sql: str, params: Iterable[Any] = (), *, inline: bool = False
    ) -> list[aiosqlite.Row]:
        """One statement's rows, in one trip (not three: execute, fetch, close)."""
        return await self.run(_fetchall, sql, tuple(params), inline=inline)

    async def execute(self, sql: str, params: Iterable[Any] = (), *, inline: bool = False) -> int:
        """Run one statement; returns the number of rows it changed."""
        return await self.run(_execute, sql, tuple(params), inline=inline)


def _begin_immediate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _fetchall(conn: sqlite3.Connection, sql: str, params: tuple) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _execute(conn: sqlite3.Connection, sql: str, params: tuple) -> int:
    return conn.execute(sql, params).rowcount
