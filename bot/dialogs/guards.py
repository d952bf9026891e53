"""Per-citizen serialisation and flood control, shared by every channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it.

    Messages of one citizen are handled one at a time (an album's photos arrive together and
    must not overwrite each other's conversation state); different citizens run in parallel.
    """

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodGuard:
    """A token bucket per citizen: `burst` messages at once, then `rate` per second.

    `check` answers "ok", "warn" (first refused message: tell the citizen once) or "drop".
    The warning is given once per flood: the messages a refilled token lets through meanwhile
    do not re-arm it; only a full bucket does (the citizen was quiet for `burst / rate` s).
    """

    def __init__(self, burst: int, rate: float, monotonic: Callable[[], float]) -> None:
        self.burst = burst
        self.rate = rate
        self._monotonic = monotonic
        self._buckets: dict[object, _Bucket] = {}

    def check(self, key: object) -> str:
        now = self._monotonic()
        bucket = self._buckets.get(key) or _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        if bucket.tokens >= self.burst:
            bucket.warned = False
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            self._forget_idle(now)
            return "ok"
        if bucket.warned:
            return "drop"
        bucket.warned = True
        return "warn"

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) > 10_000:
            full = self.burst / self.rate
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full}
