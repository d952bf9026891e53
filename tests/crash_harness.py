"""Kill -9 crash harness: `python -m bot` against the fake Bot API, killed at random moments.

Used by `tests/test_crash.py` (CI size) and `bench/crash_test.py` (longer runs).

The scenario. Citizens (started in waves spread over the kills) walk the complaint dialog by
answering whatever the bot last offered them: they read the bot's `sendMessage` calls to their
chat (inline buttons, the location / contact keyboards, text prompts). An operator, a member of
the operator group (asked of the fake with getChatMember), presses status buttons on each card
(accept, then in progress or forwarded, for half of them answer) and replies to every prompt
the bot puts to the group. After their receipt some citizens (seeded: `add_share`,
`withdraw_share`) go on: they open "My complaints" (`menu:mine`) and press `cx:add:<id>`, type
one text carrying a token of their own and press `thread:done`; or press `cx:withdraw:<id>` and
`withdraw:yes`. The operator may have closed the complaint first (no button in the list, or a
refusal): that is fine when the citizen is told so; the operator stops working a withdrawn
complaint. The harness SIGKILLs the bot and starts it again on the same
database: most kills at a seeded random moment 0.2-2.5 s after the bot began long-polling, some
of them brought forward to just after the bot fetched a Send press, a photo, an operator
action, or (whichever comes first, as these are rare) a typed addition or a "Yes, withdraw it"
(seen as the confirming `offset` of its next getUpdates), some during start-up. The fake
Bot API redelivers every update until a getUpdates with a higher `offset` confirms it, as
Telegram does. Whoever got no answer within `resend_after` seconds of bot uptime (summed over
restarts) acts again, as a person would: a new update with the same content. The operator sees
a step done when the status change is stored (read from `complaint_events`, what the card would
show) and presses again otherwise. After the last kill the bot runs undisturbed until everyone
is done and the outbox has drained, is stopped with SIGINT, and the ledger is drawn up from the
recorded Bot API calls and the SQLite file (read with sqlite3, read-only).

What the ledger counts (`Ledger.report` prints it all):
- complaints: rows of `complaints` per citizen. *lost*: a citizen pressed Send and has no row;
  *stored twice*: rows beyond the first of one citizen.
- receipts: `sendMessage` calls to the citizen's chat whose text holds one of the citizen's
  registration numbers AND a receipt code (XXXX-XXXX, the receipt alphabet). Per citizen with
  a stored complaint: 0 is *missing*, each beyond the first a *duplicate*. Also counted: stored
  numbers no receipt ever named (the first of two rows, typically), and other messages naming
  the number that are neither a receipt nor a status notice.
- operator cards: `sendMessage` calls to the group with an `op:<action>:<complaint id>` button,
  per stored complaint. Card photos: files uploaded to the group by sendPhoto / sendMediaGroup,
  matched by SHA-256 to `complaint_photos`.
- status notices: one per `complaint_events` row made by an operator: a message to the citizen
  naming the number and that status's label in the citizen's language, with no receipt code.
  Change notes: the same in the operator group (operator language), without buttons.
- after filing, per citizen who typed an addition: rows of `complaint_messages` holding the
  citizen's token (0 *missing* unless the citizen was told the complaint had closed, 2+
  *stored twice*) and messages to the group holding it (one per stored row; an extra is a
  duplicate send). Per citizen who pressed "Yes, withdraw it": the complaint ends `withdrawn`
  with exactly one `withdrawn` event by the citizen (unless the citizen was told it had closed
  or moved on), the group's change note for it (counted with the change notes) and the
  citizen's confirmation, once. Messages of this dialog that name the number ("My complaints"
  lists statuses) are not taken for status notices.
- outbox: every row should end `sent`; any other status is listed by kind and status.
- consecutive duplicates: two `sendMessage` calls in a row to one chat with the same text and
  keyboard. *Explained* when the chat's user pushed an update in between (a re-pressed button
  rightly gets the same prompt again); the others count as duplicates, by kind.
- *losses* sums lost complaints, missing receipts, cards, photos, notices, change notes,
  additions (stored, forwarded), withdrawals (stored, confirmed) and unsent outbox rows;
  *stored twice* (`doubled`) sums complaints, additions and withdrawn events stored more than
  once, and must be 0; *duplicate sends* sums the duplicated receipts, cards, photos, notices,
  change notes, forwarded additions and withdrawal confirmations. The bound for duplicates
  is one per kill (one Telegram call in flight).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from bot.config import Settings
from tests.fakes.telegram_api import (
    BOT_USER,
    Call,
    FakeTelegramAPI,
    FakeTelegramThread,
    callback_update,
    message_update,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:CRASHTEST"
OPERATOR_CHAT = -100500
OPERATOR = 4242  # a member of the operator group (asked of the fake), not in OPERATOR_IDS
CITIZEN_BASE = 930_000_000
TIMEZONE = "Asia/Bishkek"
OPERATOR_LOCALE = "ru"
REG_NUMBER = re.compile(r"\b\d{2}-\d{5}\b")
TICK = 0.02
OUTBOX_DONE = frozenset({"sent"})  # outbox states that count as delivered
# What an aimed kill waits for: the bot fetching a Send press, a photo or an operator action.
SEND, PHOTO, OPERATOR_ACT = "a Send press", "a photo", "an operator action"
# ... or, after filing, a citizen's addition (the typed text) or withdrawal ("Yes, withdraw it")
# (rare, one per citizen at most: an aimed kill takes whichever comes first, of them or its own)
ADDITION, WITHDRAWAL = "an addition", "a withdrawal"
AIMS = (SEND, SEND, PHOTO, OPERATOR_ACT)
THREAD_AIMS = (ADDITION, WITHDRAWAL)
# After the receipt (see CitizenSim.plan): add one text to the complaint, or withdraw it.
ADD, WITHDRAW = "add", "withdraw"
# Texts recognised by their msgid (in both catalogs; placeholders match anything, {number} a
# registration number): the thread's answers to the citizen, and the group's addition.
THREAD_TEXTS = {
    "list": "Your complaints:",
    "adding": "Write what you want to add to complaint No. {number}, or send photos. Each "
    "message goes to the operators at once. Press «Done» when you have finished.",
    "added": "Added and passed to the operators. You can add more, or press «Done».",
    "withdraw?": "Do you really want to withdraw complaint No. {number}? The operators will stop "
    "working on it, and it cannot be undone.",
    "withdrawn": "Complaint No. {number} is withdrawn. The operators have been told. "
    "Thank you for letting us know.",
    "closed": "Complaint No. {number} is already closed, so nothing can be added to it "
    "or withdrawn. You can file a new complaint.",
    "closed now": "Complaint No. {number} is «{status}»: nothing can be added to it or "
    "withdrawn now. You can file a new complaint.",  # the wording since the status is named
    "moved on": "Nothing changed: the complaint has moved on in the meantime.",
}
ADDITION_HEADER = "➕ The citizen added to complaint No. {number}:"
STOP_TIMEOUT = 15.0
# What a citizen types at a prompt that wants text, recognised by the prompt's msgid.
TEXT_PROMPTS = {
    "description": "Describe the problem in your own words",
    "name": "Your full name (surname, first name):",
    "address": "Your postal address, for the official answer:",
}
NAMES = ["Асанова Айгүл", "Токтогулов Бакыт", "Иванова Мария", "Жумабаев Нурлан"]


def _receipt_pattern() -> re.Pattern[str]:
    from bot.domain.complaints import RECEIPT_ALPHABET

    chars = f"[{re.escape(RECEIPT_ALPHABET)}]"
    return re.compile(rf"(?<![0-9A-Z]){chars}{{4}}-{chars}{{4}}(?![0-9A-Z])")


@dataclass
class CrashConfig:
    """One run's size and timing. Defaults are the CI size (about a minute)."""

    citizens: int = 10
    kills: int = 10
    waves: int = 3  # citizens start in this many groups, spread over the kills
    seed: int = 8
    min_uptime: float = 0.2  # seconds of readiness before a kill at a random moment
    max_uptime: float = 2.5
    targeted: float = 0.6  # share of kills aimed just after a Send, a photo or an operator press
    target_delay: float = 0.3  # such a kill comes within this many seconds of the press
    resend_after: float = 3.0  # seconds of bot uptime without an answer before acting again
    think: tuple[float, float] = (0.05, 0.3)
    operator_think: tuple[float, float] = (0.05, 0.2)
    photo_share: float = 0.5
    named_share: float = 0.4
    answer_share: float = 0.5  # complaints the operator also answers (a prompt and a reply)
    add_share: float = 0.35  # citizens who add a text to their complaint after the receipt
    withdraw_share: float = 0.3  # ... and who withdraw it (while it is still open)
    kill_phase_cap: float = 60.0  # seconds; fewer kills happen on a slow machine
    final_timeout: float = 35.0
    startup_kills: float = 0.15  # share of kills during start-up, before the bot polls
    max_duplicates: int | None = None  # bound for duplicate sends; None: one per kill
    repo: Path = REPO_ROOT  # where `python -m bot` is run from (a snapshot of another commit)
    verbose: bool = False


# -- the fake Bot API ----------------------------------------------------------------------------
class RecordingFakeAPI(FakeTelegramAPI):
    """The shared fake, plus the message id each sent message got (`call.message_id`), so a
    button press or a reply can name the message it belongs to."""

    def _message(self, call: Call, message_id: int | None = None, **extra: Any) -> dict[str, Any]:
        message = super()._message(call, message_id, **extra)
        if not hasattr(call, "message_id"):
            call.message_id = message["message_id"]  # type: ignore[attr-defined]
        return message


class CrashFakeThread(FakeTelegramThread):
    def make_api(self) -> RecordingFakeAPI:
        return RecordingFakeAPI()

    def calls_since(self, start: int) -> list[Call]:
        return self._run(lambda: self.api.calls[start:])


# -- Bot API call helpers ----------------------------------------------------------------------
def _markup(call: Call) -> dict[str, Any]:
    markup = call.params.get("reply_markup")
    return markup if isinstance(markup, dict) else {}


def inline_buttons(call: Call) -> list[str]:
    rows = _markup(call).get("inline_keyboard") or []
    return [b.get("callback_data", "") for row in rows for b in row if isinstance(b, dict)]


def keyboard_buttons(call: Call) -> list[dict[str, Any]]:
    rows = _markup(call).get("keyboard") or []
    return [b if isinstance(b, dict) else {"text": b} for row in rows for b in row]


def is_prompt(call: Call) -> bool:
    return bool(inline_buttons(call) or keyboard_buttons(call))


def is_force_reply(call: Call) -> bool:
    return bool(_markup(call).get("force_reply"))


def chat_of(call: Call) -> int | None:
    chat = call.params.get("chat_id")
    return chat if isinstance(chat, int) else None


def text_of(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


def card_complaint_id(call: Call) -> int | None:
    for data in inline_buttons(call):
        parts = data.split(":")
        if len(parts) == 3 and parts[0] == "op" and parts[2].isdigit():
            return int(parts[2])
    return None


def photo_jpeg(index: int) -> bytes:
    """A small JPEG of its own for each citizen (so the cleaned copies differ too)."""
    image = Image.new("RGB", (48 + index % 32, 40), ((index * 37) % 256, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


# -- the bot process -----------------------------------------------------------------------------
class BotRunner:
    """Starts `python -m bot` again and again on one database; each run logs to its own file."""

    def __init__(self, workdir: Path, base_url: str, repo: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        cwd = workdir / "cwd"  # no .env here: a developer's settings are never read
        cwd.mkdir(exist_ok=True)
        self.cwd = cwd
        self.db_path = workdir / "data" / "bot.sqlite3"
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE=base_url,
            OPERATOR_CHAT_ID=str(OPERATOR_CHAT),
            OPERATOR_LOCALE=OPERATOR_LOCALE,
            DATABASE_PATH=str(self.db_path),
            MEDIA_DIR=str(workdir / "data" / "media"),
            OUTBOX_INTERVAL_SECONDS="0.2",
            FLOOD_BURST="200",  # the harness taps faster than people; flood has its own tests
            # ten complaints a minute make more group messages than Telegram's 20 a minute; the
            # fake enforces no limit and pacing has its own tests: crash safety is tested here
            TELEGRAM_GROUP_MESSAGES_PER_MINUTE="6000",
            DEFAULT_LOCALE="ky",
            TIMEZONE=TIMEZONE,
            LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join([str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]),
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"bot-{self.starts:03d}.log").open("wb")
        with log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
            self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGINT and wait; None when it had to be killed."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("bot-*.log")))


class BotWontRun(RuntimeError):
    """`python -m bot` exits by itself again and again: no crash test is possible."""


# -- the people ----------------------------------------------------------------------------------
@dataclass
class Pending:
    """An action pushed and not yet answered: how to push it again, and since when."""

    label: str
    make: Callable[[], dict[str, Any]]
    index: int  # number of calls seen when it was first pushed
    at: float  # when it was last pushed
    query_id: str | None = None
    tries: int = 1
    trigger: str | None = None  # a kill may be aimed at this action
    up_at: float = 0.0  # the bot's total uptime when it was last pushed
    done: Callable[[], bool] | None = None  # answered when true (default: any new prompt)


@dataclass
class CitizenSim:
    index: int
    chat: int
    locale: str
    named: bool
    photo: bool
    pin: bool
    share_contact: bool
    rng: random.Random
    start_after_kill: int
    status: str = "waiting"  # waiting -> active -> done
    pending: Pending | None = None
    next_at: float = 0.0
    send_index: int | None = None
    last_label: str = ""
    actions: int = 0
    resends: int = 0
    photo_tries: int = 0
    confused: int = 0
    plan: str | None = None  # ADD or WITHDRAW after the receipt, or nothing
    stage: str = "filing"  # filing -> mine -> list -> step -> typed / confirmed -> over
    thread_from: int = 0  # calls seen at the last step after filing
    typed_index: int | None = None  # calls seen when the addition was first typed
    yes_index: int | None = None  # ... when "Yes, withdraw it" was first pressed
    refused: str = ""  # why the bot would not add or withdraw (the complaint had moved on)

    @property
    def first_name(self) -> str:
        return f"Citizen{self.index}"

    @property
    def token(self) -> str:
        """A mark of this citizen's addition, found in the database and in the group."""
        return f"dop{self.index}z{self.chat % 1000}q"

    def addition(self) -> str:
        if self.locale == "ru":
            return f"Дополнение ({self.token}): вода течёт уже и в подвал второго подъезда."
        return f"Толуктоо ({self.token}): суу экинчи подъезддин жертөлөсүнө да агып жатат."

    def description(self) -> str:
        if self.locale == "ru":
            return f"Житель {self.index}: третий день нет воды в кране, во дворе течёт труба."
        return f"Жаран {self.index}: үч күндөн бери кранда суу жок, короодо түтүк агып жатат."


# (the operator is defined after the run)


# -- the run -------------------------------------------------------------------------------------
class CrashRun:
    """Drives one run on one thread: fetch new calls, kill or restart, let people act."""

    def __init__(self, cfg: CrashConfig, workdir: Path, api: CrashFakeThread) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.api = api
        self.bot = BotRunner(workdir, api.base_url, cfg.repo)
        self.calls: list[Call] = []
        self.prompts_by_chat: dict[int, list[int]] = defaultdict(list)
        self.sends_by_chat: dict[int, list[int]] = defaultdict(list)
        self.answers: dict[str, Call] = {}
        self.pushes: list[tuple[int, int]] = []  # (calls seen at push, chat)
        self.presses: list[str] = []  # callback query ids pushed
        self.kill_rng = random.Random(cfg.seed)
        self.kills = 0
        self.kill_log: list[str] = []
        self.kill_marks: list[int] = []  # calls seen when each kill was done
        self.kills_on_pending = 0  # kills while some pushed action had no answer yet
        self.kills_on_send = 0  # ... while a Send press had no answer yet
        self.kills_on_thread = 0  # ... while an addition or a withdrawal had no answer yet
        self.aimed_landed: Counter = Counter()  # kills brought forward, by what they aimed at
        self.unexpected_exits: list[str] = []
        self.failed_starts = 0
        self.started_index = 0
        self.new_process_seen = False
        self.ready_at: float | None = None
        self.uptime_closed = 0.0
        self.kill_at: float | None = None
        self.started_at = 0.0
        self.startup_time = 3.0  # seconds from exec to the first getUpdates, last measured
        self.startup_kill = False  # the planned kill falls before the bot polls
        self.kills_in_startup = 0
        self.aim: str | None = None  # the kind of action the next kill is aimed at
        self.aimed_update: tuple[int, str] | None = None
        self.killing = True
        self.receipt = _receipt_pattern()
        self.text_prompts = _text_prompt_prefixes()
        self.thread_texts = {kind: _template(msgid) for kind, msgid in THREAD_TEXTS.items()}
        self.addition_header = _template(ADDITION_HEADER)
        # a card rendered after its complaint closed (withdrawn) has no buttons: its first lines
        self.card_lines = (_template("Complaint No. {number}"), _template("Category: {category}"))
        self.citizens = self._make_citizens()
        self.operator = OperatorSim(self, random.Random(cfg.seed * 7919 + 1))
        self.t0 = time.monotonic()

    def _make_citizens(self) -> list[CitizenSim]:
        people = []
        for i in range(self.cfg.citizens):
            rng = random.Random(self.cfg.seed * 1_000_003 + i)
            people.append(
                CitizenSim(
                    index=i,
                    chat=CITIZEN_BASE + i,
                    locale=rng.choice(["ky", "ru"]),
                    named=rng.random() < self.cfg.named_share,
                    photo=rng.random() < self.cfg.photo_share,
                    pin=rng.random() < 0.5,
                    share_contact=rng.random() < 0.5,
                    rng=rng,
                    start_after_kill=(i * self.cfg.waves // self.cfg.citizens)
                    * self.cfg.kills
                    // self.cfg.waves,
                )
            )
            roll = random.Random(self.cfg.seed * 7_000_003 + i).random()
            if roll < self.cfg.add_share:
                people[-1].plan = ADD
            elif roll < self.cfg.add_share + self.cfg.withdraw_share:
                people[-1].plan = WITHDRAW
        return people

    def log(self, message: str) -> None:
        if self.cfg.verbose:
            print(f"[{time.monotonic() - self.t0:7.2f}] {message}", flush=True)

    # ----- main loop ------------------------------------------------------------------------
    def run(self) -> Ledger:
        for c in self.citizens:
            if c.photo:
                self.api.add_file(f"crash-photo-{c.chat}", photo_jpeg(c.index))
        self.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
        self._start_bot()
        try:
            self._kill_phase()
            self._final_phase()
        finally:
            clean = self.bot.stop()
            self._fetch()
        return build_ledger(self, clean_exit=clean == 0)

    def _kill_phase(self) -> None:
        cap = time.monotonic() + self.cfg.kill_phase_cap
        while self.kills < self.cfg.kills and time.monotonic() < cap:
            self._tick()
            if all(c.status == "done" for c in self.citizens) and self.operator.idle():
                self.log("everyone finished before the last kill")
                break
        self.killing = False
        self.log(f"kill phase over after {self.kills} kills")

    def _final_phase(self) -> None:
        deadline = time.monotonic() + self.cfg.final_timeout
        quiet_since = time.monotonic()
        last_seen = len(self.calls)
        next_db_check = 0.0
        drained = False
        while time.monotonic() < deadline:
            self._tick()
            now = time.monotonic()
            busy = [c for c in self.calls[last_seen:] if c.method != "getUpdates"]
            last_seen = len(self.calls)
            if busy:
                quiet_since = now
            if now >= next_db_check:
                drained = self._outbox_open() == 0
                next_db_check = now + 0.5
            settled = all(c.status == "done" for c in self.citizens) and self.operator.idle()
            if settled and drained and self.ready_at and now - quiet_since > 1.5:
                self.log("settled: outbox drained, everyone done")
                return
        self.log("final phase timed out")

    def _tick(self) -> None:
        time.sleep(TICK)
        self._fetch()
        self._watch_bot()
        self._maybe_kill()
        for citizen in self.citizens:
            self._drive_citizen(citizen)
        self.operator.drive()

    # ----- calls ----------------------------------------------------------------------------
    def _fetch(self) -> None:
        for call in self.api.calls_since(len(self.calls)):
            index = len(self.calls)
            self.calls.append(call)
            self._see(index, call)

    def _see(self, index: int, call: Call) -> None:
        if index >= self.started_index and call.method != "getUpdates":
            self.new_process_seen = True  # setMyCommands, deleteWebhook...: the new process
        if call.method == "getUpdates" and self.new_process_seen:
            if self.ready_at is None:
                self.ready_at = time.monotonic()
                self.startup_time = self.ready_at - self.started_at
                self.startup_kill = False
                self._plan_kill()
            self._aim(call.params.get("offset"))
        elif call.method == "answerCallbackQuery":
            self.answers[str(call.params.get("callback_query_id"))] = call
        elif call.method == "sendMessage" and (chat := chat_of(call)) is not None:
            self.sends_by_chat[chat].append(index)
            if is_prompt(call):
                self.prompts_by_chat[chat].append(index)
            if chat == OPERATOR_CHAT:
                if (cid := card_complaint_id(call)) is not None:
                    self.operator.see_card(cid, call)
                elif is_force_reply(call):
                    self.operator.see_prompt(call)

    def push(self, chat: int, update: dict[str, Any], trigger: str | None = None) -> None:
        self.pushes.append((len(self.calls), chat))
        if "callback_query" in update:
            self.presses.append(update["callback_query"]["id"])
        update_id = self.api.push_update(update)
        aimed = trigger == self.aim or (trigger in THREAD_AIMS and self.aim is not None)
        if trigger and aimed and self.killing and self.aimed_update is None:
            self.aimed_update = (update_id, trigger)

    # ----- the bot: kills and restarts ------------------------------------------------------
    def _start_bot(self) -> None:
        self._fetch()
        if self.ready_at is not None:
            self.uptime_closed += time.monotonic() - self.ready_at
        self.started_index = len(self.calls)
        self.new_process_seen = False
        self.ready_at = None
        self.kill_at = None
        self.started_at = time.monotonic()
        if self.killing and self.kill_rng.random() < self.cfg.startup_kills:
            self.kill_at = self.started_at + self.kill_rng.uniform(0.3, 1.0) * self.startup_time
            self.startup_kill = True
        self.bot.start()
        self.log(f"bot started (run {self.bot.starts})")

    def _plan_kill(self) -> None:
        if not self.killing:
            return
        self.kill_at = self.ready_at + self.kill_rng.uniform(
            self.cfg.min_uptime, self.cfg.max_uptime
        )
        self.aim = None
        if self.kill_rng.random() < self.cfg.targeted:
            self.aim = self.kill_rng.choice(AIMS)
        self.aimed_update = None

    def _aim(self, offset: Any) -> None:
        """The bot confirmed (so it has fetched) the aimed update: kill it soon after."""
        if self.aimed_update is None or not isinstance(offset, int) or self.kill_at is None:
            return
        update_id, what = self.aimed_update
        if offset > update_id:
            self.aimed_update = None
            self.aim = None
            at = time.monotonic() + self.kill_rng.uniform(0, self.cfg.target_delay)
            if at < self.kill_at:
                self.kill_at = at
                self.aimed_landed[what] += 1
                self.log(f"kill aimed at {what}")

    def _maybe_kill(self) -> None:
        if not self.killing or self.kill_at is None or time.monotonic() < self.kill_at:
            return
        self._count_pressure()
        self.bot.kill()
        self.kills += 1
        self.kills_in_startup += self.startup_kill
        self._fetch()
        self.kill_marks.append(len(self.calls))
        when = (
            f"{time.monotonic() - self.started_at:.2f}s into start-up"
            if self.ready_at is None
            else f"{time.monotonic() - self.ready_at:.2f}s after ready"
        )
        self.kill_log.append(f"kill {self.kills}: {when}, call #{len(self.calls)}")
        self.log(self.kill_log[-1])
        self._start_bot()

    def _count_pressure(self) -> None:
        """How much a kill interrupts: pushed actions not yet answered, and Send presses."""
        pending = [c.pending for c in self.citizens if c.pending is not None]
        pending += [self.operator.pending] if self.operator.pending is not None else []
        self.kills_on_pending += bool(pending)
        self.kills_on_send += any(p.label == "confirm:yes" for p in pending)
        self.kills_on_thread += any(p.trigger in (ADDITION, WITHDRAWAL) for p in pending)

    def _watch_bot(self) -> None:
        code = self.bot.exited()
        if code is None:
            return
        tail = self.bot.log_text()[-1500:]
        self.unexpected_exits.append(f"exit code {code}; log tail:\n{tail}")
        self.log(f"bot exited on its own with {code}")
        self.failed_starts = self.failed_starts + 1 if self.ready_at is None else 0
        if self.failed_starts >= 3 or len(self.unexpected_exits) > 20:
            raise BotWontRun(f"the bot exits on its own (code {code}):\n{tail}")
        self._start_bot()

    def uptime(self) -> float:
        """Seconds the bot has been ready (long-polling) in all its runs so far."""
        current = 0.0 if self.ready_at is None else time.monotonic() - self.ready_at
        return self.uptime_closed + current

    def overdue(self, pending: Pending) -> bool:
        """No answer within `resend_after` seconds of bot uptime: a person acts again."""
        return self.uptime() - pending.up_at > self.cfg.resend_after

    def _outbox_open(self) -> int:
        """Outbox rows not yet `sent` or `failed` (-1 when the file cannot be read now)."""
        try:
            con = sqlite3.connect(f"file:{self.bot.db_path}?mode=ro", uri=True, timeout=1)
        except sqlite3.Error:
            return -1
        try:
            return con.execute(
                "SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'failed')"
            ).fetchone()[0]
        except sqlite3.Error:
            return -1
        finally:
            con.close()

    # ----- citizens -------------------------------------------------------------------------
    def _latest_prompt(self, chat: int) -> tuple[int, Call] | None:
        indexes = self.prompts_by_chat.get(chat)
        return (indexes[-1], self.calls[indexes[-1]]) if indexes else None

    def _drive_citizen(self, c: CitizenSim) -> None:
        now = time.monotonic()
        if c.status == "waiting":
            due = self.kills >= c.start_after_kill or not self.killing
            if due and self.ready_at is not None:
                c.status = "active"
                self._act_citizen(c, "/start", self._citizen_text(c, "/start"))
            return
        if c.status != "active":
            return
        latest = self._latest_prompt(c.chat)
        if c.pending is not None:
            if c.pending.done is not None:
                answered = c.pending.done()
            else:
                answered = latest is not None and latest[0] >= c.pending.index
            if answered:
                c.pending = None
                c.next_at = now + c.rng.uniform(*self.cfg.think)
            elif self.overdue(c.pending):
                self._resend(c.chat, c.pending)
                c.resends += 1
            return
        if c.stage == "filing" and self._citizen_finished(c):
            if c.plan is None:
                c.status = "done"
                self.log(f"citizen {c.index} done")
                return
            c.stage = "mine"
        if c.stage == "over":
            c.status = "done"
            self.log(f"citizen {c.index} done ({c.plan}{': ' + c.refused if c.refused else ''})")
            return
        if now < c.next_at:
            return
        if c.stage != "filing":
            self._drive_thread(c)
            return
        if latest is None:
            self._act_citizen(c, "/start", self._citizen_text(c, "/start"))
            return
        self._decide(c, latest[1])

    # ----- citizens after filing: "My complaints", then add a text or withdraw -------------
    def _since(self, c: CitizenSim, start: int, wanted: Callable[[Call], bool]) -> Call | None:
        """The first message to the citizen's chat since call `start` that `wanted` accepts."""
        for index in self.sends_by_chat.get(c.chat, []):
            if index >= start and wanted(self.calls[index]):
                return self.calls[index]
        return None

    def _offers(self, c: CitizenSim, start: int, *buttons: str) -> Callable[[], bool]:
        """An answer check: a message since `start` with one of these buttons (or prefixes)."""

        def has(call: Call) -> bool:
            return any(b.startswith(buttons) for b in inline_buttons(call))

        return lambda: self._since(c, start, has) is not None

    def _drive_thread(self, c: CitizenSim) -> None:
        start = len(self.calls)
        if c.stage == "mine":
            c.thread_from, c.stage = start, "list"
            listed = self._offers(c, start, "receipt:new:")
            menus = [i for i in self.prompts_by_chat.get(c.chat, []) if i >= (c.send_index or 0)]
            menu = next(
                (
                    self.calls[i]
                    for i in reversed(menus)
                    if "menu:mine" in inline_buttons(self.calls[i])
                ),
                None,
            )
            if menu is None:
                self._act_citizen(c, "/my", self._citizen_text(c, "/my"), done=listed)
            else:
                self._press(c, menu, "menu:mine", done=listed)
        elif c.stage == "list":
            listing = self._since(
                c,
                c.thread_from,
                lambda call: any(b.startswith("receipt:new:") for b in inline_buttons(call)),
            )
            data = (
                next((b for b in inline_buttons(listing) if b.startswith(f"cx:{c.plan}:")), None)
                if listing is not None
                else None
            )
            if listing is None:
                c.stage = "mine"  # (cannot happen: the press was answered by the list)
            elif data is None:
                c.refused, c.stage = "no button in My complaints (closed)", "over"
            else:
                c.thread_from, c.stage = start, "step"
                wanted = ("thread:done",) if c.plan == ADD else ("withdraw:yes",)
                self._press(
                    c, listing, data, done=self._offers(c, start, *wanted, "menu:complaint")
                )
        elif c.stage == "step" and c.plan == ADD:
            prompt = self._since(
                c, c.thread_from, lambda call: "thread:done" in inline_buttons(call)
            )
            if prompt is None:
                c.refused, c.stage = "closed when pressing Add", "over"
                return
            c.thread_from, c.stage = start, "typed"
            if c.typed_index is None:
                c.typed_index = start
            done = self._offers(c, start, "thread:done", "menu:complaint")
            self._act_citizen(c, "addition", self._citizen_text(c, c.addition()), ADDITION, done)
        elif c.stage == "typed":
            prompt = self._since(
                c, c.thread_from, lambda call: "thread:done" in inline_buttons(call)
            )
            if prompt is None:
                c.refused, c.stage = "closed when the addition came", "over"
                return
            c.stage = "finishing"
            self._press(c, prompt, "thread:done", done=self._offers(c, start, "menu:complaint"))
        elif c.stage == "step":  # WITHDRAW
            prompt = self._since(
                c, c.thread_from, lambda call: "withdraw:yes" in inline_buttons(call)
            )
            if prompt is None:
                c.refused, c.stage = "closed when pressing Withdraw", "over"
                return
            c.stage = "confirmed"
            if c.yes_index is None:
                c.yes_index = start
            done = self._offers(c, start, "menu:complaint")
            self._press(c, prompt, "withdraw:yes", WITHDRAWAL, done)
        else:  # finishing, confirmed: answered
            c.stage = "over"

    def _citizen_finished(self, c: CitizenSim) -> bool:
        """Pressed Send, then got a receipt or the main menu."""
        if c.send_index is None:
            return False
        for index in self.sends_by_chat.get(c.chat, []):
            if index < c.send_index:
                continue
            call = self.calls[index]
            text = text_of(call)
            if "menu:complaint" in inline_buttons(call):
                return True
            if REG_NUMBER.search(text) and self.receipt.search(text):
                return True
        return False

    def _decide(self, c: CitizenSim, prompt: Call) -> None:
        buttons = inline_buttons(prompt)
        keyboard = keyboard_buttons(prompt)
        prefixed = [b for b in buttons if ":" in b]

        def offered(prefix: str) -> list[str]:
            return [b for b in prefixed if b.startswith(prefix)]

        if offered("lang:"):
            self._press(c, prompt, f"lang:{c.locale}")
        elif offered("sub:"):
            self._press(c, prompt, "sub:no" if "sub:no" in buttons else offered("sub:")[0])
        elif "confirm:yes" in buttons:
            if c.send_index is None:
                c.send_index = len(self.calls)
            self._press(c, prompt, "confirm:yes", trigger=SEND)
        elif cats := offered("cat:"):
            self._press(c, prompt, cats[c.index % len(cats)])
        elif "id:anon" in buttons:
            self._press(c, prompt, "id:named" if c.named else "id:anon")
        elif "photos:done" in buttons:
            if c.photo and "photos:clear" not in buttons and c.photo_tries < 4:
                c.photo_tries += 1
                self._act_citizen(c, "photo", self._citizen_photo(c), trigger=PHOTO)
            else:
                self._press(c, prompt, "photos:done")
        elif offered("edit:"):
            self._press(c, prompt, "edit:back")
        elif "menu:complaint" in buttons:
            self._press(c, prompt, "menu:complaint")
        elif any(b.get("request_location") for b in keyboard):
            if c.pin:
                pin = (42.87 + c.index / 1000, 74.59 + c.index / 1000)
                self._act_citizen(c, "pin", self._citizen_message(c, location=pin))
            else:
                place = self._citizen_text(c, "Чүй проспекти, 100")
                self._act_citizen(c, "place address", place)
        elif any(b.get("request_contact") for b in keyboard):
            phone = f"+99655512{c.index:04d}"
            if c.share_contact:
                self._act_citizen(c, "contact", self._citizen_message(c, contact=phone))
            else:
                self._act_citizen(c, "phone", self._citizen_text(c, phone))
        elif set(buttons) <= {"nav:cancel"}:
            kind = self._text_prompt_kind(c, prompt)
            text = {
                "description": c.description(),
                "name": NAMES[c.index % len(NAMES)],
                "address": "Бишкек ш., Киев көчөсү, 44",
            }[kind]
            self._act_citizen(c, kind, self._citizen_text(c, text))
        else:
            c.confused += 1
            self._act_citizen(c, "/start", self._citizen_text(c, "/start"))

    def _text_prompt_kind(self, c: CitizenSim, prompt: Call) -> str:
        text = text_of(prompt)
        for kind, prefixes in self.text_prompts.items():
            if any(p and p in text for p in prefixes):
                return kind
        # unknown wording: go by what this citizen did last
        if c.last_label in ("id:named", "name"):
            return "name"
        return "address" if c.last_label in ("phone", "contact", "address") else "description"

    def _press(
        self,
        c: CitizenSim,
        prompt: Call,
        data: str,
        trigger: str | None = None,
        done: Callable[[], bool] | None = None,
    ) -> None:
        message_id = getattr(prompt, "message_id", 1)

        def make() -> dict[str, Any]:
            return callback_update(
                c.chat,
                data,
                message_id=message_id,
                message_text=text_of(prompt)[:100] or "...",
                language_code=c.locale,
                first_name=c.first_name,
                username=None,
            )

        self._act_citizen(c, data, make, trigger, done)

    def _citizen_message(self, c: CitizenSim, text: str | None = None, **kw: Any):
        def make() -> dict[str, Any]:
            return message_update(
                c.chat, text, language_code=c.locale, first_name=c.first_name, username=None, **kw
            )

        return make

    def _citizen_text(self, c: CitizenSim, text: str):
        return self._citizen_message(c, text)

    def _citizen_photo(self, c: CitizenSim):
        return self._citizen_message(c, photo_file_id=f"crash-photo-{c.chat}")

    def _act_citizen(
        self,
        c: CitizenSim,
        label: str,
        make: Callable[[], dict[str, Any]],
        trigger: str | None = None,
        done: Callable[[], bool] | None = None,
    ) -> None:
        c.pending = Pending(
            label,
            make,
            len(self.calls),
            time.monotonic(),
            up_at=self.uptime(),
            trigger=trigger,
            done=done,
        )
        c.last_label = label
        c.actions += 1
        self.push(c.chat, make(), trigger)
        self.log(f"citizen {c.index}: {label}")

    def _resend(self, chat: int, pending: Pending) -> Pending:
        pending.at = time.monotonic()
        pending.up_at = self.uptime()
        pending.tries += 1
        update = pending.make()
        if "callback_query" in update:
            pending.query_id = update["callback_query"]["id"]
        self.push(chat, update, pending.trigger)
        self.log(f"{chat}: again {pending.label} (try {pending.tries})")
        return pending


# -- the operator ------------------------------------------------------------------------------
STEP_STATUS = {
    "accept": "accepted",
    "progress": "in_progress",
    "forward": "forwarded",
    "answer": "answered",
    "reject": "rejected",
}
MAX_PRESSES = 8  # then the operator gives up on that step (reported)


@dataclass
class Step:
    action: str
    presses: int = 0
    waiting_since: float | None = None  # bot uptime at the last press or reply


class OperatorSim:
    """One operator in the group, one action at a time. A step is done when the new status
    shows (read from `complaint_events`, as the person would see it on the card); until then
    the button is pressed again after `resend_after` seconds of uptime. Every prompt that asks
    for a text on a complaint still being worked on gets a reply."""

    def __init__(self, run: CrashRun, rng: random.Random) -> None:
        self.run = run
        self.rng = rng
        self.plans: dict[int, list[Step]] = {}
        self.cards: dict[int, Call] = {}
        self.by_number: dict[str, int] = {}
        self.order: list[int] = []
        self.prompts: list[Call] = []
        self.pending: Pending | None = None  # a press waiting for its callback answer
        self.next_at = 0.0
        self.applied: set[tuple[int, str]] = set()
        self.withdrawn: set[int] = set()  # complaints the citizen withdrew: nothing left to do
        self.next_read = 0.0
        self.presses = self.replies = self.resends = self.refusals = 0
        self.gave_up: list[str] = []

    def see_card(self, complaint_id: int, call: Call) -> None:
        self.cards[complaint_id] = call
        if found := REG_NUMBER.search(text_of(call)):
            self.by_number[found.group(0)] = complaint_id
        if complaint_id not in self.plans:
            plan = ["accept", self.rng.choice(["progress", "forward"])]
            if self.rng.random() < self.run.cfg.answer_share:
                plan.append("answer")
            self.plans[complaint_id] = [Step(action) for action in plan]
            self.order.append(complaint_id)

    def see_prompt(self, call: Call) -> None:
        self.prompts.append(call)

    def idle(self) -> bool:
        return self.pending is None and not self.prompts and not any(self.plans.values())

    def drive(self) -> None:
        run, now = self.run, time.monotonic()
        self._read_applied(now)
        if self.pending is not None:
            if not self._answered() and not run.overdue(self.pending):
                return
            self.pending = None
            self.next_at = now + self.rng.uniform(*run.cfg.operator_think)
        if now < self.next_at or run.ready_at is None:
            return
        while self.prompts:
            prompt = self.prompts.pop(0)
            found = REG_NUMBER.search(text_of(prompt))
            complaint_id = self.by_number.get(found.group(0)) if found else None
            if complaint_id is None or self._current(complaint_id) is not None:
                self._reply(prompt, complaint_id)
                return
        for complaint_id in self.order:
            step = self._current(complaint_id)
            if step is None:
                continue
            if step.waiting_since is not None:
                if run.uptime() - step.waiting_since <= run.cfg.resend_after:
                    continue  # the change (or a prompt) may still come
                if step.presses >= MAX_PRESSES:
                    self.gave_up.append(f"{step.action} on complaint id {complaint_id}")
                    self.plans[complaint_id].clear()
                    continue
            self._press(complaint_id, step)
            return

    def _current(self, complaint_id: int) -> Step | None:
        """The first step of the complaint's plan whose status has not shown yet."""
        steps = self.plans.get(complaint_id, [])
        if complaint_id in self.withdrawn:
            steps.clear()
        while steps and (complaint_id, STEP_STATUS.get(steps[0].action)) in self.applied:
            steps.pop(0)
        return steps[0] if steps else None

    def _read_applied(self, now: float) -> None:
        if now < self.next_read:
            return
        self.next_read = now + 0.3
        try:
            con = sqlite3.connect(f"file:{self.run.bot.db_path}?mode=ro", uri=True, timeout=1)
        except sqlite3.Error:
            return
        try:
            rows = con.execute("SELECT complaint_id, new_status FROM complaint_events").fetchall()
            self.applied = {(row[0], row[1]) for row in rows}
            self.withdrawn = {row[0] for row in rows if row[1] == "withdrawn"}
        except sqlite3.Error:
            pass
        finally:
            con.close()

    def _answered(self) -> bool:
        answer = self.run.answers.get(self.pending.query_id or "")
        if answer is not None and answer.params.get("show_alert") in (True, "true"):
            self.refusals += 1
        return answer is not None

    def _press(self, complaint_id: int, step: Step) -> None:
        run = self.run
        card = self.cards[complaint_id]
        message_id = getattr(card, "message_id", 1)
        data = f"op:{step.action}:{complaint_id}"

        def make() -> dict[str, Any]:
            return callback_update(
                OPERATOR,
                data,
                message_id=message_id,
                chat_id=OPERATOR_CHAT,
                message_text=text_of(card)[:200],
                language_code=OPERATOR_LOCALE,
                first_name="Operator",
                username="operator4242",
            )

        update = make()
        self.pending = Pending(
            data, make, len(run.calls), time.monotonic(), up_at=run.uptime(), trigger=OPERATOR_ACT
        )
        self.pending.query_id = update["callback_query"]["id"]
        step.presses += 1
        step.waiting_since = run.uptime()
        self.presses += 1
        self.resends += step.presses > 1
        run.push(OPERATOR_CHAT, update, OPERATOR_ACT)
        run.log(f"operator: {data} (press {step.presses})")

    def _reply(self, prompt: Call, complaint_id: int | None) -> None:
        run = self.run
        prompt_id = getattr(prompt, "message_id", 1)
        update = message_update(
            OPERATOR,
            "Трубу заменили, вода снова подаётся. Спасибо за обращение.",
            chat_id=OPERATOR_CHAT,
            language_code=OPERATOR_LOCALE,
            first_name="Operator",
            username="operator4242",
        )
        update["message"]["reply_to_message"] = {
            "message_id": prompt_id,
            "date": int(time.time()),
            "chat": {"id": OPERATOR_CHAT, "type": "supergroup", "title": "Test group"},
            "from": BOT_USER,
            "text": text_of(prompt),
        }
        if complaint_id is not None and (step := self._current(complaint_id)) is not None:
            step.waiting_since = run.uptime()
        self.replies += 1
        self.next_at = time.monotonic() + self.rng.uniform(*run.cfg.operator_think)
        run.push(OPERATOR_CHAT, update, OPERATOR_ACT)
        run.log(f"operator: reply to prompt {prompt_id}")


def _text_prompt_prefixes() -> dict[str, list[str]]:
    """The start of each text prompt as both catalogs word it (before any placeholder)."""
    from bot.i18n import I18n

    i18n = I18n(ZoneInfo(TIMEZONE), strict=False)
    found: dict[str, list[str]] = {}
    for kind, msgid in TEXT_PROMPTS.items():
        words = [i18n.texts(locale).gettext(msgid) for locale in ("ky", "ru")]
        found[kind] = [w.split("{")[0].strip()[:40] for w in [msgid, *words]]
    return found


def _template(msgid: str) -> list[re.Pattern[str]]:
    """Patterns of a message as the catalogs word it: {number} is a registration number,
    another placeholder anything."""
    from bot.i18n import I18n

    i18n = I18n(ZoneInfo(TIMEZONE), strict=False)
    found = []
    for text in {msgid, *(i18n.texts(locale).gettext(msgid) for locale in ("ky", "ru"))}:
        parts = re.split(r"(\{[^{}]*\})", text)
        pattern = "".join(
            REG_NUMBER.pattern
            if part == "{number}"
            else ".*?"
            if part.startswith("{") and part.endswith("}")
            else re.escape(part)
            for part in parts
        )
        found.append(re.compile(pattern, re.S))
    return found


def _matches(patterns: list[re.Pattern[str]], text: str) -> bool:
    return any(p.search(text) for p in patterns)


# -- the ledger ----------------------------------------------------------------------------------
@dataclass
class Tally:
    """Expected items and how many sends each got: `missing` (0) and `extra` (beyond 1)."""

    expected: int = 0
    missing: int = 0
    extra: int = 0

    def add(self, sends: int) -> str | None:
        """Count one expected item sent `sends` times; returns what is wrong with it."""
        self.expected += 1
        self.missing += sends == 0
        self.extra += max(sends - 1, 0)
        return None if sends == 1 else "missing" if sends == 0 else f"sent {sends} times"

    def add_many(self, expected: int, sends: int) -> str | None:
        """`expected` identical items (same bytes) that went out `sends` times in all."""
        self.expected += expected
        self.missing += max(expected - sends, 0)
        self.extra += max(sends - expected, 0)
        return None if sends == expected else f"{expected} expected, sent {sends} times"


@dataclass
class Ledger:
    kills: int = 0
    kills_on_pending: int = 0
    kills_on_send: int = 0
    kills_in_startup: int = 0
    unexpected_exits: int = 0
    clean_exit: bool = False
    citizens: int = 0
    finished: int = 0
    pressed_send: int = 0
    complaints: int = 0
    lost: int = 0
    stored_twice: int = 0
    citizens_with_doubles: int = 0
    receipts: Tally = field(default_factory=Tally)
    untold_numbers: int = 0  # stored complaints whose number no receipt named
    other_number_mentions: int = 0
    cards: Tally = field(default_factory=Tally)
    card_photos: Tally = field(default_factory=Tally)
    photos_twice: int = 0  # one photo stored twice in one complaint (informational)
    notices: Tally = field(default_factory=Tally)
    change_notes: Tally = field(default_factory=Tally)
    # after filing: per citizen who typed an addition, its rows in complaint_messages (found by
    # the citizen's token) and its messages to the group; per citizen who confirmed a
    # withdrawal, the 'withdrawn' events and the citizen's confirmation
    additions: Tally = field(default_factory=Tally)
    addition_forwards: Tally = field(default_factory=Tally)
    additions_refused: int = 0  # the complaint had closed: told so, nothing stored
    withdrawals: Tally = field(default_factory=Tally)
    withdraw_confirmations: Tally = field(default_factory=Tally)
    withdrawals_refused: int = 0  # the operator got there first: told so, nothing changed
    thread_plans: Counter = field(default_factory=Counter)  # plan -> citizens
    thread_texts_to_citizens: int = 0  # messages of the thread dialog naming a number
    kills_on_thread: int = 0
    aimed: Counter = field(default_factory=Counter)  # kills brought forward, by aim
    outbox_rows: int = 0
    outbox_not_sent: Counter = field(default_factory=Counter)
    consecutive: Counter = field(default_factory=Counter)  # kind -> unexplained pairs
    consecutive_explained: int = 0
    citizen_resends: int = 0
    operator_presses: int = 0
    operator_resends: int = 0
    operator_gave_up: int = 0
    presses_unanswered: int = 0  # button presses the bot never answered (lost or killed)
    presses: int = 0
    error_lines: int = 0
    token_in_log: bool = False
    seconds: float = 0.0
    bound: int = 0  # duplicate sends allowed: one per kill unless configured
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def losses(self) -> int:
        """Everything that should have reached someone (or the database) and did not."""
        return (
            self.lost
            + self.receipts.missing
            + self.cards.missing
            + self.card_photos.missing
            + self.notices.missing
            + self.change_notes.missing
            + self.additions.missing
            + self.addition_forwards.missing
            + self.withdrawals.missing
            + self.withdraw_confirmations.missing
            + sum(self.outbox_not_sent.values())
        )

    @property
    def doubled(self) -> int:
        """Effects stored more than once: complaints, additions, withdrawals."""
        return self.stored_twice + self.additions.extra + self.withdrawals.extra

    @property
    def duplicate_sends(self) -> int:
        """Ledger items that reached their chat more than once."""
        return (
            self.receipts.extra
            + self.cards.extra
            + self.card_photos.extra
            + self.notices.extra
            + self.change_notes.extra
            + self.addition_forwards.extra
            + self.withdraw_confirmations.extra
        )

    @property
    def passed(self) -> bool:
        """Everyone done, nothing lost or stored twice, duplicate sends within the bound."""
        return (
            self.finished == self.citizens
            and self.operator_gave_up == 0
            and self.losses == 0
            and self.doubled == 0
            and self.duplicate_sends <= self.bound
            and sum(self.consecutive.values()) <= self.bound
        )

    def report(self) -> str:
        def tally(name: str, t: Tally) -> str:
            counts = f"missing {t.missing:>3}  duplicated {t.extra:>3}"
            return f"  {name:<22} expected {t.expected:>4}  {counts}"

        lines = [
            f"crash test: {self.kills} kills (+{self.unexpected_exits} exits on its own), "
            f"{self.seconds:.0f}s, final stop {'clean' if self.clean_exit else 'NOT clean'}; "
            f"kills during start-up {self.kills_in_startup}, with an unanswered action"
            f" {self.kills_on_pending}, with an unanswered Send {self.kills_on_send}",
            f"  citizens {self.citizens}, finished {self.finished},"
            f" pressed Send {self.pressed_send},"
            f" re-sent actions {self.citizen_resends}; operator presses {self.operator_presses},"
            f" re-pressed {self.operator_resends}, gave up {self.operator_gave_up};"
            f" button presses never answered {self.presses_unanswered} of {self.presses}",
            f"  complaints stored {self.complaints}: lost {self.lost}, stored twice "
            f"{self.stored_twice} (citizens with more than one: {self.citizens_with_doubles})",
            tally("citizen receipts", self.receipts),
            f"  {'':<22} stored numbers never in a receipt {self.untold_numbers}; other"
            f" messages naming the citizen's number {self.other_number_mentions}",
            tally("operator cards", self.cards),
            tally("card photos", self.card_photos)
            + f"  (one photo stored twice in a complaint: {self.photos_twice})",
            tally("status notices", self.notices),
            tally("group change notes", self.change_notes),
            f"  after filing: plans {dict(sorted(self.thread_plans.items()))}; kills with an"
            f" unanswered addition or withdrawal {self.kills_on_thread}; kills aimed (landed) "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.aimed.items())) or "none"),
            tally("additions stored", self.additions)
            + f"  (refused, complaint closed: {self.additions_refused})",
            tally("additions to group", self.addition_forwards),
            tally("withdrawn events", self.withdrawals)
            + f"  (refused, moved on: {self.withdrawals_refused})",
            tally("withdrawal confirmed", self.withdraw_confirmations),
            f"  outbox rows {self.outbox_rows}, not sent: "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.outbox_not_sent.items())) or "0"),
            "  consecutive identical sends to one chat: unexplained "
            + str(sum(self.consecutive.values()))
            + (
                " (" + ", ".join(f"{k}={v}" for k, v in sorted(self.consecutive.items())) + ")"
                if self.consecutive
                else ""
            )
            + f", explained by a re-sent action {self.consecutive_explained}",
            f"  TOTAL lost {self.losses}, stored twice {self.doubled},"
            f" duplicate sends {self.duplicate_sends}"
            f" (bound {self.bound}); ERROR/Traceback log lines "
            f"{self.error_lines}" + ("; TOKEN IN LOG" if self.token_in_log else ""),
        ]
        lines += [f"  ! {p}" for p in self.problems[:40]]
        lines += [f"  - {n}" for n in self.notes[:40]]
        return "\n".join(lines)


def _read_db(path: Path) -> dict[str, list[sqlite3.Row]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        q = {
            "citizens": "SELECT id, user_key, locale FROM citizens WHERE channel = 'telegram'",
            "complaints": "SELECT id, reg_number, citizen_id, status FROM complaints ORDER BY id",
            "messages": "SELECT id, complaint_id, kind, body FROM complaint_messages ORDER BY id",
            "events": "SELECT complaint_id, new_status, actor FROM complaint_events ORDER BY id",
            "outbox": "SELECT id, kind, recipient, status FROM outbox ORDER BY id",
            "photos": "SELECT complaint_id, sha256 FROM complaint_photos",
        }
        return {name: con.execute(sql).fetchall() for name, sql in q.items()}
    finally:
        con.close()


def _labels() -> dict[tuple[str, str], str]:
    """(locale, status) -> the status label as the catalogs word it."""
    from bot.i18n import I18n
    from bot.notices.complaints import STATUS_LABELS

    i18n = I18n(ZoneInfo(TIMEZONE), strict=False)
    return {
        (locale, status): i18n.texts(locale).gettext(label)
        for locale in ("ky", "ru")
        for status, label in STATUS_LABELS.items()
    }


def _status_in(text: str, locale: str, labels: dict[tuple[str, str], str]) -> str | None:
    """The status the text announces: a label in «quotes» first, else the one named first."""
    mine = {status: label for (loc, status), label in labels.items() if loc == locale}
    for candidates in ([f"«{lbl}»" for lbl in mine.values()], list(mine.values())):
        hits = [(text.find(c), -len(c), c) for c in candidates if c in text]
        if hits:
            found = min(hits)[2].strip("«»")
            return next(st for st, lbl in mine.items() if lbl == found)
    return None


def build_ledger(run: CrashRun, *, clean_exit: bool) -> Ledger:
    db = _read_db(run.bot.db_path)
    labels = _labels()
    ledger = Ledger(
        kills=run.kills,
        kills_on_pending=run.kills_on_pending,
        kills_on_send=run.kills_on_send,
        kills_on_thread=run.kills_on_thread,
        aimed=run.aimed_landed,
        kills_in_startup=run.kills_in_startup,
        bound=run.kills if run.cfg.max_duplicates is None else run.cfg.max_duplicates,
        unexpected_exits=len(run.unexpected_exits),
        clean_exit=clean_exit,
        citizens=len(run.citizens),
        finished=sum(c.status == "done" for c in run.citizens),
        pressed_send=sum(c.send_index is not None for c in run.citizens),
        complaints=len(db["complaints"]),
        citizen_resends=sum(c.resends for c in run.citizens),
        operator_presses=run.operator.presses + run.operator.replies,
        operator_resends=run.operator.resends,
        operator_gave_up=len(run.operator.gave_up),
        presses=len(run.presses),
        presses_unanswered=sum(q not in run.answers for q in run.presses),
        seconds=time.monotonic() - run.t0,
    )
    ledger.problems += [f"operator gave up: {what}" for what in run.operator.gave_up]
    citizen_of = {
        int(r["user_key"]): r for r in db["citizens"] if r["user_key"].lstrip("-").isdigit()
    }
    rows_of: dict[int, list[sqlite3.Row]] = defaultdict(list)
    for row in db["complaints"]:
        rows_of[row["citizen_id"]].append(row)
    sends = defaultdict(list)
    for call in run.calls:
        if call.method == "sendMessage":
            sends[chat_of(call)].append(call)
    for sim in run.citizens:
        citizen = citizen_of.get(sim.chat)
        mine = rows_of.get(citizen["id"], []) if citizen else []
        locale = (citizen["locale"] if citizen else None) or sim.locale
        _citizen_ledger(ledger, run, sim, mine, sends[sim.chat])
        to_me = [c for c in sends[sim.chat] if not _thread_text(run, c)]
        ledger.thread_texts_to_citizens += sum(
            1 for c in sends[sim.chat] if _thread_text(run, c) and REG_NUMBER.search(text_of(c))
        )
        _notices_ledger(ledger, run.receipt, mine, to_me, db["events"], locale, labels)
        _thread_ledger(ledger, run, sim, mine, sends[sim.chat], db)
    _group_ledger(ledger, run, db, {r["id"]: r for r in db["complaints"]}, labels)
    _outbox_ledger(ledger, db)
    _consecutive(ledger, run)
    logs = run.bot.log_text()
    ledger.error_lines = sum(
        1 for line in logs.splitlines() if " ERROR " in line or line.startswith("Traceback")
    )
    ledger.token_in_log = TOKEN in logs
    ledger.notes += run.kill_log if run.cfg.verbose else []
    ledger.notes += [e.splitlines()[0] for e in run.unexpected_exits]
    return ledger


def _citizen_ledger(ledger: Ledger, run: CrashRun, sim: CitizenSim, mine, to_me) -> None:
    """Stored once, and told the number with a receipt code once."""
    numbers = {r["reg_number"] for r in mine}
    if sim.status != "done":
        ledger.problems.append(f"citizen {sim.index} did not finish (last: {sim.last_label})")
    if sim.confused:
        ledger.notes.append(f"citizen {sim.index} met {sim.confused} prompts it did not know")
    if sim.send_index is not None and not mine:
        ledger.lost += 1
        ledger.problems.append(f"citizen {sim.index} pressed Send: no complaint stored")
    if len(mine) > 1:
        ledger.stored_twice += len(mine) - 1
        ledger.citizens_with_doubles += 1
        ledger.problems.append(f"citizen {sim.index}: {len(mine)} complaints {sorted(numbers)}")
    if not mine:
        return
    receipts = [c for c in to_me if run.receipt.search(text_of(c))]
    receipts = [c for c in receipts if any(n in text_of(c) for n in numbers)]
    codes = {run.receipt.search(text_of(c)).group(0) for c in receipts}
    _count(
        ledger, ledger.receipts, len(receipts), f"citizen {sim.index} receipt ({len(codes)} codes)"
    )
    told = {n for n in numbers if any(n in text_of(c) for c in receipts)}
    ledger.untold_numbers += len(numbers - told)


def _thread_text(run: CrashRun, call: Call) -> bool:
    """A message of the thread dialog ("My complaints", add, withdraw): not a status notice."""
    return any(_matches(patterns, text_of(call)) for patterns in run.thread_texts.values())


def _thread_ledger(ledger: Ledger, run: CrashRun, sim: CitizenSim, mine, to_me, db) -> None:
    """After filing: an addition stored once and forwarded once; a withdrawal stored once,
    confirmed once (or refused, and the citizen told so)."""
    if sim.plan is None or not mine:
        return
    ledger.thread_plans[sim.plan] += 1
    if sim.refused and sim.typed_index is None and sim.yes_index is None:
        # "My complaints" offered no button, or Add / Withdraw was refused: it had closed
        if sim.plan == ADD:
            ledger.additions_refused += 1
        else:
            ledger.withdrawals_refused += 1
        ledger.notes.append(f"citizen {sim.index} ({sim.plan}): {sim.refused}")
    ids = {r["id"] for r in mine}
    refusals = ("closed", "closed now", "moved on")

    def told_refused(start: int) -> bool:
        """Told, after call `start`, that the complaint had closed or moved on."""
        return any(
            index >= start and _matches(run.thread_texts[kind], text_of(run.calls[index]))
            for index in run.sends_by_chat.get(sim.chat, [])
            for kind in refusals
        )

    if sim.plan == ADD and sim.typed_index is not None:
        rows = [m for m in db["messages"] if sim.token in (m["body"] or "")]
        if any(m["complaint_id"] not in ids or m["kind"] != "addition" for m in rows):
            ledger.problems.append(f"citizen {sim.index}: addition stored on another complaint")
        if not rows and told_refused(sim.typed_index):
            ledger.additions_refused += 1
            return
        _count(ledger, ledger.additions, len(rows), f"citizen {sim.index} addition rows")
        group = [
            c
            for c in run.calls
            if c.method == "sendMessage" and chat_of(c) == OPERATOR_CHAT and sim.token in text_of(c)
        ]
        if rows and (problem := ledger.addition_forwards.add_many(len(rows), len(group))):
            ledger.problems.append(f"citizen {sim.index} addition to the group: {problem}")
    elif sim.plan == WITHDRAW and sim.yes_index is not None:
        row = mine[0]
        events = [
            e
            for e in db["events"]
            if e["complaint_id"] == row["id"] and e["new_status"] == "withdrawn"
        ]
        refused = told_refused(sim.yes_index)
        if not events and row["status"] != "withdrawn" and refused:
            ledger.withdrawals_refused += 1
            return
        what = f"citizen {sim.index} withdrawal of {row['reg_number']}"
        _count(ledger, ledger.withdrawals, len(events), f"{what}: withdrawn events")
        if row["status"] != "withdrawn":
            ledger.problems.append(f"{what}: status is {row['status']}")
        if any(e["actor"] != "citizen" for e in events):
            ledger.problems.append(f"{what}: an event not by the citizen")
        if refused:
            ledger.problems.append(f"{what}: withdrawn, yet the citizen was told it was refused")
        confirmations = [c for c in to_me if _matches(run.thread_texts["withdrawn"], text_of(c))]
        _count(ledger, ledger.withdraw_confirmations, len(confirmations), f"{what}: confirmation")


def _notices_ledger(ledger: Ledger, receipt, mine, to_me, events, locale, labels) -> None:
    """One status notice to the citizen for every change an operator made."""
    notices: Counter = Counter()
    for call in to_me:
        text = text_of(call)
        for number in {r["reg_number"] for r in mine}:
            if number not in text or receipt.search(text):
                continue
            status = _status_in(text, locale, labels)
            if status is None:
                ledger.other_number_mentions += 1
            else:
                notices[(number, status)] += 1
    for row in mine:
        for event in events:
            if event["complaint_id"] == row["id"] and event["actor"].startswith("operator"):
                key = (row["reg_number"], event["new_status"])
                _count(ledger, ledger.notices, notices.pop(key, 0), f"notice {key}")
    for key, n in notices.items():
        ledger.problems.append(f"{n} notices for {key} with no such change stored")


def _count(ledger: Ledger, tally: Tally, sends: int, what: str) -> None:
    if (problem := tally.add(sends)) is not None:
        ledger.problems.append(f"{what}: {problem}")


def _group_ledger(ledger: Ledger, run: CrashRun, db, complaint_by_id, labels) -> None:
    group = [c for c in run.calls if chat_of(c) == OPERATOR_CHAT]
    cards: Counter = Counter()
    notes: Counter = Counter()
    id_of = {row["reg_number"]: cid for cid, row in complaint_by_id.items()}
    for call in group:
        if call.method != "sendMessage":
            continue
        text = text_of(call)
        if (cid := card_complaint_id(call)) is None and _buttonless_card(run, text):
            cid = id_of.get(REG_NUMBER.search(text).group(0), -1)
        if cid is not None:
            cards[cid] += 1
            continue
        if _matches(run.addition_header, text):
            continue  # a citizen's addition (counted by its token in _thread_ledger)
        for number in set(REG_NUMBER.findall(text)):
            status = _status_in(text, OPERATOR_LOCALE, labels)
            if status and not is_force_reply(call):
                notes[(number, status)] += 1
    for cid, row in complaint_by_id.items():
        _count(ledger, ledger.cards, cards.pop(cid, 0), f"card {row['reg_number']}")
    for cid, n in cards.items():
        ledger.problems.append(f"{n} cards for complaint id {cid}, which is not stored")
    _photos_ledger(ledger, group, db["photos"])
    for event in db["events"]:
        row = complaint_by_id.get(event["complaint_id"])
        by_citizen = event["actor"] == "citizen" and event["new_status"] == "withdrawn"
        if row is None or not (event["actor"].startswith("operator") or by_citizen):
            continue
        key = (row["reg_number"], event["new_status"])
        _count(ledger, ledger.change_notes, notes.get(key, 0), f"change note {key}")


def _buttonless_card(run: CrashRun, text: str) -> bool:
    """A card with no buttons: sent first after its complaint had closed (withdrawn)."""
    header, category = run.card_lines
    return any(p.match(text) for p in header) and _matches(category, text)


def _photos_ledger(ledger: Ledger, group: list[Call], photos) -> None:
    """Each stored photo reached the group once (matched by the SHA-256 of the upload)."""
    sends = Counter(hashlib.sha256(data).hexdigest() for call in group for data in _uploads(call))
    stored: dict[str, list[int]] = defaultdict(list)
    for photo in photos:
        stored[photo["sha256"]].append(photo["complaint_id"])
    pairs = Counter((photo["complaint_id"], photo["sha256"]) for photo in photos)
    ledger.photos_twice = sum(n - 1 for n in pairs.values())
    for sha, complaint_ids in stored.items():
        problem = ledger.card_photos.add_many(len(complaint_ids), sends.get(sha, 0))
        if problem is not None:
            ledger.problems.append(f"photo of complaint ids {complaint_ids}: {problem}")


def _uploads(call: Call) -> list[bytes]:
    """The files a sendPhoto or sendMediaGroup call uploaded (each once)."""
    if call.method == "sendPhoto":
        return [call.files["photo"]] if "photo" in call.files else []
    if call.method != "sendMediaGroup":
        return []
    names = [
        str(item.get("media", "")).removeprefix("attach://")
        for item in call.params.get("media") or []
        if isinstance(item, dict)
    ]
    return [call.files[name] for name in names if name in call.files]


def _outbox_ledger(ledger: Ledger, db) -> None:
    ledger.outbox_rows = len(db["outbox"])
    for row in db["outbox"]:
        if row["status"] not in OUTBOX_DONE:
            ledger.outbox_not_sent[f"{row['kind']}:{row['status']}"] += 1


def _kind_of(call: Call, receipt: re.Pattern[str]) -> str:
    text = text_of(call)
    if chat_of(call) == OPERATOR_CHAT:
        return "card" if card_complaint_id(call) is not None else "group message"
    if receipt.search(text) and REG_NUMBER.search(text):
        return "receipt"
    if REG_NUMBER.search(text):
        return "notice"
    return "prompt" if is_prompt(call) else "reply"


def _consecutive(ledger: Ledger, run: CrashRun) -> None:
    pushes_by_chat: dict[int, list[int]] = defaultdict(list)
    for seen, chat in run.pushes:
        pushes_by_chat[chat].append(seen)
    for chat, indexes in run.sends_by_chat.items():
        for a, b in zip(indexes, indexes[1:], strict=False):
            first, second = run.calls[a], run.calls[b]
            if text_of(first) != text_of(second) or _markup(first) != _markup(second):
                continue
            if any(a < seen <= b for seen in pushes_by_chat.get(chat, [])):
                ledger.consecutive_explained += 1
            else:
                ledger.consecutive[_kind_of(second, run.receipt)] += 1


def run_crash_test(cfg: CrashConfig, workdir: Path) -> Ledger:
    """Run one crash test in `workdir` (the database and the bot's logs stay there)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with CrashFakeThread() as api:
        run = CrashRun(cfg, workdir, api)
        ledger = run.run()
    summary = {k: v for k, v in ledger.__dict__.items() if not isinstance(v, Tally)}
    summary |= {k: v.__dict__ for k, v in ledger.__dict__.items() if isinstance(v, Tally)}
    (workdir / "ledger.json").write_text(json.dumps(summary, default=str, indent=2))
    _dump_calls(run, workdir / "calls.jsonl")
    return ledger


def _dump_calls(run: CrashRun, path: Path) -> None:
    """Every recorded call (files left out), and the pushes and kills between them."""
    marks: dict[int, list[str]] = defaultdict(list)
    for seen, chat in run.pushes:
        marks[seen].append(f"push from {chat}")
    for number, seen in enumerate(run.kill_marks, 1):
        marks[seen].append(f"KILL {number}")
    with path.open("w") as out:
        for index, call in enumerate(run.calls):
            for mark in marks.get(index, []):
                out.write(json.dumps({"mark": mark}) + "\n")
            params = {k: v for k, v in call.params.items() if k not in call.files}
            row = {"i": index, "method": call.method, "params": params}
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
