"""Citizens: one row per chat on a channel, their language and their choices."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from bot.storage.db import from_db, to_db
from bot.storage.models import (
    Citizen,
    Conversation,
)
from bot.storage.writes import (
    from_row,
)

if TYPE_CHECKING:
    from bot.storage.store import Store


def citizen_of_row(row: aiosqlite.Row) -> Citizen:
    return from_row(
        Citizen,
        row,
        unreachable=bool(row["unreachable"]),
        last_inbound_at=from_db(row["last_inbound_at"]),
        announcements=None if row["announcements"] is None else bool(row["announcements"]),
        surveys=None if row["surveys"] is None else bool(row["surveys"]),
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
            inline=True,
        )
        return citizen_of_row(row)

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
            inline=True,
        )
        if row is None:
            return None, None
        conversation = None
        if row["conv_state"] is not None:
            conversation = Conversation(row["conv_state"], json.loads(row["conv_data"]))
        return citizen_of_row(row), conversation

    async def get(self, *, citizen_id: int) -> Citizen | None:
        row = await self._store.fetchone(
            "SELECT * FROM citizens WHERE id = ?", (citizen_id,), inline=True
        )
        return citizen_of_row(row) if row else None

    async def locale_of(self, *, citizen_id: int) -> str | None:
        """Only the citizen's language as it is now (what a bulk row's renderer needs)."""
        row = await self._store.fetchone(
            "SELECT locale FROM citizens WHERE id = ?", (citizen_id,), inline=True
        )
        return row[0] if row else None

    async def find(self, *, channel: str, user_key: str) -> Citizen | None:
        row = await self._store.fetchone(
            "SELECT * FROM citizens WHERE channel = ? AND user_key = ?",
            (channel, user_key),
            inline=True,
        )
        return citizen_of_row(row) if row else None

    async def set_locale(self, *, citizen_id: int, locale: str) -> None:
        await self._store.execute(
            "UPDATE citizens SET locale = ? WHERE id = ?", (locale, citizen_id), inline=True
        )

    async def mark_unreachable(self, *, citizen_id: int) -> None:
        await self._store.execute(
            "UPDATE citizens SET unreachable = 1 WHERE id = ?", (citizen_id,), inline=True
        )

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
        return [citizen_of_row(row) for row in rows]
