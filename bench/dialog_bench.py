"""How much does one step of the complaint dialog cost compared with a bare aiogram echo bot?

Run from the repository root::

    .venv/bin/python bench/dialog_bench.py [--updates N] [--users U] [--profile] [--baseline REF]

By default the whole measurement runs twice, side by side in one invocation: on this working
tree and on a temporary `git worktree` of `--baseline` (default `main`: the code before the
change), each in its own child process, alternating in `--rounds` rounds so that load from other
processes hits both alike. `--baseline none` measures this tree only.

Everything runs in one process on one event loop, on the same harness as the Telegram tests
(`tests/telegram_harness.py`): a real aiogram `Bot` whose HTTP requests go to the fake Bot API
server (`tests/fakes/telegram_api.py`) on 127.0.0.1, updates fed through the real
`Dispatcher.feed_update`, and the real SQLite store (WAL, via aiosqlite) in a temporary folder.
Updates are parsed into `aiogram.types.Update` before the clock starts.

What is measured
----------------
1. **echo** - the baseline: a fresh Dispatcher with one Router whose message handler does
   `await message.answer(message.text)`; N text messages. Cost: aiogram routing plus one
   `sendMessage` round trip to the fake server.
2. **dialog step** - the real app dispatcher (`build_dispatcher(app)`). U citizens are first
   walked, untimed, to the summary of a complaint (/start, lang:ru, menu:complaint, cat:water,
   a description, place:skip, photos:done, id:anon). Then N times, round robin over the users,
   the citizen presses "change something" and "description" (two callbacks, NOT timed) and the
   timed step follows: **the citizen types a new description**. The engine loads the citizen and
   the conversation from SQLite, validates the text, writes the conversation (JSON) back to
   SQLite and replies with the summary and its buttons (one `sendMessage`). With `--rewind
   restart` the untimed rewind is nav:cancel, menu:complaint, cat:water instead and the timed
   step answers with the place prompt. Either way the timed update is one text message that
   produces one `sendMessage`, like the echo.
1b. **same-reply echo** - for information: the echo bot answering every message with exactly
   the text and keyboard of the dialog step's reply (captured from the fake server). It tells
   the cost of the bigger reply apart from the app's own work.
   Runs 1, 1b and 2 are interleaved in blocks of `--block` updates (echo, same-reply echo,
   dialog, ...) so that load from other processes hits all alike: the ratio stays fair on a
   busy machine.
3. **throughput** - the same cycle (confirm:edit, edit:description, description) for all U users
   on a fresh store, fed concurrently with `asyncio.gather` in batches of `--batch` updates (at
   most one update per user in a batch, so each citizen's updates keep their order). All three
   kinds of update count.

How to read the figures
-----------------------
Latency is the wall time of one `feed_update` call (time.perf_counter) in milliseconds; p50 is
the median, p99 the 99th percentile (nearest rank). For runs 1 and 2 updates/s is count / sum of
the timed latencies, i.e. 1 / mean latency of one update handled alone; the untimed walk and
rewind updates are not in it. In run 3 updates/s is count / wall time of the whole run, the figure
to compare with real traffic, and the latency includes waiting behind the other updates of the
batch (event loop, store lock), so it is far above the sequential one.
`ratio` = dialog-step p50 / echo p50: what the app adds on top of aiogram and one Bot API call;
the target is <= 2.0. The second, informational ratio divides by the same-reply echo instead.
The fake server shares the process and the CPU with the bot, so every
figure includes its request handling; absolute numbers depend on the machine, the ratio less so.
The script always exits 0.

`--profile` also times the parts of the dialog step (engine, SQL calls, renderer), counts the
thread hops per step (aiosqlite worker, asyncio.to_thread) and prints a cProfile summary.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import json
import math
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `--tree PATH` (set by the parent run): import `bot` and `tests` from that tree, e.g. a
# worktree of main for the baseline.
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv else ROOT
sys.path.insert(0, str(TREE))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import (  # noqa: E402
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)

from bot.app import App, build_app  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.dialogs.states import State  # noqa: E402
from tests.fakes.telegram_api import (  # noqa: E402
    FakeTelegramAPI,
    callback_update,
    message_update,
)
from tests.telegram_harness import TelegramHarness  # noqa: E402

TARGET_RATIO = 1.5
CITIZENS = 700_001  # first Telegram user id of the dialog runs
ECHO_USERS = 900_001  # first user id of the echo run
TOKEN = "123456:TEST-TOKEN"
DESCRIPTION = "Возле школы №5 уже неделю течёт вода из трубы, двор затоплен (замер {n})"

# How a user is put back to the description step (untimed), and where the timed step leads.
REWINDS = {
    "edit": (("confirm:edit", "edit:description"), State.CONFIRM),
    "restart": (("nav:cancel", "menu:complaint", "cat:water"), State.PLACE),
}
WALK_TO_DESCRIPTION = ("/start", "lang:ru", "menu:complaint", "cat:water")
WALK_ON_TO_CONFIRM = ("text", "place:skip", "photos:done", "id:anon")

_update_ids = itertools.count(1)


# ----- helpers --------------------------------------------------------------------------------


def settle() -> None:
    """What `python -m bot` does once started (gc.freeze, aiogram's models kept), where the
    measured tree has it; the baseline tree may not."""
    try:
        from bot.runtime import settle_after_startup
    except ImportError:
        return
    settle_after_startup()


def make_settings(folder: Path) -> Settings:
    """As in tests/conftest.py, with flood control out of the way."""
    return Settings(
        database_path=folder / "bot.sqlite3",
        media_dir=folder / "media",
        operator_chat_id=-100500,
        telegram_bot_token=None,
        flood_burst=10**6,
        # the step's cost, not Telegram's 25-30 messages a second, is measured here
        telegram_messages_per_second=10**6,
        _env_file=None,
    )


def new_bot(api: FakeTelegramAPI) -> Bot:
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))


def make_update(bot: Bot, user: int, action: str, n: int = 0) -> Update:
    """A parsed Update: a /command, "text" (a description) or the data of a button press."""
    if action.startswith("/"):
        raw = message_update(user, action)
    elif action == "text":
        raw = message_update(user, DESCRIPTION.format(n=n))
    else:
        raw = callback_update(user, action, message_id=1)
    raw["update_id"] = next(_update_ids)
    return Update.model_validate(raw, context={"bot": bot})


async def timed_feed(dispatcher: Dispatcher, bot: Bot, update: Update) -> float:
    start = time.perf_counter()
    await dispatcher.feed_update(bot, update)
    return time.perf_counter() - start


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds
    wall: float | None = None  # seconds; None: the sum of the latencies

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / (self.wall if self.wall is not None else sum(self.latencies))

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000

    def line(self) -> str:
        return (
            f"{self.name}\n    count={self.count}  updates/s={self.per_second:.1f}"
            f"  p50={self.percentile(50):.3f} ms  p99={self.percentile(99):.3f} ms"
        )


@asynccontextmanager
async def app_harness(api: FakeTelegramAPI):
    """The app on a fresh SQLite store in a temp folder, with the tests' Telegram harness."""
    with tempfile.TemporaryDirectory(prefix="dialog-bench-") as folder:
        app = await build_app(make_settings(Path(folder)), clock=SystemClock())
        harness = TelegramHarness(app, api)
        settle()
        try:
            yield app, harness
        finally:
            await harness.close()
            await app.close()


# ----- 1. echo baseline -----------------------------------------------------------------------


class Echo:
    """A bare aiogram bot: one Router, one handler, `message.answer(message.text)`.

    With `reply` (text, reply_markup as sent to the Bot API) it answers that instead, the
    keyboard rebuilt from the dict each time as the app's renderer builds its own (run 1b).
    """

    def __init__(
        self, api: FakeTelegramAPI, users: int, reply: tuple[str, dict | None] | None = None
    ) -> None:
        self.bot = new_bot(api)
        self.users = users
        self.answered = 0
        router = Router(name="echo")

        @router.message()
        async def echo(message: Message) -> None:
            if reply is None:
                await message.answer(message.text)
            else:
                await message.answer(reply[0], reply_markup=parse_markup(reply[1]))
            self.answered += 1

        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(router)
        self._n = itertools.count()

    async def steps(self, count: int) -> list[float]:
        latencies = []
        for _ in range(count):
            n = next(self._n)
            update = make_update(self.bot, ECHO_USERS + n % self.users, "text", n)
            latencies.append(await timed_feed(self.dispatcher, self.bot, update))
        return latencies

    async def close(self) -> None:
        await self.bot.session.close()


def parse_markup(markup: dict | None) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if not markup:
        return None
    if "inline_keyboard" in markup:
        return InlineKeyboardMarkup.model_validate(markup)
    return ReplyKeyboardMarkup.model_validate(markup)


# ----- 2. the complaint dialog step -----------------------------------------------------------


async def walk(harness: TelegramHarness, users: list[int], actions: tuple[str, ...]) -> None:
    for user in users:
        for action in actions:
            update = make_update(harness.bot, user, action)
            await harness.dispatcher.feed_update(harness.bot, update)


async def walk_to_start(harness: TelegramHarness, users: list[int], rewind: str) -> None:
    """Bring every user, untimed, to the state from which the rewind sequence starts."""
    await walk(harness, users, WALK_TO_DESCRIPTION)
    await walk(harness, users, WALK_ON_TO_CONFIRM if rewind == "edit" else ("text",))


class DialogSteps:
    """The timed description step of the real app, each after an untimed rewind."""

    def __init__(self, harness: TelegramHarness, users: list[int], rewind: str) -> None:
        self.harness = harness
        self.users = users
        self.rewind = REWINDS[rewind][0]
        self._n = itertools.count()

    async def steps(
        self, count: int, around_timed: Callable[[bool], object] | None = None
    ) -> list[float]:
        bot, dispatcher = self.harness.bot, self.harness.dispatcher
        latencies = []
        for _ in range(count):
            n = next(self._n)
            user = self.users[n % len(self.users)]
            for action in self.rewind:
                await dispatcher.feed_update(bot, make_update(bot, user, action))
            update = make_update(bot, user, "text", n)
            if around_timed:
                around_timed(True)
            latencies.append(await timed_feed(dispatcher, bot, update))
            if around_timed:
                around_timed(False)
        return latencies


async def check_states(app: App, users: list[int], expected: State) -> None:
    """Every user must be where the description step leads, with a description saved."""
    for user in users:
        citizen = await app.store.citizens.find(channel="telegram", user_key=str(user))
        conv = await app.store.conversations.load(citizen_id=citizen.id)
        assert conv.state == expected, f"user {user} is in {conv.state}, expected {expected}"
        assert conv.data["draft"]["description"].startswith(DESCRIPTION[:20])


async def run_echo_and_dialog(
    api: FakeTelegramAPI, count: int, users: int, warmup: int, rewind: str, block: int
) -> tuple[Result, Result, Result]:
    """Runs 1, 1b and 2, interleaved block by block after a warm-up of each."""
    citizens = [CITIZENS + i for i in range(users)]
    echo = Echo(api, users)
    same_reply = None
    try:
        async with app_harness(api) as (app, harness):
            await walk_to_start(harness, citizens, rewind)
            dialog = DialogSteps(harness, citizens, rewind)
            await echo.steps(warmup)
            await dialog.steps(max(warmup, 1))
            last = api.calls_to("sendMessage")[-1].params  # the dialog step's reply
            same_reply = Echo(api, users, (last["text"], last.get("reply_markup")))
            await same_reply.steps(warmup)
            api.reset_calls()
            gc.collect()
            latencies: tuple[list[float], list[float], list[float]] = ([], [], [])
            for done in range(0, count, block):
                size = min(block, count - done)
                latencies[0].extend(await echo.steps(size))
                latencies[1].extend(await same_reply.steps(size))
                latencies[2].extend(await dialog.steps(size))
                api.reset_calls()  # the fake server records every call; keep memory flat
            await check_states(app, citizens, REWINDS[rewind][1])
        for run in (echo, same_reply):
            assert run.answered == warmup + count, f"an echo answered {run.answered} messages"
    finally:
        await echo.close()
        if same_reply is not None:
            await same_reply.close()
    rewind_text = " + ".join(REWINDS[rewind][0])
    return (
        Result("1. echo: bare aiogram handler, message.answer(text)", latencies[0]),
        Result("1b. echo answering with the dialog step's reply (text + keyboard)", latencies[1]),
        Result(
            f"2. dialog step: citizen types the description (untimed rewind: {rewind_text})",
            latencies[2],
        ),
    )


# ----- 3. throughput --------------------------------------------------------------------------


async def run_throughput(api: FakeTelegramAPI, count: int, users: int, batch: int) -> Result:
    """The edit cycle of all users on a fresh store, `batch` updates at a time via gather."""
    citizens = [CITIZENS + i for i in range(users)]
    cycle = (*REWINDS["edit"][0], "text")
    async with app_harness(api) as (app, harness):
        await walk_to_start(harness, citizens, "edit")
        bot, dispatcher = harness.bot, harness.dispatcher
        # Round by round every user sends the next update of its cycle, so consecutive slices
        # of `batch` <= users updates never hold two updates of one user. Whole cycles only, so
        # everybody ends at the summary again; the first cycle is the warm-up.
        cycles = math.ceil(count / (users * len(cycle)))
        plan = [
            make_update(bot, user, action, r)
            for r in range(cycles + 1)
            for action in cycle
            for user in citizens
        ]
        warmup, plan = plan[: len(cycle) * users], plan[len(cycle) * users :]
        for first in range(0, len(warmup), batch):
            await asyncio.gather(
                *(dispatcher.feed_update(bot, u) for u in warmup[first : first + batch])
            )
        api.reset_calls()
        gc.collect()
        latencies: list[float] = []
        start = time.perf_counter()
        for first in range(0, len(plan), batch):
            chunk = plan[first : first + batch]
            latencies += await asyncio.gather(*(timed_feed(dispatcher, bot, u) for u in chunk))
        wall = time.perf_counter() - start
        await check_states(app, citizens, State.CONFIRM)
    api.reset_calls()
    name = f"3. throughput: edit cycle of {users} users, asyncio.gather of {batch} at a time"
    return Result(name, latencies, wall)


# ----- profile --------------------------------------------------------------------------------


class Timers:
    """Call counts and wall-time totals of wrapped coroutine functions.

    Calls of one `group` made inside another call of the same group (e.g. `store.fetchone`
    calling `store.fetchall`) are not counted again.
    """

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.active = False
        self._inside: dict[str, int] = defaultdict(int)

    def wrap(self, owner: object, attribute: str, label: str, group: str | None = None):
        """Replace `owner.attribute` by a counting wrapper; returns the original."""
        original = getattr(owner, attribute)
        group = group or label

        async def wrapper(*args, **kwargs):
            if not self.active or self._inside[group]:
                return await original(*args, **kwargs)
            self.calls[label] += 1
            self._inside[group] += 1
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.total[label] += time.perf_counter() - start
                self._inside[group] -= 1

        setattr(owner, attribute, wrapper)
        return original


class ModelBuilds:
    """Counts pydantic model classes completed while the timers are active.

    aiogram parses every Bot API answer as `Response[<result type>]`; pydantic keeps such
    parametrised generics only in a weak cache, so after the garbage collector dropped one the
    next request builds its schema again. Best effort: it patches a pydantic internal.
    """

    def __init__(self, timers: Timers) -> None:
        self.calls = 0
        self.total = 0.0
        self.seen: dict[str, int] = defaultdict(int)
        self._restore: Callable[[], None] = lambda: None
        try:
            from pydantic._internal import _model_construction as construction
        except ImportError:
            return
        original = getattr(construction, "complete_model_class", None)
        if original is None:
            return

        def counting(cls, *args, **kwargs):
            if not timers.active:
                return original(cls, *args, **kwargs)
            start = time.perf_counter()
            try:
                return original(cls, *args, **kwargs)
            finally:
                self.calls += 1
                self.total += time.perf_counter() - start
                self.seen[cls.__name__] += 1

        construction.complete_model_class = counting
        self._restore = lambda: setattr(construction, "complete_model_class", original)

    def names(self) -> str:
        return ", ".join(f"{name} x{n}" for name, n in sorted(self.seen.items()))

    def restore(self) -> None:
        self._restore()


async def run_profile(api: FakeTelegramAPI, count: int, users: int, rewind: str) -> None:
    """Time the parts of the dialog step and count its thread hops; then cProfile it."""
    citizens = [CITIZENS + i for i in range(users)]
    async with app_harness(api) as (app, harness):
        await walk_to_start(harness, citizens, rewind)
        dialog = DialogSteps(harness, citizens, rewind)
        await dialog.steps(100)

        timers = Timers()
        engine, show = "engine.handle (dialog core, SQL included)", "renderer.show (the reply)"
        timers.wrap(app.engine, "handle", engine)
        timers.wrap(app.telegram_renderer, "show", show)
        for attribute in ("fetchone", "fetchall", "execute"):
            label = f"  store.{attribute} (lock, SQL, thread hops)"
            timers.wrap(app.store, attribute, label, group="store")
        # Every aiosqlite call runs in its worker thread and comes back via the event loop;
        # aiogram runs every synchronous filter (F.* magic filters too) in asyncio.to_thread.
        aiosqlite_hops, to_thread_hops = "aiosqlite worker", "asyncio.to_thread (aiogram)"
        timers.wrap(app.store.db, "_execute", aiosqlite_hops)
        to_thread = timers.wrap(asyncio, "to_thread", to_thread_hops)
        rebuilt = ModelBuilds(timers)
        try:
            steps = await dialog.steps(count, lambda on: setattr(timers, "active", on))
        finally:
            asyncio.to_thread = to_thread
            rebuilt.restore()

        def ms(seconds: float) -> str:
            return f"{seconds / count * 1000:6.3f} ms"

        total = sum(steps)
        rest = total - timers.total[engine] - timers.total[show]
        print(f"\nWhere one dialog step goes (mean wall time over {count} steps):")
        print(f"  {'feed_update, the whole step':<48} {ms(total)}")
        for label in (engine, *(k for k in timers.total if "store." in k), show):
            if timers.calls[label]:
                each = timers.total[label] / timers.calls[label] * 1000
                calls = timers.calls[label] / count
                print(
                    f"  {label:<48} {ms(timers.total[label])}  "
                    f"({calls:.1f} calls, {each:.3f} ms each)"
                )
        print(f"  {'rest: aiogram routing, filters, adapter':<48} {ms(rest)}")
        print("Thread hops per step (each one waits for a wake-up of the event loop):")
        for label in (aiosqlite_hops, to_thread_hops):
            print(f"  {label:<48} {timers.calls[label] / count:4.1f}")
        if rebuilt.calls:
            print(
                f"pydantic model classes built during the steps: {rebuilt.calls} "
                f"({rebuilt.total * 1000 / rebuilt.calls:.1f} ms each): {rebuilt.names()}"
            )

        profiler = cProfile.Profile()
        await dialog.steps(count, lambda on: profiler.enable() if on else profiler.disable())
    api.reset_calls()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
    print(f"\ncProfile of {count} timed dialog steps (event-loop thread only, top 15 by tottime):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


# ----- main -----------------------------------------------------------------------------------


async def measure(args: argparse.Namespace) -> dict[str, Result]:
    users, batch = args.users, min(args.batch, args.users)
    async with FakeTelegramAPI() as api:
        started = time.perf_counter()
        echo, same_reply, dialog = await run_echo_and_dialog(
            api, args.updates, users, args.warmup, args.rewind, args.block
        )
        print(f"runs 1, 1b, 2 done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        started = time.perf_counter()
        throughput = await run_throughput(api, args.throughput_updates, users, batch)
        print(f"run 3 done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if args.profile:
            await run_profile(api, min(args.updates, 1000), users, args.rewind)
    return {"echo": echo, "same_reply": same_reply, "dialog": dialog, "throughput": throughput}


def report(results: dict[str, Result], label: str) -> float:
    """Print one tree's figures; returns its ratio."""
    echo, same_reply, dialog = results["echo"], results["same_reply"], results["dialog"]
    print(f"\n== {label} (latency = wall time of one Dispatcher.feed_update):")
    for result in results.values():
        print(result.line())
    ratio = dialog.percentile(50) / echo.percentile(50)
    own = dialog.percentile(50) / same_reply.percentile(50)
    print(f"ratio dialog-step p50 / echo p50 = {ratio:.2f}")
    print(f"  for information: dialog-step p50 / same-reply echo p50 = {own:.2f}")
    return ratio


def child_command(args: argparse.Namespace, tree: Path, profile: bool) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--tree", str(tree)]
    for name in ("updates", "users", "warmup", "block", "throughput_updates", "batch", "rewind"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return command + (["--profile"] if profile else [])


def run_child(args: argparse.Namespace, tree: Path, profile: bool) -> dict[str, Result]:
    done = subprocess.run(
        child_command(args, tree, profile), capture_output=True, text=True, cwd=tree, check=False
    )
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"the run on {tree} failed")
    lines = done.stdout.splitlines()
    marker = lines.index("@@json")
    if profile:
        print("\n".join(lines[:marker]))
    raw = json.loads(lines[marker + 1])
    return {key: Result(*value) for key, value in raw.items()}


def merge(runs: list[dict[str, Result]]) -> dict[str, Result]:
    merged = {}
    for key, first in runs[0].items():
        walls = [run[key].wall for run in runs]
        wall = None if None in walls else sum(walls)
        merged[key] = Result(first.name, [x for run in runs for x in run[key].latencies], wall)
    return merged


def with_baseline_tree(ref: str):
    """A temporary detached `git worktree` of `ref`; removed afterwards."""

    folder = Path(tempfile.mkdtemp(prefix="dialog-bench-baseline-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(folder), ref],
        cwd=ROOT,
        check=True,
    )
    return folder


def main(args: argparse.Namespace) -> None:
    if args.child:
        results = asyncio.run(measure(args))
        print("@@json")
        print(json.dumps({k: [r.name, r.latencies, r.wall] for k, r in results.items()}))
        return
    trees = {"this tree": ROOT}
    baseline = None
    if args.baseline != "none":
        baseline = with_baseline_tree(args.baseline)
        trees = {f"baseline: {args.baseline}": baseline, "this tree": ROOT}
    try:
        if baseline is not None:  # compiled catalogs are not in git
            pybabel = Path(sys.executable).with_name("pybabel")
            command = [str(pybabel), "compile", "-d", "locales", "-D", "messages"]
            subprocess.run(command, cwd=baseline, check=True, capture_output=True)
        runs: dict[str, list[dict[str, Result]]] = {label: [] for label in trees}
        for round_ in range(args.rounds):
            for label, tree in trees.items():
                profile = args.profile and label == "this tree" and round_ == args.rounds - 1
                print(f"round {round_ + 1}/{args.rounds}: {label}", file=sys.stderr)
                runs[label].append(run_child(args, tree, profile))
    finally:
        if baseline is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False
            )
            shutil.rmtree(baseline.parent, ignore_errors=True)
    ratios = {label: report(merge(found), label) for label, found in runs.items()}
    print("\nSide by side (p50 in ms; ratio = dialog step / echo):")
    for label, found in runs.items():
        merged = merge(found)
        print(
            f"  {label:<24} echo {merged['echo'].percentile(50):.3f}"
            f"  dialog step {merged['dialog'].percentile(50):.3f}"
            f" (p99 {merged['dialog'].percentile(99):.3f})"
            f"  throughput {merged['throughput'].per_second:.0f}/s  ratio {ratios[label]:.2f}"
        )
    ratio = ratios["this tree"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"this tree: ratio {ratio:.2f} (target <= {TARGET_RATIO}): {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000, help="timed updates of runs 1, 2")
    parser.add_argument("--users", type=int, default=50, help="citizens in runs 2 and 3")
    parser.add_argument("--warmup", type=int, default=100, help="untimed updates before 1, 2")
    parser.add_argument("--block", type=int, default=100, help="interleaving of runs 1 and 2")
    parser.add_argument(
        "--throughput-updates", type=int, default=900, help="updates of run 3 (whole cycles)"
    )
    parser.add_argument("--batch", type=int, default=50, help="run 3: updates per gather")
    parser.add_argument(
        "--rewind",
        choices=sorted(REWINDS),
        default="edit",
        help="how each user is put back to the description step, untimed",
    )
    parser.add_argument("--profile", action="store_true", help="also show where the time goes")
    parser.add_argument(
        "--baseline", default="main", help="git ref measured side by side ('none': skip it)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    positive = (args.updates, args.users, args.block, args.throughput_updates, args.batch)
    if min(positive) < 1 or args.warmup < 0:
        parser.error("counts must be positive (--warmup may be 0)")
    return args


if __name__ == "__main__":
    main(parse_args())
