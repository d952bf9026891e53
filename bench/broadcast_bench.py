"""A broadcast to 10,000 subscribers (Telegram and WhatsApp mixed) through the fake Bot API and
the fake Twilio API on 127.0.0.1, with the Telegram cap at 500 messages a second.

    .venv/bin/python bench/broadcast_bench.py                 # this tree and main: 4 minutes
    .venv/bin/python bench/broadcast_bench.py --baseline none # this tree only
    .venv/bin/python bench/broadcast_bench.py --recipients 2000 --whatsapp 0.2 --rounds 2

Prints, for a run straight through and for a run killed with SIGKILL half-way and restarted:
- the time to write every row (all are written before any is sent);
- the achieved Telegram rate as a fraction of the cap (the fake answers 429 beyond the cap in
  any second, as Telegram does), and how many 429s the bot's own pacing provoked;
- duplicates and missing messages, counted at the fake servers per recipient;
and, for the straight run, the p50/p99 latency of citizens' replies (`/help` through the real
dispatcher) while the broadcast drains, beside the same with an empty outbox.

The sender runs in a child process (`--sender`), the fake servers here: the kill -9 hits the
process that sends, as it would in production. Like `python -m bot`, the sender calls
`bot.runtime.settle_after_startup()` before it sends (where the tree has it).

With `--baseline REF` (default main; `none` to skip) every figure is also measured on a
temporary `git worktree` of REF (see `baseline.py`), each tree's whole run in a child process,
alternating `--rounds` times, and printed side by side. The documented window allows at most one
duplicate per message in flight when the process dies (the outbox's delivery guarantee).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from baseline import TREE, baseline_tree, emit, run_in  # noqa: E402  (TREE first on sys.path)
from outbox_bench import CappedTelegramAPI, citizen_steps  # noqa: E402

from bot.app import attach_telegram, attach_whatsapp, build_app  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain.hearings import AnnouncementDraft  # noqa: E402
from tests.fakes.telegram_api import ApiError  # noqa: E402
from tests.fakes.twilio_api import (  # noqa: E402
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_SENDER,
    FakeTwilioAPI,
)
from tests.telegram_harness import TelegramHarness  # noqa: E402

SCRIPT = Path(__file__).resolve()
CAP = 500.0
TEXTS = {
    "ky": "Коомдук угуу 25-мартта саат 10:00до айыл өкмөтүнүн залында өтөт.",
    "ru": "Общественные слушания пройдут 25 марта в 10:00 в зале айыл окмоту.",
}
FIRST_TG, FIRST_WA = 5_000_000, 996_700_000_000


def settings(folder: Path, telegram_base: str, twilio_base: str) -> Settings:
    return Settings(
        database_path=folder / "bot.sqlite3",
        media_dir=folder / "media",
        operator_chat_id=-100500,
        flood_burst=10**6,
        telegram_bot_token="123456:BENCH-TOKEN",
        telegram_api_base=telegram_base,
        telegram_messages_per_second=CAP,
        outbox_concurrency=16,
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        twilio_whatsapp_from=DEFAULT_SENDER,
        twilio_api_base=twilio_base,
        twilio_messages_per_second=CAP,
        public_base_url="https://bot.example.org",
        broadcast_batch_size=500,
        _env_file=None,
    )


async def seed(app, recipients: int, whatsapp_share: float) -> tuple[set[str], set[str]]:
    """Subscribers written straight into the store (WhatsApp ones inside the 24-hour window)."""
    whatsapp = int(recipients * whatsapp_share)
    now = app.clock.now().isoformat(timespec="seconds")
    rows = [("whatsapp", f"+{FIRST_WA + n}") for n in range(whatsapp)]
    rows += [("telegram", str(FIRST_TG + n)) for n in range(recipients - whatsapp)]
    async with app.store.transaction() as db:
        await db.executemany(
            "INSERT INTO citizens (channel, user_key, locale, created_at, last_inbound_at,"
            " announcements, announcements_changed_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
            [(c, k, "ru" if n % 2 else "ky", now, now, now) for n, (c, k) in enumerate(rows)],
        )
    return {k for c, k in rows if c == "telegram"}, {k for c, k in rows if c == "whatsapp"}


async def write_broadcast(app) -> float:
    started = time.perf_counter()
    await app.hearings.announce(AnnouncementDraft("all", TEXTS), key="bench")
    return time.perf_counter() - started


class StampedTelegramAPI(CappedTelegramAPI):
    """Also notes each broadcast message it accepted (a call answered 429 delivers nothing:
    the retry is no duplicate), and when (monotonic seconds)."""

    def __init__(self, cap: float | None) -> None:
        super().__init__(cap)
        self.stamps: list[float] = []
        self.accepted: Counter = Counter()
        self.refusals: list[float] = []

    def _m_sendmessage(self, call):
        try:
            answer = super()._m_sendmessage(call)
        except ApiError:
            self.refusals.append(time.monotonic())
            raise
        self.stamps.append(time.monotonic())
        if "📣" in (call.params.get("text") or ""):
            self.accepted[str(call.params.get("chat_id"))] += 1
        return answer


def received(telegram: StampedTelegramAPI, twilio: FakeTwilioAPI) -> Counter:
    counts = Counter(telegram.accepted)
    counts.update(m.to.removeprefix("whatsapp:") for m in twilio.sent if "📣" in (m.body or ""))
    return counts


def tally(counts: Counter, expected: set[str]) -> tuple[int, int]:
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    return duplicates, len(expected - set(counts))


async def pending(app) -> int:
    row = await app.store.fetchone(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'announcement'"
        " AND status IN ('pending', 'sending', 'staged')"
    )
    return row[0]


# ----- the child: the sending process -----------------------------------------------------------


async def child(folder: Path, telegram_base: str, twilio_base: str) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    app = await build_app(settings(folder, telegram_base, twilio_base), clock=SystemClock())
    try:
        from bot.runtime import settle_after_startup
    except ImportError:  # a tree from before it
        pass
    else:
        settle_after_startup()
    bot = Bot(
        "123456:BENCH-TOKEN",
        session=AiohttpSession(api=TelegramAPIServer.from_base(telegram_base)),
    )
    attach_telegram(app, bot)
    attach_whatsapp(app)
    await drain(app)
    await app.outbox.stop()
    await bot.session.close()
    await app.close()


async def run_child(folder: Path, telegram_base: str, twilio_base: str):
    return await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--sender", str(folder), telegram_base, twilio_base,
        "--tree", str(TREE), cwd=TREE,
    )  # fmt: skip


# ----- the runs -------------------------------------------------------------------------------


async def run(recipients: int, whatsapp_share: float, kill_at: float | None) -> dict:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        async with StampedTelegramAPI(CAP) as telegram, FakeTwilioAPI() as twilio:
            app = await build_app(
                settings(folder, telegram.base_url, twilio.base_url), clock=SystemClock()
            )
            tg_keys, wa_keys = await seed(app, recipients, whatsapp_share)
            written = await write_broadcast(app)
            await app.close()
            cpu_before = _children_cpu()
            process = await run_child(folder, telegram.base_url, twilio.base_url)
            killed = False
            killed_at = time.monotonic()
            first = None  # the first broadcast message seen at a fake: the child is up
            while process.returncode is None:
                so_far = sum(received(telegram, twilio).values())
                if so_far and first is None:
                    first = (time.perf_counter(), so_far)
                if kill_at and not killed and so_far >= recipients * kill_at:
                    os.kill(process.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    await process.wait()
                    killed = True
                    process = await run_child(folder, telegram.base_url, twilio.base_url)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 0.05)
            seconds = time.perf_counter() - first[0]
            cpu = _children_cpu() - cpu_before
            counts = received(telegram, twilio)
            duplicates, missing = tally(counts, tg_keys | wa_keys)
            telegram_sent = sum(counts[k] for k in tg_keys) * (1 - first[1] / recipients)
            stamps = telegram.stamps
            own_window = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return {
        "written": written,
        "seconds": seconds,
        "telegram_rate": telegram_sent / seconds,
        "telegram_own_rate": own_window,
        "sender_cpu": cpu,
        "refusals": [round(at - killed_at, 2) for at in telegram.refusals],
        "refused": telegram.refused,
        "duplicates": duplicates,
        "missing": missing,
        "killed": killed,
    }


def _children_cpu() -> float:
    """CPU seconds used by the sending processes that ended (start-up included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def drain(app) -> None:
    while await pending(app):
        await app.outbox.run_once()
        await asyncio.sleep(0.02)


async def reply_latency(recipients: int, steps: int) -> dict[str, tuple[float, float, int]]:
    """Citizens' /help while the broadcast drains (in this process), and with nothing queued."""
    results = {}
    for label, queued in (("empty outbox", False), (f"{recipients} broadcast rows", True)):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            async with CappedTelegramAPI(None) as telegram, FakeTwilioAPI() as twilio:
                app = await build_app(
                    settings(folder, telegram.base_url, twilio.base_url), clock=SystemClock()
                )
                harness = TelegramHarness(app, telegram)
                attach_whatsapp(app)
                if queued:
                    await seed(app, recipients, 0.2)
                    await write_broadcast(app)

                drainer = asyncio.create_task(drain(app)) if queued else None
                latencies = sorted(await citizen_steps(harness, steps))
                left = await pending(app)
                if drainer is not None:
                    drainer.cancel()
                    await asyncio.gather(drainer, return_exceptions=True)
                await app.outbox.drain()
                await harness.close()
                await app.close()
        results[label] = (
            statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99) - 1] * 1000,
            left,
        )
    return results


async def measure(recipients: int, whatsapp: float, steps: int) -> dict:
    runs = {}
    for label, kill_at in (("straight through", None), ("kill -9 half-way, restart", 0.5)):
        runs[label] = await run(recipients, whatsapp, kill_at)
    return {"runs": runs, "replies": await reply_latency(recipients, steps)}


def _when(r: dict, label: str) -> str:
    """When the 429s came: seconds after the kill (or after the sender started)."""
    if not r["refusals"]:
        return ""
    since = "the kill" if "kill" in label else "the start"
    return f" (from {min(r['refusals']):+.2f} to {max(r['refusals']):+.2f} s after {since})"


def report(name: str, figures: dict, recipients: int, whatsapp: float) -> None:
    print(f"== {name}")
    for label, r in figures["runs"].items():
        print(
            f"{label}: {recipients} recipients ({whatsapp:.0%} WhatsApp);"
            f" rows written in {r['written']:.2f} s; sent in {r['seconds']:.1f} s"
            f" (from the first message, restart included);"
            f" Telegram {r['telegram_rate']:.0f}/s = {r['telegram_rate'] / CAP:.2f} of the"
            f" {CAP:.0f}/s cap (first to last Telegram message:"
            f" {r['telegram_own_rate']:.0f}/s = {r['telegram_own_rate'] / CAP:.2f});"
            f" 429s provoked: {r['refused']}{_when(r, label)};"
            f" duplicates {r['duplicates']}, missing {r['missing']};"
            f" sender CPU {r['sender_cpu']:.1f} s"
            + ("" if r["killed"] or "kill" not in label else " (finished before the kill)")
        )
    replies = figures["replies"]
    for label, (p50, p99, left) in replies.items():
        extra = f" ({left} rows still queued when the last reply was timed)" if left else ""
        print(f"reply latency, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms{extra}")
    (_, empty), (_, draining) = list(replies.items())
    ratio = draining[1] / empty[1]
    print(f"reply p99 draining / empty: {ratio:.2f} {'PASS' if ratio <= 2 else 'ABOVE TARGET'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--whatsapp", type=float, default=0.2, help="share on WhatsApp")
    parser.add_argument("--steps", type=int, default=200, help="citizen replies timed")
    parser.add_argument("--baseline", default="main", help="git ref alongside ('none': skip)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the trees")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        emit(await measure(args.recipients, args.whatsapp, args.steps))
        return
    if args.baseline == "none":
        figures = await measure(args.recipients, args.whatsapp, args.steps)
        report("this tree", figures, args.recipients, args.whatsapp)
        return
    arguments = [f"--recipients={args.recipients}", f"--whatsapp={args.whatsapp}",
                 f"--steps={args.steps}"]  # fmt: skip
    with baseline_tree(args.baseline) as baseline:
        trees = {f"baseline {args.baseline}": baseline, "this tree": ROOT}
        for round_ in range(1, args.rounds + 1):
            for name, tree in trees.items():
                figures = run_in(tree, SCRIPT, arguments)
                report(f"{name}, round {round_}", figures, args.recipients, args.whatsapp)
                sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "--sender":
        asyncio.run(child(Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
    else:
        asyncio.run(main())
