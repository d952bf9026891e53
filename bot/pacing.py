"""Pacing of the outbound port, per channel, with `aiolimiter`'s leaky buckets.

Each channel declares its limits; the outbox waits here before every single API call:
- overall: at most `per_second` calls of the channel (Telegram: about 30/s per bot; Twilio:
  the sender's messages per second);
- per chat, except for replies to someone who just wrote: `per_chat_per_second` (Telegram:
  1/s), so a broadcast never floods one chat;
- per group chat (Telegram ids below zero), whatever the lane: `group_per_minute` (20/min).
The overall limit serves the lowest lane first (`PriorityLimiter`), so a citizen's reply does not
queue behind a broadcast. A 429 is handled by the outbox for the one row (and so the one chat)
it concerns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from bot.storage.models import REPLY_LANE

IDLE_SECONDS = 120.0  # per-chat buckets unused for this long are forgotten
MAX_CHATS = 10_000  # beyond this many per-chat buckets, idle ones are dropped
GROUP_BURST = 5  # messages a group may get at once, within its per-minute limit
CATCH_UP_SECONDS = 0.02  # of a channel's overall rate, kept when its pacer wakes up late


@dataclass(frozen=True)
class Limits:
    """A channel's rate limits; None switches a limit off."""

    per_second: float | None = None
    per_chat_per_second: float | None = None
    group_per_minute: float | None = None


class PriorityLimiter:
    """An `AsyncLimiter` whose tokens go to the waiting call of the lowest lane first.

    aiolimiter serves waiters in arrival order, so a reply would wait behind every broadcast
    message already waiting. Here one pump takes the limiter's tokens one at a time, as long as
    anyone waits, and hands each to the best waiting call (lowest lane, then oldest): everyone is
    served, and a reply waits at most one token's interval however long the queue. (A caller
    never waits for its own turn at the limiter: with callers taking turns, a reply handed a
    token still queued behind each bulk caller ahead of it, one interval each.)
    """

    def __init__(self, limiter: AsyncLimiter) -> None:
        self._limiter = limiter
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._pump: asyncio.Task | None = None

    async def acquire(self, lane: int) -> None:
        granted = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (lane, next(self._order), granted))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._hand_out())
        await granted  # cancelled: the pump skips it

    async def _hand_out(self) -> None:
        while self._live():
            await self._limiter.acquire()
            while self._waiting:
                _, _, best = heapq.heappop(self._waiting)
                if not best.done():  # a cancelled waiter gives up its place
                    best.set_result(None)
                    break

    def _live(self) -> bool:
        """Anyone still waiting (cancelled waiters at the head are dropped)."""
        while self._waiting and self._waiting[0][2].done():
            heapq.heappop(self._waiting)
        return bool(self._waiting)


class Pacer:
    """Waits until one more call to `recipient` fits the channel's limits."""

    def __init__(self, limits: Limits, is_group: Callable[[str], bool] = lambda _: False):
        self.limits = limits
        self.is_group = is_group
        overall = _overall_limiter(limits.per_second)
        self._overall = PriorityLimiter(overall) if overall else None
        self._chats: dict[str, tuple[AsyncLimiter, float]] = {}

    async def wait(self, recipient: str, lane: int) -> None:
        group = self.is_group(recipient)
        if group and self.limits.group_per_minute:
            await self._chat(recipient, lambda: _group_limiter(self.limits.group_per_minute))
        elif not group and lane != REPLY_LANE and self.limits.per_chat_per_second:
            await self._chat(recipient, lambda: _limiter(self.limits.per_chat_per_second, 1.0))
        if self._overall is not None:
            await self._overall.acquire(lane)

    async def _chat(self, recipient: str, make: Callable[[], AsyncLimiter]) -> None:
        """Take a slot of the recipient's own limiter (made on first use, dropped when idle)."""
        now = time.monotonic()
        found = self._chats.get(recipient)
        limiter = found[0] if found else make()
        self._chats[recipient] = (limiter, now)
        if len(self._chats) > MAX_CHATS:
            self._chats = {k: v for k, v in self._chats.items() if now - v[1] < IDLE_SECONDS}
        await limiter.acquire()


def _limiter(rate: float | None, period: float) -> AsyncLimiter | None:
    """`rate` calls per `period`, evenly spaced: a bucket of one call, refilled every
    period/rate seconds. A bigger bucket would allow a burst on top of the steady rate, and a
    messenger that counts calls in any window of `period` (Telegram does) would refuse it."""
    if not rate:
        return None
    return AsyncLimiter(1, period / rate)


def _overall_limiter(per_second: float | None) -> AsyncLimiter | None:
    """A channel's overall limit. At a high rate, a bucket of one loses pace: the one task that
    takes the tokens wakes up a little late each time on a busy event loop, and what leaked
    meanwhile is lost (a 500/s cap gave 350-450 calls a second). A bucket of b calls (what
    CATCH_UP_SECONDS of the rate allows) keeps that lateness. It leaks per_second - 2b a
    second: any one second holds at most b + (per_second - 2b) calls as they leave, which
    leaves b calls of room for the network bunching them on the way (the messenger counts
    them as they arrive). Below 1/CATCH_UP_SECONDS calls a second a bucket of one is kept,
    as before."""
    if not per_second:
        return None
    burst = int(per_second * CATCH_UP_SECONDS)
    if burst <= 1:
        return _limiter(per_second, 1.0)
    return AsyncLimiter(burst, burst / (per_second - 2 * burst))


def _group_limiter(per_minute: float) -> AsyncLimiter:
    """A few messages at once (a card, its note, a prompt), then a steady pace, never more than
    `per_minute` in any minute: a bucket of b leaks (per_minute - b) a minute, so a minute holds
    at most b + (per_minute - b)."""
    burst = min(GROUP_BURST, max(per_minute / 4, 1.0))
    return AsyncLimiter(burst, 60.0 * burst / max(per_minute - burst, 1e-9))
