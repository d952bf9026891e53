"""The one outbound port: queue replies for a citizen or a chat, and deliver the queue.

Every push (status changes, operator answers, complaint cards for operators, and direct replies
that could not be sent at once) is a row in the `outbox` table first. `OutboxDispatcher.run_once`
takes the due rows and hands each to the channel it belongs to, so a push never needs to know
which messenger it goes to:
- sent: the row is marked sent; a row of several parts records each part as it goes out, so a
  retry after a failure half-way, or a restart after a crash, never repeats the first ones;
- "slow down" (Telegram 429): the row waits `retry_after` seconds, the attempt is not counted;
- a network or server error: retried with a growing pause, up to `max_attempts`;
- the recipient blocked the bot (403): the row waits as 'unreachable' and the citizen is marked
  so; when the citizen writes again, what waited is sent;
- the channel cannot send it now (WhatsApp outside the 24-hour window with no approved
  template): the row is 'held' with the reason, visible to operators, and released when the
  citizen writes again.

A channel may have `prepare(row, replies, done)`, which turns the neutral replies into what it
will actually send (e.g. a WhatsApp template instead of free text) and may raise `Hold`; and its
`deliver` may return the messenger's id of the sent message, kept for delivery receipts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.dialogs.events import Option, Rendered, Reply
from bot.storage.models import BULK_LANE, REPLY_LANE, NewOutboxMessage, OutboxMessage
from bot.storage.store import Store

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The messenger asked us to wait (rate limit)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class RecipientGone(Exception):
    """The recipient blocked the bot or the chat no longer exists."""


class TransientError(Exception):
    """A network or server error: worth trying again later."""


class _Stopping(Exception):
    """The process is stopping: the row's next call is not made."""


class Drop(Exception):
    """A renderer's answer: the row has nothing to say any more (a reminder computed for a
    hearing that moved or was cancelled). It is marked 'dropped' and never sent."""


class Hold(Exception):
    """The row cannot be sent now and retrying will not help until something changes.

    With `payload_changes`, the row is instead queued again at once with those changes (e.g.
    "send it as a template" after the messenger said the free-text window has closed).
    """

    def __init__(self, reason: str, *, payload_changes: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload_changes = payload_changes


class Channel(Protocol):
    """A messenger that can show one neutral reply to one recipient."""

    name: str

    async def deliver(self, recipient: str, reply: Any) -> str | None: ...


Renderer = Callable[[dict[str, Any]], Awaitable[Rendered]]


async def _replies_in_payload(payload: dict[str, Any]) -> Rendered:
    """Rows that carry ready-made replies (a dialog's answer, a command's answer)."""
    replies = [Reply.from_dict(item) for item in payload.get("replies", [])]
    return Rendered(replies, payload.get("template_variables"))


def replies_message(
    *,
    channel: str,
    recipient: str,
    replies: list[Reply],
    kind: str,
    citizen_id: int | None = None,
    dedupe_key: str | None = None,
) -> NewOutboxMessage:
    """An outbox row that carries ready-made replies."""
    return NewOutboxMessage(
        channel=channel,
        recipient=recipient,
        kind=kind,
        payload={"replies": [reply.to_dict() for reply in replies]},
        citizen_id=citizen_id,
        dedupe_key=dedupe_key,
    )


def is_secret(row: OutboxMessage) -> bool:
    """Rows that may carry a receipt code or a citizen's own words: blanked once delivered
    (or once given up), never kept longer than needed."""
    return row.kind in SECRET_KINDS or bool(row.payload.get("secret"))


SECRET_KINDS = frozenset({"reply", "receipt"})
# Rows whose sent message is looked up by its messenger id later (an operator replies to it).
TRACKED_KINDS = frozenset({"operator_prompt", "question_prompt"})
# Kinds whose last message is kept by its messenger id: a complaint's card, so that reminders,
# additions and answers can be posted as replies to it.
TRACKED_LAST_KINDS = frozenset({"operator_card"})
GROUP_GONE_PAUSE = timedelta(minutes=15)
STOP_GRACE = 10.0  # seconds a stopping process waits for the calls under way
# The longest a bulk row waits for citizens' messages being handled (`urgent`) to finish.
URGENT_WAIT = 0.25
# What one row under way takes (claim, render, the call, mark sent) when sizing a channel's
# rows in flight to its rate limit (see `OutboxDispatcher._slots_of`).
IN_FLIGHT_SECONDS = 0.05


class _Countdown:
    """Called once per row when its claim is decided; `zero` is set after the last one."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.zero = asyncio.Event()

    def __call__(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.zero.set()


class OutboxDispatcher:
    """Sends due outbox rows through their channels; safe to call again and again, from the
    periodic job and right after a citizen's message at once: a row is claimed just before it
    is sent, so two senders never send the same row, and a chat's rows leave in order.

    Delivery guarantee: each row is sent at least once. A row of several parts records each
    part the moment the messenger accepts it, so a retry or a restart goes on after it. The
    one duplicate that can happen is the part in flight when the process dies: after the
    messenger accepted it and before its progress was written (a few milliseconds); Telegram
    has no idempotency key to close that window.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_attempts: int = 8,
        batch: int = 50,
        max_rows_per_run: int = 1000,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.max_rows_per_run = max_rows_per_run
        # rows of different chats go out side by side; each call still waits for its pacer
        self.concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self.channels: dict[str, Channel] = {}
        self.renderers: dict[str, Renderer] = {}
        # called with (citizen id, options) after a push with options reached a citizen
        self.on_pushed_options: Callable[[int, list[Option]], Awaitable[Any]] | None = None
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._kicked: set[asyncio.Task] = set()
        self._stopping = False
        # While a citizen's message is handled and answered, bulk rows start nothing new: they
        # share the event loop and the store with the reply, which would otherwise wait behind
        # their renders, claims and sends.
        self._urgent = 0
        self._calm = asyncio.Event()
        self._calm.set()

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def add_renderer(self, kind: str, renderer: Renderer) -> None:
        """Rows of `kind` are turned into what to send at send time by `renderer(payload)`."""
        self.renderers[kind] = renderer

    async def run_once(self) -> int:
        """Deliver what is due now, for every chat; returns how many rows were sent.

        Each channel is fed on its own, side by side, so a slow messenger (WhatsApp at ten
        messages a second) never holds back a fast one; then whatever is left (rows of a
        channel not configured here) is looked at once."""
        async with self._busy():
            names = list(self.channels)
            sent = sum(await asyncio.gather(*(self._run_channel(name) for name in names)))
            if not self._stopping:
                rows = await self.store.outbox.due(now=self.clock.now(), limit=self.batch)
                rows = [row for row in rows if row.channel not in names]
                sent += sum(await asyncio.gather(*(self._claim_and_deliver(r) for r in rows)))
            return sent

    async def _run_channel(self, channel: str) -> int:
        """One channel's due rows, up to `max_rows_per_run`, with no pause between batches:
        the next batch is read as soon as every row of this one is claimed (claimed rows are
        not due any more, and a chat's next row not before its previous one is done), while
        the last of them are still being sent."""
        tasks: list[asyncio.Task] = []
        tried = 0
        while tried < self.max_rows_per_run and not self._stopping:
            rows = await self.store.outbox.due(
                now=self.clock.now(), limit=self.batch, channel=channel
            )
            if not rows:  # unless a row under way holds back its chat's next one
                under_way = [task for task in tasks if not task.done()]
                if not under_way:
                    break
                await asyncio.wait(under_way, return_when=asyncio.FIRST_COMPLETED)
                continue
            tried += len(rows)
            claimed = _Countdown(len(rows))
            tasks += [asyncio.create_task(self._claim_and_deliver(r, claimed)) for r in rows]
            await claimed.zero.wait()
        return sum(await asyncio.gather(*tasks))

    def _slots_of(self, channel: str) -> asyncio.Semaphore:
        """How many rows of a channel may be under way at once: `concurrency`, or enough to
        keep the channel's overall rate limit busy when each row takes IN_FLIGHT_SECONDS (a
        500/s cap needs 25 rows under way: claim, render, the call, mark sent)."""
        slots = self._slots.get(channel)
        if slots is None:
            pacer = getattr(self.channels.get(channel), "pacer", None)
            per_second = pacer.limits.per_second if pacer is not None else None
            size = max(self.concurrency, math.ceil((per_second or 0) * IN_FLIGHT_SECONDS))
            slots = self._slots[channel] = asyncio.Semaphore(size)
        return slots

    @asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        """Around the handling of a citizen's message and the sending of its answer: bulk rows
        (a broadcast) wait until it is done, at most URGENT_WAIT at a time."""
        self._urgent += 1
        self._calm.clear()
        try:
            yield
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._calm.set()

    async def _give_way(self, row: OutboxMessage) -> None:
        """A bulk row lets urgent work go first (see `urgent`)."""
        if row.lane >= BULK_LANE and not self._calm.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(URGENT_WAIT):
                    await self._calm.wait()

    async def _claim_and_deliver(
        self, row: OutboxMessage, claimed: Callable[[], None] | None = None
    ) -> int:
        """Claim the row, then send it; `claimed()` is called once the claim is decided."""
        try:
            async with self._slots_of(row.channel):
                await self._give_way(row)
                if self._stopping:
                    return 0
                taken = await self.store.outbox.claim(message_id=row.id, now=self.clock.now())
                if claimed is not None:
                    claimed, note = None, claimed
                    note()
                if not taken:
                    return 0  # another sender took it
                return await self._deliver_row(row)
        finally:
            if claimed is not None:
                claimed()

    async def send_for(self, channel: str, recipient: str) -> int:
        """Deliver what is due for one chat now (right after its citizen wrote), in order."""
        async with self._busy():
            sent = 0
            for _ in range(self.max_rows_per_run):
                if self._stopping:
                    break
                row = await self.store.outbox.claim_next(
                    channel=channel, recipient=recipient, now=self.clock.now()
                )
                if row is None:
                    break
                sent += await self._deliver_row(row)
            return sent

    def kick(self, channel: str, recipient: str) -> None:
        """`send_for` in the background: the caller (an operator's update) does not wait while
        a busy group's queue goes out at twenty messages a minute. `drain` waits for it."""
        task = asyncio.create_task(self.send_for(channel, recipient))
        self._kicked.add(task)
        task.add_done_callback(self._kicked.discard)

    async def stop(self) -> None:
        """Before the process stops: take no more rows, let the calls under way finish. A row
        still waiting for its turn under the rate limits goes back to the queue untouched
        (after STOP_GRACE, what is left is cut off: it is sent at the next start)."""
        self._stopping = True
        try:
            async with asyncio.timeout(STOP_GRACE):
                await self.drain()
        except TimeoutError:
            log.warning("the outbox did not finish in time; the rest goes at the next start")

    async def drain(self) -> None:
        """Wait for the sends in progress to finish (before the store is closed)."""
        while self._kicked:
            await asyncio.gather(*list(self._kicked), return_exceptions=True)
        await self._idle.wait()

    @asynccontextmanager
    async def _busy(self) -> AsyncIterator[None]:
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _deliver_row(self, row: OutboxMessage) -> int:
        channel = self.channels.get(row.channel)
        if channel is None:
            await self._postpone(row, "no channel configured", timedelta(minutes=5), count=False)
            return 0
        try:
            rendered = await self.render(row)
        except Drop as dropped:
            await self.store.outbox.mark_failed(
                message_id=row.id, error=f"dropped: {dropped}", status="dropped"
            )
            return 0
        except Exception as exc:  # broken payload: keep the row for a person to look at
            log.exception("outbox row %s (%s) cannot be rendered", row.id, row.kind)
            await self.store.outbox.mark_failed(message_id=row.id, error=f"render: {exc!r}")
            return 0
        if not rendered.replies:  # overtaken by events (a deadline met, a hearing moved)
            await self.store.outbox.mark_failed(
                message_id=row.id, error="no longer applies", status="dropped"
            )
            return 0
        try:
            parts, done = await self._prepare(channel, row, rendered, row.parts_done)
            for index in range(done, len(parts) - 1):
                await self._pace_or_stop(channel, row)
                provider_id = await channel.deliver(row.recipient, parts[index])
                await self.store.outbox.record_part(
                    message_id=row.id,
                    parts_done=index + 1,
                    provider_sid=self._kept(channel, row, provider_id),
                    now=self.clock.now(),
                )
            last_id = None
            if parts and done < len(parts):
                await self._pace_or_stop(channel, row)
                last_id = await channel.deliver(row.recipient, parts[-1])
        except Hold as held:
            await self._hold(row, held)
            return 0
        except _Stopping:  # nothing of this call went out: the row waits for the next start
            await self._postpone(row, "stopped", timedelta(0), count=False)
            return 0
        except RetryLater as wait:
            await self._postpone(row, "rate limited", timedelta(seconds=wait.seconds), count=False)
            return 0
        except RecipientGone as gone:
            await self._recipient_gone(row, gone)
            return 0
        except Exception as exc:  # network, server or unexpected: retry with back-off
            await self._retry_or_fail(row, exc)
            return 0
        # A messenger that confirms delivery later (WhatsApp) scrubs on that confirmation.
        confirms_later = getattr(channel, "confirms_delivery_later", False)
        await self.store.outbox.mark_sent(
            message_id=row.id,
            now=self.clock.now(),
            scrub=is_secret(row) and not confirms_later,
            parts_done=len(parts),
            provider_sid=self._kept(channel, row, last_id, last=True),
            together=row.lane >= BULK_LANE,
        )
        await self._note_pushed_options(row, rendered)
        return 1

    async def _note_pushed_options(self, row: OutboxMessage, rendered: Rendered) -> None:
        """A pushed message with options reached the citizen: a number typed next can mean
        one of them (replies' options are noted by the dialog step itself)."""
        if self.on_pushed_options is None or row.citizen_id is None or row.lane == REPLY_LANE:
            return
        options = [option for reply in rendered.replies for option in reply.options]
        if options:
            await self.on_pushed_options(row.citizen_id, options)

    async def _pace_or_stop(self, channel: Channel, row: OutboxMessage) -> None:
        """Wait until one more call fits the channel's rate limits (see `bot.pacing`); raise
        `_Stopping` instead of making it when the process is stopping meanwhile."""
        pacer = getattr(channel, "pacer", None)
        if pacer is not None:
            await pacer.wait(row.recipient, row.lane)
        await self._give_way(row)
        if self._stopping:
            raise _Stopping

    @staticmethod
    def _kept(
        channel: Channel, row: OutboxMessage, provider_id: str | None, last: bool = False
    ) -> str | None:
        """The messenger's id of a sent message, where something will look it up later: a
        delivery callback (WhatsApp), or an operator's reply to a prompt."""
        if getattr(channel, "confirms_delivery_later", False) or row.kind in TRACKED_KINDS:
            return provider_id
        if last and row.kind in TRACKED_LAST_KINDS:
            return provider_id
        return None

    async def _recipient_gone(self, row: OutboxMessage, gone: RecipientGone) -> None:
        """A citizen who blocked the bot: the row waits as 'unreachable' until they write. A
        chat with no citizen (an operator group the bot is not in, yet or any more): tried again
        every quarter of an hour, so cards arrive once the bot is added back."""
        if row.citizen_id is None:
            log.warning("outbox row %s: the bot cannot write to that chat; retrying", row.id)
            await self._postpone(row, f"recipient gone: {gone}", GROUP_GONE_PAUSE, count=False)
            return
        await self.store.outbox.mark_failed(
            message_id=row.id, error=f"recipient gone: {gone}", status="unreachable"
        )
        await self.store.citizens.mark_unreachable(citizen_id=row.citizen_id)
        log.info("outbox row %s: recipient unreachable", row.id)

    async def render(self, row: OutboxMessage) -> Rendered:
        """What a row says now: its kind's renderer (ids in the payload, the recipient's
        current language, current data), or the replies it carries."""
        return await self.renderers.get(row.kind, _replies_in_payload)(row.payload)

    async def _prepare(
        self, channel: Channel, row: OutboxMessage, rendered: Rendered, done: int
    ) -> tuple[list[Any], int]:
        prepare = getattr(channel, "prepare", None)
        if prepare is None:
            return rendered.replies, done
        return await prepare(row, rendered, done)

    async def _hold(self, row: OutboxMessage, held: Hold) -> None:
        if held.payload_changes:
            await self.store.outbox.requeue(
                message_id=row.id, payload=row.payload | held.payload_changes, now=self.clock.now()
            )
            log.info("outbox row %s queued again: %s", row.id, held.reason)
            return
        await self.store.outbox.hold(message_id=row.id, reason=held.reason)
        log.warning("outbox row %s (%s) held: %s", row.id, row.kind, held.reason)

    async def _postpone(
        self, row: OutboxMessage, why: str, pause: timedelta, *, count: bool
    ) -> None:
        await self.store.outbox.retry_later(
            message_id=row.id, at=self.clock.now() + pause, error=why, count_attempt=count
        )

    async def _retry_or_fail(self, row: OutboxMessage, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if row.attempts + 1 >= self.max_attempts:
            log.warning("outbox row %s failed for good: %s", row.id, type(exc).__name__)
            await self.store.outbox.mark_failed(
                message_id=row.id, error=error, scrub=is_secret(row)
            )
            return
        pause = timedelta(seconds=min(5 * 2**row.attempts, 3600))
        log.info("outbox row %s: %s, retry in %s", row.id, type(exc).__name__, pause)
        await self._postpone(row, error, pause, count=True)
