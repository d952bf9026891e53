"""The one place that builds everything: store, content, core, outbox, channels, scheduler.

`python -m bot` and the tests use the same factories, so what the tests run is what runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import Content, load_content
from bot.dialogs.caps import CONSOLE, TELEGRAM, WHATSAPP
from bot.dialogs.engine import DialogEngine
from bot.dialogs.guards import FloodGuard
from bot.dialogs.pushed import remember_pushed_options
from bot.dialogs.turn import Limits, Services
from bot.domain.announcements import HearingService
from bot.domain.complaints import ComplaintService
from bot.domain.deadlines import DeadlinePlanner, DeadlineRules
from bot.domain.faq import FaqLibrary
from bot.domain.hearings import load_topics
from bot.domain.media import MediaStore
from bot.domain.questions import QuestionService
from bot.domain.surveys import load_services, use_services
from bot.domain.workdays import load_calendar
from bot.i18n import I18n
from bot.notices import Notices
from bot.notices.complaints import ComplaintNotices
from bot.notices.deadlines import DeadlineNotices
from bot.notices.hearings import HearingNotices
from bot.notices.questions import QuestionNotices
from bot.notices.surveys import SurveyNotices
from bot.notices.thread import ThreadNotices
from bot.outbound import OutboxDispatcher
from bot.storage.store import Store

if TYPE_CHECKING:  # the channels' SDKs are imported only when a channel is attached
    from bot.handlers.telegram.render import TelegramRenderer

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything the channels and the scheduler need, built once per process (or per test)."""

    settings: Settings
    clock: Clock
    store: Store
    i18n: I18n
    content: Content
    media: MediaStore
    complaints: ComplaintService
    faq: FaqLibrary
    questions: QuestionService
    engine: DialogEngine
    outbox: OutboxDispatcher
    notices: Notices
    telegram_renderer: TelegramRenderer | None = None  # set by attach_telegram
    whatsapp: WhatsApp | None = None  # set by attach_whatsapp
    hearings: HearingService | None = None  # hearings, announcements and their broadcasts
    hearing_notices: HearingNotices | None = None

    async def close(self) -> None:
        if self.whatsapp is not None:
            await self.whatsapp.close()
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
    # content first: broken content stops the start before anything is opened
    content = load_content(settings.content_dir)
    planner = DeadlinePlanner(load_calendar(), deadline_rules(settings), settings.tz)
    use_services(load_services(settings.content_dir))
    faq = FaqLibrary(_faq_path(settings), substitutions=faq_substitutions(settings))
    i18n = I18n(settings.tz)
    store = await Store.open(settings.database_path, inline=settings.store_inline)
    released = await store.outbox.release_stuck()
    if released:
        log.warning("%d outbox rows were interrupted by a stop and will be sent again", released)
    media = MediaStore(
        settings.media_dir,
        max_bytes=settings.max_photo_bytes,
        max_recording_bytes=settings.max_video_bytes,
    )
    complaints = ComplaintService(
        store,
        content,
        clock=clock,
        tz=settings.tz,
        planner=planner,
        follow_up_after=timedelta(days=settings.follow_up_days),
        operator_chat_id=settings.operator_chat_id,
        operator_channel=operator_channel,
        operator_recipient=operator_recipient,
    )
    if backfilled := await complaints.backfill_deadlines():
        log.info("deadlines set for %d open complaints stored before they were kept", backfilled)
    questions = QuestionService(
        store,
        clock=clock,
        operator_channel=operator_channel,
        operator_recipient=complaints.default_group(),
    )
    services = Services(
        store=store,
        i18n=i18n,
        content=content,
        media=media,
        complaints=complaints,
        faq=faq,
        questions=questions,
        clock=clock,
        municipality=settings.per_locale("municipality_name"),
        limits=Limits(
            settings.max_photos,
            settings.max_photo_bytes,
            max_videos=settings.max_videos,
            max_video_bytes=settings.max_video_bytes,
            max_video_seconds=settings.max_video_seconds,
            max_voice_seconds=settings.max_voice_seconds,
        ),
        default_locale=settings.default_locale,
        content_dir=settings.content_dir,
    )
    engine = DialogEngine(
        services,
        flood=FloodGuard(settings.flood_burst, settings.flood_rate_per_second, clock.monotonic),
        channel_caps={"telegram": TELEGRAM, "whatsapp": WHATSAPP, "console": CONSOLE},
    )
    outbox = OutboxDispatcher(
        store,
        clock,
        max_attempts=settings.outbox_max_attempts,
        concurrency=settings.outbox_concurrency,
    )
    # one renderer per kind of notice: ids in the row, text in the recipient's language when sent
    complaint_notices = ComplaintNotices(
        store, i18n, content, settings.operator_locale, settings.deadline_remind_working_days
    )
    notices = Notices(
        complaint_notices,
        QuestionNotices(store, i18n, settings.operator_locale),
        SurveyNotices(store, i18n, settings.default_locale),
        DeadlineNotices(
            store,
            i18n,
            complaint_notices,
            complaints,
            planner,
            clock,
            soon_working_days=settings.deadline_remind_working_days,
            max_items=settings.digest_max_items,
        ),
        ThreadNotices(store, i18n, complaint_notices),
    )
    for kind, renderer in notices.renderers().items():
        outbox.add_renderer(kind, renderer)
    # a number typed after a pushed message's options (WhatsApp) answers that message
    outbox.on_pushed_options = partial(remember_pushed_options, store)
    app = App(
        settings,
        clock,
        store,
        i18n,
        content,
        media,
        complaints,
        faq,
        questions,
        engine,
        outbox,
        notices,
    )
    _attach_hearings(app)
    return app


def deadline_rules(settings: Settings) -> DeadlineRules:
    return DeadlineRules(
        answer_days=settings.answer_deadline_days,
        answer_in_working_days=settings.answer_deadline_working_days,
        remind_working_days_before=settings.deadline_remind_working_days,
    )


def _attach_hearings(app: App) -> None:
    """Hearings and announcements: their notices' renderers and the organisers' service."""
    settings = app.settings
    app.hearing_notices = HearingNotices(
        app.store,
        app.i18n,
        clock=app.clock,
        default_locale=settings.default_locale,
        operator_locale=settings.operator_locale,
        topics=load_topics(settings.content_dir),
    )
    for kind, renderer in app.hearing_notices.renderers().items():
        app.outbox.add_renderer(kind, renderer)
    app.hearings = HearingService(
        app.store,
        clock=app.clock,
        tz=settings.tz,
        media=app.media,
        whatsapp_daily=settings.whatsapp_daily_conversations,
        batch=settings.broadcast_batch_size,
        templates=settings.whatsapp_templates(),
        operator_channel=app.questions.operator_channel,
        operator_recipient=app.questions.operator_recipient,
    )


def faq_substitutions(settings: Settings) -> dict[str, dict[str, str]]:
    """What the FAQ's `{municipality}`, `{reception_schedule}` and `{help_phones}` stand for,
    per language (Help shows the last two too)."""
    return {
        "municipality": settings.per_locale("municipality_name"),
        "reception_schedule": settings.per_locale("reception_schedule"),
        "help_phones": settings.help_phone_lines(),
    }


def _faq_path(settings: Settings):
    """`CONTENT_DIR/faq.json` when the folder has one, else the built-in file."""
    if settings.content_dir and (settings.content_dir / "faq.json").is_file():
        return settings.content_dir / "faq.json"
    return None


def attach_telegram(app: App, bot) -> None:
    """Give the app a Telegram channel: the renderer for replies and the outbox channel."""
    from bot.handlers.telegram.render import TelegramChannel, TelegramRenderer
    from bot.pacing import Limits

    settings = app.settings
    app.telegram_renderer = TelegramRenderer(bot, app.media)
    limits = Limits(
        per_second=settings.telegram_messages_per_second,
        per_chat_per_second=settings.telegram_chat_messages_per_second,
        group_per_minute=settings.telegram_group_messages_per_minute,
    )
    app.outbox.add_channel(TelegramChannel(app.telegram_renderer, limits))


@dataclass
class WhatsApp:
    """The WhatsApp side of the app: the outbound channel, the inbox and its HTTP routes."""

    channel: object
    inbox: object
    media: object
    routes: list

    async def close(self) -> None:
        await self.inbox.drain()
        await self.media.close()
        await self.channel.close()


def attach_whatsapp(app: App) -> WhatsApp:
    """Give the app a WhatsApp channel through Twilio (call inside the running event loop)."""
    from bot.handlers.whatsapp.channel import MediaLinks, WhatsAppChannel, twilio_client
    from bot.handlers.whatsapp.inbox import MediaFetcher, WhatsAppInbox, build_whatsapp_routes

    settings = app.settings
    token = settings.twilio_auth_token.get_secret_value()
    client = twilio_client(settings.twilio_account_sid, token, settings.twilio_api_base)
    links = MediaLinks(settings.public_base_url, settings.twilio_media_path, token, app.clock)
    channel = WhatsAppChannel(
        client,
        settings.twilio_whatsapp_from,
        store=app.store,
        clock=app.clock,
        templates=settings.whatsapp_templates(),
        status_callback=settings.public_base_url.rstrip("/") + settings.twilio_status_path,
        per_second=settings.twilio_messages_per_second,
        default_locale=settings.default_locale,
        links=links,
        media=app.media,
    )
    media = MediaFetcher(
        settings.twilio_account_sid,
        token,
        settings.max_photo_bytes,
        max_recording_bytes=settings.max_video_bytes,
    )
    inbox = WhatsAppInbox(app, media)
    app.outbox.add_channel(channel)
    app.whatsapp = WhatsApp(channel, inbox, media, build_whatsapp_routes(app, inbox, links))
    return app.whatsapp
