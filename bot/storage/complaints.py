"""Complaints, their photos and their history of status changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.domain.deadlines import ANSWER, Deadline
from bot.storage.complaint_media import insert_media
from bot.storage.db import from_db, to_db
from bot.storage.deadlines import insert_deadlines, insert_follow_up, meet_deadlines
from bot.storage.models import (
    Complaint,
    ComplaintEvent,
    NewComplaint,
    NewOutboxMessage,
    Photo,
    Step,
)
from bot.storage.writes import (
    apply_step,
    bind_ids,
    from_row,
    insert_outbox,
)

# The statuses that answer a complaint on the merits (its `answered_at` is the first of them).
FIRST_ANSWER_STATUSES = ("answered", "rejected")

if TYPE_CHECKING:
    from bot.storage.store import Store


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
        deadlines: Iterable[Deadline] = (),
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
                await insert_deadlines(db, complaint_id, deadlines)
                for message in notify:
                    await insert_outbox(db, bind_ids(message, complaint_id), now)
                if step is not None:
                    step.messages = [bind_ids(m, complaint_id) for m in step.messages]
                    await apply_step(db, step)
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
            step.messages = [bind_ids(m, complaint_id) for m in step.messages]
            await apply_step(db, step)

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

    async def open_without_deadlines(self, *, open_statuses: Iterable[str]) -> list[Complaint]:
        """Open complaints with no deadline rows (stored before deadlines were kept)."""
        statuses = tuple(open_statuses)
        marks = ",".join("?" * len(statuses))
        rows = await self._store.fetchall(
            f"SELECT * FROM complaints c WHERE c.status IN ({marks}) AND NOT EXISTS"
            " (SELECT 1 FROM complaint_deadlines d WHERE d.complaint_id = c.id)",
            statuses,
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
        meets: Iterable[str] = (),
        deadlines: Iterable[Deadline] = (),
        follow_up_at: datetime | None = None,
        follow_up_outcome: tuple[int, str] | None = None,
        step: Step | None = None,
    ) -> bool:
        """Move a complaint from `expected_status` to `new_status`, recording who, when and why
        (and, when forwarded, to which body), in one transaction with what follows from it:
        deadlines met (`meets`) or set anew (`deadlines`; the answer deadline is also the
        complaint's `due_at`), the follow-up question after an answer, the outcome of the
        follow-up that led here, the notices, and the citizen's dialog `step`.

        Returns False (and changes nothing) when the status is no longer `expected_status`, so a
        repeated or stale button press is harmless.
        """
        async with self._store.transaction() as db:
            async with db.execute(
                "UPDATE complaints SET status = ?, updated_at = ?,"
                " forwarded_to = COALESCE(?, forwarded_to),"
                " answered_at = COALESCE(answered_at, ?) WHERE id = ? AND status = ?",
                (
                    new_status,
                    to_db(now),
                    forwarded_to,
                    to_db(now) if new_status in FIRST_ANSWER_STATUSES else None,
                    complaint_id,
                    expected_status,
                ),
            ) as cursor:
                if cursor.rowcount != 1:
                    return False
            cursor = await db.execute(
                "INSERT INTO complaint_events (complaint_id, old_status, new_status, actor,"
                " actor_name, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (complaint_id, expected_status, new_status, actor, actor_name, note, to_db(now)),
            )
            event_id = cursor.lastrowid
            await meet_deadlines(db, complaint_id, meets, now)
            deadlines = list(deadlines)
            await insert_deadlines(db, complaint_id, deadlines)
            for deadline in deadlines:
                if deadline.kind == ANSWER:
                    await db.execute(
                        "UPDATE complaints SET due_at = ? WHERE id = ?",
                        (to_db(deadline.due_at), complaint_id),
                    )
            if follow_up_at is not None:
                await insert_follow_up(db, complaint_id, event_id, follow_up_at)
            if follow_up_outcome is not None:
                await db.execute(
                    "UPDATE complaint_followups SET outcome = ?, outcome_at = ?"
                    " WHERE event_id = ? AND outcome IS NULL",
                    (follow_up_outcome[1], to_db(now), follow_up_outcome[0]),
                )
            for message in notify:
                await insert_outbox(db, bind_ids(message, complaint_id, event_id), now)
            if step is not None:
                step.messages = [bind_ids(m, complaint_id, event_id) for m in step.messages]
                await apply_step(db, step)
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
        "operator_group": new.operator_group,
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
    await db.execute(
        "INSERT INTO complaint_events (complaint_id, old_status, new_status, actor,"
        " created_at) VALUES (?, NULL, ?, 'citizen', ?)",
        (complaint_id, new.status, to_db(now)),
    )
    await insert_media(db, complaint_id, new.media)
    return complaint_id


def _event(row: aiosqlite.Row) -> ComplaintEvent:
    return from_row(ComplaintEvent, row, created_at=from_db(row["created_at"]))


def _complaint(row: aiosqlite.Row, photos: tuple[Photo, ...]) -> Complaint:
    return from_row(
        Complaint,
        row,
        is_anonymous=bool(row["is_anonymous"]),
        created_at=from_db(row["created_at"]),
        due_at=from_db(row["due_at"]),
        updated_at=from_db(row["updated_at"]),
        photos=photos,
    )
