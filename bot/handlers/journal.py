"""What the Telegram and WhatsApp inboxes share: stored inbound messages handled in tasks off
the request (or the poll), recovered at start-up, and waited for before the store closes.

A subclass names its `channel` and handles one stored message in `process`, which never
raises; the store's journal (`inbound_messages`) keeps each message until it is handled.
"""

from __future__ import annotations

import asyncio

from bot.storage.models import InboundMessage


class JournalInbox:
    """Schedules stored inbound messages; `process` is the channel's own."""

    channel: str

    def __init__(self, app) -> None:
        self.app = app
        self._tasks: set[asyncio.Task] = set()

    async def process(self, message: InboundMessage) -> None:
        raise NotImplementedError

    def schedule(self, message: InboundMessage) -> None:
        # Tasks start in the order they are created, so one chat's messages reach the
        # per-chat locks (and the core) in the order they came.
        task = asyncio.create_task(self.process(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self) -> int:
        """At start-up: handle what was stored but not handled before a stop."""
        pending = await self.app.store.inbound.pending(channel=self.channel)
        for message in pending:
            self.schedule(message)
        return len(pending)

    async def drain(self) -> None:
        """Wait for the messages being handled (before the store is closed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
