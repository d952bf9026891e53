"""The one place that builds everything: store, content, core, outbox, channels, scheduler.

`python -m bot` and the tests use the same factories, so what the tests run is what runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import SystemClock
from bot.complaints import ComplaintService
from bot.config import Settings
from bot.content import Content, load_content
from bot.dialogs.engine import DialogEngine, Limits
from bot.dialogs.guards import FloodGuard
from bot.i18n import I18n
from bot.media import MediaStore
from bot.outbound import OutboxDispatcher
from bot.storage.store import Store

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything the channels and the scheduler need, built once per process (or per test)."""

    settings: Settings
    clock: object
    store: Store
    i18n: I18n
    content: Content
    media: MediaStore
    complaints: ComplaintService
    engine: DialogEngine
    outbox: OutboxDispatcher
    telegram_renderer: object = None  # set by attach_telegram

    async def close(self) -> None:
        await self.store.close()


async def build_app(
    settings: Settings,
    *,
    clock=None,
    operator_channel: str = "telegram",
    operator_recipient: str | None = None,
) -> App:
    """Open the store (applying migrations), load content and catalogs, wire the core."""
    clock = clock or SystemClock()
    content = load_content(settings.content_dir)
    i18n = I18n(settings.tz)
    store = await Store.open(settings.database_path)
    released = await store.outbox.release_stuck()
    if released:
        log.warning("%d outbox rows were interrupted by a stop and will be sent again", released)
    media = MediaStore(settings.media_dir, max_bytes=settings.max_photo_bytes)
    complaints = ComplaintService(
        store,
        i18n,
        content,
        clock=clock,
        tz=settings.tz,
        deadline_days=settings.answer_deadline_days,
        operator_chat_id=settings.operator_chat_id,
        operator_locale=settings.operator_locale,
        operator_channel=operator_channel,
        operator_recipient=operator_recipient,
    )
    engine = DialogEngine(
        store=store,
        i18n=i18n,
        content=content,
        media=media,
        complaints=complaints,
        clock=clock,
        default_locale=settings.default_locale,
        limits=Limits(settings.max_photos, settings.max_photo_bytes),
        flood=FloodGuard(settings.flood_burst, settings.flood_rate_per_second, clock.monotonic),
    )
    outbox = OutboxDispatcher(store, clock, max_attempts=settings.outbox_max_attempts)
    outbox.add_renderer("operator_card", complaints.render_card_payload)
    return App(settings, clock, store, i18n, content, media, complaints, engine, outbox)


def attach_telegram(app: App, bot) -> None:
    """Give the app a Telegram channel: the renderer for replies and the outbox channel."""
    from bot.handlers.telegram_render import TelegramChannel, TelegramRenderer

    app.telegram_renderer = TelegramRenderer(bot, app.media)
    app.outbox.add_channel(TelegramChannel(app.telegram_renderer))
