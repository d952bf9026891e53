"""Organisers' actions on hearings and announcements, and the broadcasts they cause.

- A hearing added is announced to the subscribers of its topic (`hearing_announcement`, bulk
  lane); a change of time or place goes to them and to everyone who said they will come
  (`hearing_changed`), as do a cancellation and the results.
- A broadcast writes one outbox row per recipient, in batches, before any is sent; re-running it
  (same key) writes nothing twice. WhatsApp recipients outside the 24-hour window open a
  business-initiated conversation: at most WHATSAPP_DAILY_CONVERSATIONS a day, oldest
  subscribers first, the rest the next days.
- Reminders (`queue_reminders`, run by the job) go out at each of the hearing's offsets to the
  subscribers and the RSVPs, keyed by hearing, version, offset and citizen, and only while the
  hearing stands; the renderer drops one computed for an older version.
No message text lives here (see `bot.notices.hearings`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import SUPPORTED_LOCALES
from bot.domain.hearings import (
    AnnouncementDraft,
    Hearing,
    HearingDraft,
    HearingResults,
    hearing_place_key,
)
from bot.storage.broadcasts import Broadcast, BroadcastReport, Planned
from bot.storage.db import to_db
from bot.storage.hearings import reminder_key
from bot.storage.models import Citizen, NewOutboxMessage

log = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24) - timedelta(minutes=10)
# WhatsApp template group of each broadcast kind (the channel's TEMPLATE_GROUP decides the rest)
TEMPLATE_GROUP = {
    "announcement": "hearing",
    "hearing_announcement": "hearing",
    "hearing_changed": "hearing",
    "hearing_cancelled": "hearing",
    "hearing_results": "hearing",
    "hearing_reminder": "reminder",
}


@dataclass(frozen=True)
class Outcome:
    hearing: Hearing | None
    broadcast: Broadcast | None = None


class HearingService:
    def __init__(
        self,
        store,
        *,
        clock,
        tz: ZoneInfo,
        media,
        whatsapp_daily: int,
        batch: int,
        templates: dict[tuple[str, str], str],
        operator_channel: str,
        operator_recipient: str | None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz
        self.media = media
        self.whatsapp_daily = whatsapp_daily
        self.batch = batch
        self.templates = templates
        self.operator_channel = operator_channel
        self.operator_recipient = operator_recipient

    # ----- hearings --------------------------------------------------------------------------

    async def add(self, draft: HearingDraft, *, announce: bool = True, progress=None) -> Outcome:
        hearing = await self.store.hearings.create(draft, now=self.clock.now())
        broadcast = None
        if announce:
            broadcast = await self.hearing_broadcast(hearing, "hearing_announcement", progress)
        return Outcome(hearing, broadcast)

    async def update(self, hearing: Hearing, draft: HearingDraft, *, progress=None) -> Outcome:
        """New values; a change of time or place is a new version, told to everyone
        concerned (reminders of the old version are dropped with it)."""
        moved = hearing_place_key(hearing) != draft.place_key()
        updated = await self.store.hearings.update(
            hearing_id=hearing.id, draft=draft, moved=moved, now=self.clock.now()
        )
        if updated is None or not moved:
            return Outcome(updated)
        return Outcome(updated, await self.hearing_broadcast(updated, "hearing_changed", progress))

    async def cancel(self, hearing: Hearing, *, progress=None) -> Outcome:
        cancelled = await self.store.hearings.cancel(hearing_id=hearing.id, now=self.clock.now())
        if cancelled is None:
            return Outcome(None)
        return Outcome(
            cancelled, await self.hearing_broadcast(cancelled, "hearing_cancelled", progress)
        )

    async def publish_results(
        self, hearing: Hearing, results: HearingResults, *, progress=None
    ) -> Outcome:
        held = await self.store.hearings.set_results(
            hearing_id=hearing.id, results=results, now=self.clock.now()
        )
        if held is None:
            return Outcome(None)
        return Outcome(held, await self.hearing_broadcast(held, "hearing_results", progress))

    async def hearing_broadcast(self, hearing: Hearing, kind: str, progress=None) -> Broadcast:
        version = (
            f":v{hearing.version}" if kind in ("hearing_announcement", "hearing_changed") else ""
        )
        return await self.broadcast(
            key=f"hearing:{hearing.id}:{kind}{version}",
            kind=kind,
            topic=hearing.topic,
            payload={"hearing_id": hearing.id},
            hearing_id=None if kind == "hearing_announcement" else hearing.id,
            progress=progress,
        )

    # ----- announcements ---------------------------------------------------------------------

    async def announce(self, draft: AnnouncementDraft, *, key: str | None = None, progress=None):
        """A general announcement to the subscribers of its topic, with its photo or document
        stored under MEDIA_DIR first. The key defaults to the content's hash: the same file
        announced again is the same broadcast."""
        payload: dict = {"texts": draft.texts}
        digest = hashlib.sha256(json.dumps(draft.texts, sort_keys=True).encode())
        if draft.photo:
            data = await asyncio.to_thread(Path(draft.photo).read_bytes)
            digest.update(data)
            payload["photo"] = (await self.media.save_photo(data)).path
        if draft.document:
            data = await asyncio.to_thread(Path(draft.document).read_bytes)
            digest.update(data)
            name = Path(draft.document).name
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            path = await self.media.save_document(data, name)
            payload["document"] = {"name": name, "mime": mime, "path": path}
        return await self.broadcast(
            key=key or f"announce:{draft.topic}:{digest.hexdigest()[:24]}",
            kind="announcement",
            topic=draft.topic,
            payload=payload,
            progress=progress,
        )

    # ----- the broadcast ---------------------------------------------------------------------

    async def broadcast(
        self,
        *,
        key: str,
        kind: str,
        topic: str,
        payload: dict,
        hearing_id: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Broadcast:
        """Write the rows of a broadcast (all of them, in batches), then let them go. Found by
        its key: once released, it is never written again; interrupted while being written,
        it goes on where it stopped."""
        now = self.clock.now()
        broadcast, _ = await self.store.broadcasts.start(
            key=key, kind=kind, topic=topic, payload=payload, now=now
        )
        if broadcast.status not in ("writing", "paused") or (
            broadcast.status == "paused" and broadcast.total
        ):
            return broadcast
        recipients = await self.store.hearings.recipients(topic=topic, hearing_id=hearing_id)
        ids = {"hearing_id": payload["hearing_id"]} if "hearing_id" in payload else {}
        done = 0
        for start in range(0, len(recipients), self.batch):
            chunk = recipients[start : start + self.batch]
            planned = [
                self._planned(broadcast, kind, citizen, ids | {"citizen_id": citizen.id}, now)
                for citizen in chunk
            ]
            fallback = sum(self._falls_back(kind, c, now) for c in chunk)
            await self.store.broadcasts.write_batch(
                broadcast_id=broadcast.id,
                planned=planned,
                now=now,
                tz=self.tz,
                daily_quota=self.whatsapp_daily,
                fallback=fallback,
            )
            done += len(chunk)
            if progress is not None:
                progress(done, len(recipients))
        await self.store.broadcasts.release(broadcast_id=broadcast.id)
        log.info("broadcast %s: %d recipients", broadcast.id, len(recipients))
        return await self.store.broadcasts.get(broadcast_id=broadcast.id)

    def _planned(
        self, broadcast: Broadcast, kind: str, citizen: Citizen, ids: dict, now: datetime
    ) -> Planned:
        message = NewOutboxMessage(
            channel=citizen.channel,
            recipient=citizen.user_key,
            kind=kind,
            payload={"broadcast_id": broadcast.id, **ids},
            citizen_id=citizen.id,
            dedupe_key=f"b:{broadcast.id}:{citizen.id}",
        )
        return Planned(message, self._opens_conversation(citizen, now))

    @staticmethod
    def _opens_conversation(citizen: Citizen, now: datetime) -> bool:
        if citizen.channel != "whatsapp":
            return False
        last = citizen.last_inbound_at
        return last is None or now - last >= WHATSAPP_WINDOW

    def _falls_back(self, kind: str, citizen: Citizen, now: datetime) -> bool:
        """Outside the window, no template in the citizen's language but one in the other."""
        if not self._opens_conversation(citizen, now):
            return False
        group = TEMPLATE_GROUP.get(kind)
        locale = citizen.locale or SUPPORTED_LOCALES[0]
        others = [other for other in SUPPORTED_LOCALES if other != locale]
        return (group, locale) not in self.templates and any(
            (group, other) in self.templates for other in others
        )

    async def pause(self, broadcast_id: int) -> int:
        return await self.store.broadcasts.pause(broadcast_id=broadcast_id)

    async def resume(self, broadcast_id: int) -> int:
        return await self.store.broadcasts.resume(broadcast_id=broadcast_id)

    async def report(self, broadcast_id: int) -> BroadcastReport:
        return await self.store.broadcasts.report(broadcast_id=broadcast_id, now=self.clock.now())

    async def post_report(
        self, broadcast_id: int, *, final: bool = False, day: str | None = None
    ) -> bool:
        """Queue the delivery report for the operator group (rendered when sent). The final
        one once, and one per day while rows wait for a later day's quota (by their keys); one
        on request each time."""
        if self.operator_recipient is None:
            return False
        now = self.clock.now()
        key = f"breport:{broadcast_id}:final" if final else None
        if day is not None:
            key = f"breport:{broadcast_id}:day:{day}"
        message = NewOutboxMessage(
            channel=self.operator_channel,
            recipient=self.operator_recipient,
            kind="broadcast_report",
            payload={"broadcast_id": broadcast_id},
            dedupe_key=key,
        )
        return await self.store.outbox.add(messages=[message], now=now) > 0

    async def finish_broadcasts(self) -> int:
        """Report each broadcast with nothing left to send today: the day's report while rows
        wait for a later day's WhatsApp quota (once a day), the final one when nothing is left
        at all (once); returns how many reports were queued now."""
        reported = 0
        today = self.clock.now().astimezone(self.tz).date().isoformat()
        for broadcast in await self.store.broadcasts.list(status="running"):
            report = await self.report(broadcast.id)
            if not report.finished:
                continue
            if report.waiting_quota:
                reported += await self.post_report(broadcast.id, day=today)
            elif await self.store.broadcasts.mark_reported(
                broadcast_id=broadcast.id, now=self.clock.now(), done=True
            ):
                await self.post_report(broadcast.id, final=True)
                reported += 1
        return reported

    # ----- reminders -------------------------------------------------------------------------

    async def queue_reminders(self) -> int:
        """Queue the reminders now due: for each standing hearing, the smallest offset whose
        time has come (an older one that was missed is not sent late as well), to each
        subscriber of its topic and each RSVP. Idempotent by (hearing, version, offset,
        citizen). Returns how many rows it offered (those queued before are passed over)."""
        now = self.clock.now()
        queued = 0
        for hearing in await self.store.hearings.upcoming(now=now, limit=1000):
            due = [
                m
                for m in hearing.reminder_minutes
                if hearing.starts_at - timedelta(minutes=m) <= now
            ]
            if not due:
                continue
            minutes = min(due)
            recipients = await self.store.hearings.recipients(
                topic=hearing.topic, hearing_id=hearing.id
            )
            messages = [
                NewOutboxMessage(
                    channel=citizen.channel,
                    recipient=citizen.user_key,
                    kind="hearing_reminder",
                    payload={
                        "hearing_id": hearing.id,
                        "version": hearing.version,
                        "starts_at": to_db(hearing.starts_at),
                        "minutes": minutes,
                        "citizen_id": citizen.id,
                    },
                    citizen_id=citizen.id,
                    dedupe_key=reminder_key(hearing.id, hearing.version, minutes, citizen.id),
                )
                for citizen in recipients
            ]
            for start in range(0, len(messages), self.batch):
                queued += (
                    await self.store.outbox.add(
                        messages=messages[start : start + self.batch], now=now
                    )
                    or 0
                )
        return queued
