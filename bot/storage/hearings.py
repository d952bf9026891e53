"""Hearings, their RSVPs and proposals, and the topics citizens follow.

Changing a hearing's time or place, cancelling it, or publishing its results drops, in the same
transaction, every reminder still queued for it (`hr:<hearing>:…` rows not yet sent): a reminder
computed for the old time is never sent. Reminders for the new time are queued by the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.domain.hearings import (
    ALL_TOPICS,
    CANCELLED,
    CHANGED,
    HELD,
    Hearing,
    HearingDraft,
    HearingResults,
)
from bot.storage.citizens import citizen_of_row
from bot.storage.db import from_db, to_db
from bot.storage.writes import insert_outbox

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from bot.storage.models import Citizen, NewOutboxMessage
    from bot.storage.store import Store

# outbox statuses of a row not sent yet (whatever waits for it)
UNSENT = ("pending", "staged", "paused", "held")


def reminder_key(hearing_id: int, version: int, minutes: int, citizen_id: int) -> str:
    return f"hr:{hearing_id}:{version}:{minutes}:{citizen_id}"


@dataclass(frozen=True)
class Proposal:
    id: int
    hearing_id: int
    number: int
    citizen_id: int
    text: str
    photo_path: str | None
    created_at: datetime


def _hearing(row: aiosqlite.Row) -> Hearing:
    results = json.loads(row["results"]) if row["results"] else None
    return Hearing(
        id=row["id"],
        topic=row["topic"],
        status=row["status"],
        version=row["version"],
        starts_at=from_db(row["starts_at"]),
        duration_minutes=row["duration_minutes"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        materials_url=row["materials_url"],
        proposals_until=from_db(row["proposals_until"]),
        expected_participants=row["expected_participants"],
        reminder_minutes=tuple(json.loads(row["reminder_minutes"])),
        texts=json.loads(row["texts"]),
        results=HearingResults(**results) if results else None,
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


def _proposal(row: aiosqlite.Row) -> Proposal:
    return Proposal(
        id=row["id"],
        hearing_id=row["hearing_id"],
        number=row["number"],
        citizen_id=row["citizen_id"],
        text=row["text"],
        photo_path=row["photo_path"],
        created_at=from_db(row["created_at"]),
    )


async def _drop_reminders(db: aiosqlite.Connection, hearing_id: int) -> int:
    marks = ",".join("?" * len(UNSENT))
    cursor = await db.execute(
        f"UPDATE outbox SET status = 'dropped', last_error = 'hearing changed'"
        f" WHERE kind = 'hearing_reminder' AND dedupe_key LIKE ? AND status IN ({marks})",
        (f"hr:{hearing_id}:%", *UNSENT),
    )
    return cursor.rowcount


class HearingRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, draft: HearingDraft, *, now: datetime) -> Hearing:
        row = await self._store.fetchone(
            "INSERT INTO hearings (topic, starts_at, duration_minutes, latitude, longitude,"
            " materials_url, proposals_until, expected_participants, reminder_minutes, texts,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (*self._values(draft), to_db(now), to_db(now)),
        )
        return _hearing(row)

    @staticmethod
    def _values(draft: HearingDraft) -> tuple:
        return (
            draft.topic,
            to_db(draft.starts_at),
            draft.duration_minutes,
            draft.latitude,
            draft.longitude,
            draft.materials_url,
            to_db(draft.proposals_until),
            draft.expected_participants,
            json.dumps(list(draft.reminder_minutes)),
            json.dumps(draft.texts, ensure_ascii=False),
        )

    async def get(self, *, hearing_id: int) -> Hearing | None:
        row = await self._store.fetchone("SELECT * FROM hearings WHERE id = ?", (hearing_id,))
        return _hearing(row) if row else None

    async def list(self) -> list[Hearing]:
        rows = await self._store.fetchall("SELECT * FROM hearings ORDER BY starts_at, id")
        return [_hearing(row) for row in rows]

    async def upcoming(self, *, now: datetime, limit: int = 10) -> list[Hearing]:
        """Hearings still standing that have not started yet, soonest first."""
        rows = await self._store.fetchall(
            "SELECT * FROM hearings WHERE status IN ('announced', 'changed') AND starts_at > ?"
            " ORDER BY starts_at, id LIMIT ?",
            (to_db(now), limit),
        )
        return [_hearing(row) for row in rows]

    async def update(
        self, *, hearing_id: int, draft: HearingDraft, moved: bool, now: datetime
    ) -> Hearing | None:
        """New values; `moved` (time or place changed): a new version, status 'changed', and
        the reminders queued for the old version dropped, in one transaction. None when the
        hearing no longer stands."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE hearings SET topic = ?, starts_at = ?, duration_minutes = ?,"
                " latitude = ?, longitude = ?, materials_url = ?, proposals_until = ?,"
                " expected_participants = ?, reminder_minutes = ?, texts = ?, updated_at = ?,"
                " version = version + ?, status = CASE WHEN ? THEN ? ELSE status END"
                " WHERE id = ? AND status IN ('announced', 'changed')",
                (
                    *self._values(draft),
                    to_db(now),
                    int(moved),
                    int(moved),
                    CHANGED,
                    hearing_id,
                ),
            )
            if cursor.rowcount != 1:
                return None
            if moved:
                await _drop_reminders(db, hearing_id)
        return await self.get(hearing_id=hearing_id)

    async def cancel(self, *, hearing_id: int, now: datetime) -> Hearing | None:
        """Cancelled, its queued reminders dropped; None when it no longer stands."""
        return await self._close(hearing_id, CANCELLED, None, now)

    async def set_results(
        self, *, hearing_id: int, results: HearingResults, now: datetime
    ) -> Hearing | None:
        """Held, with its results (published again: replaced); None when it was cancelled."""
        return await self._close(hearing_id, HELD, results, now)

    async def _close(
        self, hearing_id: int, status: str, results: HearingResults | None, now: datetime
    ) -> Hearing | None:
        allowed = ("announced", "changed", "held") if status == HELD else ("announced", "changed")
        marks = ",".join("?" * len(allowed))
        encoded = json.dumps(results.__dict__, ensure_ascii=False) if results else None
        async with self._store.transaction() as db:
            cursor = await db.execute(
                f"UPDATE hearings SET status = ?, results = COALESCE(?, results), updated_at = ?"
                f" WHERE id = ? AND status IN ({marks})",
                (status, encoded, to_db(now), hearing_id, *allowed),
            )
            if cursor.rowcount != 1:
                return None
            await _drop_reminders(db, hearing_id)
        return await self.get(hearing_id=hearing_id)

    # ----- RSVPs -----------------------------------------------------------------------------

    async def rsvp(self, *, hearing_id: int, citizen_id: int, coming: bool, now: datetime) -> None:
        if coming:
            await self._store.execute(
                "INSERT INTO hearing_rsvps (hearing_id, citizen_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (hearing_id, citizen_id) DO NOTHING",
                (hearing_id, citizen_id, to_db(now)),
            )
        else:
            await self._store.execute(
                "DELETE FROM hearing_rsvps WHERE hearing_id = ? AND citizen_id = ?",
                (hearing_id, citizen_id),
            )

    async def is_coming(self, *, hearing_id: int, citizen_id: int) -> bool:
        row = await self._store.fetchone(
            "SELECT 1 FROM hearing_rsvps WHERE hearing_id = ? AND citizen_id = ?",
            (hearing_id, citizen_id),
        )
        return row is not None

    async def attendees_of_held(self, *, since: datetime) -> list[tuple[int, int]]:
        """(hearing id, citizen id) of everyone who said they would come to a hearing marked
        held since `since` (its results published), not invited to rate it yet."""
        rows = await self._store.fetchall(
            "SELECT r.hearing_id, r.citizen_id FROM hearings h"
            " JOIN hearing_rsvps r ON r.hearing_id = h.id"
            " WHERE h.status = 'held' AND h.updated_at >= ?"
            " AND NOT EXISTS (SELECT 1 FROM survey_invitations i WHERE i.subject_kind ="
            " 'hearing' AND i.subject_id = h.id AND i.citizen_id = r.citizen_id)"
            " ORDER BY h.id, r.citizen_id",
            (to_db(since),),
        )
        return [(row["hearing_id"], row["citizen_id"]) for row in rows]

    async def rsvp_count(self, *, hearing_id: int) -> int:
        row = await self._store.fetchone(
            "SELECT COUNT(*) AS n FROM hearing_rsvps WHERE hearing_id = ?", (hearing_id,)
        )
        return row["n"]

    # ----- proposals -------------------------------------------------------------------------

    async def add_proposal(
        self,
        *,
        hearing_id: int,
        citizen_id: int,
        text: str,
        photo_path: str | None,
        step_key: str,
        now: datetime,
        notify: Callable[[Proposal], Iterable[NewOutboxMessage]] = lambda p: (),
    ) -> tuple[Proposal, bool]:
        """Store the proposal with the next number of its hearing and queue `notify(proposal)`
        (the operators' card), in one transaction. The same `step_key` again (the same message
        handled twice) returns the stored proposal and False."""
        async with self._store.transaction() as db:
            found = await db.execute_fetchall(
                "SELECT * FROM hearing_proposals WHERE step_key = ?", (step_key,)
            )
            if found:
                return _proposal(list(found)[0]), False
            rows = await db.execute_fetchall(
                "INSERT INTO hearing_proposals (hearing_id, number, citizen_id, text, photo_path,"
                " step_key, created_at) SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?"
                " FROM hearing_proposals WHERE hearing_id = ? RETURNING *",
                (hearing_id, citizen_id, text, photo_path, step_key, to_db(now), hearing_id),
            )
            proposal = _proposal(list(rows)[0])
            for message in notify(proposal):
                await insert_outbox(db, message, now)
        return proposal, True

    async def proposal(self, *, proposal_id: int) -> Proposal | None:
        row = await self._store.fetchone(
            "SELECT * FROM hearing_proposals WHERE id = ?", (proposal_id,)
        )
        return _proposal(row) if row else None

    async def proposal_count(self, *, hearing_id: int) -> int:
        row = await self._store.fetchone(
            "SELECT COUNT(*) AS n FROM hearing_proposals WHERE hearing_id = ?", (hearing_id,)
        )
        return row["n"]

    # ----- topics and recipients -------------------------------------------------------------

    async def topics_of(self, *, citizen_id: int) -> set[str]:
        """The topics a citizen follows ({"all"} when none were chosen)."""
        rows = await self._store.fetchall(
            "SELECT topic FROM citizen_topics WHERE citizen_id = ?", (citizen_id,)
        )
        return {row["topic"] for row in rows} or {ALL_TOPICS}

    async def set_topics(self, *, citizen_id: int, topics: Iterable[str]) -> None:
        chosen = set(topics)
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM citizen_topics WHERE citizen_id = ?", (citizen_id,))
            for topic in sorted(chosen - {ALL_TOPICS} if ALL_TOPICS not in chosen else chosen):
                await db.execute(
                    "INSERT INTO citizen_topics (citizen_id, topic) VALUES (?, ?)",
                    (citizen_id, topic),
                )

    async def recipients(self, *, topic: str, hearing_id: int | None = None) -> list[Citizen]:
        """Reachable citizens who agreed to announcements and follow `topic` (or all topics),
        and, for a hearing, those who said they will come and did not send STOP; oldest
        subscribers first."""
        rows = await self._store.fetchall(
            "SELECT c.* FROM citizens c WHERE c.unreachable = 0 AND ("
            " (c.announcements = 1 AND (?1 = 'all'"
            "  OR NOT EXISTS (SELECT 1 FROM citizen_topics t WHERE t.citizen_id = c.id)"
            "  OR EXISTS (SELECT 1 FROM citizen_topics t WHERE t.citizen_id = c.id"
            "   AND t.topic IN ('all', ?1))))"
            " OR (?2 IS NOT NULL AND COALESCE(c.announcements, 1) = 1 AND EXISTS ("
            "  SELECT 1 FROM hearing_rsvps r WHERE r.hearing_id = ?2 AND r.citizen_id = c.id)))"
            " ORDER BY COALESCE(c.announcements_changed_at, c.created_at), c.id",
            (topic, hearing_id),
        )
        return [citizen_of_row(row) for row in rows]
