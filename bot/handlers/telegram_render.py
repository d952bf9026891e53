"""Showing neutral replies in Telegram, and the Telegram side of the outbound port."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.dialogs.events import Option, Reply
from bot.media import MediaStore
from bot.outbound import RecipientGone, RetryLater, TransientError

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


class TelegramRenderer:
    """Sends `Reply` objects to a Telegram chat with a real `Bot`."""

    def __init__(self, bot: Bot, media: MediaStore) -> None:
        self.bot = bot
        self.media = media

    async def show(self, chat_id: int | str, reply: Reply) -> None:
        if reply.photos:
            await self._photos(chat_id, reply.photos)
        if reply.location:
            await self.bot.send_location(chat_id, *reply.location)
        if not reply.text:
            return
        if reply.ask_contact or reply.ask_location:
            markup = request_keyboard(reply)
        elif reply.options:
            markup = inline_keyboard(reply.options)
        else:
            markup = ReplyKeyboardRemove()
        parts = split_text(reply.text)
        for part in parts[:-1]:
            await self.bot.send_message(chat_id, part)
        await self.bot.send_message(chat_id, parts[-1], reply_markup=markup)

    async def _photos(self, chat_id: int | str, paths: tuple[str, ...]) -> None:
        files = [FSInputFile(self.media.open_path(path)) for path in paths]
        if len(files) == 1:
            await self.bot.send_photo(chat_id, files[0])
            return
        for start in range(0, len(files), ALBUM_LIMIT):
            album = [InputMediaPhoto(media=f) for f in files[start : start + ALBUM_LIMIT]]
            await self.bot.send_media_group(chat_id, album)


class TelegramChannel:
    """The outbound port's Telegram channel: maps Bot API failures to retry decisions."""

    name = "telegram"

    def __init__(self, renderer: TelegramRenderer) -> None:
        self.renderer = renderer

    async def deliver(self, recipient: str, reply: Reply) -> None:
        try:
            await self.renderer.show(int(recipient), reply)
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
