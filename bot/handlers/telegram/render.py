"""Showing neutral replies in Telegram, and the Telegram side of the outbound port."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from bot.dialogs.events import Document, Option, Rendered, Reply
from bot.domain.media import MediaStore
from bot.outbound import RecipientGone, RetryLater, TransientError
from bot.pacing import Limits, Pacer
from bot.storage.models import OutboxMessage

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
ALBUM_LIMIT = 10
CALLBACK_DATA_LIMIT = 64


def inline_keyboard(options: tuple[Option, ...]) -> InlineKeyboardMarkup:
    """Buttons two per row, one per row when a label is long."""
    rows: list[list[InlineKeyboardButton]] = []
    for option in options:
        if len(option.id.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"option id too long for Telegram: {option.id!r}")
        button = InlineKeyboardButton(text=option.label, callback_data=option.id)
        if rows and len(rows[-1]) == 1 and len(option.label) <= 18 and len(rows[-1][0].text) <= 18:
            rows[-1].append(button)
        else:
            rows.append([button])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def request_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    """A keyboard whose first button shares a location or the phone; options follow as text."""
    first = (
        KeyboardButton(text=reply.ask_contact, request_contact=True)
        if reply.ask_contact
        else KeyboardButton(text=reply.ask_location or "", request_location=True)
    )
    rows = [[first]] + [[KeyboardButton(text=o.label)] for o in reply.options]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut a long text into messages Telegram accepts, at line breaks or spaces when possible."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    parts.append(text)
    return parts


@dataclass(frozen=True)
class TelegramPart:
    """One Bot API call: the unit by which the outbox records progress, so a retry never
    repeats a call that Telegram already took."""

    kind: Literal["photo", "album", "video", "location", "voice", "document", "text"]
    text: str = ""
    paths: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    document: Document | None = None
    markup: Reply | None = None  # the reply whose keyboard goes under this (last) text part
    reply_to: int | None = None


def telegram_parts(reply: Reply) -> list[TelegramPart]:
    """A neutral reply as Bot API calls: photos, videos, a pin, a voice message, a document,
    then its text cut to Telegram's limit, the keyboard under the last piece."""
    parts: list[TelegramPart] = []
    if len(reply.photos) == 1:
        parts.append(TelegramPart("photo", paths=reply.photos))
    for start in range(0, len(reply.photos) if len(reply.photos) > 1 else 0, ALBUM_LIMIT):
        parts.append(TelegramPart("album", paths=reply.photos[start : start + ALBUM_LIMIT]))
    for path in reply.videos:  # one call each: sendVideo shows a player, an album would not
        parts.append(TelegramPart("video", paths=(path,)))
    if reply.location:
        parts.append(TelegramPart("location", location=reply.location))
    if reply.voice:
        parts.append(TelegramPart("voice", paths=(reply.voice,)))
    if reply.document:
        parts.append(TelegramPart("document", document=reply.document))
    if reply.text:
        pieces = split_text(reply.text)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            parts.append(
                TelegramPart(
                    "text",
                    text=piece,
                    markup=reply if last else None,
                    reply_to=reply.reply_to if index == 0 else None,
                )
            )
    return parts


def _markup(reply: Reply | None):
    if reply is None:
        return None
    if reply.force_reply:
        return ForceReply(selective=True)
    if reply.ask_contact or reply.ask_location:
        return request_keyboard(reply)
    if reply.options:
        return inline_keyboard(reply.options)
    return ReplyKeyboardRemove()


class TelegramRenderer:
    """Sends `Reply` objects to a Telegram chat with a real `Bot`, one call per part."""

    def __init__(self, bot: Bot, media: MediaStore) -> None:
        self.bot = bot
        self.media = media

    async def show(self, chat_id: int | str, reply: Reply) -> None:
        for part in telegram_parts(reply):
            await self.send(chat_id, part)

    async def send(self, chat_id: int | str, part: TelegramPart) -> int | None:
        """Make the part's one call; returns the id of the (first) message it created."""
        if part.kind == "photo":
            file = FSInputFile(self.media.open_path(part.paths[0]))
            return (await self.bot.send_photo(chat_id, file)).message_id
        if part.kind == "album":
            files = [FSInputFile(self.media.open_path(path)) for path in part.paths]
            album = await self.bot.send_media_group(
                chat_id, [InputMediaPhoto(media=f) for f in files]
            )
            return album[0].message_id if album else None
        if part.kind == "video":
            file = FSInputFile(self.media.open_path(part.paths[0]))
            return (await self.bot.send_video(chat_id, file)).message_id
        if part.kind == "voice":
            file = FSInputFile(self.media.open_path(part.paths[0]))
            return (await self.bot.send_voice(chat_id, file)).message_id
        if part.kind == "location":
            return (await self.bot.send_location(chat_id, *part.location)).message_id
        if part.kind == "document":
            return (await self.bot.send_document(chat_id, self._file(part.document))).message_id
        reply_parameters = None
        if part.reply_to is not None:
            reply_parameters = ReplyParameters(
                message_id=part.reply_to, allow_sending_without_reply=True
            )
        sent = await self.bot.send_message(
            chat_id,
            part.text,
            reply_markup=_markup(part.markup),
            reply_parameters=reply_parameters,
        )
        return sent.message_id

    def _file(self, document: Document) -> BufferedInputFile | FSInputFile:
        if document.data is not None:
            return BufferedInputFile(document.data, filename=document.name)
        return FSInputFile(self.media.open_path(document.path), filename=document.name)


class TelegramChannel:
    """The outbound port's Telegram channel: a row's replies become single Bot API calls, and
    Bot API failures become the outbox's retry decisions."""

    name = "telegram"

    def __init__(self, renderer: TelegramRenderer, limits: Limits | None = None) -> None:
        self.renderer = renderer
        # group chats have negative ids
        self.pacer = Pacer(limits or Limits(), is_group=lambda chat: chat.startswith("-"))

    async def prepare(
        self, row: OutboxMessage, rendered: Rendered, done: int
    ) -> tuple[list[TelegramPart], int]:
        return [part for reply in rendered.replies for part in telegram_parts(reply)], done

    async def deliver(self, recipient: str, part: TelegramPart | Reply) -> str | None:
        """Send one part (or a whole reply); returns "<chat>:<message id>" of what it sent."""
        try:
            if isinstance(part, Reply):
                await self.renderer.show(int(recipient), part)
                return None
            message_id = await self.renderer.send(int(recipient), part)
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.retry_after) from exc
        except TelegramForbiddenError as exc:
            raise RecipientGone(exc.message) from exc
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise RecipientGone(exc.message) from exc
            raise
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise TransientError(str(exc)) from exc
        return None if message_id is None else f"{recipient}:{message_id}"
