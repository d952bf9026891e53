"""A real aiogram Bot and Dispatcher wired to the app and to the fake Bot API server."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update

from bot.app import attach_telegram
from bot.handlers.telegram.citizens import build_dispatcher

OPERATOR_CHAT = -100500
OPERATOR = 42


class TelegramHarness:
    """Feeds updates through the real dispatcher; the bot's requests reach the fake server."""

    def __init__(self, app, api) -> None:
        self.app = app
        self.api = api
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        self.bot = Bot("123456:TEST-TOKEN", session=session)
        attach_telegram(app, self.bot)
        self.dispatcher = build_dispatcher(app)

    async def feed(self, update: dict) -> None:
        update.setdefault("update_id", _next_id())
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        await self.app.outbox.drain()  # what the update queued for the group went out

    async def close(self) -> None:
        await self.bot.session.close()

    def texts_to(self, chat_id: int, since: int = 0) -> list[str]:
        return [
            call.params.get("text") or ""
            for call in self.api.calls[since:]
            if call.method == "sendMessage" and call.params.get("chat_id") == chat_id
        ]

    def last_buttons(self, chat_id: int) -> list[str]:
        for call in reversed(self.api.calls_to("sendMessage", chat_id=chat_id)):
            markup = call.params.get("reply_markup") or {}
            if "inline_keyboard" in markup:
                return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
        return []


_counter = iter(range(1, 10**9))


def _next_id() -> int:
    return next(_counter)
