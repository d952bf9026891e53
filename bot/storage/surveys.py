"""Surveys, their invitations and the opt-out: all the SQL of the satisfaction survey.

Each answer is written the moment it is given. An invitation's unique key (subject kind, subject
id, citizen) is inserted in the same transaction as the outbox row that carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.domain.surveys import ASPECTS, MONEY, OVERALL, PROFILE
from bot.storage.db import from_db, to_db
from bot.storage.models import NewOutboxMessage
from bot.storage.writes import insert_outbox

if TYPE_CHECKING:
    from bot.storage.store import Store

RATED = (OVERALL, *ASPECTS)
# Columns a dialog may write one answer into.
ANSWER_FIELDS = frozenset({*RATED, "result_ok", *MONEY, "report", "improvement", *PROFILE})
# A survey counts as a response once any of these is answered.
_ANSWERED = " OR ".join(f"{c} IS NOT NULL" for c in (*RATED, "result_ok"))
_PERIOD = "created_at >= ?1 AND created_at < ?2 AND (?3 IS NULL OR service = ?3)"


@dataclass(frozen=True)
class Survey:
    id: int
    citizen_id: int
    service: str
    invitation_id: int | None
    status: str
    answers: dict[str, Any]
    created_at: datetime
    position: str | None = None


@dataclass(frozen=True)
class Invitation:
    id: int
    subject_kind: str
    subject_id: int
    citizen_id: int
    created_at: datetime
    closes_at: datetime


def _survey(row) -> Survey:
    return Survey(
        id=row["id"],
        citizen_id=row["citizen_id"],
        service=row["service"],
        invitation_id=row["invitation_id"],
        status=row["status"],
        answers={f: row[f] for f in sorted(ANSWER_FIELDS)},
        created_at=from_db(row["created_at"]),
        position=row["position"],
    )


def _invitation(row) -> Invitation:
    return Invitation(
        id=row["id"],
        subject_kind=row["subject_kind"],
        subject_id=row["subject_id"],
        citizen_id=row["citizen_id"],
        created_at=from_db(row["created_at"]),
        closes_at=from_db(row["closes_at"]),
    )


class SurveyRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    # ----- the opt-out, stored on the citizen like the announcements choice -------------------

    async def set_wanted(self, *, citizen_id: int, wanted: bool, now: datetime) -> None:
        await self._store.execute(
            "UPDATE citizens SET surveys = ?, surveys_changed_at = ? WHERE id = ?",
            (int(wanted), to_db(now), citizen_id),
        )

    async def opted_out(self, *, citizen_id: int) -> bool:
        row = await self._store.fetchone("SELECT surveys FROM citizens WHERE id = ?", (citizen_id,))
        return row is not None and row["surveys"] == 0

    # ----- surveys ----------------------------------------------------------------------------

    async def create(
        self, *, citizen_id: int, service: str, now: datetime, invitation_id: int | None = None
    ) -> Survey:
        """A new survey; for an invitation, the one survey it already has when there is one."""
        async with self._store.transaction() as db:
            if invitation_id is not None:
                found = await db.execute_fetchall(
                    "SELECT * FROM surveys WHERE invitation_id = ?", (invitation_id,)
                )
                if found:
                    return _survey(found[0])
            rows = await db.execute_fetchall(
                "INSERT INTO surveys (citizen_id, service, invitation_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING *",
                (citizen_id, service, invitation_id, to_db(now), to_db(now)),
            )
        return _survey(list(rows)[0])

    async def get(self, *, survey_id: int) -> Survey | None:
        row = await self._store.fetchone("SELECT * FROM surveys WHERE id = ?", (survey_id,))
        return _survey(row) if row else None

    async def by_invitation(self, *, invitation_id: int) -> Survey | None:
        row = await self._store.fetchone(
            "SELECT * FROM surveys WHERE invitation_id = ?", (invitation_id,)
        )
        return _survey(row) if row else None

    async def unfinished(self, *, citizen_id: int) -> Survey | None:
        """The citizen's latest survey left open (to resume from the menu)."""
        row = await self._store.fetchone(
            "SELECT * FROM surveys WHERE citizen_id = ? AND status = 'open'"
            " ORDER BY id DESC LIMIT 1",
            (citizen_id,),
        )
        return _survey(row) if row else None

    async def answer(self, *, survey_id: int, field: str, value: Any, now: datetime) -> None:
        """Keep one answer at once (an abandoned survey still counts what it has)."""
        if field not in ANSWER_FIELDS:
            raise ValueError(f"not a survey answer: {field!r}")
        await self._store.execute(
            f"UPDATE surveys SET {field} = ?, updated_at = ? WHERE id = ?",
            (value, to_db(now), survey_id),
        )

    async def set_service(self, *, survey_id: int, service: str) -> None:
        await self._store.execute(
            "UPDATE surveys SET service = ? WHERE id = ?", (service, survey_id)
        )

    async def move(self, *, survey_id: int, position: str, now: datetime) -> None:
        """Remember the question reached, to resume there later."""
        await self._store.execute(
            "UPDATE surveys SET position = ?, updated_at = ? WHERE id = ?",
            (position, to_db(now), survey_id),
        )

    async def complete(self, *, survey_id: int, now: datetime) -> None:
        await self._store.execute(
            "UPDATE surveys SET status = 'done', completed_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'open'",
            (to_db(now), to_db(now), survey_id),
        )

    # ----- invitations ------------------------------------------------------------------------

    async def invite(
        self,
        *,
        citizen_id: int,
        subject_kind: str,
        subject_id: int,
        now: datetime,
        closes_at: datetime,
        message: Callable[[int], NewOutboxMessage],
    ) -> int | None:
        """Invite once per (subject, citizen), never someone who opted out: the invitation's
        unique key and its outbox row (`message(invitation id)`) in one transaction. Returns
        the new invitation's id, or None when nothing was done."""
        async with self._store.transaction() as db:
            out = await db.execute_fetchall(
                "SELECT 1 FROM citizens WHERE id = ? AND (surveys IS NULL OR surveys = 1)",
                (citizen_id,),
            )
            if not out:
                return None
            rows = list(
                await db.execute_fetchall(
                    "INSERT INTO survey_invitations (subject_kind, subject_id, citizen_id,"
                    " created_at, closes_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (subject_kind, subject_id, citizen_id) DO NOTHING RETURNING id",
                    (subject_kind, subject_id, citizen_id, to_db(now), to_db(closes_at)),
                )
            )
            if not rows:
                return None
            invitation_id = rows[0][0]
            await insert_outbox(db, message(invitation_id), now)
        return invitation_id

    async def invitation(self, *, invitation_id: int) -> Invitation | None:
        row = await self._store.fetchone(
            "SELECT * FROM survey_invitations WHERE id = ?", (invitation_id,)
        )
        return _invitation(row) if row else None

    async def complaints_to_invite(
        self, *, answered_before: datetime, since: datetime, statuses: Iterable[str]
    ) -> list[tuple[int, int]]:
        """(complaint id, citizen id) of complaints that got one of `statuses` between `since`
        and `answered_before`, not invited yet, whose citizen did not opt out."""
        statuses = tuple(statuses)
        marks = ",".join("?" * len(statuses))
        rows = await self._store.fetchall(
            "SELECT DISTINCT c.id, c.citizen_id FROM complaint_events e"
            " JOIN complaints c ON c.id = e.complaint_id"
            " JOIN citizens z ON z.id = c.citizen_id"
            f" WHERE e.new_status IN ({marks}) AND e.created_at >= ? AND e.created_at <= ?"
            " AND (z.surveys IS NULL OR z.surveys = 1)"
            " AND NOT EXISTS (SELECT 1 FROM survey_invitations i WHERE i.subject_kind ="
            " 'complaint' AND i.subject_id = c.id AND i.citizen_id = c.citizen_id)"
            " ORDER BY c.id",
            (*statuses, to_db(since), to_db(answered_before)),
        )
        return [(row[0], row[1]) for row in rows]

    # ----- figures (assembled by bot.domain.survey_stats) -------------------------------------

    async def rating_counts(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> dict[str, dict[int, int]]:
        """{question: {rating: count}} of the surveys started in the period, in one pass over
        the period's rows (not one per question)."""
        cells = [(c, v) for c in RATED for v in range(1, 6)]
        sums = ", ".join(f"SUM(CASE WHEN {c} = {v} THEN 1 ELSE 0 END)" for c, v in cells)
        row = await self._store.fetchone(
            f"SELECT {sums} FROM surveys WHERE {_PERIOD}", (to_db(since), to_db(until), service)
        )
        found: dict[str, dict[int, int]] = {c: {} for c in RATED}
        for (question, rating), count in zip(cells, row, strict=True):
            if count:
                found[question][rating] = count
        return found

    async def value_counts(
        self, *, field: str, since: datetime, until: datetime, service: str | None = None
    ) -> dict[str, int]:
        """{value: count} of one answer (result, money) over the period's responses."""
        if field not in ANSWER_FIELDS:
            raise ValueError(field)
        rows = await self._store.fetchall(
            f"SELECT {field} AS v, COUNT(*) AS n FROM surveys WHERE {_PERIOD}"
            f" AND {field} IS NOT NULL GROUP BY {field}",
            (to_db(since), to_db(until), service),
        )
        return {str(row["v"]): row["n"] for row in rows}

    async def responses_count(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> int:
        row = await self._store.fetchone(
            f"SELECT COUNT(*) AS n FROM surveys WHERE {_PERIOD} AND ({_ANSWERED})",
            (to_db(since), to_db(until), service),
        )
        return row["n"]

    async def profile_cells(
        self, *, field: str, since: datetime, until: datetime, service: str | None = None
    ) -> list[tuple[str, int, int, int]]:
        """(value, responses, sum of ratings, number of ratings) per value of one respondent
        field, over the period's responses that gave it."""
        if field not in PROFILE:
            raise ValueError(field)
        total = " + ".join(f"COALESCE({c}, 0)" for c in RATED)
        given = " + ".join(f"CASE WHEN {c} IS NULL THEN 0 ELSE 1 END" for c in RATED)
        rows = await self._store.fetchall(
            f"SELECT {field} AS v, COUNT(*) AS n, SUM({total}) AS s, SUM({given}) AS g"
            f" FROM surveys WHERE {_PERIOD} AND {field} IS NOT NULL AND ({_ANSWERED})"
            f" GROUP BY {field} ORDER BY {field}",
            (to_db(since), to_db(until), service),
        )
        return [(row["v"], row["n"], row["s"] or 0, row["g"] or 0) for row in rows]

    async def responses(self, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The period's responses, anonymised: no citizen, chat, phone or name; the day only."""
        rows = await self._store.fetchall(
            f"SELECT * FROM surveys WHERE {_PERIOD} AND ({_ANSWERED}) ORDER BY id",
            (to_db(since), to_db(until), None),
        )
        return [
            {
                "date": from_db(row["created_at"]).date().isoformat(),
                "service": row["service"],
                "invited": "yes" if row["invitation_id"] else "no",
                "status": row["status"],
                **{f: row[f] for f in (*RATED, "result_ok", *MONEY, "report", "improvement")},
                **{f: row[f] for f in PROFILE},
            }
            for row in rows
        ]

    # complaints, for the same statistics

    async def complaint_tally(
        self, *, since: datetime, until: datetime, now: datetime
    ) -> list[tuple[str, str, int, int]]:
        """(status, category, complaints, of them past their due date) of the complaints
        registered in the period: one pass over an index, whatever the figure."""
        rows = await self._store.fetchall(
            "SELECT status, category, COUNT(*) AS n,"
            " SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) AS late FROM complaints"
            " WHERE created_at >= ? AND created_at < ? GROUP BY status, category",
            (to_db(now), to_db(since), to_db(until)),
        )
        return [(row["status"], row["category"], row["n"], row["late"] or 0) for row in rows]

    async def answer_days(
        self, *, since: datetime, until: datetime, answered: Iterable[str] = ()
    ) -> list[tuple[int, bool, int]]:
        """(whole days from registration to the first answer, answered by the due date,
        complaints) of the period's answered complaints: a histogram, not a million rows, read
        in one pass over the period's complaints (`answered_at` is written with the first
        answer or rejection; `answered` is kept for callers and not needed).
        (julianday is SQLite's; PostgreSQL: EXTRACT(EPOCH FROM a - b) / 86400.)"""
        rows = await self._store.fetchall(
            "SELECT CAST(julianday(answered_at) - julianday(created_at) AS INTEGER) AS d,"
            " CASE WHEN answered_at <= due_at THEN 1 ELSE 0 END AS ok, COUNT(*) AS n"
            " FROM complaints WHERE created_at >= ? AND created_at < ?"
            " AND answered_at IS NOT NULL GROUP BY d, ok",
            (to_db(since), to_db(until)),
        )
        return [(int(row["d"]), bool(row["ok"]), row["n"]) for row in rows]
