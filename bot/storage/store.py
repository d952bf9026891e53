"""Repositories over one SQLite connection. All SQL of the project lives in `bot/storage/`.

One connection is shared by every coroutine, so each repository call holds the store's lock for
its statement or transaction: without it, one coroutine's statements could land inside another
coroutine's open transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.check_attempts import CheckAttemptRepo
from bot.storage.complaint_media import ComplaintMediaRepo, insert_media
from bot.storage.db import connect, from_db, to_db
from bot.storage.models import (
    Citizen,
    Complaint,
    ComplaintEvent,
    Conversation,
    InboundMessage,
    InboundRef,
    NewComplaint,
    NewOutboxMessage,
    OutboxMessage,
    Photo,
    Question,
    Step,
    lane_of,
)


class Store:
    """The database and its repositories: `citizens`, `conversations`, `complaints`, `outbox`."""

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


async def _insert_outbox(
    db: aiosqlite.Connection, message: NewOutboxMessage, now: datetime
) -> None:
    await db.execute(
        "INSERT OR IGNORE INTO outbox (channel, recipient, citizen_id, kind, payload, dedupe_key,"
        " next_attempt_at, created_at, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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


async def _save_conversation(
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


async def _mark_inbound_done(db: aiosqlite.Connection, inbound: InboundRef) -> None:
    await db.execute(
        "UPDATE inbound_messages SET status = 'done', params = '{}'"
        " WHERE channel = ? AND message_sid = ?",
        (inbound.channel, inbound.message_sid),
    )


async def _apply_step(db: aiosqlite.Connection, step: Step) -> None:
    """Write what one handled event leaves behind, inside the caller's transaction."""
    await _save_conversation(db, step.citizen_id, step.conversation, step.now)
    for message in step.messages:
        await _insert_outbox(db, message, step.now)
    if step.inbound is not None:
        await _mark_inbound_done(db, step.inbound)


def _from_row(cls, row: aiosqlite.Row, **converted: Any):
    """Build a dataclass from the row's columns of the same names; `converted` overrides."""
    columns = set(row.keys())
    values = {f.name: row[f.name] for f in fields(cls) if f.name in columns}
    return cls(**(values | converted))


def _citizen(row: aiosqlite.Row) -> Citizen:
    return _from_row(
        Citizen,
        row,
        unreachable=bool(row["unreachable"]),
        last_inbound_at=from_db(row["last_inbound_at"]),
        announcements=None if row["announcements"] is None else bool(row["announcements"]),
        waiting=bool(row["waiting"]) if "waiting" in row.keys() else False,  # noqa: SIM118
    )


class CitizenRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def touch(self, *, channel: str, user_key: str, now: datetime) -> Citizen:
        """Find or create the citizen and record an inbound message now (makes them reachable)."""
        row = await self._store.fetchone(
            "INSERT INTO citizens (channel, user_key, created_at, last_inbound_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (channel, user_key) DO UPDATE SET"
            " last_inbound_at = excluded.last_inbound_at, unreachable = 0 RETURNING *",
            (channel, user_key, to_db(now), to_db(now)),
        )
        return _citizen(row)

    async def with_conversation(
        self, *, channel: str, user_key: str
    ) -> tuple[Citizen | None, Conversation | None]:
        """The citizen and their conversation, in one query (the hot path of every message)."""
        row = await self._store.fetchone(
            "SELECT c.*, v.state AS conv_state, v.data AS conv_data,"
            " EXISTS (SELECT 1 FROM outbox o WHERE o.citizen_id = c.id"
            " AND o.status IN ('held', 'unreachable')) AS waiting"
            " FROM citizens c LEFT JOIN conversations v ON v.citizen_id = c.id"
            " WHERE c.channel = ? AND c.user_key = ?",
            (channel, user_key),
        )
        if row is None:
            return None, None
        conversation = None
        if row["conv_state"] is not None:
            conversation = Conversation(row["conv_state"], json.loads(row["conv_data"]))
        return _citizen(row), conversation

    async def get(self, *, citizen_id: int) -> Citizen | None:
        row = await self._store.fetchone("SELECT * FROM citizens WHERE id = ?", (citizen_id,))
        return _citizen(row) if row else None

    async def find(self, *, channel: str, user_key: str) -> Citizen | None:
        row = await self._store.fetchone(
            "SELECT * FROM citizens WHERE channel = ? AND user_key = ?", (channel, user_key)
        )
        return _citizen(row) if row else None

    async def set_locale(self, *, citizen_id: int, locale: str) -> None:
        await self._store.execute(
            "UPDATE citizens SET locale = ? WHERE id = ?", (locale, citizen_id)
        )

    async def mark_unreachable(self, *, citizen_id: int) -> None:
        await self._store.execute("UPDATE citizens SET unreachable = 1 WHERE id = ?", (citizen_id,))

    async def set_announcements(self, *, citizen_id: int, wanted: bool, now: datetime) -> None:
        """Record the citizen's consent to announcements (or its withdrawal)."""
        await self._store.execute(
            "UPDATE citizens SET announcements = ?, announcements_changed_at = ? WHERE id = ?",
            (int(wanted), to_db(now), citizen_id),
        )

    async def subscribers(self, *, channel: str | None = None) -> list[Citizen]:
        """Reachable citizens who agreed to announcements (for the broadcasts to come)."""
        rows = await self._store.fetchall(
            "SELECT * FROM citizens WHERE announcements = 1 AND unreachable = 0"
            " AND (?1 IS NULL OR channel = ?1) ORDER BY id",
            (channel,),
        )
        return [_citizen(row) for row in rows]


class ConversationRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def load(self, *, citizen_id: int) -> Conversation | None:
        row = await self._store.fetchone(
            "SELECT state, data FROM conversations WHERE citizen_id = ?", (citizen_id,)
        )
        return Conversation(row["state"], json.loads(row["data"])) if row else None

    async def save(self, *, citizen_id: int, conversation: Conversation, now: datetime) -> None:
        async with self._store.lock:
            await _save_conversation(self._store.db, citizen_id, conversation, now)

    async def commit_step(self, step: Step) -> None:
        """Save the conversation, queue the step's messages and mark its journal entry handled,
        all in one transaction: a crash leaves either all of it or none."""
        if not step.messages and step.inbound is None:
            await self.save(
                citizen_id=step.citizen_id, conversation=step.conversation, now=step.now
            )
            return
        async with self._store.transaction() as db:
            await _apply_step(db, step)


class ComplaintRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        new: NewComplaint,
        *,
        now: datetime,
        notify: Iterable[NewOutboxMessage] = (),
        step: Step | None = None,
    ) -> tuple[Complaint, bool]:
        """Register a complaint with a new number, its photos, first event and notifications.

        Returns the complaint and True; or, when a complaint of the same `draft_key` exists
        already (the same "Send" arrived twice), that complaint and False, changing nothing.
        `step` (the citizen's conversation and replies) is written in the same transaction.
        """
        async with self._store.transaction() as db:
            complaint_id = await _complaint_of_draft(db, new.draft_key)
            created = complaint_id is None
            if created:
                complaint_id = await _insert_complaint(db, new, now)
                for message in notify:
                    await _insert_outbox(db, _bind(message, complaint_id), now)
                if step is not None:
                    step.messages = [_bind(m, complaint_id) for m in step.messages]
                    await _apply_step(db, step)
        complaint = await self.get(complaint_id=complaint_id)
        assert complaint is not None
        return complaint, created

    async def replace_receipt(
        self, *, complaint_id: int, salt: bytes, digest: bytes, step: Step
    ) -> None:
        """A new receipt code's hash replaces the old one; `step` in the same transaction."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE complaints SET receipt_salt = ?, receipt_hash = ? WHERE id = ?",
                (salt, digest, complaint_id),
            )
            step.messages = [_bind(m, complaint_id) for m in step.messages]
            await _apply_step(db, step)

    async def by_draft(self, *, draft_key: str) -> Complaint | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaints WHERE draft_key = ?", (draft_key,)
        )
        return await self._with_photos(row) if row else None

    async def get(self, *, complaint_id: int) -> Complaint | None:
        row = await self._store.fetchone("SELECT * FROM complaints WHERE id = ?", (complaint_id,))
        return await self._with_photos(row) if row else None

    async def by_number(self, *, reg_number: str) -> Complaint | None:
        row = await self._store.fetchone(
            "SELECT * FROM complaints WHERE reg_number = ?", (reg_number,)
        )
        return await self._with_photos(row) if row else None

    async def receipt_of(self, *, complaint_id: int) -> tuple[bytes, bytes]:
        row = await self._store.fetchone(
            "SELECT receipt_salt, receipt_hash FROM complaints WHERE id = ?", (complaint_id,)
        )
        return bytes(row["receipt_salt"]), bytes(row["receipt_hash"])

    async def of_citizen(self, *, citizen_id: int, limit: int = 10) -> list[Complaint]:
        rows = await self._store.fetchall(
            "SELECT * FROM complaints WHERE citizen_id = ? ORDER BY id DESC LIMIT ?",
            (citizen_id, limit),
        )
        return [_complaint(row, ()) for row in rows]

    async def open_due_before(
        self, *, moment: datetime, open_statuses: Iterable[str]
    ) -> list[Complaint]:
        statuses = tuple(open_statuses)
        marks = ",".join("?" * len(statuses))
        rows = await self._store.fetchall(
            f"SELECT * FROM complaints WHERE status IN ({marks}) AND due_at <= ? ORDER BY due_at",
            (*statuses, to_db(moment)),
        )
        return [_complaint(row, ()) for row in rows]

    async def change_status(
        self,
        *,
        complaint_id: int,
        expected_status: str,
        new_status: str,
        actor: str,
        actor_name: str | None,
        note: str | None,
        now: datetime,
        notify: Iterable[NewOutboxMessage] = (),
        forwarded_to: str | None = None,
    ) -> bool:
        """Move a complaint from `expected_status` to `new_status`, recording who, when and why
        (and, when forwarded, to which body).

        Returns False (and changes nothing) when the status is no longer `expected_status`, so a
        repeated or stale operator button press is harmless.
        """
        async with self._store.transaction() as db:
            async with db.execute(
                "UPDATE complaints SET status = ?, updated_at = ?,"
                " forwarded_to = COALESCE(?, forwarded_to) WHERE id = ? AND status = ?",
                (new_status, to_db(now), forwarded_to, complaint_id, expected_status),
            ) as cursor:
                if cursor.rowcount != 1:
                    return False
            cursor = await db.execute(
                "INSERT INTO complaint_events (complaint_id, old_status, new_status, actor,"
                " actor_name, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (complaint_id, expected_status, new_status, actor, actor_name, note, to_db(now)),
            )
            for message in notify:
                await _insert_outbox(db, _bind(message, complaint_id, cursor.lastrowid), now)
        return True

    async def event(self, *, event_id: int) -> ComplaintEvent | None:
        row = await self._store.fetchone("SELECT * FROM complaint_events WHERE id = ?", (event_id,))
        return _event(row) if row else None

    async def events(self, *, complaint_id: int) -> list[ComplaintEvent]:
        rows = await self._store.fetchall(
            "SELECT * FROM complaint_events WHERE complaint_id = ? ORDER BY id", (complaint_id,)
        )
        return [_event(row) for row in rows]

    async def _with_photos(self, row: aiosqlite.Row) -> Complaint:
        photos = await self._store.fetchall(
            "SELECT sha256, path FROM complaint_photos WHERE complaint_id = ? ORDER BY position",
            (row["id"],),
        )
        complaint = _complaint(row, tuple(Photo(p["sha256"], p["path"]) for p in photos))
        media = await self._store.complaint_media.of_complaint(complaint_id=complaint.id)
        return replace(complaint, media=media) if media else complaint


async def _complaint_of_draft(db: aiosqlite.Connection, draft_key: str | None) -> int | None:
    if draft_key is None:
        return None
    found = await db.execute_fetchall("SELECT id FROM complaints WHERE draft_key = ?", (draft_key,))
    return found[0][0] if found else None


async def _insert_complaint(db: aiosqlite.Connection, new: NewComplaint, now: datetime) -> int:
    """The complaint's rows: a new number, the complaint, its photos, its first event."""
    async with db.execute(
        "INSERT INTO reg_counters (year, value) VALUES (?, 1) ON CONFLICT (year)"
        " DO UPDATE SET value = value + 1 RETURNING value",
        (new.year,),
    ) as cursor:
        sequence = (await cursor.fetchone())[0]
    columns = {
        "reg_number": f"{new.year % 100:02d}-{sequence:05d}",
        "citizen_id": new.citizen_id,
        "category": new.category,
        "description": new.description,
        "address": new.address,
        "latitude": new.latitude,
        "longitude": new.longitude,
        "is_anonymous": int(new.is_anonymous),
        "full_name": new.full_name,
        "phone": new.phone,
        "contact_address": new.contact_address,
        "receipt_salt": new.receipt_salt,
        "receipt_hash": new.receipt_hash,
        "locale": new.locale,
        "status": new.status,
        "created_at": to_db(now),
        "due_at": to_db(new.due_at),
        "updated_at": to_db(now),
        "draft_key": new.draft_key,
    }
    async with db.execute(
        f"INSERT INTO complaints ({', '.join(columns)})"
        f" VALUES ({', '.join('?' * len(columns))}) RETURNING id",
        tuple(columns.values()),
    ) as cursor:
        complaint_id = (await cursor.fetchone())[0]
    await db.executemany(
        "INSERT INTO complaint_photos (complaint_id, position, sha256, path) VALUES (?, ?, ?, ?)",
        [(complaint_id, i, p.sha256, p.path) for i, p in enumerate(new.photos)],
    )
    await insert_media(db, complaint_id, new.media)
    await db.execute(
        "INSERT INTO complaint_events (complaint_id, old_status, new_status, actor,"
        " created_at) VALUES (?, NULL, ?, 'citizen', ?)",
        (complaint_id, new.status, to_db(now)),
    )
    return complaint_id


def _bind(
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


def _event(row: aiosqlite.Row) -> ComplaintEvent:
    return _from_row(ComplaintEvent, row, created_at=from_db(row["created_at"]))


def _complaint(row: aiosqlite.Row, photos: tuple[Photo, ...]) -> Complaint:
    return _from_row(
        Complaint,
        row,
        is_anonymous=bool(row["is_anonymous"]),
        created_at=from_db(row["created_at"]),
        due_at=from_db(row["due_at"]),
        updated_at=from_db(row["updated_at"]),
        photos=photos,
    )


async def _insert_delivery(
    db: aiosqlite.Connection, provider_sid: str, message_id: int, now: datetime
) -> None:
    await db.execute(
        "INSERT OR IGNORE INTO outbox_deliveries (provider_sid, outbox_id, status, updated_at)"
        " VALUES (?, ?, 'queued', ?)",
        (provider_sid, message_id, to_db(now)),
    )


def _outbox(row: aiosqlite.Row) -> OutboxMessage:
    progress = json.loads(row["result"]) if row["result"] else {}
    return _from_row(
        OutboxMessage,
        row,
        payload=json.loads(row["payload"]),
        parts_done=progress.get("parts_done", 0),
    )


class OutboxRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self,
        *,
        messages: Iterable[NewOutboxMessage],
        now: datetime,
        inbound: InboundRef | None = None,
    ) -> None:
        """Queue messages; with `inbound`, mark that journal entry handled in the same
        transaction (the messages are what handling it produced)."""
        messages = list(messages)
        if not messages and inbound is None:
            return
        async with self._store.transaction() as db:
            for message in messages:
                await _insert_outbox(db, message, now)
            if inbound is not None:
                await _mark_inbound_done(db, inbound)

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
    ) -> None:
        """Done. `scrub` blanks the payload (replies that carried a receipt code); the last
        part's progress and messenger id are recorded with it, in one statement when there is
        no id to keep."""
        update = (
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " payload = CASE WHEN ? THEN '{}' ELSE payload END,"
            " result = CASE WHEN ? IS NULL THEN result"
            " ELSE json_set(COALESCE(result, '{}'), '$.parts_done', ?) END WHERE id = ?"
        )
        params = (to_db(now), int(scrub), parts_done, parts_done, message_id)
        if provider_sid is None:
            await self._store.execute(update, params)
            return
        async with self._store.transaction() as db:
            await db.execute(update, params)
            await _insert_delivery(db, provider_sid, message_id, now)

    async def record_part(
        self, *, message_id: int, parts_done: int, provider_sid: str | None, now: datetime
    ) -> None:
        """One more part of a row went out: remember how many (a retry or a restart goes on
        after them) and the messenger's id of it, in one transaction."""
        update = (
            "UPDATE outbox SET result = json_set(COALESCE(result, '{}'), '$.parts_done', ?)"
            " WHERE id = ?"
        )
        if provider_sid is None:
            await self._store.execute(update, (parts_done, message_id))
            return
        async with self._store.transaction() as db:
            await db.execute(update, (parts_done, message_id))
            await _insert_delivery(db, provider_sid, message_id, now)

    async def retry_later(
        self, *, message_id: int, at: datetime, error: str, count_attempt: bool = True
    ) -> None:
        await self._store.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?,"
            " attempts = attempts + ? WHERE id = ?",
            (to_db(at), error, int(count_attempt), message_id),
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
            "UPDATE outbox SET status = 'held', last_error = ? WHERE id = ?", (reason, message_id)
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
        )

    async def requeue(self, *, message_id: int, payload: dict[str, Any], now: datetime) -> None:
        """Send a row again from the start with a changed payload (e.g. as a template)."""
        await self._store.execute(
            "UPDATE outbox SET status = 'pending', payload = ?, result = NULL,"
            " next_attempt_at = ? WHERE id = ?",
            (json.dumps(payload, ensure_ascii=False), to_db(now), message_id),
        )

    async def get(self, *, message_id: int) -> OutboxMessage | None:
        row = await self._store.fetchone("SELECT * FROM outbox WHERE id = ?", (message_id,))
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


class InboundRepo:
    """Webhook messages: each MessageSid accepted once, kept until handled."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def accept(
        self, *, channel: str, message_sid: str, params: dict[str, Any], now: datetime
    ) -> bool:
        """Store a new message; False when this MessageSid was seen before (a replay)."""
        changed = await self._store.execute(
            "INSERT OR IGNORE INTO inbound_messages (channel, message_sid, params, received_at)"
            " VALUES (?, ?, ?, ?)",
            (channel, message_sid, json.dumps(params, ensure_ascii=False), to_db(now)),
        )
        return changed == 1

    async def pending(self, *, channel: str) -> list[InboundMessage]:
        """Messages accepted but not handled (after a crash), oldest first."""
        rows = await self._store.fetchall(
            "SELECT * FROM inbound_messages WHERE channel = ? AND status = 'pending'"
            " ORDER BY received_at, rowid",
            (channel,),
        )
        return [
            InboundMessage(row["channel"], row["message_sid"], json.loads(row["params"]))
            for row in rows
        ]

    async def mark_done(self, *, channel: str, message_sid: str) -> None:
        """Handled: the request (with its text and phone number) is blanked."""
        await self._store.execute(
            "UPDATE inbound_messages SET status = 'done', params = '{}'"
            " WHERE channel = ? AND message_sid = ?",
            (channel, message_sid),
        )


def _question(row: aiosqlite.Row) -> Question:
    return _from_row(Question, row, created_at=from_db(row["created_at"]))


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
                await _insert_outbox(db, message, now)
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
                await _insert_outbox(db, message, now)
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
