"""Pacing of the outbound port, per channel, with `aiolimiter`'s leaky buckets.

Each channel declares its limits; the outbox waits here before every single API call:
- overall: at most `per_second` calls of the channel (Telegram: about 30/s per bot; Twilio:
  the sender's messages per second);
- per chat, except for replies to someone who just wrote: `per_chat_per_second` (Telegram:
  1/s), so a broadcast never floods one chat;
- per group chat (Telegram ids below zero), whatever the lane: `group_per_minute` (20/min).
A 429 is handled by the outbox for the one row (and so the one chat) it concerns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from bot.storage.models import REPLY_LANE

IDLE_SECONDS = 120.0  # per-chat buckets unused for this long are forgotten
MAX_CHATS = 10_000  # beyond this many per-chat buckets, idle ones are dropped


@dataclass(frozen=True)
class Limits:
    """A channel's rate limits; None switches a limit off."""

    per_second: float | None = None
    per_chat_per_second: float | None = None
    group_per_minute: float | None = None


class Pacer:
    """Waits until one more call to `recipient` fits the channel's limits."""

    def __init__(self, limits: Limits, is_group: Callable[[str], bool] = lambda _: False):
        self.limits = limits
        self.is_group = is_group
        self._overall = _limiter(limits.per_second, 1.0)
        self._chats: dict[str, tuple[AsyncLimiter, float]] = {}

    async def wait(self, recipient: str, lane: int) -> None:
        group = self.is_group(recipient)
        if group and self.limits.group_per_minute:
            await self._chat(recipient, self.limits.group_per_minute, 60.0).acquire()
        elif not group and lane != REPLY_LANE and self.limits.per_chat_per_second:
            await self._chat(recipient, self.limits.per_chat_per_second, 1.0).acquire()
        if self._overall is not None:
            await self._overall.acquire()

    def _chat(self, recipient: str, rate: float, period: float) -> AsyncLimiter:
        now = time.monotonic()
        found = self._chats.get(recipient)
        limiter = (
            found[0] if found else AsyncLimiter(max(rate, 1.0), period * max(rate, 1.0) / rate)
        )
        self._chats[recipient] = (limiter, now)
        if len(self._chats) > MAX_CHATS:
            self._chats = {k: v for k, v in self._chats.items() if now - v[1] < IDLE_SECONDS}
        return limiter


def _limiter(rate: float | None, period: float) -> AsyncLimiter | None:
    if not rate:
        return None
    # aiolimiter's capacity is a whole number of calls: below 1/s, one call per 1/rate seconds
    return AsyncLimiter(max(rate, 1.0), period * max(rate, 1.0) / rate)
