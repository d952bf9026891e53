"""Where each citizen is in a dialog, and the step that saves it with its replies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from bot.storage.models import (
    Conversation,
    Step,
)
from bot.storage.writes import (
    apply_step_now,
    save_conversation_now,
)

INLINE_ROWS = 20  # more rows than that (rare) go through the worker thread

if TYPE_CHECKING:
    from bot.storage.store import Store


class ConversationRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def load(self, *, citizen_id: int) -> Conversation | None:
        row = await self._store.fetchone(
            "SELECT state, data FROM conversations WHERE citizen_id = ?", (citizen_id,), inline=True
        )
        return Conversation(row["state"], json.loads(row["data"])) if row else None

    async def save(self, *, citizen_id: int, conversation: Conversation, now: datetime) -> None:
        await self._store.run(save_conversation_now, citizen_id, conversation, now, inline=True)

    async def commit_step(self, step: Step) -> None:
        """Save the conversation, queue the step's messages and mark its journal entry handled,
        all in one transaction: a crash leaves either all of it or none."""
        if not step.messages and step.inbound is None:
            await self.save(
                citizen_id=step.citizen_id, conversation=step.conversation, now=step.now
            )
            return
        # one trip, on the loop's thread: a dialog step writes a handful of indexed rows
        await self._store.atomic(apply_step_now, step, inline=len(step.messages) <= INLINE_ROWS)
