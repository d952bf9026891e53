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
import signal
import sys

from bot.app import App, attach_telegram, attach_whatsapp, build_app, faq_substitutions
from bot.config import Settings
from bot.i18n import N_
from bot.scheduler import build_scheduler

log = logging.getLogger("bot")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Per-update lines add nothing an operator needs and grow with traffic.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # twilio's HTTP client logs every request's URL and headers at INFO
    logging.getLogger("twilio").setLevel(logging.WARNING)


async def run_chat(settings: Settings, user: str) -> None:
    from bot.handlers.console import OPERATORS, run_console

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
    bot = dispatcher = None
    web_app = web.Application()
    if settings.telegram_bot_token:
        from bot.handlers.telegram import build_dispatcher

        bot = _bot(settings)
        attach_telegram(app, bot)
        dispatcher = build_dispatcher(app)
        if settings.telegram_webhook_url:
            _add_telegram_webhook(web_app, app, bot, dispatcher)
    if settings.whatsapp_enabled:
        web_app.add_routes(attach_whatsapp(app).routes)
    if settings.operator_chat_id is None:
        log.warning("OPERATOR_CHAT_ID is not set: complaint cards wait in the outbox")
    scheduler = build_scheduler(app)
    runner = None
    try:
        if bot is not None:
            await _set_commands(app, bot)
        scheduler.start()
        _reload_faq_on_sighup(app)
        if app.whatsapp is not None:
            recovered = await app.whatsapp.inbox.recover()
            if recovered:
                log.warning(
                    "%d WhatsApp messages accepted before a stop are handled now", recovered
                )
        if web_app.router.routes():
            runner = web.AppRunner(web_app)
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
            log.info("HTTP server for webhooks listening on port %s", settings.webhook_port)
        if bot is not None and not settings.telegram_webhook_url:
            await bot.delete_webhook(drop_pending_updates=False)
            await dispatcher.start_polling(bot, polling_timeout=20, handle_signals=True)
        else:
            await _until_stopped()
    finally:
        scheduler.shutdown(wait=False)
        if runner is not None:
            await runner.cleanup()
        await app.outbox.drain()
        if bot is not None:
            await bot.session.close()
        await app.close()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _reload_faq_on_sighup(app: App) -> None:
    from bot.operator_tools import reload_faq

    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: log.info("SIGHUP: %s", reload_faq(app))
        )


def _add_telegram_webhook(web_app, app: App, bot, dispatcher) -> None:
    from aiogram.webhook.aiohttp_server import setup_application

    secret = app.settings.telegram_webhook_secret
    secret_value = secret.get_secret_value() if secret else None
    build_webhook_app(
        dispatcher, bot, secret_value, app.settings.telegram_webhook_url, web_app=web_app
    )
    setup_application(web_app, dispatcher, bot=bot)

    async def set_webhook(_web_app) -> None:
        await bot.set_webhook(app.settings.telegram_webhook_url, secret_token=secret_value)

    web_app.on_startup.append(set_webhook)


def build_webhook_app(dispatcher, bot, secret: str | None, url: str, web_app=None):
    """An aiohttp app (new, or `web_app`) that accepts Telegram's webhook only with the secret
    token header."""
    from urllib.parse import urlparse

    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    web_app = web_app if web_app is not None else web.Application()
    handler = SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret)
    handler.register(web_app, path=urlparse(url).path or "/")
    return web_app


def check_content(settings: Settings) -> int:
    """Validate every content file; print what is wrong, or what is in force."""
    from bot.content import ContentError, load_content
    from bot.faq import FaqError, load_faq

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

    from bot.questions import faq_drafts
    from bot.storage.store import Store

    store = await Store.open(settings.database_path)
    try:
        print(json.dumps(await faq_drafts(store), ensure_ascii=False, indent=2))
    finally:
        await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    modes = ("run", "chat", "check-content", "export-questions")
    parser.add_argument("mode", nargs="?", choices=modes, default="run")
    parser.add_argument("--user", default="local", help="console user name (chat mode)")
    args = parser.parse_args(argv)
    settings = Settings()
    _setup_logging(settings.log_level)
    if args.mode == "check-content":
        return check_content(settings)
    if args.mode == "export-questions":
        return asyncio.run(export_questions(settings))
    from bot.content import ContentError
    from bot.faq import FaqError

    try:
        if args.mode == "chat" or not (settings.telegram_bot_token or settings.whatsapp_enabled):
            if args.mode == "run":
                print(
                    "Neither TELEGRAM_BOT_TOKEN nor the Twilio keys are set:"
                    " opening the local console chat instead.\n"
                )
            asyncio.run(run_chat(settings, args.user))
        else:
            asyncio.run(run_services(settings))
    except (ContentError, FaqError) as error:  # refused at start-up, before serving anyone
        log.error("content refused, not starting: %s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
