"""Telegram updates in, through a journal: nothing lost at a crash, nothing handled twice.

Each update is stored by its `update_id` (in `inbound_messages`, as WhatsApp messages are)
before Telegram learns that it arrived: with long polling, the next `getUpdates` offset confirms
only what is stored; with the webhook, the 200 answer comes only after the update is stored. A
stored update is handled once: the dialog core marks it handled in the same transaction that
saves the conversation and queues the replies, and an update that was stored but not handled
when the process died is handled at the next start. A redelivered update (the same `update_id`)
is acknowledged and dropped. One chat's updates are handled one at a time, in the order they came.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.types import Update
from aiohttp import web

from bot.dialogs.guards import KeyedLocks
from bot.handlers.journal import JournalInbox
from bot.storage.models import InboundMessage, InboundRef

log = logging.getLogger(__name__)
CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT = 20  # seconds Telegram may hold a getUpdates call open
MAX_BACKOFF = 30.0


def _chat_of(raw: dict[str, Any]) -> object:
    """The chat an update belongs to (its updates are handled in order), else its id."""
    for value in raw.values():
        if isinstance(value, dict):
            chat = value.get("chat") or (value.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return chat["id"]
    return raw.get("update_id")


class TelegramInbox(JournalInbox):
    """Stores, orders and handles Telegram updates; polls or serves the webhook."""

    channel = CHANNEL

    def __init__(self, app, bot: Bot, dispatcher: Dispatcher) -> None:
        super().__init__(app)
        self.bot = bot
        self.dispatcher = dispatcher
        self.allowed_updates = dispatcher.resolve_used_update_types()
        self._order = KeyedLocks()

    async def accept(self, raw: dict[str, Any]) -> bool:
        """Journal one update; False (nothing to do) when its update_id was stored before."""
        update_id = str(raw["update_id"])
        fresh = await self.app.store.inbound.accept(
            channel=CHANNEL, message_sid=update_id, params=raw, now=self.app.clock.now()
        )
        if fresh:
            self.schedule(InboundMessage(CHANNEL, update_id, raw))
        return fresh

    async def process(self, message: InboundMessage) -> None:
        """Handle one stored update through the dispatcher; never raises."""
        # the chat's lock is taken before anything else, so tasks keep their arrival order
        async with self._order.hold(_chat_of(message.params)):
            inbound = InboundRef(CHANNEL, message.message_sid)
            try:
                update = Update.model_validate(message.params, context={"bot": self.bot})
                await self.dispatcher.feed_update(self.bot, update, inbound=inbound)
            except Exception:
                log.exception("Telegram update %s could not be handled", message.message_sid)
            # no-op when the dialog core marked it already; else (operators, errors) now
            await self.app.store.inbound.mark_done(channel=CHANNEL, message_sid=message.message_sid)

    async def poll(self) -> None:
        """Long polling until cancelled. An offset confirms updates only once they are stored."""
        offset = None
        backoff = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=self.allowed_updates
                )
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except (TimeoutError, TelegramAPIError, OSError) as exc:
                log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            try:
                for update in updates:
                    raw = update.model_dump(mode="json", exclude_unset=True, by_alias=True)
                    await self.accept(raw)
                    offset = update.update_id + 1
            except Exception:  # e.g. the database is busy: ask again, from the last one stored
                log.exception("Telegram updates could not be stored; asking again")
                await asyncio.sleep(backoff)

    def webhook_route(self, path: str, secret: str) -> web.RouteDef:
        """The webhook: the secret header is required; the update is stored before the 200."""

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("Telegram webhook request without the right secret refused")
                return web.Response(status=401, text="unauthorized")
            try:
                raw = await request.json()
                int(raw["update_id"])
            except (ValueError, KeyError, TypeError):
                return web.Response(status=400, text="not an update")
            await self.accept(raw)
            return web.Response(text="ok")

        return web.post(path, receive)
