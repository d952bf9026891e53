"""Broadcasts: one message to many, one outbox row per recipient, written before any is sent.

A broadcast is found by its key (re-running the same announcement finds it and writes nothing
twice). Its rows are written in batches, each in one transaction, with status 'staged', which no
sender takes; once all are written, one statement makes them 'pending'. Pausing turns its
pending rows 'paused' (the sender passes them by); resuming turns them back. The WhatsApp rows
that open a business-initiated conversation take a slot of that day's quota (Meta's tier), in
the same transaction as the row: the rows beyond today's slots wait ('waiting', due on their
day) and are woken by the broadcasts job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.storage.db import from_db, to_db
from bot.storage.models import NewOutboxMessage, lane_of

if TYPE_CHECKING:
    from bot.storage.store import Store


@dataclass(frozen=True)
class Broadcast:
    id: int
    key: str
    kind: str
    topic: str
    payload: dict[str, Any]
    status: str
    total: int
    fallback: int
    created_at: datetime
    reported_at: datetime | None


@dataclass(frozen=True)
class Planned:
    """One recipient's row; `opens_conversation`: a WhatsApp row outside the 24-hour window,
    which counts against the daily quota of business-initiated conversations."""

    message: NewOutboxMessage
    opens_conversation: bool = False


@dataclass
class BroadcastReport:
    total: int = 0
    sent: int = 0
    delivered: int = 0  # the messenger confirmed delivery (WhatsApp), read included
    read: int = 0
    failed: int = 0
    unreachable: int = 0
    waiting_template: int = 0  # WhatsApp, outside the window, no approved template
    waiting_quota: int = 0  # WhatsApp, for a later day's quota
    queued: int = 0
    paused: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Nothing more goes out today without someone acting (pause, template, quota)."""
        return self.queued == 0 and self.paused == 0


def _broadcast(row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        key=row["key"],
        kind=row["kind"],
        topic=row["topic"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        total=row["total"],
        fallback=row["fallback"],
        created_at=from_db(row["created_at"]),
        reported_at=from_db(row["reported_at"]),
    )


class BroadcastRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def start(
        self, *, key: str, kind: str, topic: str, payload: dict[str, Any], now: datetime
    ) -> tuple[Broadcast, bool]:
        """The broadcast of this key, created now (True) or found (False)."""
        row = await self._store.fetchone(
            "INSERT INTO broadcasts (key, kind, topic, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *",
            (key, kind, topic, json.dumps(payload, ensure_ascii=False), to_db(now)),
        )
        if row is not None:
            return _broadcast(row), True
        found = await self.by_key(key=key)
        assert found is not None
        return found, False

    async def get(self, *, broadcast_id: int) -> Broadcast | None:
        row = await self._store.fetchone(
            "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,), inline=True
        )
        return _broadcast(row) if row else None

    async def by_key(self, *, key: str) -> Broadcast | None:
        row = await self._store.fetchone("SELECT * FROM broadcasts WHERE key = ?", (key,))
        return _broadcast(row) if row else None

    async def list(self, *, status: str | None = None) -> list[Broadcast]:
        rows = await self._store.fetchall(
            "SELECT * FROM broadcasts WHERE (?1 IS NULL OR status = ?1) ORDER BY id", (status,)
        )
        return [_broadcast(row) for row in rows]

    async def write_batch(
        self,
        *,
        broadcast_id: int,
        planned: list[Planned],
        now: datetime,
        tz: ZoneInfo,
        daily_quota: int,
        fallback: int = 0,
    ) -> int:
        """Write one batch of rows ('staged') in one transaction; rows written before (a
        re-run) are passed over. Returns how many were new."""
        written = 0
        today = now.astimezone(tz).date()
        async with self._store.transaction() as db:
            used: dict[int, int] = {}
            stored: dict[int, int] = {}
            for item in planned:
                message = item.message
                due, day = now, None
                if item.opens_conversation:
                    day = await _free_day(db, today, used, stored, daily_quota)
                    due = now + timedelta(days=day)
                cursor = await db.execute(
                    "INSERT INTO outbox (channel, recipient, citizen_id, kind, payload,"
                    " dedupe_key, status, next_attempt_at, created_at, lane, broadcast_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (dedupe_key) DO NOTHING",
                    (
                        message.channel,
                        message.recipient,
                        message.citizen_id,
                        message.kind,
                        json.dumps(message.payload, ensure_ascii=False),
                        message.dedupe_key,
                        "waiting" if day else "staged",
                        to_db(due),
                        to_db(now),
                        lane_of(message.kind) if message.lane is None else message.lane,
                        broadcast_id,
                    ),
                )
                if cursor.rowcount != 1:
                    continue
                written += 1
                if day is not None:
                    used[day] = used.get(day, 0) + 1
            for day, count in used.items():
                await db.execute(
                    "INSERT INTO whatsapp_quota (day, used) VALUES (?, ?)"
                    " ON CONFLICT (day) DO UPDATE SET used = whatsapp_quota.used + excluded.used",
                    ((today + timedelta(days=day)).isoformat(), count),
                )
            await db.execute(
                "UPDATE broadcasts SET fallback = fallback + ? WHERE id = ?",
                (fallback if written else 0, broadcast_id),
            )
        return written

    async def release(self, *, broadcast_id: int) -> int:
        """Every row is written: they go out now (or stay paused), in one statement."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT status FROM broadcasts WHERE id = ?", (broadcast_id,)
            )
            paused = list(rows)[0][0] == "paused"
            cursor = await db.execute(
                "UPDATE outbox SET status = ? WHERE broadcast_id = ? AND status = 'staged'",
                ("paused" if paused else "pending", broadcast_id),
            )
            await db.execute(
                "UPDATE broadcasts SET status = CASE WHEN status = 'writing' THEN 'running'"
                " ELSE status END, total = (SELECT COUNT(*) FROM outbox WHERE broadcast_id = ?)"
                " WHERE id = ?",
                (broadcast_id, broadcast_id),
            )
        return cursor.rowcount

    async def pause(self, *, broadcast_id: int) -> int:
        """Stop sending: its pending rows wait as 'paused' (a row being sent finishes)."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE broadcasts SET status = 'paused' WHERE id = ? AND status != 'done'",
                (broadcast_id,),
            )
            if cursor.rowcount != 1:
                return 0
            cursor = await db.execute(
                "UPDATE outbox SET status = 'paused' WHERE broadcast_id = ? AND status = 'pending'",
                (broadcast_id,),
            )
        return cursor.rowcount

    async def resume(self, *, broadcast_id: int) -> int:
        """Go on sending what was paused (a broadcast still being written stays 'writing')."""
        async with self._store.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT COUNT(*) FROM outbox WHERE broadcast_id = ? AND status = 'staged'",
                    (broadcast_id,),
                )
            )
            writing = rows[0][0] > 0
            cursor = await db.execute(
                "UPDATE broadcasts SET status = ? WHERE id = ? AND status = 'paused'",
                ("writing" if writing else "running", broadcast_id),
            )
            if cursor.rowcount != 1:
                return 0
            cursor = await db.execute(
                "UPDATE outbox SET status = 'pending' WHERE broadcast_id = ? AND status = 'paused'",
                (broadcast_id,),
            )
        return cursor.rowcount

    async def wake_waiting(self, *, now: datetime) -> int:
        """Rows that waited for a later day's WhatsApp quota go out when their day comes
        (or wait as 'paused' when their broadcast is paused). Until then they are not
        'pending', so they never hold up the messages of their chat."""
        return await self._store.execute(
            "UPDATE outbox SET status = CASE WHEN EXISTS (SELECT 1 FROM broadcasts b"
            " WHERE b.id = outbox.broadcast_id AND b.status = 'paused') THEN 'paused'"
            " ELSE 'pending' END WHERE status = 'waiting' AND next_attempt_at <= ?",
            (to_db(now),),
        )

    async def mark_reported(self, *, broadcast_id: int, now: datetime, done: bool) -> bool:
        """Note the final report (once: False when noted before)."""
        return (
            await self._store.execute(
                "UPDATE broadcasts SET reported_at = ?,"
                " status = CASE WHEN ? THEN 'done' ELSE status END"
                " WHERE id = ? AND reported_at IS NULL",
                (to_db(now), int(done), broadcast_id),
            )
            == 1
        )

    async def report(self, *, broadcast_id: int, now: datetime) -> BroadcastReport:
        rows = await self._store.fetchall(
            "SELECT channel, status, delivery_status, COUNT(*) AS n FROM outbox"
            " WHERE broadcast_id = ? GROUP BY channel, status, delivery_status",
            (broadcast_id,),
        )
        report = BroadcastReport()
        for row in rows:
            n, status, delivery = row["n"], row["status"], row["delivery_status"]
            if status == "dropped":
                continue
            report.total += n
            report.by_channel[row["channel"]] = report.by_channel.get(row["channel"], 0) + n
            if status == "sent" and delivery in ("failed", "undelivered"):
                report.failed += n
            elif status == "sent":
                report.sent += n
                report.delivered += n if delivery in ("delivered", "read") else 0
                report.read += n if delivery == "read" else 0
            elif status == "failed":
                report.failed += n
            elif status == "unreachable":
                report.unreachable += n
            elif status == "held":
                report.waiting_template += n
            elif status == "paused":
                report.paused += n
            elif status == "waiting":
                report.waiting_quota += n
            else:
                report.queued += n
        return report


async def _free_day(db, today, used: dict[int, int], stored: dict[int, int], quota: int) -> int:
    """The first day from today (0) with a free slot of the daily quota (`stored`: what the
    days held before this batch, read once; `used`: what this batch took)."""
    day = 0
    while True:
        if day not in stored:
            key = (today + timedelta(days=day)).isoformat()
            rows = list(
                await db.execute_fetchall("SELECT used FROM whatsapp_quota WHERE day = ?", (key,))
            )
            stored[day] = rows[0][0] if rows else 0
        if stored[day] + used.get(day, 0) < quota:
            return day
        day += 1
