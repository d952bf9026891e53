"""The deadlines of complaints, the follow-up questions after answers, and the queries the
deadline watch, the morning digest and the operators' /overdue and /due commands run.

The watch reads only rows whose `watch_at` has come (a partial index), and the digest only
deadlines still running (another), so their cost follows what is due, not what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.domain.deadlines import Deadline
from bot.storage.db import from_db, to_db
from bot.storage.models import NewOutboxMessage, Step
from bot.storage.writes import apply_step, insert_outbox

if TYPE_CHECKING:
    from bot.storage.store import Store

# Deadlines the operators act on (registration is the bot's own and met at once).
WATCHED = ("acknowledgement", "forwarding", "answer")
_WATCHED_SQL = ",".join(f"'{kind}'" for kind in WATCHED)


@dataclass(frozen=True)
class RunningDeadline:
    """A deadline still running, with what the watch and the digest need of its complaint."""

    complaint_id: int
    reg_number: str
    category: str
    operator_group: str | None
    kind: str
    due_at: datetime
    remind_at: datetime
    watch_at: datetime | None


@dataclass(frozen=True)
class GroupScope:
    """One operator group; the default group also holds complaints with no group stored."""

    chat: str
    is_default: bool = False


@dataclass(frozen=True)
class FollowUp:
    event_id: int
    complaint_id: int
    ask_at: datetime
    asked_at: datetime | None
    outcome: str | None


async def insert_deadlines(
    db: aiosqlite.Connection, complaint_id: int, deadlines: Iterable[Deadline]
) -> None:
    """Write (or replace) deadlines inside the caller's transaction; a running one is watched
    from its reminder moment."""
    for deadline in deadlines:
        watch = None if deadline.met_at else deadline.remind_at
        await db.execute(
            "INSERT INTO complaint_deadlines (complaint_id, kind, due_at, original_due_at,"
            " remind_at, met_at, watch_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (complaint_id, kind) DO UPDATE SET due_at = excluded.due_at,"
            " original_due_at = excluded.original_due_at, remind_at = excluded.remind_at,"
            " met_at = excluded.met_at, watch_at = excluded.watch_at",
            (
                complaint_id,
                deadline.kind,
                to_db(deadline.due_at),
                to_db(deadline.first_due_at),
                to_db(deadline.remind_at),
                to_db(deadline.met_at),
                to_db(watch),
            ),
        )


async def meet_deadlines(
    db: aiosqlite.Connection, complaint_id: int, kinds: Iterable[str], now: datetime
) -> None:
    """Mark running deadlines of these kinds met: nothing more is watched for them."""
    kinds = tuple(kinds)
    if not kinds:
        return
    marks = ",".join("?" * len(kinds))
    await db.execute(
        f"UPDATE complaint_deadlines SET met_at = ?, watch_at = NULL"
        f" WHERE complaint_id = ? AND met_at IS NULL AND kind IN ({marks})",
        (to_db(now), complaint_id, *kinds),
    )


async def insert_follow_up(
    db: aiosqlite.Connection, complaint_id: int, event_id: int, ask_at: datetime
) -> None:
    await db.execute(
        "INSERT INTO complaint_followups (event_id, complaint_id, ask_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (event_id, complaint_id, to_db(ask_at)),
    )


def _deadline(row: aiosqlite.Row) -> Deadline:
    return Deadline(
        row["kind"],
        from_db(row["due_at"]),
        from_db(row["remind_at"]),
        from_db(row["original_due_at"]),
        from_db(row["met_at"]),
    )


def _running(row: aiosqlite.Row) -> RunningDeadline:
    return RunningDeadline(
        row["complaint_id"],
        row["reg_number"],
        row["category"],
        row["operator_group"],
        row["kind"],
        from_db(row["due_at"]),
        from_db(row["remind_at"]),
        from_db(row["watch_at"]),
    )


# CROSS JOIN keeps SQLite's join order: the running deadlines first (a partial index on what
# is due), then each one's complaint by its key; never all of a group's complaints first.
_RUNNING_SELECT = (
    "SELECT d.complaint_id, c.reg_number, c.category, c.operator_group, d.kind, d.due_at,"
    " d.remind_at, d.watch_at"
    " FROM complaint_deadlines d CROSS JOIN complaints c ON c.id = d.complaint_id"
)


class DeadlineRepo:
    """Deadlines and follow-ups; the complaint repository writes them with each change."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def of_complaint(self, *, complaint_id: int) -> list[Deadline]:
        rows = await self._store.fetchall(
            "SELECT * FROM complaint_deadlines WHERE complaint_id = ? ORDER BY due_at",
            (complaint_id,),
        )
        return [_deadline(row) for row in rows]

    async def get(self, *, complaint_id: int, kind: str) -> Deadline | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaint_deadlines WHERE complaint_id = ? AND kind = ?",
            (complaint_id, kind),
        )
        return _deadline(row) if row else None

    async def backfill(
        self, *, complaint_id: int, deadlines: Iterable[Deadline], operator_group: str | None
    ) -> int:
        """The deadlines (and the operator group) of a complaint that has none yet (1); 0 if
        it got them meanwhile."""
        async with self._store.transaction() as db:
            found = await db.execute_fetchall(
                "SELECT 1 FROM complaint_deadlines WHERE complaint_id = ? LIMIT 1",
                (complaint_id,),
            )
            if found:
                return 0
            await insert_deadlines(db, complaint_id, deadlines)
            await db.execute(
                "UPDATE complaints SET operator_group = COALESCE(operator_group, ?) WHERE id = ?",
                (operator_group, complaint_id),
            )
        return 1

    async def to_watch(self, *, now: datetime, limit: int = 200) -> list[RunningDeadline]:
        """Running deadlines whose reminder or escalation moment has come, earliest first."""
        rows = await self._store.fetchall(
            f"{_RUNNING_SELECT} WHERE d.watch_at IS NOT NULL AND d.watch_at <= ?"
            " ORDER BY d.watch_at LIMIT ?",
            (to_db(now), limit),
        )
        return [_running(row) for row in rows]

    async def advance(
        self,
        deadline: RunningDeadline,
        *,
        watch_at: datetime | None,
        messages: Iterable[NewOutboxMessage],
        now: datetime,
    ) -> bool:
        """Queue the watch's messages for a deadline and move its next moment, in one
        transaction; False (nothing written) when the row changed since it was read."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE complaint_deadlines SET watch_at = ?"
                " WHERE complaint_id = ? AND kind = ? AND watch_at = ? AND met_at IS NULL",
                (to_db(watch_at), deadline.complaint_id, deadline.kind, to_db(deadline.watch_at)),
            )
            if cursor.rowcount != 1:
                return False
            for message in messages:
                await insert_outbox(db, message, now)
        return True

    async def running_before(
        self,
        *,
        moment: datetime,
        group: GroupScope | None = None,
        limit: int = 50,
        after: datetime | None = None,
    ) -> list[RunningDeadline]:
        """Running deadlines due before `moment` (and not before `after`), most urgent first,
        of one operator group."""
        where, params = self._group(group)
        if after is not None:
            where, params = f" AND d.due_at >= ?{where}", (to_db(after), *params)
        rows = await self._store.fetchall(
            f"{_RUNNING_SELECT} WHERE d.met_at IS NULL AND d.kind IN ({_WATCHED_SQL})"
            f" AND d.due_at <= ?{where} ORDER BY d.due_at LIMIT ?",
            (to_db(moment), *params, limit),
        )
        return [_running(row) for row in rows]

    async def count_before(
        self, *, bounds: Iterable[datetime], group: GroupScope | None = None
    ) -> list[int]:
        """For each bound (ascending), how many running deadlines are due before it."""
        bounds = list(bounds)
        where, params = self._group(group)
        sums = ", ".join("SUM(CASE WHEN d.due_at <= ? THEN 1 ELSE 0 END)" for _ in bounds)
        row = await self._store.fetchone(
            f"SELECT {sums} FROM complaint_deadlines d CROSS JOIN complaints c"
            f" ON c.id = d.complaint_id WHERE d.met_at IS NULL AND d.kind IN ({_WATCHED_SQL})"
            f" AND d.due_at <= ?{where}",
            (*(to_db(b) for b in bounds), to_db(bounds[-1]), *params),
        )
        return [int(value or 0) for value in row]

    async def follow_ups_due(self, *, now: datetime, limit: int = 200) -> list[FollowUp]:
        rows = await self._store.fetchall(
            "SELECT * FROM complaint_followups WHERE asked_at IS NULL AND ask_at <= ?"
            " ORDER BY ask_at LIMIT ?",
            (to_db(now), limit),
        )
        return [_follow_up(row) for row in rows]

    async def follow_up(self, *, event_id: int) -> FollowUp | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaint_followups WHERE event_id = ?", (event_id,)
        )
        return _follow_up(row) if row else None

    async def mark_follow_up(
        self,
        *,
        event_id: int,
        now: datetime,
        messages: Iterable[NewOutboxMessage] = (),
        outcome: str | None = None,
    ) -> bool:
        """Asked (with its message) or skipped (`outcome`), once: False if it was already."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE complaint_followups SET asked_at = ?, outcome = COALESCE(?, outcome),"
                " outcome_at = CASE WHEN ? IS NULL THEN outcome_at ELSE ? END"
                " WHERE event_id = ? AND asked_at IS NULL",
                (to_db(now), outcome, outcome, to_db(now), event_id),
            )
            if cursor.rowcount != 1:
                return False
            for message in messages:
                await insert_outbox(db, message, now)
        return True

    async def note_follow_up_outcome(
        self, *, event_id: int, outcome: str, now: datetime, step: Step | None = None
    ) -> bool:
        """The citizen's answer that changes no status ("don't know"), with their dialog step;
        False when an answer was recorded before."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE complaint_followups SET outcome = ?, outcome_at = ?"
                " WHERE event_id = ? AND outcome IS NULL",
                (outcome, to_db(now), event_id),
            )
            if cursor.rowcount != 1:
                return False
            if step is not None:
                await apply_step(db, step)
        return True

    @staticmethod
    def _group(group: GroupScope | None) -> tuple[str, tuple]:
        if group is None:
            return "", ()
        if group.is_default:
            return " AND (c.operator_group = ? OR c.operator_group IS NULL)", (group.chat,)
        return " AND c.operator_group = ?", (group.chat,)


def _follow_up(row: aiosqlite.Row) -> FollowUp:
    return FollowUp(
        row["event_id"],
        row["complaint_id"],
        from_db(row["ask_at"]),
        from_db(row["asked_at"]),
        row["outcome"],
    )
