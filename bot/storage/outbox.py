"""The outbox: one row per recipient and message, claimed, sent part by part, recorded."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.storage.db import to_db
from bot.storage.models import (
    InboundRef,
    NewOutboxMessage,
    OutboxMessage,
)
from bot.storage.writes import (
    from_row,
    insert_outbox_now,
    mark_inbound_done_now,
)

if TYPE_CHECKING:
    from bot.storage.store import Store


# Rows written inline (on the loop's thread, one trip) at most; a bigger batch goes through the
# worker thread so that the event loop never stalls on it.
INLINE_ROWS = 20


def _update_with_delivery(
    conn: sqlite3.Connection,
    update: str,
    params: tuple,
    provider_sid: str,
    message_id: int,
    now: datetime,
) -> None:
    """Inside a transaction: the row's update and the messenger's id of what was sent."""
    conn.execute(update, params)
    conn.execute(
        "INSERT INTO outbox_deliveries (provider_sid, outbox_id, status, updated_at)"
        " VALUES (?, ?, 'queued', ?) ON CONFLICT DO NOTHING",
        (provider_sid, message_id, to_db(now)),
    )


def _update_many(conn: sqlite3.Connection, update: str, params: list[tuple]) -> None:
    """Inside a transaction: one update, for several rows."""
    conn.executemany(update, params)


def _add(
    conn: sqlite3.Connection,
    messages: list[NewOutboxMessage],
    now: datetime,
    inbound: InboundRef | None,
) -> int:
    added = sum(insert_outbox_now(conn, message, now) for message in messages)
    if inbound is not None:
        mark_inbound_done_now(conn, inbound)
    return added


def _outbox(row: aiosqlite.Row) -> OutboxMessage:
    progress = json.loads(row["result"]) if row["result"] else {}
    return from_row(
        OutboxMessage,
        row,
        payload=json.loads(row["payload"]),
        parts_done=progress.get("parts_done", 0),
    )


_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
    " payload = CASE WHEN ? THEN '{}' ELSE payload END,"
    " result = CASE WHEN ? IS NULL THEN result"
    " ELSE json_set(COALESCE(result, '{}'), '$.parts_done', ?) END WHERE id = ?"
)


class OutboxRepo:
    def __init__(self, store: Store) -> None:
        self._store = store
        # bulk rows sent since the last group of marks was written: (params, who waits)
        self._marks: list[tuple[tuple, asyncio.Future]] = []
        self._writing: set[asyncio.Task] = set()

    async def add(
        self,
        *,
        messages: Iterable[NewOutboxMessage],
        now: datetime,
        inbound: InboundRef | None = None,
    ) -> int:
        """Queue messages (returns how many were new: a dedupe key queued before counts 0);
        with `inbound`, mark that journal entry handled in the same transaction (the messages
        are what handling it produced)."""
        messages = list(messages)
        if not messages and inbound is None:
            return 0
        return await self._store.atomic(
            _add, messages, now, inbound, inline=len(messages) <= INLINE_ROWS
        )

    async def due(
        self, *, now: datetime, limit: int = 50, channel: str | None = None,
        recipient: str | None = None,
    ) -> list[OutboxMessage]:  # fmt: skip
        """Rows ready to send, lane by lane (an answer to someone who just wrote never waits
        behind notices, notices never behind a broadcast), oldest first in a lane; and only the
        first unsent row of each chat, so one chat's messages leave in the order they were
        queued. `channel` and `recipient` narrow it to one chat. Nothing is claimed: `claim`
        takes a row just before sending."""
        rows = await self._store.fetchall(
            "SELECT * FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ?1"
            " AND (?2 IS NULL OR o.channel = ?2) AND (?3 IS NULL OR o.recipient = ?3)"
            " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.channel = o.channel"
            " AND p.recipient = o.recipient AND p.id < o.id"
            " AND p.status IN ('pending', 'sending'))"
            " ORDER BY o.lane, o.id LIMIT ?4",
            (to_db(now), channel, recipient, limit),
        )
        return [_outbox(row) for row in rows]

    async def claim_next(self, *, channel: str, recipient: str, now: datetime):
        """Claim the first due unsent row of one chat, if it is its turn (one round trip);
        None when there is none."""
        row = await self._store.fetchone(
            "UPDATE outbox SET status = 'sending' WHERE id = (SELECT o.id FROM outbox o"
            " WHERE o.channel = ?1 AND o.recipient = ?2 AND o.status IN ('pending', 'sending')"
            " ORDER BY o.id LIMIT 1) AND status = 'pending' AND next_attempt_at <= ?3"
            " RETURNING *",
            (channel, recipient, to_db(now)),
            inline=True,
        )
        return _outbox(row) if row else None

    async def claim(self, *, message_id: int, now: datetime) -> bool:
        """Mark a pending row 'sending' right before it is sent; False when another sender took
        it, when it is no longer due (another sender postponed it), or when it is no longer its
        chat's turn (an older row of the chat came back meanwhile)."""
        return (
            await self._store.execute(
                "UPDATE outbox SET status = 'sending' WHERE id = ?1 AND status = 'pending'"
                " AND next_attempt_at <= ?2 AND id = (SELECT MIN(p.id) FROM outbox p"
                " WHERE p.channel = outbox.channel AND p.recipient = outbox.recipient"
                " AND p.status IN ('pending', 'sending'))",
                (message_id, to_db(now)),
                inline=True,
            )
            == 1
        )

    async def release_stuck(self) -> int:
        """At start-up: rows left 'sending' by a crash go back to 'pending'. Their recorded
        progress is kept, so only the one part that was in flight can go out twice."""
        return await self._store.execute(
            "UPDATE outbox SET status = 'pending' WHERE status = 'sending'"
        )

    async def mark_sent(
        self,
        *,
        message_id: int,
        now: datetime,
        scrub: bool = False,
        parts_done: int | None = None,
        provider_sid: str | None = None,
        together: bool = False,
    ) -> None:
        """Done. `scrub` blanks the payload (replies that carried a receipt code); the last
        part's progress and messenger id are recorded with it, in one statement when there is
        no id to keep.

        `together` (a broadcast's rows): the marks of the rows whose calls came back in the
        same turn of the event loop are written in one transaction, at the next turn, each
        caller waiting until its own is written. A broadcast at hundreds of rows a second
        otherwise pays one commit (its index pages written to the WAL again) per row."""
        update = _MARK_SENT
        params = (to_db(now), int(scrub), parts_done, parts_done, message_id)
        if provider_sid is None and together:
            written = asyncio.get_running_loop().create_future()
            if not self._marks:
                task = asyncio.get_running_loop().create_task(self._write_marks())
                self._writing.add(task)
                task.add_done_callback(self._writing.discard)
            self._marks.append((params, written))
            await written
            return
        if provider_sid is None:
            await self._store.execute(update, params, inline=True)
            return
        await self._store.atomic(
            _update_with_delivery, update, params, provider_sid, message_id, now, inline=True
        )

    async def _write_marks(self) -> None:
        """The marks gathered since the last turn of the event loop, in one transaction."""
        marks, self._marks = self._marks, []
        try:
            await self._store.atomic(
                _update_many, _MARK_SENT, [params for params, _ in marks], inline=True
            )
        except BaseException as error:
            for _, written in marks:
                if not written.done():
                    written.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for _, written in marks:
            if not written.done():
                written.set_result(None)

    async def record_part(
        self, *, message_id: int, parts_done: int, provider_sid: str | None, now: datetime
    ) -> None:
        """One more part of a row went out: remember how many (a retry or a restart goes on
        after them) and the messenger's id of it, in one transaction."""
        update = (
            "UPDATE outbox SET result = json_set(COALESCE(result, '{}'), '$.parts_done', ?)"
            " WHERE id = ?"
        )
        params = (parts_done, message_id)
        if provider_sid is None:
            await self._store.execute(update, params, inline=True)
            return
        await self._store.atomic(
            _update_with_delivery, update, params, provider_sid, message_id, now, inline=True
        )

    async def retry_later(
        self, *, message_id: int, at: datetime, error: str, count_attempt: bool = True
    ) -> None:
        await self._store.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?,"
            " attempts = attempts + ? WHERE id = ?",
            (to_db(at), error, int(count_attempt), message_id),
            inline=True,
        )

    async def mark_failed(
        self, *, message_id: int, error: str, status: str = "failed", scrub: bool = False
    ) -> None:
        """Given up ('failed'), or 'unreachable' (the recipient blocked the bot: sent again
        when they come back). `scrub` blanks a payload that carried a secret."""
        await self._store.execute(
            "UPDATE outbox SET status = ?, last_error = ?, attempts = attempts + 1,"
            " payload = CASE WHEN ? THEN '{}' ELSE payload END WHERE id = ?",
            (status, error, int(scrub), message_id),
            inline=True,
        )

    async def scrub_if_done(self, *, message_id: int) -> bool:
        """Blank a row's payload (it carried a receipt code) once all of it is sent and every
        message sent for it is delivered, read or lost; True when blanked."""
        return (
            await self._store.execute(
                "UPDATE outbox SET payload = '{}' WHERE id = ?1 AND status IN ('sent', 'failed')"
                " AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.outbox_id = ?1"
                " AND d.status NOT IN ('delivered', 'read', 'failed', 'undelivered'))",
                (message_id,),
            )
            == 1
        )

    async def hold(self, *, message_id: int, reason: str) -> None:
        """Keep the row unsent until something changes (e.g. the citizen writes again)."""
        await self._store.execute(
            "UPDATE outbox SET status = 'held', last_error = ? WHERE id = ?",
            (reason, message_id),
            inline=True,
        )

    async def release_for(self, *, citizen_id: int, now: datetime) -> int:
        """The citizen wrote to us: what was held for them (WhatsApp outside the 24-hour
        window) goes out again as free text, and what failed because they had blocked the bot
        is sent again."""
        return await self._store.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?,"
            " payload = json_remove(payload, '$.force_template')"
            " WHERE citizen_id = ? AND status IN ('held', 'unreachable')",
            (to_db(now), citizen_id),
            inline=True,
        )

    async def requeue(self, *, message_id: int, payload: dict[str, Any], now: datetime) -> None:
        """Send a row again from the start with a changed payload (e.g. as a template)."""
        await self._store.execute(
            "UPDATE outbox SET status = 'pending', payload = ?, result = NULL,"
            " next_attempt_at = ? WHERE id = ?",
            (json.dumps(payload, ensure_ascii=False), to_db(now), message_id),
            inline=True,
        )

    async def get(self, *, message_id: int) -> OutboxMessage | None:
        row = await self._store.fetchone(
            "SELECT * FROM outbox WHERE id = ?", (message_id,), inline=True
        )
        return _outbox(row) if row else None

    async def sent_as(self, *, provider_sid: str) -> OutboxMessage | None:
        """The row whose message the messenger knows by `provider_sid` (e.g. the prompt an
        operator replied to)."""
        row = await self._store.fetchone(
            "SELECT o.* FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id"
            " WHERE d.provider_sid = ?",
            (provider_sid,),
        )
        return _outbox(row) if row else None

    async def message_id_of(self, *, dedupe_key: str) -> int | None:
        """The messenger's message id of a sent row known by its dedupe key (a complaint's
        card: "operator_card:<id>"), for replies to it; None if it was not sent (yet)."""
        row = await self._store.fetchone(
            "SELECT d.provider_sid FROM outbox o JOIN outbox_deliveries d ON d.outbox_id = o.id"
            " WHERE o.dedupe_key = ? ORDER BY d.updated_at DESC LIMIT 1",
            (dedupe_key,),
        )
        if row is None:
            return None
        message = row["provider_sid"].rpartition(":")[2]
        return int(message) if message.isdigit() else None

    async def record_delivery(
        self, *, provider_sid: str, status: str, error_code: str | None, now: datetime
    ) -> OutboxMessage | None:
        """A status callback: store it on the message and on its outbox row, never moving back
        (a late "sent" does not undo "read"). Returns the row, or None for an unknown sid."""
        rank = _DELIVERY_RANK.get(status, 0)
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT outbox_id, status FROM outbox_deliveries WHERE provider_sid = ?",
                (provider_sid,),
            )
            if not rows:
                return None
            outbox_id, old = rows[0]
            if rank >= _DELIVERY_RANK.get(old, 0):
                await db.execute(
                    "UPDATE outbox_deliveries SET status = ?, error_code = ?, updated_at = ?"
                    " WHERE provider_sid = ?",
                    (status, error_code, to_db(now), provider_sid),
                )
                await db.execute(
                    "UPDATE outbox SET delivery_status = ?,"
                    " delivery_error = COALESCE(?, delivery_error) WHERE id = ?",
                    (status, error_code, outbox_id),
                )
            found = await db.execute_fetchall("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
        return _outbox(found[0])

    async def counts(self) -> dict[str, int]:
        """How many rows are in each status (what `/queue` shows operators)."""
        rows = await self._store.fetchall(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE status != 'sent' GROUP BY status"
        )
        return {row["status"]: row["n"] for row in rows}

    async def held_summary(self) -> list[tuple[str, str, int]]:
        """(kind, reason, count) of rows waiting for something; what operators are shown."""
        rows = await self._store.fetchall(
            "SELECT kind, COALESCE(last_error, '') AS reason, COUNT(*) AS n FROM outbox"
            " WHERE status = 'held' GROUP BY kind, reason ORDER BY kind, reason"
        )
        return [(row["kind"], row["reason"], row["n"]) for row in rows]

    async def list(
        self, *, status: str | None = None, kind: str | None = None
    ) -> list[OutboxMessage]:
        rows = await self._store.fetchall(
            "SELECT * FROM outbox WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR kind = ?2)"
            " ORDER BY id",
            (status, kind),
        )
        return [_outbox(row) for row in rows]


# Delivery statuses in the order they happen; a failure outranks everything.
_DELIVERY_RANK = {
    "accepted": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4,
    "undelivered": 5, "failed": 5,
}  # fmt: skip
