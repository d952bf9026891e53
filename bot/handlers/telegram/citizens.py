"""Telegram adapter for citizens: updates in, neutral events to the core, replies rendered back.

No dialog logic lives here; this module only translates. Routers are built by a factory so a
test can build a fresh Dispatcher as often as it likes.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bot.dialogs.events import Attachment, Incoming
from bot.domain.media import NOT_AN_IMAGE, TOO_LARGE, ImageRejected
from bot.storage.models import InboundRef

log = logging.getLogger(__name__)
CHANNEL = "telegram"
DEFAULT_MAX_DOWNLOAD = 20 * 1024 * 1024  # what the Bot API lets a bot download at most


def _downloader(bot: Bot, file_id: str, max_bytes: int):
    async def fetch() -> bytes:
        return await download_capped(bot, file_id, max_bytes)

    return fetch


async def download_capped(bot: Bot, file_id: str, max_bytes: int) -> bytes:
    """A Telegram file's bytes, streamed and refused (`ImageRejected(TOO_LARGE)`) as soon as it
    grows past `max_bytes`, whether or not Telegram told its size."""
    file = await bot.get_file(file_id)
    if (file.file_size or 0) > max_bytes or not file.file_path:
        raise ImageRejected(TOO_LARGE if file.file_path else NOT_AN_IMAGE)
    url = bot.session.api.file_url(bot.token, file.file_path)
    data = bytearray()
    async for chunk in bot.session.stream_content(url, chunk_size=64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise ImageRejected(TOO_LARGE)
    return bytes(data)


async def _not_downloadable() -> bytes:
    raise RuntimeError("this attachment is never downloaded")


def message_to_incoming(
    message: Message,
    bot: Bot,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD,
    max_recording_bytes: int = DEFAULT_MAX_DOWNLOAD,
) -> Incoming:
    """Translate a Telegram message into the core's neutral event (`max_recording_bytes`:
    the download cap of videos and voice messages, at most what the Bot API allows)."""
    base = {"channel": CHANNEL, "user_key": str(message.chat.id)}
    if message.from_user and message.from_user.language_code:
        base["language_hint"] = message.from_user.language_code
    recording_cap = min(max_recording_bytes, DEFAULT_MAX_DOWNLOAD)
    attachment = _attachment(message, bot, max_bytes, recording_cap)
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


def _attachment(
    message: Message, bot: Bot, max_bytes: int, recording_cap: int
) -> Attachment | None:
    if message.photo:
        largest = message.photo[-1]
        return Attachment(
            "image", _downloader(bot, largest.file_id, max_bytes), "image/jpeg", largest.file_size
        )
    if message.document:
        doc = message.document
        mime = (doc.mime_type or "").lower()
        kind = {"image": "image", "video": "video", "audio": "audio"}.get(
            mime.split("/", 1)[0], "document"
        )
        cap = recording_cap if kind in ("video", "audio") else max_bytes
        return Attachment(kind, _downloader(bot, doc.file_id, cap), mime, doc.file_size)
    for kind, field in (
        ("voice", "voice"),
        ("audio", "audio"),
        ("video", "video"),
        ("video", "video_note"),
        ("video", "animation"),
    ):
        if (media := getattr(message, field, None)) is not None:
            fetch = _downloader(bot, media.file_id, recording_cap)
            mime = getattr(media, "mime_type", None) or ("video/mp4" if kind == "video" else None)
            return Attachment(kind, fetch, mime, media.file_size, media.duration)
    if message.sticker is not None:
        return Attachment("sticker", _not_downloadable)
    return None


async def _private_message(message: Message) -> bool:
    # async filters: aiogram runs synchronous ones (F.* included) in a worker thread
    return message.chat.type == "private"


async def _private_button(query: CallbackQuery) -> bool:
    return query.message is not None and query.message.chat.type == "private"


def build_citizen_router(app) -> Router:
    """Private chats: every message and every non-operator button goes to the dialog core.

    The core queues the replies in the outbox in the same transaction that saves the
    conversation and marks the update handled (`inbound`, given by the update journal); they
    are then sent at once, in order, and retried by the outbox if Telegram refuses them.
    """
    router = Router(name="citizens")
    router.message.filter(_private_message)
    max_bytes = app.settings.max_photo_bytes
    recording_bytes = app.settings.max_video_bytes

    @router.message()
    async def on_message(message: Message, bot: Bot, inbound: InboundRef | None = None) -> None:
        event = message_to_incoming(message, bot, max_bytes, recording_bytes)
        async with app.outbox.urgent():  # a broadcast waits meanwhile
            await app.engine.handle(event, inbound=inbound, queue=True)
            await app.outbox.send_for(CHANNEL, str(message.chat.id))

    @router.callback_query(_private_button)
    async def on_button(query: CallbackQuery, inbound: InboundRef | None = None) -> None:
        chat_id = query.message.chat.id
        event = Incoming(
            channel=CHANNEL, user_key=str(chat_id), kind="option", option_id=query.data or ""
        )
        # Handle first, then answer the query: a message sent right after the press must not
        # reach the core before the press does.
        async with app.outbox.urgent():  # a broadcast waits meanwhile
            try:
                await app.engine.handle(event, inbound=inbound, queue=True)
            finally:
                await answer_query(query)
            await app.outbox.send_for(CHANNEL, str(chat_id))

    return router


async def answer_query(query: CallbackQuery, text: str | None = None, **kwargs) -> None:
    """Stop the button's spinner; a query too old to answer (handled after a restart) is no
    reason to fail the update."""
    try:
        await query.answer(text, **kwargs)
    except TelegramAPIError as exc:
        log.info("callback query not answered: %s", type(exc).__name__)


def build_dispatcher(app) -> Dispatcher:
    """A new Dispatcher with the operator router first, then the citizens' router."""
    from bot.handlers.telegram.operators import build_operator_router

    dispatcher = Dispatcher()
    dispatcher.include_router(build_operator_router(app))
    dispatcher.include_router(build_citizen_router(app))
    return dispatcher
