"""Tier 4: the whole process. `python -m bot` long-polls the fake Bot API server.

A citizen files an anonymous complaint in Kyrgyz with a photo, the card reaches the operator
group without EXIF or identity, an operator accepts it, the citizen hears about it in Kyrgyz,
and SIGINT stops the bot cleanly without having logged the token or the complaint text.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from PIL import Image

from bot.config import Settings
from tests.fakes.telegram_api import Call, FakeTelegramThread, callback_update, message_update

REPO_ROOT = Path(__file__).resolve().parent.parent
KY_CATALOG = REPO_ROOT / "locales" / "ky" / "LC_MESSAGES" / "messages.po"
TOKEN = "123456:TEST"
OPERATOR_CHAT = -100500
OPERATOR = 42
CITIZEN = 918273645
FIRST_NAME = "Aibek"
DESCRIPTION = "Кран суусу үч күндөн бери жок, балдар мектепке суусуз барат"
NOTICE_MSGID = "Your complaint No. {number}: the status is now «{status}»."
REG_NUMBER = re.compile(r"\b(\d{2})-\d{5}\b")
TOTAL_BUDGET = 55.0  # seconds for the whole walk, start-up included
FIRST_REPLY_TIMEOUT = 30.0  # importing aiogram and opening the store take a while
STEP_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


def exif_jpeg() -> bytes:
    image = Image.new("RGB", (48, 32), "green")
    exif = image.getexif()
    exif[0x010F] = "SecretMaker"  # Make
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    if not isinstance(markup, dict):
        return []
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def has_button(data: str):
    return lambda call: data in buttons(call)


def notice_pattern(number: str) -> tuple[re.Pattern[str], str, bool]:
    """The status notice as the Kyrgyz catalog words it, read from the .po at test time.

    Returns the pattern, the template used, and whether the whole catalog is translated.
    """
    with KY_CATALOG.open("rb") as po:
        catalog = read_po(po, locale="ky")
    entries = [m for m in catalog if m.id]
    message = catalog.get(NOTICE_MSGID)
    assert message is not None, f"{NOTICE_MSGID!r} is missing from {KY_CATALOG}"
    translated = bool(message.string) and not message.fuzzy
    template = message.string if translated else NOTICE_MSGID
    fully = all(m.string and not m.fuzzy for m in entries)
    parts = re.split(r"(\{number\}|\{status\})", template)
    regex = "".join(
        re.escape(number) if p == "{number}" else ".+?" if p == "{status}" else re.escape(p)
        for p in parts
    )
    return re.compile(regex), template, fully


class BotProcess:
    """`python -m bot` in a subprocess, its output in files (never a pipe that can fill up)."""

    def __init__(self, tmp_path: Path, base_url: str, **extra_env: str) -> None:
        # None of the developer's bot settings (a webhook URL, say) leak into the process.
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE=base_url,
            OPERATOR_CHAT_ID=str(OPERATOR_CHAT),
            OPERATOR_IDS=str(OPERATOR),
            DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
            MEDIA_DIR=str(tmp_path / "data" / "media"),
            OUTBOX_INTERVAL_SECONDS="0.2",
            FLOOD_BURST="50",  # the walk taps faster than any person; flood has its own tests
            DEFAULT_LOCALE="ky",
            LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env)
        self.out_path = tmp_path / "bot.stdout"
        self.err_path = tmp_path / "bot.stderr"
        workdir = tmp_path / "cwd"  # no .env here: a developer's settings are never read
        workdir.mkdir()
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def stop(self, timeout: float) -> int | None:
        """SIGINT, then wait; None when it had to be killed."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Walk:
    """Pushes updates and waits for the bot's answer, within one overall time budget."""

    def __init__(self, api: FakeTelegramThread, bot: BotProcess) -> None:
        self.api = api
        self.bot = bot
        self.deadline = time.monotonic() + TOTAL_BUDGET

    def wait(self, method: str, predicate, *, since: int, timeout: float = STEP_TIMEOUT) -> Call:
        """Like wait_for, but fails at once (with the bot's output) when the process died."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            if self.bot.proc.poll() is not None:
                pytest.fail(
                    f"the bot exited with {self.bot.proc.returncode}:\n{self.bot.output()[-3000:]}"
                )
            left = end - time.monotonic()
            if left <= 0:
                seen = [(c.method, c.params.get("chat_id")) for c in self.api.calls[since:]]
                pytest.fail(
                    f"no matching {method} within {timeout}s; after #{since} got {seen}\n"
                    f"bot output:\n{self.bot.output()[-3000:]}"
                )
            try:
                return self.api.wait_for(method, predicate, min(left, 0.5), since=since)
            except TimeoutError:
                continue

    def step(self, update: dict, predicate, *, timeout: float = STEP_TIMEOUT) -> Call:
        """Push one update and wait for the citizen's sendMessage that answers it."""
        since = len(self.api.calls)
        self.api.push_update(update)

        def to_citizen(call: Call) -> bool:
            return call.params.get("chat_id") == CITIZEN and predicate(call)

        return self.wait("sendMessage", to_citizen, since=since, timeout=timeout)

    def say(self, text: str | None = None, predicate=None, **kwargs) -> Call:
        update = message_update(CITIZEN, text, first_name=FIRST_NAME, language_code="ky", **kwargs)
        return self.step(update, predicate or (lambda c: True))

    def press(self, data: str, predicate) -> Call:
        update = callback_update(
            CITIZEN, data, message_id=1, first_name=FIRST_NAME, language_code="ky"
        )
        return self.step(update, predicate)


def test_whole_process_complaint_card_and_status_notice(tmp_path):
    photo = exif_jpeg()
    assert b"SecretMaker" in photo  # the test photo really carries the tag
    years = {datetime.now(ZoneInfo("Asia/Bishkek")).year % 100}
    with FakeTelegramThread() as api:
        api.add_file("citizen-photo-1", photo, "photos/file_1.jpg")
        bot = BotProcess(tmp_path, api.base_url)
        try:
            walk = Walk(api, bot)
            since = len(api.calls)
            api.push_update(
                message_update(CITIZEN, "/start", first_name=FIRST_NAME, language_code="ky")
            )
            walk.wait(
                "sendMessage",
                lambda c: c.params.get("chat_id") == CITIZEN and "lang:ky" in buttons(c),
                since=since,
                timeout=FIRST_REPLY_TIMEOUT,
            )
            walk.press("lang:ky", has_button("sub:no"))
            walk.press("sub:no", has_button("menu:complaint"))
            walk.press("menu:complaint", has_button("cat:water"))
            walk.press("cat:water", has_button("nav:cancel"))
            place = walk.say(
                DESCRIPTION, lambda c: "keyboard" in (c.params.get("reply_markup") or {})
            )
            assert any(
                b.get("request_location")
                for row in place.params["reply_markup"]["keyboard"]
                for b in row
            )
            walk.press("place:skip", has_button("photos:done"))
            walk.say(photo_file_id="citizen-photo-1", predicate=has_button("photos:clear"))
            walk.press("photos:done", has_button("id:anon"))
            walk.press("id:anon", has_button("confirm:yes"))
            since_confirm = len(api.calls)
            receipt = walk.press("confirm:yes", lambda c: REG_NUMBER.search(c.params["text"]))
            match = REG_NUMBER.search(receipt.params["text"])
            years.add(datetime.now(ZoneInfo("Asia/Bishkek")).year % 100)
            assert int(match.group(1)) in years
            number = match.group(0)

            # The operator card: the cleaned photo first, then the text with its buttons.
            sent_photo = walk.wait(
                "sendPhoto", lambda c: c.params.get("chat_id") == OPERATOR_CHAT, since=since_confirm
            )
            card = walk.wait(
                "sendMessage",
                lambda c: (
                    c.params.get("chat_id") == OPERATOR_CHAT
                    and any(b.startswith("op:accept:") for b in buttons(c))
                ),
                since=since_confirm,
            )
            uploaded = sent_photo.files.get("photo", b"")
            assert uploaded.startswith(b"\xff\xd8"), "the operator photo is not an uploaded JPEG"
            assert b"SecretMaker" not in uploaded
            text = card.params["text"]
            assert number in text
            assert str(CITIZEN) not in text
            assert FIRST_NAME not in text and FIRST_NAME.lower() not in text
            accept = next(b for b in buttons(card) if b.startswith("op:accept:"))

            # An operator accepts; the citizen is told, in Kyrgyz, through the outbox.
            since_accept = len(api.calls)
            api.push_update(
                callback_update(
                    OPERATOR,
                    accept,
                    message_id=2,
                    chat_id=OPERATOR_CHAT,
                    message_text=text,
                    first_name="Operator",
                    username="operator42",
                )
            )
            pattern, template, fully_translated = notice_pattern(number)
            notice = walk.wait(
                "sendMessage",
                lambda c: c.params.get("chat_id") == CITIZEN and number in c.params["text"],
                since=since_accept,
            )
            assert pattern.search(notice.params["text"]), (
                f"the notice {notice.params['text']!r} does not follow the ky template {template!r}"
            )
            if fully_translated:
                assert template != NOTICE_MSGID
            walk.wait(
                "sendMessage",
                lambda c: c.params.get("chat_id") == OPERATOR_CHAT and number in c.params["text"],
                since=since_accept,
            )
            answered = api.calls_to("answerCallbackQuery")[-1]  # the operator was not refused
            assert answered.params.get("show_alert") not in (True, "true")

            code = bot.stop(STOP_TIMEOUT)
            assert code is not None, f"the bot did not stop within {STOP_TIMEOUT}s of SIGINT"
            assert code == 0, bot.output()[-3000:]
        finally:
            bot.kill()
        output = bot.output()
        assert output, "the bot logged nothing at all"
        assert TOKEN not in output
        assert DESCRIPTION not in output
        assert DESCRIPTION[:20] not in output
