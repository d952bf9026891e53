"""The outbound port under load: rate against a cap, the due-rows query on a huge backlog, and
citizens' reply latency while a broadcast drains.

    .venv/bin/python bench/outbox_bench.py                    # all four runs, about 2 minutes
    .venv/bin/python bench/outbox_bench.py --rows 2000 --pending 1000000 --bulk 10000

Everything talks to the fake Bot API (tests/fakes/telegram_api.py) on 127.0.0.1 in this process,
with the real store in a temporary folder:
1. no cap: how many messages a second the outbox itself can send (pacing off);
2. a 30/s cap, with a fake that answers 429 beyond 30 calls in any second, as Telegram does:
   the achieved rate as a fraction of the cap, and how many 429s the bot's own pacing provoked;
3. the due-rows query (and a chat's claim) with 1,000,000 pending rows: median and worst ms;
4. reply latency (p50/p99 of one dialog step, the reply sent) with an empty outbox, then while
   10,000 bulk rows drain at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from aiogram.types import Update  # noqa: E402
from baseline import TREE, baseline_tree, emit, run_in  # noqa: E402, F401  (TREE on sys.path)

from bot.app import build_app  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.dialogs.events import Reply  # noqa: E402
from bot.storage.models import BULK_LANE, NewOutboxMessage  # noqa: E402
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI, message_update  # noqa: E402
from tests.telegram_harness import TelegramHarness  # noqa: E402

SCRIPT = Path(__file__).resolve()
BULK_TEXT = "Коомдук угуу 12-декабрда саат 10:00до болот. Общественные слушания 12 декабря."


class CappedTelegramAPI(FakeTelegramAPI):
    """Answers 429 (retry after 1 s) to sends beyond `cap` in any one-second window."""

    def __init__(self, cap: float | None) -> None:
        super().__init__()
        self.cap = cap
        self.recent: deque[float] = deque()
        self.refused = 0
        self.sent = 0

    def _m_sendmessage(self, call):
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if self.cap is not None and len(self.recent) >= self.cap:
            self.refused += 1
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        self.recent.append(now)
        self.sent += 1
        return super()._m_sendmessage(call)


def settings(folder: Path, per_second: float, concurrency: int = 4) -> Settings:
    return Settings(
        database_path=folder / "bot.sqlite3",
        media_dir=folder / "media",
        operator_chat_id=-100500,
        flood_burst=10**6,
        telegram_messages_per_second=per_second,
        outbox_concurrency=concurrency,
        _env_file=None,
    )


def bulk_rows(count: int, first_chat: int = 5_000_000) -> list[NewOutboxMessage]:
    # a kind with no renderer: the row carries its reply ("announcement" rows need a stored
    # broadcast to render; bench/broadcast_bench.py measures those)
    payload = {"replies": [Reply(text=BULK_TEXT).to_dict()]}
    return [
        NewOutboxMessage("telegram", str(first_chat + n), "bulk_bench", payload, lane=BULK_LANE)
        for n in range(count)
    ]


async def drain(app, until_sent: int, api: CappedTelegramAPI) -> float:
    """Run the outbox as the scheduler would (every 20 ms) until `until_sent` went out."""
    started = time.perf_counter()
    while api.sent < until_sent:
        await app.outbox.run_once()
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


async def run_rate(rows: int, cap: float | None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        app = await build_app(settings(Path(folder), cap or 1e6), clock=SystemClock())
        async with CappedTelegramAPI(cap) as api:
            harness = TelegramHarness(app, api)
            await app.store.outbox.add(messages=bulk_rows(rows), now=app.clock.now())
            seconds = await drain(app, rows, api)
            await harness.close()
        await app.close()
    return rows / seconds, api.refused


async def run_due_query(pending: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        app = await build_app(settings(Path(folder), 1e6), clock=SystemClock())
        now = app.clock.now().isoformat(timespec="seconds")
        payload = json.dumps({"replies": [{"text": BULK_TEXT}]}, ensure_ascii=False)
        async with app.store.transaction() as db:
            await db.executemany(
                "INSERT INTO outbox (channel, recipient, kind, payload, next_attempt_at,"
                " created_at, lane) VALUES ('telegram', ?, 'announcement', ?, ?, ?, 2)",
                ((str(6_000_000 + n), payload, now, now) for n in range(pending)),
            )
        timings: dict[str, list[float]] = {"due": [], "claim_next": []}
        moment = datetime.now(UTC)
        for n in range(200):
            started = time.perf_counter()
            await app.store.outbox.due(now=moment, limit=50)
            timings["due"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await app.store.outbox.claim_next(
                channel="telegram", recipient=str(7_000_000 + n), now=moment
            )
            timings["claim_next"].append(time.perf_counter() - started)
        await app.close()
    return {k: statistics.median(v) * 1000 for k, v in timings.items()} | {
        f"{k} max": max(v) * 1000 for k, v in timings.items()
    }


async def citizen_steps(harness, count: int, citizens: int = 20) -> list[float]:
    """Citizens each send a command and wait for the bot's answer; returns the latencies."""
    latencies = []
    for n in range(count):
        raw = message_update(8_000_000 + n % citizens, "/help") | {"update_id": 10**8 + n}
        update = Update.model_validate(raw, context={"bot": harness.bot})
        started = time.perf_counter()
        await harness.dispatcher.feed_update(harness.bot, update)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return latencies


async def run_reply_latency(bulk: int, cap: float, steps: int) -> dict[str, tuple[float, float]]:
    results = {}
    for label, queued in (("empty outbox", 0), (f"{bulk} bulk rows draining", bulk)):
        with tempfile.TemporaryDirectory() as folder:
            app = await build_app(settings(Path(folder), cap), clock=SystemClock())
            async with CappedTelegramAPI(None) as api:
                harness = TelegramHarness(app, api)
                await app.store.outbox.add(messages=bulk_rows(queued), now=app.clock.now())
                drainer = asyncio.create_task(drain(app, queued, api)) if queued else None
                latencies = await citizen_steps(harness, steps)
                left = len(await app.store.outbox.list(status="pending", kind="bulk_bench"))
                if drainer is not None:
                    drainer.cancel()
                await app.outbox.drain()
                await harness.close()
            await app.close()
        ordered = sorted(latencies)
        results[label] = (
            statistics.median(ordered) * 1000,
            ordered[int(len(ordered) * 0.99) - 1] * 1000,
            left,
        )
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows of run 1")
    parser.add_argument("--capped-rows", type=int, default=300, help="rows of run 2 (30/s)")
    parser.add_argument("--pending", type=int, default=1_000_000, help="backlog of run 3")
    parser.add_argument("--bulk", type=int, default=10_000, help="bulk rows of run 4")
    parser.add_argument("--steps", type=int, default=200, help="citizen steps timed in run 4")
    parser.add_argument(
        "--baseline", default="main", help="git ref whose run 4 is shown alongside ('none': skip)"
    )
    parser.add_argument("--only-replies", action="store_true", help="run 4 only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        emit(await run_reply_latency(args.bulk, 500, args.steps))
        return
    if args.only_replies:
        await print_reply_latency(args)
        return

    rate, _ = await run_rate(args.rows, None)
    print(f"1. no cap: {args.rows} messages at {rate:.0f} messages/s")
    rate, refused = await run_rate(args.capped_rows, 30)
    print(
        f"2. cap 30/s: {rate:.1f} messages/s = {rate / 30:.2f} of the cap;"
        f" 429 answers provoked: {refused}  (aim: >= 0.95, none)"
    )
    due = await run_due_query(args.pending)
    print(
        f"3. {args.pending} pending rows: due() median {due['due']:.3f} ms"
        f" (max {due['due max']:.3f}), claim_next() median {due['claim_next']:.3f} ms"
        f" (max {due['claim_next max']:.3f})  (aim: < 1 ms)"
    )
    await print_reply_latency(args)


async def print_reply_latency(args: argparse.Namespace) -> None:
    """Run 4 on this tree, and on the baseline in a child process, alternating."""
    trees = {"this tree": None}
    with contextlib.ExitStack() as stack:
        if args.baseline != "none":
            baseline = stack.enter_context(baseline_tree(args.baseline))
            trees = {f"baseline {args.baseline}": baseline, "this tree": ROOT}
        for label, tree in trees.items():
            if tree is None:
                results = await run_reply_latency(args.bulk, 500, args.steps)
            else:
                arguments = ["--bulk", str(args.bulk), "--steps", str(args.steps)]
                results = run_in(tree, SCRIPT, arguments)
            figures = {k: tuple(v) for k, v in results.items()}
            (empty_p50, empty_p99, _), *_ = figures.values()
            for name, (p50, p99, left) in figures.items():
                note = f"; {left} bulk rows still queued at the end" if left else ""
                print(
                    f"4. [{label}] reply latency, {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms{note}"
                )
            busy_p99 = list(figures.values())[-1][1]
            ratio = busy_p99 / empty_p99
            verdict = "PASS" if ratio <= 2.0 else "ABOVE TARGET"
            print(f"   [{label}] p99 draining / p99 empty = {ratio:.2f} (target <= 2.0): {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
