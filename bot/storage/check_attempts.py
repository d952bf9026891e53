"""Failed receipt-code checks, and the lockout they cause.

A complaint number with `limit` failures (from any chat) within `window`, or a citizen with
`limit` failures (on any numbers) within `window`, locks checking for `lock` after the last of
them. Failures are never reset by a success, so alternating guesses with checks of one's own
complaint gains nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.storage.db import from_db, to_db

if TYPE_CHECKING:
    from bot.storage.store import Store

# Rows older than this are of no use to any lock and are deleted when a new failure is stored.
KEEP_FOR = timedelta(days=1)


def lock_end(
    failures: list[datetime], *, limit: int, window: timedelta, lock: timedelta
) -> datetime | None:
    """When the latest lock these failures cause ends, or None if they cause none."""
    ordered = sorted(failures)
    ends = [
        ordered[i] + lock
        for i in range(limit - 1, len(ordered))
        if ordered[i] - ordered[i - limit + 1] <= window
    ]
    return max(ends, default=None)


class CheckAttemptRepo:
    """`check_failures`: one row per wrong number-and-code pair."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record_failure(self, *, reg_number: str, citizen_id: int, now: datetime) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO check_failures (reg_number, citizen_id, failed_at) VALUES (?, ?, ?)",
                (reg_number, citizen_id, to_db(now)),
            )
            await db.execute(
                "DELETE FROM check_failures WHERE failed_at < ?", (to_db(now - KEEP_FOR),)
            )

    async def locked_until(
        self,
        *,
        reg_number: str | None,
        citizen_id: int,
        now: datetime,
        limit: int,
        window: timedelta,
        lock: timedelta,
    ) -> tuple[datetime | None, datetime | None]:
        """(end of the number's lock, end of the citizen's lock), each None when not locked."""
        since = to_db(now - window - lock)
        by_number = (
            await self.store.fetchall(
                "SELECT failed_at FROM check_failures WHERE reg_number = ? AND failed_at >= ?",
                (reg_number, since),
            )
            if reg_number
            else []
        )
        by_citizen = await self.store.fetchall(
            "SELECT failed_at FROM check_failures WHERE citizen_id = ? AND failed_at >= ?",
            (citizen_id, since),
        )
        ends = [
            lock_end(
                [from_db(row["failed_at"]) for row in rows], limit=limit, window=window, lock=lock
            )
            for rows in (by_number, by_citizen)
        ]
        return tuple(end if end and end > now else None for end in ends)
