"""`python -m bot` runs the bot; `python -m bot chat` opens a local console chat;
`python -m bot check-content` validates the content files (categories, routing, FAQ);
`python -m bot export-questions` prints the answered questions as draft FAQ entries.

`run` serves Telegram when TELEGRAM_BOT_TOKEN is set (long polling, or its webhook) and WhatsApp
when the Twilio keys and PUBLIC_BASE_URL are set (routes on the same HTTP server). With neither,
it says so and opens the console chat, so anyone can try the dialogs on the embedded SQLite
store. A running bot reloads the FAQ on SIGHUP (or /reload in the operator group).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
from urllib.parse import urlparse

from bot.app import App, attach_telegram, attach_whatsapp, build_app, faq_substitutions
from bot.config import Settings
from bot.i18n import N_
from bot.logsafe import redact_logs
from bot.runtime import settle_after_startup
from bot.scheduler import build_scheduler

log = logging.getLogger("bot")


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # no log line may show a token, whatever raised it
    redact_logs(secret.get_secret_value() for secret in settings.secrets())
    # Per-update lines add nothing an operator needs and grow with traffic.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # twilio's HTTP client logs every request's URL and headers at INFO
    logging.getLogger("twilio").setLevel(logging.WARNING)


async def run_chat(settings: Settings, user: str) -> None:
    from bot.handlers.console.chat import OPERATORS, run_console

    app = await build_app(settings, operator_channel="console", operator_recipient=OPERATORS)
    try:
        await run_console(app, user=user)
    finally:
        await app.close()


def _bot(settings: Settings):
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession()
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(settings.telegram_bot_token.get_secret_value(), session=session)


async def _set_commands(app: App, bot) -> None:
    from aiogram.exceptions import TelegramAPIError
    from aiogram.types import BotCommand

    names = {
        "start": N_("Main menu"),
        "complaint": N_("File a complaint"),
        "my": N_("My complaints"),
        "check": N_("Check a complaint"),
        "faq": N_("Questions and answers"),
        "hearings": N_("Public hearings"),
        "survey": N_("Rate a service"),
        "topics": N_("Topics of announcements"),
        "language": N_("Language"),
        "help": N_("Help and contacts"),
    }
    for locale in ("ky", "ru"):
        _ = app.i18n.texts(locale).gettext
        commands = [BotCommand(command=c, description=_(d)) for c, d in names.items()]
        try:
            await bot.set_my_commands(commands, language_code=locale)
            if locale == app.settings.default_locale:
                await bot.set_my_commands(commands)
        except TelegramAPIError:
            log.warning("could not set the command menu for %s", locale)


async def run_services(settings: Settings) -> None:
    """Telegram and/or WhatsApp with the scheduler, until SIGINT or SIGTERM."""
    from aiohttp import web

    app = await build_app(settings)
    bot = inbox = None
    web_app = web.Application()
    if settings.telegram_bot_token:
        from bot.handlers.telegram.citizens import build_dispatcher
        from bot.handlers.telegram.inbox import TelegramInbox

        bot = _bot(settings)
        attach_telegram(app, bot)
        inbox = TelegramInbox(app, bot, build_dispatcher(app))
        if settings.telegram_webhook_url:
            secret = webhook_secret(settings)
            path = urlparse(settings.telegram_webhook_url).path or "/"
            web_app.add_routes([inbox.webhook_route(path, secret)])
    if settings.whatsapp_enabled:
        web_app.add_routes(attach_whatsapp(app).routes)
    if settings.operator_chat_id is None:
        log.warning("OPERATOR_CHAT_ID is not set: complaint cards wait in the outbox")
    scheduler = build_scheduler(app)
    runner = poller = None
    try:
        if bot is not None:
            await _set_commands(app, bot)
        scheduler.start()
        _reload_faq_on_sighup(app)
        for name, box in (("Telegram", inbox), ("WhatsApp", app.whatsapp and app.whatsapp.inbox)):
            if box is not None and (recovered := await box.recover()):
                log.warning("%d %s updates stored before a stop are handled now", recovered, name)
        if web_app.router.routes():
            runner = web.AppRunner(web_app)
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
            log.info("HTTP server for webhooks listening on port %s", settings.webhook_port)
        if bot is not None and settings.telegram_webhook_url:
            await bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=secret,
                allowed_updates=inbox.allowed_updates,
            )
        elif bot is not None:
            await bot.delete_webhook(drop_pending_updates=False)
            poller = asyncio.create_task(inbox.poll())
        settle_after_startup()
        await _until_stopped()
    finally:
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        # no new jobs; the outbox pass under way finishes below (shutdown would cancel it in
        # the middle of a call Telegram may already have taken)
        if scheduler.running:
            scheduler.pause()
        if runner is not None:
            await runner.cleanup()
        if inbox is not None:
            await inbox.drain()
        await app.outbox.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        if bot is not None:
            await bot.session.close()
        await app.close()


def webhook_secret(settings: Settings) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or a strong one made for this run: the webhook never runs
    without one (it is registered with setWebhook, so only Telegram knows it)."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret.get_secret_value()
    log.info("TELEGRAM_WEBHOOK_SECRET is not set: a random secret is used for this run")
    return secrets.token_urlsafe(32)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _reload_faq_on_sighup(app: App) -> None:
    from bot.handlers.operator_tools import reload_faq

    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: log.info("SIGHUP: %s", reload_faq(app))
        )


def check_content(settings: Settings) -> int:
    """Validate every content file; print what is wrong, or what is in force."""
    from bot.content import ContentError, load_content
    from bot.domain.faq import FaqError, load_faq

    try:
        content = load_content(settings.content_dir)
        faq_file = settings.content_dir / "faq.json" if settings.content_dir else None
        catalog = load_faq(
            faq_file if faq_file and faq_file.is_file() else None,
            substitutions=faq_substitutions(settings),
        )
    except (ContentError, FaqError) as error:
        print(f"content refused: {error}")
        return 1
    print(
        f"content OK: {len(content.categories)} categories, {len(catalog.topics)} FAQ topics,"
        f" {len(catalog.entries)} FAQ entries"
    )
    return 0


async def export_questions(settings: Settings) -> int:
    """Print answered questions as draft FAQ entries (JSON) to finish and add to faq.json."""
    import json

    from bot.domain.questions import faq_drafts
    from bot.storage.store import Store

    store = await Store.open(settings.database_path)
    try:
        print(json.dumps(await faq_drafts(store), ensure_ascii=False, indent=2))
    finally:
        await store.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    """`python -m bot [MODE]`, each mode with its own `--help`."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modes = parser.add_subparsers(dest="mode", metavar="MODE", title="modes (default: run)")
    modes.add_parser(
        "run",
        help="serve Telegram and/or WhatsApp (the console chat when neither is configured)",
        description="Serve Telegram when TELEGRAM_BOT_TOKEN is set (long polling, or its "
        "webhook with TELEGRAM_WEBHOOK_URL) and WhatsApp when the Twilio keys and "
        "PUBLIC_BASE_URL are set. With neither, open the local console chat.",
    )
    chat = modes.add_parser(
        "chat",
        help="a local console chat with the same dialogs and store",
        description="A console chat with the same dialogs, acting also as the operator group "
        "(/op). Data lives in DATABASE_PATH (default data/bot.sqlite3) and MEDIA_DIR; delete "
        "the data folder to start afresh.",
    )
    chat.add_argument(
        "--user",
        default="local",
        help="the citizen you are in the chat (default: local); another name is another citizen",
    )
    modes.add_parser(
        "check-content",
        help="validate the content files (categories, routing, FAQ) and exit",
        description="Validate categories.json, routing.json and faq.json (from CONTENT_DIR "
        "when set) and print what is wrong, or what is in force. Exit status 1 when refused.",
    )
    modes.add_parser(
        "export-questions",
        help="print answered questions as draft FAQ entries (JSON)",
        description="Print the questions operators answered as draft FAQ entries (JSON), with "
        "the other language, topic and keywords left to fill in before adding them to faq.json.",
    )
    from bot.cli import report

    report.add_arguments(
        modes.add_parser(
            "report",
            help="write survey and complaint figures and anonymised responses (csv or xlsx)",
            description=report.__doc__,
        )
    )
    from bot.cli import organisers

    organisers.add_parsers(modes)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.mode = args.mode or "run"
    user = getattr(args, "user", "local")
    settings = Settings()
    _setup_logging(settings)
    if args.mode == "check-content":
        return check_content(settings)
    if args.mode == "export-questions":
        return asyncio.run(export_questions(settings))
    if args.mode == "report":
        from bot.cli import report

        return asyncio.run(report.run(settings, args))
    from bot.cli import organisers

    if args.mode in organisers.MODES:
        return organisers.main(settings, args)
    from bot.content import ContentError
    from bot.domain.faq import FaqError

    try:
        if args.mode == "chat" or not (settings.telegram_bot_token or settings.whatsapp_enabled):
            if args.mode == "run":
                print(
                    "Neither TELEGRAM_BOT_TOKEN nor the Twilio keys are set:"
                    " opening the local console chat instead.\n"
                )
            asyncio.run(run_chat(settings, user))
        else:
            asyncio.run(run_services(settings))
    except (ContentError, FaqError) as error:  # refused at start-up, before serving anyone
        log.error("content refused, not starting: %s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
