"""A seeded conversation fuzzer for the citizen bot: the dialog core, Telegram and WhatsApp.

Each conversation is a new citizen taking random steps (seeded, so every run is the same):
pressing an offered, a stale or a made-up option; typing an option's label, odd numbers, odd
unicode, huge texts, injection strings, commands and the menu/cancel/STOP words; sending bogus
pins, contacts, photos (valid, corrupt, empty, undownloadable), voice, video, stickers and
documents. Some citizens mostly answer what is asked, so walks reach the end of the complaint
dialog; others mostly do not. After every step it checks that

- nothing raised: the core's `handle` (and the console's `/op`), Telegram's
  `Dispatcher.feed_update` (a real aiogram `Bot` against the fake Bot API), the WhatsApp webhook
  (200 for a form signed with twilio's `RequestValidator`), and nothing was logged at ERROR level
  (the WhatsApp inbox and the outbox log what they catch);
- every reply is non-empty text or has options, and the messenger takes it: the fakes used here
  refuse what the real APIs refuse (empty or over-long text, a pin out of range, bad buttons);
- a complaint registered by the step has a real pin (or none) and a real phone number (or none);
- no log line the bot would print shows a token, or the citizen's chat id, phone or long text;
- nobody is stuck: from each state first reached in a conversation, "/start" (on WhatsApp, in
  turn, the word "меню") and at most two more steps (a discard/menu/cancel option, a language)
  show the main menu. The probe runs on the citizen's saved conversation and puts it back after.

`fuzz()` runs many conversations and returns a `Report` of distinct failures (exception type and
the innermost line of the bot's code, or the broken check), each with its shortest input
sequence; `replay()` runs fixed steps on a fresh app and `reproduce()` cuts an example down by
delta debugging. Used by `tests/test_fuzz.py` and `bench/fuzz_dialogs.py`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import random
import re
import shlex
import tempfile
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from bot.app import build_app
from bot.clock import FakeClock
from bot.dialogs.events import Attachment, Incoming, Reply
from bot.handlers.console.chat import operator_command, parse_line
from bot.storage.models import Conversation
from tests.conftest import make_settings
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI, callback_update, message_update
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_SENDER,
    FakeTwilioAPI,
    _Failure,
    inbound_params,
    sign,
)

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("core", "telegram", "whatsapp")
MENU_ID = "menu:complaint"  # the main menu is on screen when this option is offered
STEP_SECONDS = 7  # the fake clock moves this much per step
TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
TWILIO_BODY_LIMIT = 1600
CALLBACK_DATA_LIMIT = 64
UNPACED = {
    "telegram_messages_per_second": 1e6,
    "telegram_chat_messages_per_second": 1e6,
    "telegram_group_messages_per_minute": 1e8,
    "twilio_messages_per_second": 1e6,
}
SECRETS = {"123456:TEST-TOKEN", DEFAULT_AUTH_TOKEN}  # the bot token of tests/telegram_harness.py
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164

# ----- what the citizen does --------------------------------------------------------------------

NUMBERS = ["0", "-1", "99", "²", "①", "٣", "1e9", "1", "2", "3", " 7 ", "1.", "１", "⁵", "½"]
NUMBERS += ["Ⅻ", "10000000000000000000000", "2²", "26-²", "26-①", "26-00001", "٢٦-٠٠٠٠١"]
ODD_UNICODE = [
    "\u200f",  # RTL mark alone
    "\u200b\u200c\u200d",  # zero-width characters only
    "\ufeffменю",
    "Ме\u200bню",
    "\u202eменю",  # right-to-left override
    "👨\u200d👩\u200d👧\u200d👦" * 3,
    "🇰🇬🇰🇬",
    "e" + "\u0301" * 60,  # combining marks piled up
    "Z\u0351\u0352\u0353a\u0300\u0301l\u0302g\u0303o\u0304" * 4,
    "\x00",
    "a\x00b\x07c\x1bd",
    "\r\n\r\n",
    "\t \u3000 \u00a0",
    "ǅ ß ı İ ﬁ",
    "Өкмөт үйүнүн алдындагы көчөдө жарык жок",
    "مرحبا بالعالم، الشارع مظلم",
    "\ud800",  # lone surrogates: only the core and Telegram's JSON can carry them
    "abc\udfffdef",
    "Фонарь \ud83d не горит уже неделю",
]
INJECTIONS = [
    "'; DROP TABLE complaints;--",
    "<b>",
    "</Message></Response>",
    "<script>alert(1)</script>",
    "*_`[",
    "[link](http://example.org)",
    "{number}",
    "{0}{1}",
    "{}",
    "%s%s%n",
    "%(number)s",
    "{{1}}",
    "${jndi:ldap://x}",
    "&amp;&lt;",
    "\\",
    "' OR 1=1 --",
]
COMMANDS = ["/start", "/menu", "/cancel", "/language", "/help", "/my", "/check", "/faq"]
COMMANDS += ["/complaint", "/unknown", "/START", "/start@citizen_test_bot", "/", "/start x y"]
COMMANDS += ["/check 26-00001", "/stop", "/new", "/subscribe", "/op"]
# console commands that stand for a pin, a contact or a photo
CONSOLE_LINES = ["/location nan nan", "/location 91 181", "/location inf -inf", "/location 1 2 3"]
CONSOLE_LINES += ["/contact abc", "/contact +", "/contact", "/photo /nonexistent", "/photo /etc"]
WORDS = ["меню", "menu", "отмена", "cancel", "STOP", "START", "стоп", "Меню.", "  MENU  "]
WORDS += ["токтот", "старт", "отписаться", "баш меню", "главное меню"]
PHONES_TYPED = ["+996555123456", "0555 12-34-56", "996555123456", "+996 (555) 12 34 56"]
PHONES_TYPED += ["12345", "+", "abc", "+99655512345678901234", "0555 ①②-34-56"]
PLAIN = [
    "Во дворе дома 5 третью неделю не горит фонарь, дети ходят в темноте",
    "Көчөдө үч күндөн бери суу жок, балдар мектепке суусуз барат",
    "ул. Ленина, 12",
    "с. Кара-Суу, ул. Токтогула, 5",
    "Асанова Айгүл",
    "+996555123456",
    "0555 12-34-56",
    "26-00001",
    "7KXM-4PQ2",
    "Как подать жалобу на коррупцию?",
    "Кайрылууга канча күндө жооп берилет?",
    "привет",
    "да",
    "нет",
    "Освещение",
    "Далее",
]
MADE_UP_OPTIONS = [
    "op:accept:999",
    "op:reject:1",
    "q:answer:1",
    "lang:xx",
    "lang:",
    "lang:ru\x00",
    "menu:",
    "menu:complaint:1",
    "nav:",
    "nav:nowhere",
    "cat:../../etc/passwd",
    "cat:",
    "sub:maybe",
    "confirm:yes:1",
    "edit:zzz",
    "photos:clear",
    "faq:page:-1",
    "faq:page:99999999999999999999",
    "faq:page:²",
    "faq:entry:nope",
    "faq:topic:",
    "faq:back",
    "faq:send",
    "",
    "меню:жалоба",
    "x" * 64,
    "é" * 300,
    "'; DROP TABLE complaints;--",
    # buttons of pushed messages and of the lifecycle: real ids of other people's, stale, bogus
    "fu:yes:1",
    "fu:no:2",
    "fu:dk:999",
    "fu:maybe:1",
    "fu:yes:²",
    "fu:",
    "clar:1",
    "clar:999999999999999999999",
    "clar:",
    "cx:add:1",
    "cx:withdraw:1",
    "cx:add:²",
    "cx:frobnicate:1",
    "cx:",
    "thread:done",
    "withdraw:yes",
    "hearing:1:rsvp",
    "hearing:1:ics",
    "hearing:x:open",
    "hearing:1:",
    "hearing:99999999999999999999:open",
    "receipt:new:99999999999999999999",
    "survey:99999999999999999999:go",
    "survey:1:go",
]
PINS = [
    (math.nan, math.nan),
    (math.inf, 0.0),
    (0.0, -math.inf),
    (91.0, 0.0),
    (0.0, 181.0),
    (-90.5, 10.0),
    (-0.0, -0.0),
    (42.8746, 74.5698),
    (90.0, 180.0),
    (1e308, -1e308),
]
PHONES = ["abc", "+", "", "+996555123456", "0555123456", "+1" + "9" * 30, "²²²²²²²²²"]
PHONES += ["+996 555 12-34-56", "٠٥٥٥١٢٣٤٥٦", "+996555123456\u200f"]
# "missing": the messenger cannot give the file; "gone": it names it, then cannot serve it
PHOTOS = ["jpeg", "png", "corrupt", "empty", "jpeg-caption", "jpeg-as-document", "missing", "gone"]
FILES = ["voice", "video", "sticker", "document"]
HUGE = [5_000, 100_000]


# (weight, action); "op" is the console's operator command and is used on the core only
ACTIONS = [
    (45, "offered"),
    (6, "stale"),
    (5, "made_up"),
    (6, "label"),
    (6, "number"),
    (10, "plain"),
    (6, "unicode"),
    (2, "huge"),
    (4, "injection"),
    (5, "command"),
    (4, "word"),
    (3, "location"),
    (3, "contact"),
    (4, "photo"),
    (3, "file"),
    (1, "op"),
]


@dataclass(frozen=True)
class Step:
    """One concrete thing a citizen does; replayable on any fresh app of the same channel.

    action: text | command | press | photo | file | location | contact | op.
    `size` makes a text step a huge text of that many characters (kept short in reports).
    """

    action: str
    value: Any = None
    size: int = 0
    own: bool = True  # a contact: the sender's own number
    note: str = ""  # why it was chosen ("stale", "menu:check" ...), for reports only

    @property
    def text(self) -> str:
        return huge_text(self.size) if self.size else str(self.value or "")

    def short(self) -> str:
        if self.size:
            return f"{self.action}(<{self.size} chars>)"
        value = self.value
        if isinstance(value, str) and len(value) > 60:
            value = value[:57] + "..."
        extra = "" if self.own else ", not own"
        note = f"  # {self.note}" if self.note else ""
        return f"{self.action}({value!r}{extra}){note}"

    def to_json(self) -> list:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        item = [self.action, value, self.size, self.own]
        while len(item) > 2 and item[-1] == [None, None, 0, True][len(item) - 1]:
            item.pop()  # defaults are left out
        return item

    @classmethod
    def from_json(cls, item: list) -> Step:
        action, value, size, own = list(item) + [None, None, 0, True][len(item) :]
        if action == "location":
            value = tuple(float(v) for v in value)
        return cls(action, value, int(size or 0), bool(own))


_SURROGATE = re.compile("[\ud800-\udfff]")


def huge_text(size: int) -> str:
    """A long, ordinary-looking Russian text of exactly `size` characters."""
    unit = "Очень длинная жалоба про освещение и воду во дворе. "
    return (unit * (size // len(unit) + 1))[:size]


def dumps_steps(steps: list[Step]) -> str:
    """Steps as JSON to paste into a shell: readable, with lone surrogates escaped."""
    text = json.dumps([s.to_json() for s in steps], ensure_ascii=False, allow_nan=True)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def repro_line(channel: str, steps: list[Step], user: int = 0) -> str:
    """The shell command that replays `steps` on a fresh app."""
    who = f" --user {user}" if user else ""
    return (
        f".venv/bin/python bench/fuzz_dialogs.py --channel {channel}{who} "
        f"--replay {shlex.quote(dumps_steps(steps))}"
    )


def loads_steps(text: str) -> list[Step]:
    return [Step.from_json(item) for item in json.loads(text)]


def _texts(*values: str) -> list[Step]:
    return [Step("text", v) for v in values]


# Ordinary answers to the question of a state, so that walks get deep into the dialogs (and
# bogus pins, contacts and photos where they are asked for).
FITTING = {
    "complaint.description": _texts(*PLAIN[:2], "Фонарь не горит", "Суу жок"),
    "complaint.place": _texts(*PLAIN[2:4], "ab") + [Step("location", p) for p in PINS],
    "complaint.photos": [Step("photo", p) for p in PHOTOS] + [Step("file", "voice")],
    "complaint.name": _texts("Асанова Айгүл", "Иванов Иван Иванович", "Ли"),
    "complaint.phone": _texts(*PHONES_TYPED) + [Step("contact", p) for p in PHONES],
    "complaint.contact_address": _texts(*PLAIN[2:4], "дом"),
    "check.number": _texts("26-00001", "26-1", "№26-00002", "2600001", "26-²", "26-①"),
    "check.code": _texts("7KXM-4PQ2", "AAAA-AAAA", "xxxx", "7kxm4pq2"),
    "faq.topics": _texts(*PLAIN[9:11], "коррупция", "жалоба"),
}


# ----- what went wrong --------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One broken invariant. `key` tells distinct failures apart."""

    channel: str
    kind: str  # exception | logged error | refused | bad reply | no reply | webhook | stuck
    what: str  # exception type, refusal, state...
    where: str = ""  # file:line (function) of the innermost frame in bot/
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.channel, self.kind, self.what, self.where)

    def title(self) -> str:
        where = f" at {self.where}" if self.where else ""
        return f"[{self.channel}] {self.kind}: {self.what}{where}"


def where(tb) -> str:
    """The innermost frame of the bot's own code (else of anything), as 'path:line (func)'."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    ours = [f for f in frames if "/bot/" in f.filename and "/.venv/" not in f.filename]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        path = Path(*path.parts[-3:])
    return f"{path}:{frame.lineno} ({frame.name})"


def exception_failure(channel: str, exc: BaseException) -> Failure:
    return Failure(channel, "exception", type(exc).__name__, where(exc.__traceback__), _clip(exc))


def _clip(value: object, limit: int = 200) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ErrorTrap(logging.Handler):
    """On the root logger while a driver runs: keeps every record at ERROR or above, and every
    record the running bot would print (its own from INFO, others' from WARNING, formatted as
    `bot.logsafe` redacts them when it exists) that shows a secret or the citizen's data."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, logging.LogRecord]] = []  # (kind, record)
        self.secrets = {s for secret in secrets for s in (secret, secret.partition(":")[2]) if s}
        self.private: set[str] = set()  # the current step's citizen key and long text
        self._level = logging.WARNING
        try:
            from bot.logsafe import RedactingFormatter
        except ImportError:  # before the redaction existed
            return
        self.setFormatter(RedactingFormatter(None, secrets))

    def add_secret(self, secret: str) -> None:
        self.secrets |= {s for s in (secret, secret.partition(":")[2]) if s}
        if self.formatter is not None and hasattr(self.formatter, "secrets"):
            self.setFormatter(type(self.formatter)(None, self.secrets))

    def emit(self, record: logging.LogRecord) -> None:
        if _in_a_fake(record):
            return  # the fake servers' own troubles are not the bot's
        own = record.name == "bot" or record.name.startswith("bot.")
        if record.levelno >= (logging.INFO if own else logging.WARNING):
            text = self.format(record)
            if any(secret in text for secret in self.secrets):
                self.records.append(("secret in log", record))
            elif any(value in text for value in self.private):
                self.records.append(("personal data in log", record))
        if record.levelno >= logging.ERROR:
            self.records.append(("logged error", record))

    def install(self) -> None:
        """On the root logger; the bot's own INFO records are let through to it."""
        own = logging.getLogger("bot")
        self._level = own.level
        if own.getEffectiveLevel() > logging.INFO:
            own.setLevel(logging.INFO)
        logging.getLogger().addHandler(self)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
        logging.getLogger("bot").setLevel(self._level)

    def take(self, channel: str) -> list[Failure]:
        records, self.records = self.records, []
        return [_record_failure(channel, kind, r) for kind, r in records]


def _in_a_fake(record: logging.LogRecord) -> bool:
    if not record.exc_info or record.exc_info[2] is None:
        return False
    return "/tests/fakes/" in traceback.extract_tb(record.exc_info[2])[-1].filename


def _record_failure(channel: str, kind: str, record: logging.LogRecord) -> Failure:
    message = _clip(record.getMessage())
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        where_ = where(exc.__traceback__)
        return Failure(channel, kind, type(exc).__name__, where_, f"{message}: {exc}")
    return Failure(
        channel, kind, record.name, f"{_relative(record.pathname)}:{record.lineno}", message
    )


def _relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(Path(*Path(path).parts[-3:]))


def check_reply(reply: Reply) -> list[str]:
    """What is wrong with one neutral reply, whatever the channel."""
    problems = []
    if not (reply.text or "").strip() and not (reply.options or reply.photos or reply.location):
        problems.append("empty reply")
    for option in reply.options:
        if not 0 < len(option.id.encode("utf-8", "surrogatepass")) <= CALLBACK_DATA_LIMIT:
            problems.append("option id empty or over 64 bytes")
        if not option.label.strip():
            problems.append("option with an empty label")
    if reply.location and not _valid_pin(*reply.location):
        problems.append("location out of range")
    return problems


def _valid_pin(latitude: Any, longitude: Any) -> bool:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


# ----- media ------------------------------------------------------------------------------------


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (48, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, fmt)
    return buffer.getvalue()


def photo_bytes(kind: str) -> tuple[bytes, str]:
    """The bytes and MIME type of a photo step's file."""
    if kind == "png":
        return image_bytes("PNG"), "image/png"
    if kind == "corrupt":
        return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "image/jpeg"
    if kind == "empty":
        return b"", "image/jpeg"
    return image_bytes(), "image/jpeg"


FILE_MEDIA = {  # file step -> (bytes, MIME type) where a channel carries the file itself
    "voice": (b"OggS" + b"\x00" * 60, "audio/ogg"),
    "video": (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 60, "video/mp4"),
    "sticker": (None, "image/webp"),  # a WhatsApp sticker is a WEBP image
    "document": (b"%PDF-1.4\n%%EOF\n", "application/pdf"),
}


def file_media(kind: str) -> tuple[bytes, str]:
    data, mime = FILE_MEDIA[kind]
    return (image_bytes("WEBP") if data is None else data), mime


# ----- choosing the next step -------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """An option on the citizen's screen: its id (when known), label, and how to choose it."""

    id: str
    label: str
    choose: Step


@dataclass
class Seen:
    """What one step produced: texts shown, the options now offered, broken invariants."""

    texts: list[str] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    answered: bool = True  # False: the citizen saw nothing at all
    snap: tuple | None = None  # the citizen and their saved conversation after the step

    def offered(self, option_id: str) -> bool:
        return any(o.id == option_id for o in self.offers)


class Walker:
    """Chooses random steps for one conversation on one channel."""

    def __init__(self, rng: random.Random, channel: str, console: bool = False) -> None:
        self.rng = rng
        self.channel = channel
        self.console = console
        self.offers: list[Offer] = []
        self.seen_offers: dict[str, Offer] = {}
        self.state = ""
        # some citizens mostly answer what is asked (walks get deep), others mostly do not
        self.diligence = rng.choice((0.2, 0.5, 0.8))
        names = [name for _, name in ACTIONS]
        weights = [w if name != "op" or console else 0 for w, name in ACTIONS]
        self._names, self._weights = names, weights

    def observe(self, seen: Seen, state: str = "") -> None:
        self.state = state.split("+")[0]
        if seen.offers:
            self.offers = seen.offers
            self.seen_offers.update({o.id or o.label: o for o in seen.offers})

    def next(self) -> Step:
        """With probability `diligence` a step forward, else anything at all."""
        if self.rng.random() < self.diligence:
            return self._offered()
        action = self.rng.choices(self._names, self._weights)[0]
        step = getattr(self, f"_{action}")()
        return step if self._carries(step) else Step("text", self.rng.choice(PLAIN))

    def _carries(self, step: Step) -> bool:
        """WhatsApp's form posts are UTF-8: lone surrogates never arrive there."""
        if self.channel != "whatsapp" or not isinstance(step.value, str):
            return True
        try:
            step.value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    def _pick(self, items: list) -> Any:
        return self.rng.choice(items)

    def _offered(self) -> Step:
        """Mostly an option that goes forward: "cancel" and "menu" end a walk too soon."""
        forward = [o for o in self.offers if not o.id.startswith("nav:")]
        menu = next((o for o in forward if o.id == MENU_ID), None)
        if menu is not None and self.rng.random() < 0.4:  # the longest dialog, the most to break
            return replace(menu.choose, note=MENU_ID)
        if forward and self.rng.random() < 0.85:
            offer = self._pick(forward)
        elif not self.offers or (not forward and self.rng.random() < 0.7):
            return self._plain()
        else:
            offer = self._pick(self.offers)
        return replace(offer.choose, note=offer.id or offer.label)

    def _stale(self) -> Step:
        current = {o.id or o.label for o in self.offers}
        old = [o for key, o in self.seen_offers.items() if key not in current]
        if not old:
            return self._made_up()
        offer = self._pick(old)
        return replace(offer.choose, note=f"stale {offer.id or offer.label}")

    def _made_up(self) -> Step:
        if self.channel == "whatsapp" or self.console:  # no buttons: a made-up choice is typed
            return Step("text", self._pick(NUMBERS + MADE_UP_OPTIONS[:8]), note="made-up")
        if self.rng.random() < 0.2:
            length = self.rng.randint(1, 80)
            value = "".join(chr(self.rng.randint(33, 0x4FF)) for _ in range(length))
            return Step("press", value, note="random")
        return Step("press", self._pick(MADE_UP_OPTIONS), note="made-up")

    def _label(self) -> Step:
        pool = self.offers or list(self.seen_offers.values())
        if not pool:
            return self._plain()
        label = self._pick(pool).label
        if self.rng.random() < 0.3:
            label = self._pick([label.upper(), f"  {label}  ", label[2:], label + "!"])
        return Step("text", label, note="label")

    def _number(self) -> Step:
        return Step("text", self._pick(NUMBERS))

    def _plain(self) -> Step:
        fitting = FITTING.get(self.state)
        if fitting and self.rng.random() < 0.8:
            return self._pick(fitting)
        return Step("text", self._pick(PLAIN))

    def _unicode(self) -> Step:
        return Step("text", self._pick(ODD_UNICODE))

    def _huge(self) -> Step:
        return Step("text", size=self._pick(HUGE))

    def _injection(self) -> Step:
        return Step("text", self._pick(INJECTIONS))

    def _command(self) -> Step:
        return Step("command", self._pick(COMMANDS + (CONSOLE_LINES if self.console else [])))

    def _word(self) -> Step:
        return Step("text", self._pick(WORDS))

    def _location(self) -> Step:
        return Step("location", self._pick(PINS))

    def _contact(self) -> Step:
        return Step("contact", self._pick(PHONES), own=self.rng.random() < 0.8)

    def _photo(self) -> Step:
        return Step("photo", self._pick(PHOTOS))

    def _file(self) -> Step:
        return Step("file", self._pick(FILES))

    def _op(self) -> Step:
        lines = [
            "/op",
            "/op 26-² accept",
            "/op ² accept",
            "/op 26-00001 accept",
            "/op Q-² answer x",
        ]
        lines += ["/op 26-00001 answer " + "ответ " * 800, "/op queue", "/op 26-① progress"]
        return Step("op", self._pick(lines))


# ----- the way back to the menu -----------------------------------------------------------------

_WAY_BACK = [
    re.compile(p) for p in (r"discard|drop|restart|fresh", r"^nav:menu$", r"cancel", r"menu")
]
_WAY_BACK += [re.compile(p) for p in (r":no$", r"^lang:", r"^sub:")]


def way_back(offers: list[Offer]) -> Offer | None:
    """The option most likely to lead to the main menu (discard, menu, cancel, a language...)."""
    for pattern in _WAY_BACK:
        for offer in offers:
            if offer.id and pattern.search(offer.id):
                return offer
    return None


# ----- channel drivers --------------------------------------------------------------------------


# An ERROR record about a failure the step simulated (the messenger cannot give a photo) is
# deliberate logging, not a swallowed crash: reported, but it does not fail a run.
ADVISORY = frozenset({"outage logged at ERROR"})
_OUTAGE_ERRORS = {"ConnectionError", "ClientResponseError", "ClientError", "TelegramBadRequest"}
_OUTAGE_ERRORS |= {"TelegramNetworkError", "TelegramServerError", "TimeoutError"}


def _outage(step: Step) -> bool:
    return step.action == "photo" and step.value in ("missing", "gone")


def _as_outage(failure: Failure) -> Failure:
    if failure.kind == "logged error" and failure.what in _OUTAGE_ERRORS:
        return replace(failure, kind="outage logged at ERROR")
    return failure


def _scratch() -> str | None:
    """/dev/shm where there is one: the steps are bound by the store's writes."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class Driver:
    """One channel wired to a fresh app. Subclasses implement `_send` and `user_key`."""

    channel = ""
    openers: tuple[Step, ...] = (Step("command", "/start"),)

    def __init__(self) -> None:
        self.trap = ErrorTrap(SECRETS)
        self.clock = FakeClock()
        self.app = None
        self.pushed: list[Failure] = []  # problems seen by recording channels
        self._complaints_seen = 0
        self._may_register: dict[int, bool] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    async def open(self) -> Driver:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"fuzz-{self.channel}-", dir=_scratch())
        self.trap.install()
        try:
            await self._start()
            self.app = await build_app(self.settings(Path(self._tmp.name)), clock=self.clock)
            await self._attach()
        except BaseException:
            await self.close()
            raise
        return self

    async def _start(self) -> None:
        """Start what the settings need (a fake server's address)."""

    def settings(self, folder: Path, **overrides):
        """The test settings, with the messengers' rate limits out of the way: the fakes take
        any pace, and the outbox's pacing waits in real time."""
        return make_settings(folder, **(UNPACED | overrides))

    async def _attach(self) -> None:
        """Wire the channel to the app (and start fake servers)."""

    async def close(self) -> None:
        try:
            await self._detach()
            if self.app is not None:
                await self.app.close()
        finally:
            self.trap.remove()
            if self._tmp is not None:
                self._tmp.cleanup()

    async def _detach(self) -> None:
        """Stop what `_attach` started."""

    async def __aenter__(self) -> Driver:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def user_key(self, user: int) -> str:
        raise NotImplementedError

    def store_channel(self, user: int) -> str:
        return self.channel

    async def send(self, user: int, step: Step) -> Seen:
        """Do one step as citizen `user`; every broken invariant lands in `Seen.failures`."""
        self.clock.advance(seconds=STEP_SECONDS)
        refused = len(self.refused)
        long_text = step.text if step.action == "text" and len(step.text) >= 20 else None
        self.trap.private = {self.user_key(user), *([long_text] if long_text else [])}
        try:
            seen = await self._send(user, step)
        except Exception as exc:  # the channel itself raised: the worst kind
            seen = Seen(failures=[exception_failure(self.channel, exc)])
        try:
            await self.app.outbox.run_once()
        except Exception as exc:
            seen.failures.append(exception_failure(self.channel, exc))
        seen.failures += [Failure(self.channel, "refused", r) for r in self.refused[refused:]]
        seen.failures += self.pushed
        self.pushed.clear()
        try:
            if self._may_register.get(user, True):
                seen.failures += await self.check_stored()
            seen.snap = await self.snapshot(user)
            # only a complaint's steps (or a probe from them) register one
            self._may_register[user] = self.state_of(seen.snap).startswith("complaint.")
        except Exception as exc:  # the store itself is broken
            seen.failures.append(exception_failure(self.channel, exc))
        logged = self.trap.take(self.channel)
        seen.failures += [_as_outage(f) for f in logged] if _outage(step) else logged
        await self._finish(user, seen)
        if not seen.answered and not seen.failures:
            seen.failures.append(Failure(self.channel, "no reply", step.action, "", step.short()))
        return seen

    async def _send(self, user: int, step: Step) -> Seen:
        raise NotImplementedError

    async def _finish(self, user: int, seen: Seen) -> None:
        """Complete `seen` once the step is over (the saved conversation is in `seen.snap`)."""

    @property
    def refused(self) -> list[str]:
        """What the fake messenger refused so far, as the real one would."""
        return []

    async def check_stored(self) -> list[Failure]:
        """Complaints registered by the step keep a real pin and a real phone number."""
        rows = await self.app.store.fetchall(
            "SELECT id, latitude, longitude, phone FROM complaints WHERE id > ? ORDER BY id",
            (self._complaints_seen,),
        )
        failures = []
        for row in rows:
            self._complaints_seen = row["id"]
            pin = (row["latitude"], row["longitude"])
            if pin != (None, None) and not _valid_pin(*pin):
                failures.append(Failure(self.channel, "stored", "location out of range"))
            if row["phone"] is not None and not _PHONE.match(row["phone"]):
                failures.append(
                    Failure(self.channel, "stored", "not a phone number", "", row["phone"])
                )
        return failures

    # -- the saved conversation, for the "nobody stuck" probe ------------------------------------
    async def snapshot(self, user: int) -> tuple | None:
        """The citizen's row and saved conversation (one query: it runs after every step)."""
        row = await self.app.store.fetchone(
            "SELECT c.*, v.state AS fuzz_state, v.data AS fuzz_data FROM citizens c"
            " LEFT JOIN conversations v ON v.citizen_id = c.id"
            " WHERE c.channel = ? AND c.user_key = ?",
            (self.store_channel(user), self.user_key(user)),
        )
        if row is None:
            return None
        citizen = dict(row)
        state, data = citizen.pop("fuzz_state"), citizen.pop("fuzz_data")
        return citizen, None if state is None else Conversation(state, json.loads(data))

    async def restore(self, snap: tuple | None) -> None:
        self._may_register.clear()  # the restored state is not known here: check next time
        if snap is None:
            return
        citizen, conv = snap
        store = self.app.store
        columns = [
            c for c in ("locale", "announcements", "announcements_changed_at") if c in citizen
        ]
        sets = ", ".join(f"{c} = ?" for c in columns)
        await store.execute(
            f"UPDATE citizens SET {sets} WHERE id = ?",
            [citizen[c] for c in columns] + [citizen["id"]],
        )
        if conv is None:
            await store.execute("DELETE FROM conversations WHERE citizen_id = ?", (citizen["id"],))
        else:
            await store.conversations.save(
                citizen_id=citizen["id"], conversation=conv, now=self.clock.now()
            )

    @staticmethod
    def state_of(snap: tuple | None) -> str:
        if snap is None or snap[1] is None:
            return "(none)"
        conv: Conversation = snap[1]
        flags = [k for k in ("draft", "editing") if k in conv.data]
        return "+".join([conv.state, *flags])


class RecordingChannel:
    """An outbox channel that sends nothing and checks each pushed reply (the operator cards
    where no real channel is attached)."""

    def __init__(self, name: str, owner: str, failures: list[Failure]) -> None:
        self.name = name
        self.owner = owner
        self.failures = failures

    async def deliver(self, recipient: str, reply: Reply) -> None:
        for problem in check_reply(reply):
            failure = Failure(self.owner, "bad push", problem, detail=_clip(reply.text))
            self.failures.append(failure)


class CoreDriver(Driver):
    """The dialog core alone: `engine.handle(Incoming(...))`, as the console and tests drive it.

    Even users speak as the console (options as numbered lines), odd ones as Telegram."""

    channel = "core"

    async def _attach(self) -> None:
        for name in ("console", "telegram", "whatsapp"):
            self.app.outbox.add_channel(RecordingChannel(name, "core", self.pushed))

    def store_channel(self, user: int) -> str:
        return "console" if user % 2 == 0 else "telegram"

    def user_key(self, user: int) -> str:
        return f"fuzz{user}" if user % 2 == 0 else str(7_000_000 + user)

    async def _send(self, user: int, step: Step) -> Seen:
        seen = Seen()
        console = self.store_channel(user) == "console"
        if console and step.action in ("text", "command", "op"):
            event = self.console_line(user, step.text)  # read as the console reads a line
            if event is None:
                await self.console_only(step.text)
                return seen
        else:
            event = self.incoming(user, step)
        replies = await self.app.engine.handle(event)
        seen.answered = bool(replies)
        for reply in replies:
            seen.failures += [Failure("core", "bad reply", p) for p in check_reply(reply)]
            seen.texts.append(reply.text)
        last = next((r for r in reversed(replies) if r.options), None)
        if last is not None:
            seen.offers = [
                Offer(o.id, o.label, Step("text", str(n)) if console else Step("press", o.id))
                for n, o in enumerate(last.options, 1)
            ]
        return seen

    def console_line(self, user: int, line: str) -> Incoming | None:
        """What `run_console` hands to the core for a typed line; None when it does not."""
        if not line.strip() or line.split()[0] == "/op":
            return None
        return parse_line(line, self.user_key(user))

    async def console_only(self, line: str) -> None:
        """A line the console answers itself: `/op ...`, or one it cannot read."""
        if line.strip() and line.split()[0] == "/op":
            await operator_command(self.app, line)

    def incoming(self, user: int, step: Step) -> Incoming:
        base = {"channel": self.store_channel(user), "user_key": self.user_key(user)}
        match step.action:
            case "text" | "command":
                kind = "command" if step.action == "command" else "text"
                return Incoming(kind=kind, text=step.text, **base)
            case "press":
                return Incoming(kind="option", option_id=step.value, **base)
            case "location":
                lat, lon = step.value
                return Incoming(kind="location", latitude=lat, longitude=lon, **base)
            case "contact":
                return Incoming(
                    kind="contact", contact_phone=step.value, contact_is_own=step.own, **base
                )
            case "photo":
                return Incoming(
                    kind="photo", text=_caption(step), attachments=(_photo(step),), **base
                )
            case "file":
                data, mime = file_media(step.value)
                attachment = Attachment(_file_kind(step.value), _returns(data), mime, len(data))
                return Incoming(kind="file", attachments=(attachment,), **base)
        raise ValueError(f"unknown step {step.action}")


def _caption(step: Step) -> str:
    return PLAIN[0] if step.value == "jpeg-caption" else ""


def _file_kind(kind: str) -> str:
    return {"voice": "voice", "video": "video", "sticker": "sticker"}.get(kind, "document")


def _returns(data: bytes) -> Callable[[], Awaitable[bytes]]:
    async def fetch() -> bytes:
        return data

    return fetch


def _photo(step: Step) -> Attachment:
    if step.value in ("missing", "gone"):
        return Attachment("image", _fails, "image/jpeg", None)
    data, mime = photo_bytes(step.value)
    return Attachment("image", _returns(data), mime, len(data) if step.value != "empty" else None)


async def _fails() -> bytes:
    raise ConnectionError("the messenger could not give the file")


# -- Telegram ------------------------------------------------------------------------------------


class StrictTelegramAPI(FakeTelegramAPI):
    """The fake Bot API refusing what the real one refuses: empty or over-long texts and
    captions, pins out of range, empty buttons, callback data over 64 bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []
        self.gone: set[str] = set()  # file ids whose download fails after getFile

    def _refuse(self, call, description: str) -> None:
        self.refused.append(f"{call.method}: {description}")
        raise ApiError(400, f"Bad Request: {description}")

    def _check_text(self, call, key: str, limit: int, required: bool) -> None:
        text = call.params.get(key)
        if required and not (text or "").strip():
            self._refuse(call, "message text is empty")
        if text is not None and len(str(text)) > limit:
            self._refuse(call, f"{key} is too long ({len(str(text))} > {limit})")

    def _check_markup(self, call) -> None:
        markup = call.params.get("reply_markup")
        if not isinstance(markup, dict):
            return
        for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
            for button in row:
                if not str(button.get("text", "")).strip():
                    self._refuse(call, "BUTTON_TEXT_EMPTY")
                data = button.get("callback_data")
                if data is not None and not 0 < len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    self._refuse(call, "BUTTON_DATA_INVALID")

    def _m_sendmessage(self, call):
        self._check_text(call, "text", TELEGRAM_TEXT_LIMIT, required=True)
        self._check_markup(call)
        return super()._m_sendmessage(call)

    def _m_editmessagetext(self, call):
        self._check_text(call, "text", TELEGRAM_TEXT_LIMIT, required=True)
        self._check_markup(call)
        return super()._m_editmessagetext(call)

    def _m_sendphoto(self, call):
        self._check_text(call, "caption", TELEGRAM_CAPTION_LIMIT, required=False)
        return super()._m_sendphoto(call)

    def _m_sendlocation(self, call):
        if not _valid_pin(call.params.get("latitude"), call.params.get("longitude")):
            self._refuse(call, "wrong latitude or longitude")
        return super()._m_sendlocation(call)

    def _m_getfile(self, call):
        file_id = call.params.get("file_id")
        if file_id in self.gone:  # a path that the download endpoint does not know
            return {"file_id": file_id, "file_unique_id": file_id, "file_path": f"gone/{file_id}"}
        return super()._m_getfile(call)

    def _m_answercallbackquery(self, call):
        text = call.params.get("text")
        if text is not None and len(str(text)) > 200:
            self._refuse(call, "answerCallbackQuery text is too long")
        return True


class TelegramDriver(Driver):
    """A real aiogram Dispatcher and Bot; the Bot talks HTTP to `StrictTelegramAPI`."""

    channel = "telegram"

    async def _attach(self) -> None:
        from tests.telegram_harness import TelegramHarness

        self.api = StrictTelegramAPI()
        await self.api.start()
        self.harness = TelegramHarness(self.app, self.api)
        self.trap.add_secret(self.harness.bot.token)
        self._files = 0
        self._update_id = 0

    async def _detach(self) -> None:
        if getattr(self, "harness", None) is not None:
            await self.harness.close()
        if getattr(self, "api", None) is not None:
            await self.api.stop()

    def user_key(self, user: int) -> str:
        return str(self.chat_id(user))

    @staticmethod
    def chat_id(user: int) -> int:
        return 7_100_000 + user

    async def _send(self, user: int, step: Step) -> Seen:
        self._step = None
        chat = self.chat_id(user)
        update = self.update(chat, step)
        since = len(self.api.calls)
        self._update_id += 1
        update["update_id"] = self._update_id
        # through JSON, as Telegram delivers it: NaN, infinities and lone surrogates survive
        wire = json.loads(json.dumps(update, allow_nan=True))
        seen = Seen()
        try:
            await self.harness.feed(wire)
        except Exception as exc:
            seen.failures.append(exception_failure("telegram", exc))
        self._step = (chat, step, update, since)
        return seen

    async def _finish(self, user: int, seen: Seen) -> None:
        """What reached the citizen, the outbox's run after the update included."""
        if self._step is not None:
            self.observe(seen, *self._step)

    @property
    def refused(self) -> list[str]:
        return self.api.refused

    def observe(self, seen: Seen, chat: int, step: Step, update: dict, since: int) -> Seen:
        calls = self.api.calls[since:]
        messages = [
            c for c in calls if c.method == "sendMessage" and c.params.get("chat_id") == chat
        ]
        seen.texts = [str(c.params.get("text") or "") for c in messages]
        for call in reversed(messages):
            if offers := self.offers(call.params.get("reply_markup")):
                seen.offers = offers
                break
        if step.action == "press":
            query_id = update["callback_query"]["id"]
            answers = [
                c
                for c in calls
                if c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") == query_id
            ]
            if not answers and not seen.failures:
                seen.failures.append(Failure("telegram", "no reply", "button press never answered"))
            if answers and answers[-1].params.get("text"):
                seen.texts.append(str(answers[-1].params["text"]))
        seen.answered = bool(seen.texts)
        return seen

    @staticmethod
    def offers(markup: Any) -> list[Offer]:
        if not isinstance(markup, dict):
            return []
        found = []
        for row in markup.get("inline_keyboard", []):
            for b in row:
                data = b.get("callback_data") or ""
                found.append(Offer(data, b.get("text", ""), Step("press", data)))
        for row in markup.get("keyboard", []):
            for b in row:
                label = b.get("text", "")
                if b.get("request_location"):
                    found.append(Offer("", label, Step("location", (42.8746, 74.5698))))
                elif b.get("request_contact"):
                    found.append(Offer("", label, Step("contact", "+996555123456")))
                else:
                    found.append(Offer("", label, Step("text", label)))
        return found

    def update(self, chat: int, step: Step) -> dict:
        match step.action:
            case "text" | "command":
                return message_update(chat, step.text)
            case "press":
                return callback_update(chat, step.value, message_id=1)
            case "location":
                return message_update(chat, location=tuple(step.value))
            case "contact":
                who = chat if step.own else chat + 1
                return message_update(chat, contact={"phone_number": step.value, "user_id": who})
            case "photo":
                return self.photo_update(chat, step)
            case "file":
                if step.value == "document":
                    return message_update(chat, document=self.add_file(file_media("document")[0]))
                return message_update(chat, **{step.value: True})
        raise ValueError(f"unknown step {step.action}")

    def add_file(self, data: bytes) -> str:
        self._files += 1
        file_id = f"fuzz-file-{self._files}"
        self.api.add_file(file_id, data)
        return file_id

    def photo_update(self, chat: int, step: Step) -> dict:
        if step.value in ("missing", "gone"):
            self._files += 1
            file_id = f"fuzz-{step.value}-{self._files}"  # never added: getFile fails
            if step.value == "gone":
                self.api.gone.add(file_id)
            return message_update(chat, photo_file_id=file_id)
        data, mime = photo_bytes(step.value)
        file_id = self.add_file(data)
        if step.value == "jpeg-as-document":  # an image sent as a file, without file_size
            document = {"file_id": file_id, "file_name": "photo.jpg", "mime_type": mime}
            return message_update(chat, document=document)
        return message_update(chat, _caption(step) or None, photo_file_id=file_id)


# -- WhatsApp ------------------------------------------------------------------------------------

PUBLIC = "https://bot.example.org"
INBOUND = "/twilio/whatsapp"
_NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)


class StrictTwilioAPI(FakeTwilioAPI):
    """The fake Twilio API refusing bodies over WhatsApp's 1600 characters (error 21617)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def _validate(self, msg, content_variables):
        failure = super()._validate(msg, content_variables)
        if failure is None and msg.body and len(msg.body) > TWILIO_BODY_LIMIT:
            failure = _Failure(
                400, 21617, "The concatenated message body exceeds the 1600 character limit", None
            )
        if failure is not None:
            self.refused.append(f"Messages {failure.code}: {failure.message}")
        return failure


class WhatsAppDriver(Driver):
    """Signed form posts to the inbound webhook through aiohttp's test client; replies go out
    through the real twilio SDK to `StrictTwilioAPI`."""

    channel = "whatsapp"
    openers = (Step("command", "/start"), Step("text", "меню"))

    async def _start(self) -> None:
        self.twilio = StrictTwilioAPI()
        await self.twilio.start()

    def settings(self, folder: Path, **overrides):
        values = {
            "twilio_account_sid": DEFAULT_ACCOUNT_SID,
            "twilio_auth_token": DEFAULT_AUTH_TOKEN,
            "twilio_whatsapp_from": DEFAULT_SENDER,
            "public_base_url": PUBLIC,
            "twilio_api_base": self.twilio.base_url,
        }
        return super().settings(folder, **(values | overrides))

    async def _attach(self) -> None:
        from aiohttp import web
        from aiohttp.test_utils import TestClient, TestServer

        from bot.app import attach_whatsapp

        self.menu_labels = {
            self.app.i18n.texts(locale).gettext("📝 File a complaint") for locale in ("ky", "ru")
        }
        # the operator cards go to Telegram, which is not attached here: check them instead
        self.app.outbox.add_channel(RecordingChannel("telegram", "whatsapp", self.pushed))
        web_app = web.Application(client_max_size=8 * 2**20)
        web_app.add_routes(attach_whatsapp(self.app).routes)
        self.client = TestClient(TestServer(web_app))
        await self.client.start_server()

    async def _detach(self) -> None:
        if getattr(self, "client", None) is not None:
            await self.client.close()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if getattr(self, "twilio", None) is not None:
                await self.twilio.stop()

    def user_key(self, user: int) -> str:
        return f"+99670{user:07d}"

    async def _send(self, user: int, step: Step) -> Seen:
        self._step = None
        address = "whatsapp:" + self.user_key(user)
        params = inbound_params(from_=address, **self.fields(step))
        before = len(self.twilio.sent)
        headers = {"X-Twilio-Signature": sign(PUBLIC + INBOUND, params, DEFAULT_AUTH_TOKEN)}
        response = await self.client.post(INBOUND, data=params, headers=headers)
        seen = Seen()
        if response.status != 200:
            body = _clip(await response.text())
            seen.failures.append(
                Failure("whatsapp", "webhook", f"HTTP {response.status}", "", body)
            )
        await self.app.whatsapp.inbox.drain()
        self._step = (address, before)
        return seen

    @property
    def refused(self) -> list[str]:
        return self.twilio.refused

    async def _finish(self, user: int, seen: Seen) -> None:
        """What reached the citizen, the outbox's run after the message included."""
        if self._step is None:
            return
        address, before = self._step
        seen.texts = [m.body or "" for m in self.twilio.sent[before:] if m.to == address]
        seen.answered = bool(seen.texts)
        seen.offers = self.offers(seen.texts, seen.snap)

    def fields(self, step: Step) -> dict:
        match step.action:
            case "text" | "command" | "press":
                return {"body": step.text}
            case "location":
                lat, lon = step.value
                return {"latitude": lat, "longitude": lon}
            case "contact":
                card = f"BEGIN:VCARD\nVERSION:3.0\nFN:Test\nTEL:{step.value}\nEND:VCARD\n"
                url = self.twilio.add_media(card.encode(), "text/vcard")
                return {"media": [(url, "text/vcard")]}
            case "photo":
                data, mime = photo_bytes(step.value)
                url = self.twilio.add_media(data, mime)
                if step.value in ("missing", "gone"):  # a media sid Twilio does not know: 404
                    url = url.rsplit("/", 1)[0] + "/ME" + "0" * 32
                return {"body": _caption(step), "media": [(url, mime)]}
            case "file":
                data, mime = file_media(step.value)
                return {"media": [(self.twilio.add_media(data, mime), mime)]}
        raise ValueError(f"unknown step {step.action}")

    def offers(self, bodies: list[str], snap: tuple | None) -> list[Offer]:
        """Numbered lines of the last message that has them. Their ids come from the options
        the core saved with the conversation; the menu is also known by its label."""
        numbered = next((_NUMBERED.findall(b) for b in reversed(bodies) if _NUMBERED.search(b)), [])
        if not numbered:
            return []
        saved = (snap[1].data.get("_options", []) if snap and snap[1] else []) or []
        ids = {label: MENU_ID for label in self.menu_labels}
        ids |= {label: option_id for option_id, label in saved}
        return [
            Offer(ids.get(label, ""), label, Step("text", number)) for number, label in numbered
        ]


DRIVERS: dict[str, type[Driver]] = {
    "core": CoreDriver,
    "telegram": TelegramDriver,
    "whatsapp": WhatsAppDriver,
}


# ----- running conversations --------------------------------------------------------------------


@dataclass
class Example:
    """A failure's shortest input sequence seen, and its first (steps since the citizen's
    first message; a failure of an outbox retry shows first where it was caused)."""

    failure: Failure
    steps: list[Step]
    conversation: int  # the citizen (on the core: even ones speak as the console)
    first: list[Step]
    first_conversation: int
    count: int = 1

    def user(self, conversation: int | None = None) -> int:
        """The citizen to replay as: on the core only odd or even matters."""
        number = self.conversation if conversation is None else conversation
        return number % 2 if self.failure.channel == "core" else 0


@dataclass
class Report:
    """Distinct failures of a run, with counts and the shortest example of each."""

    channel: str
    seed: int
    conversations: int = 0
    steps: int = 0
    probes: int = 0
    failures: dict[tuple, Example] = field(default_factory=dict)
    states: Counter = field(default_factory=Counter)  # steps that ended in each state

    def add(self, failure: Failure, steps: list[Step], conversation: int) -> None:
        known = self.failures.get(failure.key)
        if known is None:
            example = Example(failure, list(steps), conversation, list(steps), conversation)
            self.failures[failure.key] = example
            return
        known.count += 1
        if len(steps) < len(known.steps):
            known.steps, known.conversation = list(steps), conversation
            known.failure = failure

    @property
    def total(self) -> int:
        return sum(e.count for e in self.failures.values())

    @property
    def broken(self) -> list[Example]:
        """The failures that fail a run (all but the advisory kinds)."""
        return [e for e in self.examples() if e.failure.kind not in ADVISORY]

    def summary(self) -> str:
        head = (
            f"{self.channel}: {self.conversations} conversations, {self.steps} steps, "
            f"{self.probes} way-back probes, {self.total} failures of {len(self.failures)} kinds "
            f"({len(self.broken)} failing the run)"
        )
        return "\n".join([head, *(describe(e) for e in self.examples())])

    def examples(self) -> list[Example]:
        return sorted(self.failures.values(), key=lambda e: (-e.count, e.failure.title()))


def describe(example: Example, *, steps: bool = True) -> str:
    f = example.failure
    lines = [f"  {example.count:5d} x {f.title()}"]
    if f.detail:
        lines.append(f"          {f.detail}")
    if steps:
        shown = " -> ".join(s.short() for s in example.steps)
        lines.append(f"          after {len(example.steps)} steps: {_clip(shown, 600)}")
    return "\n".join(lines)


async def conversation(
    driver: Driver, rng: random.Random, user: int, steps: int, report: Report, probe_all: bool
) -> None:
    """One citizen's random walk with the checks after each step."""
    walker = Walker(rng, driver.channel, console=driver.store_channel(user) == "console")
    done: list[Step] = []
    probed: set[str] = set()
    for _ in range(steps):
        step = walker.next()
        done.append(step)
        seen = await driver.send(user, step)
        report.steps += 1
        for failure in seen.failures:
            report.add(failure, done, user)
        snap = seen.snap
        state = driver.state_of(snap)
        walker.observe(seen, state)
        report.states[state.split("+")[0]] += 1
        if probe_all or state not in probed:
            probed.add(state)
            # one opener per probe, in turn ("/start", then "меню" on WhatsApp): half the cost
            opener = driver.openers[report.probes % len(driver.openers)]
            report.probes += 1
            await probe(driver, user, snap, done, report, (opener,))


async def probe(
    driver: Driver, user: int, snap, done: list[Step], report: Report, openers=None
) -> None:
    """From the saved state: an opener, then up to two way-back steps, must show the menu."""
    state = driver.state_of(snap)
    openers = openers or driver.openers
    try:
        for opener in openers:
            trail = [opener]
            seen = await driver.send(user, opener)
            for _ in range(2):
                if seen.offered(MENU_ID) or seen.failures:
                    break
                offer = way_back(seen.offers)
                if offer is None:
                    break
                trail.append(offer.choose)
                seen = await driver.send(user, offer.choose)
            for failure in seen.failures:
                report.add(failure, done + trail, user)
            if not seen.offered(MENU_ID) and not seen.failures:
                what = f"no way back from {state}"
                detail = f"tried {' -> '.join(s.short() for s in trail)}; last: {_last(seen)}"
                report.add(Failure(driver.channel, "stuck", what, opener.text, detail), done, user)
            if opener is not openers[-1]:
                await driver.restore(snap)
    finally:
        await driver.restore(snap)


def _last(seen: Seen) -> str:
    return _clip(seen.texts[-1] if seen.texts else "(nothing)", 120)


async def fuzz(
    channel: str,
    conversations: int,
    *,
    seed: int = 1,
    steps: int = 15,
    first: int = 0,
    probe_all: bool = False,
) -> Report:
    """Run `conversations` random conversations (numbered from `first`) on one fresh app."""
    report = Report(channel, seed)
    async with DRIVERS[channel]() as driver:
        for user in range(first, first + conversations):
            rng = random.Random(f"{seed}:{channel}:{user}")
            await conversation(driver, rng, user, steps, report, probe_all)
            report.conversations += 1
    return report


async def replay(channel: str, steps: list[Step], user: int = 0) -> set[tuple]:
    """Run fixed steps on a fresh app, probe the way back once at the end; the failure keys."""
    report = Report(channel, 0)
    async with DRIVERS[channel]() as driver:
        for index, step in enumerate(steps):
            seen = await driver.send(user, step)
            for failure in seen.failures:
                report.add(failure, steps[: index + 1], user)
        await probe(driver, user, await driver.snapshot(user), list(steps), report)
    return set(report.failures)


async def reproduce(example: Example) -> tuple[list[Step], int] | None:
    """A shortest sequence (and the citizen) showing the example's failure on a fresh app, or
    None when it shows only after other conversations."""
    key = example.failure.key
    tries = [
        (example.steps, example.user()),
        (example.first, example.user(example.first_conversation)),
    ]
    for steps, user in tries:
        found = await minimize(key[0], steps, key, user)
        if found is not None:
            return found, user
    return None


async def minimize(channel: str, steps: list[Step], key: tuple, user: int = 0) -> list[Step] | None:
    """The shortest sub-sequence (delta debugging, one-minimal) that still shows failure `key`;
    None when `steps` themselves do not show it on a fresh app."""
    if key not in await replay(channel, steps, user):
        return None
    chunks = 2
    while len(steps) >= 2:
        size = max(1, len(steps) // chunks)
        for start in range(0, len(steps), size):
            candidate = steps[:start] + steps[start + size :]
            if candidate and key in await replay(channel, candidate, user):
                steps, chunks = candidate, max(chunks - 1, 2)
                break
        else:
            if size == 1:
                break
            chunks = min(len(steps), chunks * 2)
    return steps
