"""The overall pacer of a fast channel: lateness of a busy event loop is caught up, and yet no
second ever holds more calls than the cap (the messenger answers 429 beyond it)."""

from __future__ import annotations

import asyncio
import bisect
import time

from bot.pacing import CATCH_UP_SECONDS, Limits, Pacer
from bot.storage.models import BULK_LANE, REPLY_LANE


async def _busy_loop(stop: asyncio.Event) -> None:
    """Other work on the event loop: the pacer's wake-ups come late."""
    while not stop.is_set():
        started = time.perf_counter()
        while time.perf_counter() - started < 0.0005:
            pass
        await asyncio.sleep(0)


async def test_a_late_pacer_catches_up_but_no_second_holds_more_than_the_cap():
    cap = 500
    pacer = Pacer(Limits(per_second=cap))
    loop = asyncio.get_running_loop()
    stamps: list[float] = []
    stop = asyncio.Event()
    busy = [asyncio.create_task(_busy_loop(stop)) for _ in range(2)]

    async def sender() -> None:
        while len(stamps) < 700:
            await pacer.wait("5000001", BULK_LANE)
            stamps.append(loop.time())

    await asyncio.gather(*(sender() for _ in range(25)))
    stop.set()
    await asyncio.gather(*busy)
    stamps.sort()
    most = max(bisect.bisect_left(stamps, at + 1.0) - n for n, at in enumerate(stamps))
    assert most <= cap  # the rate reached is bench/broadcast_bench.py's figure


async def test_a_reply_still_goes_before_the_waiting_bulk_calls():
    pacer = Pacer(Limits(per_second=500))
    order: list[str] = []

    async def call(name: str, lane: int) -> None:
        await pacer.wait(name, lane)
        order.append(name)

    bulk = [asyncio.create_task(call(f"bulk{n}", BULK_LANE)) for n in range(40)]
    await asyncio.sleep(0)  # the bulk calls wait first
    reply = asyncio.create_task(call("reply", REPLY_LANE))
    await asyncio.gather(reply, *bulk)
    assert order.index("reply") <= int(500 * CATCH_UP_SECONDS)  # at most the bucket ahead
