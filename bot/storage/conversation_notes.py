"""Notes written into a citizen's conversation from outside a dialog step.

The outbox, having delivered a pushed message with options, notes them in the conversation, so
that a number or a label typed next is read against them. Only an existing conversation is
changed: a citizen who never wrote has no step a push could follow.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.storage.store import Store


class ConversationNoteRepo:
    """One key of `conversations.data`, read and written in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def put(self, *, citizen_id: int, key: str, value: Any) -> bool:
        """Set `data[key]` of the citizen's conversation; False when there is none."""
        async with self._store.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT data FROM conversations WHERE citizen_id = ?", (citizen_id,)
                )
            )
            if not rows:
                return False
            data = json.loads(rows[0][0])
            data[key] = value
            await db.execute(
                "UPDATE conversations SET data = ? WHERE citizen_id = ?",
                (json.dumps(data, ensure_ascii=False), citizen_id),
            )
        return True
