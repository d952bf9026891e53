"""The inbound journal: each message stored once, kept until handled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.storage.db import to_db
from bot.storage.models import (
    InboundMessage,
)

if TYPE_CHECKING:
    from bot.storage.store import Store


class InboundRepo:
    """Webhook messages: each MessageSid accepted once, kept until handled."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def accept(
        self, *, channel: str, message_sid: str, params: dict[str, Any], now: datetime
    ) -> bool:
        """Store a new message; False when this MessageSid was seen before (a replay)."""
        changed = await self._store.execute(
            "INSERT INTO inbound_messages (channel, message_sid, params, received_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (channel, message_sid, json.dumps(params, ensure_ascii=False), to_db(now)),
            inline=True,
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
            inline=True,
        )
