"""Shared fixtures: a fresh app on a temporary SQLite store with a controllable clock."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bot.app import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogs.events import Attachment, Incoming, Reply


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {
        "database_path": tmp_path / "bot.sqlite3",
        "media_dir": tmp_path / "media",
        "operator_chat_id": -100500,
        "telegram_bot_token": None,
        "flood_burst": 1000,
        # Telegram's rate limits are paced in real time; tests of pacing set their own
        "telegram_messages_per_second": 10_000,
        "telegram_group_messages_per_minute": 600_000,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def jpeg_bytes(width: int = 64, height: int = 48, color: str = "red", exif=None) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    image.save(buffer, "JPEG", **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def image_attachment(data: bytes | None = None, size: int | None = None) -> Attachment:
    payload = data if data is not None else jpeg_bytes()

    async def fetch() -> bytes:
        return payload

    return Attachment("image", fetch, "image/jpeg", size if size is not None else len(payload))


class Chat:
    """Drives the dialog core as one citizen would, on one channel."""

    def __init__(self, engine, user_key: str = "700", channel: str = "telegram") -> None:
        self.engine = engine
        self.user_key = user_key
        self.channel = channel
        self.replies: list[Reply] = []

    async def _send(self, **fields) -> list[Reply]:
        event = Incoming(channel=self.channel, user_key=self.user_key, **fields)
        self.replies = await self.engine.handle(event)
        return self.replies

    async def text(self, text: str) -> list[Reply]:
        return await self._send(kind="text", text=text)

    async def command(self, text: str) -> list[Reply]:
        return await self._send(kind="command", text=text)

    async def press(self, option_id: str) -> list[Reply]:
        return await self._send(kind="option", option_id=option_id)

    async def photo(self, *attachments: Attachment) -> list[Reply]:
        return await self._send(kind="photo", attachments=attachments or (image_attachment(),))

    async def location(self, lat: float, lon: float) -> list[Reply]:
        return await self._send(kind="location", latitude=lat, longitude=lon)

    async def contact(self, phone: str) -> list[Reply]:
        return await self._send(kind="contact", contact_phone=phone, contact_is_own=True)

    @property
    def said(self) -> str:
        return "\n".join(reply.text for reply in self.replies)

    @property
    def options(self) -> list[str]:
        last = next((r for r in reversed(self.replies) if r.options), None)
        return [option.id for option in last.options] if last else []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(tmp_path, clock):
    application = await build_app(make_settings(tmp_path), clock=clock)
    yield application
    await application.close()


@pytest.fixture
def chat(app) -> Chat:
    return Chat(app.engine)


async def start_in(chat: Chat, locale: str = "ru", announcements: bool = False) -> None:
    await chat.command("/start")
    await chat.press(f"lang:{locale}")
    await chat.press("sub:yes" if announcements else "sub:no")


async def file_complaint(
    chat: Chat,
    *,
    locale: str = "ru",
    anonymous: bool = True,
    description: str = "Возле школы №5 уже неделю не горят фонари",
    photos: int = 0,
) -> list[Reply]:
    """Walk the whole complaint dialog; returns the replies to the final confirmation."""
    if chat.options == [] or "menu:complaint" not in chat.options:
        await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:lighting")
    await chat.text(description)
    await chat.text("ул. Ленина, 12")
    for n in range(photos):  # different pictures: the same one twice is kept once
        await chat.photo(image_attachment(jpeg_bytes(width=40 + n)))
    await chat.press("photos:done")
    if anonymous:
        await chat.press("id:anon")
    else:
        await chat.press("id:named")
        await chat.text("Асанова Айгүл")
        await chat.contact("+996555123456")
        await chat.text("с. Кара-Суу, ул. Токтогула, 5")
    return await chat.press("confirm:yes")


async def rendered_text(app, row) -> str:
    """What an outbox row says when it is sent (notices are rendered at send time)."""
    return "\n".join(reply.text for reply in (await app.outbox.render(row)).replies)
