"""Telegram adapter for citizens: updates in, neutral events to the core, replies rendered back.

No dialog logic lives here; this module only translates. Routers are built by a factory so a
test can build a fresh Dispatcher as often as it likes.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.types import CallbackQuery, Message

from bot.dialogs.events import Attachment, Incoming, Reply
from bot.handlers.operators import build_operator_router
from bot.outbound import RecipientGone, RetryLater, TransientError, replies_message

log = logging.getLogger(__name__)
CHANNEL = "telegram"


def _downloader(bot: Bot, file_id: str):
    async def fetch() -> bytes:
        buffer = await bot.download(file_id)
        return buffer.read()

    return fetch


async def _not_downloadable() -> bytes:
    raise RuntimeError("this attachment is never downloaded")


def message_to_incoming(message: Message, bot: Bot) -> Incoming:
    """Translate a Telegram message into the core's neutral event."""
    base = {"channel": CHANNEL, "user_key": str(message.chat.id)}
    if message.from_user and message.from_user.language_code:
        base["language_hint"] = message.from_user.language_code
    attachment = _attachment(message, bot)
    if attachment is not None:
        kind = "photo" if attachment.kind == "image" else "file"
        return Incoming(kind=kind, text=message.caption or "", attachments=(attachment,), **base)
    if message.location:
        return Incoming(
            kind="location",
            latitude=message.location.latitude,
            longitude=message.location.longitude,
            **base,
        )
    if message.contact:
        own = message.from_user is not None and message.contact.user_id == message.from_user.id
        return Incoming(
            kind="contact", contact_phone=message.contact.phone_number, contact_is_own=own, **base
        )
    text = message.text or ""
    if text.startswith("/"):
        return Incoming(kind="command", text=text, **base)
    if message.text is None:  # poll, dice, game, venue...: something we cannot use
        other = Attachment(kind="other", fetch=_not_downloadable)
        return Incoming(kind="file", attachments=(other,), **base)
    return Incoming(kind="text", text=text, **base)


def _attachment(message: Message, bot: Bot) -> Attachment | None:
    if message.photo:
        largest = message.photo[-1]
        return Attachment(
            "image", _downloader(bot, largest.file_id), "image/jpeg", largest.file_size
        )
    if message.document:
        doc = message.document
        mime = doc.mime_type or ""
        kind = "image" if mime.startswith("image/") else "document"
        return Attachment(kind, _downloader(bot, doc.file_id), mime, doc.file_size)
    for kind, field in (
        ("voice", "voice"),
        ("audio", "audio"),
        ("video", "video"),
        ("video", "video_note"),
        ("video", "animation"),
        ("sticker", "sticker"),
    ):
        if getattr(message, field, None) is not None:
            return Attachment(kind, _not_downloadable)
    return None


async def answer(app, chat_id: int, replies: list[Reply]) -> None:
    """Send the core's replies now; what Telegram does not take right away goes to the outbox.

    A rate limit or a network error must not cost the citizen a registration number or a
    receipt code, so the unsent replies are queued and the outbox job delivers them.
    """
    channel = app.outbox.channels[CHANNEL]  # the same failure mapping as the outbox uses
    for index, reply in enumerate(replies):
        try:
            await channel.deliver(str(chat_id), reply)
        except (RetryLater, TransientError) as exc:
            log.info("reply postponed to the outbox: %s", type(exc).__name__)
            message = replies_message(
                channel=CHANNEL, recipient=str(chat_id), replies=replies[index:], kind="reply"
            )
            await app.store.outbox.add(messages=[message], now=app.clock.now())
            return
        except RecipientGone:
            return  # the citizen blocked the bot between writing and our answer


async def _private_message(message: Message) -> bool:
    # async filters: aiogram runs synchronous ones (F.* included) in a worker thread
    return message.chat.type == "private"


async def _private_button(query: CallbackQuery) -> bool:
    return query.message is not None and query.message.chat.type == "private"


def build_citizen_router(app) -> Router:
    """Private chats: every message and every non-operator button goes to the dialog core."""
    router = Router(name="citizens")
    router.message.filter(_private_message)

    @router.message()
    async def on_message(message: Message, bot: Bot) -> None:
        replies = await app.engine.handle(message_to_incoming(message, bot))
        await answer(app, message.chat.id, replies)

    @router.callback_query(_private_button)
    async def on_button(query: CallbackQuery) -> None:
        chat_id = query.message.chat.id
        event = Incoming(
            channel=CHANNEL, user_key=str(chat_id), kind="option", option_id=query.data or ""
        )
        # Handle first, then answer the query: a message sent right after the press must not
        # reach the core before the press does.
        try:
            replies = await app.engine.handle(event)
        finally:
            await query.answer()
        await answer(app, chat_id, replies)

    return router


def build_dispatcher(app) -> Dispatcher:
    """A new Dispatcher with the operator router first, then the citizens' router."""
    dispatcher = Dispatcher()
    dispatcher.include_router(build_operator_router(app))
    dispatcher.include_router(build_citizen_router(app))
    return dispatcher
