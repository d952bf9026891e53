"""`python -m bot` runs the bot; `python -m bot chat` opens a local console chat.

Without TELEGRAM_BOT_TOKEN, `python -m bot` says so and opens the console chat, so anyone can
try the dialogs on the embedded SQLite store.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import App, attach_telegram, build_app
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


async def run_telegram(settings: Settings) -> None:
    from bot.handlers.telegram import build_dispatcher

    app = await build_app(settings)
    bot = _bot(settings)
    attach_telegram(app, bot)
    dispatcher = build_dispatcher(app)
    scheduler = build_scheduler(app)
    if settings.operator_chat_id is None:
        log.warning("OPERATOR_CHAT_ID is not set: complaint cards wait in the outbox")
    try:
        await _set_commands(app, bot)
        scheduler.start()
        if settings.telegram_webhook_url:
            await _serve_webhook(app, bot, dispatcher)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            await dispatcher.start_polling(bot, polling_timeout=20, handle_signals=True)
    finally:
        scheduler.shutdown(wait=False)
        await app.outbox.drain()
        await bot.session.close()
        await app.close()


async def _serve_webhook(app: App, bot, dispatcher) -> None:
    from aiogram.webhook.aiohttp_server import setup_application
    from aiohttp import web

    settings = app.settings
    secret = settings.telegram_webhook_secret
    secret_value = secret.get_secret_value() if secret else None
    web_app = build_webhook_app(dispatcher, bot, secret_value, settings.telegram_webhook_url)
    setup_application(web_app, dispatcher, bot=bot)
    await bot.set_webhook(settings.telegram_webhook_url, secret_token=secret_value)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    log.info("webhook server listening on port %s", settings.webhook_port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def build_webhook_app(dispatcher, bot, secret: str | None, url: str):
    """An aiohttp app that accepts Telegram's webhook only with the secret token header."""
    from urllib.parse import urlparse

    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    web_app = web.Application()
    handler = SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret)
    handler.register(web_app, path=urlparse(url).path or "/")
    return web_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("mode", nargs="?", choices=("run", "chat"), default="run")
    parser.add_argument("--user", default="local", help="console user name (chat mode)")
    args = parser.parse_args(argv)
    settings = Settings()
    _setup_logging(settings.log_level)
    if args.mode == "chat" or settings.telegram_bot_token is None:
        if args.mode == "run":
            print("TELEGRAM_BOT_TOKEN is not set: opening the local console chat instead.\n")
        asyncio.run(run_chat(settings, args.user))
    else:
        asyncio.run(run_telegram(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
