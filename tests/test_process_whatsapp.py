"""Tier 4 for WhatsApp: `python -m bot` with a fake Twilio API and a fake Bot API on 127.0.0.1.

A citizen writes to the WhatsApp number (signed webhooks), files a complaint with a photo in
Russian, an operator accepts it in the (fake) Telegram operator group, and the citizen gets the
update as free text inside the 24-hour window. Then the citizen's last message is moved 25 hours
back in the database, the operator moves the complaint on, and the update goes out as the
configured Content template instead.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import jpeg_bytes
from tests.fakes.telegram_api import FakeTelegramThread, callback_update
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_SENDER,
    FakeTwilioThread,
    inbound_params,
)
from tests.test_process import OPERATOR, OPERATOR_CHAT, STOP_TIMEOUT, TOKEN, BotProcess, buttons

PUBLIC = "https://bot.example.org"
PATH = "/twilio/whatsapp"
USER = "whatsapp:+996555010203"
TEMPLATE = "HX" + "7" * 32
DESCRIPTION = "Во дворе дома 5 по улице Ленина третью неделю не горит фонарь"
REG_NUMBER = re.compile(r"\b\d{2}-\d{5}\b")
START_TIMEOUT = 30.0
STEP_TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WhatsAppWalk:
    def __init__(self, twilio: FakeTwilioThread, bot: BotProcess, port: int) -> None:
        self.twilio = twilio
        self.bot = bot
        self.target = f"http://127.0.0.1:{port}{PATH}"

    def post(self, params: dict[str, str]) -> tuple[int, str]:
        return self.twilio.post_signed(PUBLIC + PATH, params, target_url=self.target)

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status, _ = self.post({})  # signed but empty: 400 once the route is up
            except OSError:
                time.sleep(0.2)
                continue
            assert status == 400
            return
        pytest.fail(f"the webhook never came up:\n{self.bot.output()[-3000:]}")

    def check_alive(self) -> None:
        if self.bot.proc.poll() is not None:
            pytest.fail(f"the bot exited:\n{self.bot.output()[-3000:]}")

    def say(self, body: str = "", expect: str = "", **kwargs) -> str:
        """Send one signed message and return the body of the reply that contains `expect`."""
        since = len(self.twilio.sent)
        status, text = self.post(inbound_params(from_=USER, body=body, **kwargs))
        assert status == 200 and "<Response>" in text, (status, text)
        return self.wait_for(lambda m: expect in (m.body or ""), since).body

    def wait_for(self, predicate, since: int):
        try:
            return self.twilio.wait_for_message(
                lambda m: m.to == USER and predicate(m), STEP_TIMEOUT, since=since
            )
        except TimeoutError:
            self.check_alive()
            sent = [m.body for m in self.twilio.sent[since:]]
            pytest.fail(f"no such reply; got {sent}\n{self.bot.output()[-3000:]}")


def operator_presses(api: FakeTelegramThread, number: str, action: str) -> None:
    card = api.wait_for(
        "sendMessage",
        lambda c: (
            c.params.get("chat_id") == OPERATOR_CHAT
            and number in (c.params.get("text") or "")
            and any(b.startswith(f"op:{action}:") for b in buttons(c))
        ),
        STEP_TIMEOUT,
    )
    button = next(b for b in buttons(card) if b.startswith(f"op:{action}:"))
    api.push_update(
        callback_update(OPERATOR, button, message_id=2, chat_id=OPERATOR_CHAT, first_name="Op")
    )


def test_whatsapp_citizen_complaint_with_photo_and_updates(tmp_path):
    port = free_port()
    with FakeTelegramThread() as telegram, FakeTwilioThread() as twilio:
        bot = BotProcess(
            tmp_path,
            telegram.base_url,
            TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
            TWILIO_WHATSAPP_FROM=DEFAULT_SENDER,
            TWILIO_API_BASE=twilio.base_url,
            PUBLIC_BASE_URL=PUBLIC,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
            TWILIO_TEMPLATE_STATUS_RU=TEMPLATE,
        )
        try:
            walk = WhatsAppWalk(twilio, bot, port)
            walk.wait_until_listening()
            walk.say("Здравствуйте", expect="2. Русский")
            walk.say("2", expect="1. 🔔")
            walk.say("2", expect="1. 📝")
            walk.say("1", expect="4. ")
            walk.say("Уличное освещение", expect="10")
            walk.say(DESCRIPTION, expect="📍")
            walk.say("ул. Ленина, 5", expect="1. ✅")
            photo = twilio.add_media(jpeg_bytes(), "image/jpeg")
            walk.say("", expect="1 из 5", media=[(photo, "image/jpeg")])
            walk.say("1", expect="🕶")
            walk.say("2", expect=DESCRIPTION[:30])
            receipt = walk.say("1", expect="26-")
            number = REG_NUMBER.search(receipt).group(0)  # e.g. 26-00001

            # the operator accepts in the Telegram group; the citizen is inside the window
            since = len(twilio.sent)
            operator_presses(telegram, number, "accept")
            update = walk.wait_for(lambda m: number in (m.body or ""), since)
            assert update.content_sid is None and "принята" in update.body

            # 25 hours later (moved in the database), the next update must be a template
            database = sqlite3.connect(tmp_path / "data" / "bot.sqlite3")
            earlier = (datetime.now(UTC) - timedelta(hours=25)).isoformat(timespec="seconds")
            with database:
                database.execute("UPDATE citizens SET last_inbound_at = ?", (earlier,))
            database.close()
            since = len(twilio.sent)
            operator_presses(telegram, number, "progress")
            template = walk.wait_for(lambda m: m.content_sid is not None, since)
            assert template.content_sid == TEMPLATE
            assert template.content_variables["1"] == number

            code = bot.stop(STOP_TIMEOUT)
            assert code == 0, bot.output()[-3000:]
        finally:
            bot.kill()
        output = bot.output()
        assert TOKEN not in output and DEFAULT_AUTH_TOKEN not in output
        assert "555010203" not in output  # the citizen's phone number
        assert DESCRIPTION[:25] not in output
