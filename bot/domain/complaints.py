"""Complaints: the status model, registration, receipt codes, and operator actions.

Channel-neutral. Everything a citizen or an operator must be told afterwards is queued in the
outbox in the same transaction as the change itself, so nothing is lost between the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.content import Content
from bot.dialogs.events import Reply
from bot.domain.deadlines import (
    ACKNOWLEDGEMENT,
    ANSWER,
    FORWARDING,
    REGISTRATION,
    Deadline,
    DeadlinePlanner,
    Extension,
)
from bot.storage.complaint_messages import ADDITION, QUESTION, ComplaintMessage
from bot.storage.complaint_messages import ANSWER as ANSWER_MESSAGE
from bot.storage.models import (
    Citizen,
    Complaint,
    MediaFile,
    NewComplaint,
    NewOutboxMessage,
    Photo,
    Step,
)
from bot.storage.store import Store

REGISTERED = "registered"
ACCEPTED = "accepted"
FORWARDED = "forwarded"
IN_PROGRESS = "in_progress"
EXTENDED = "extended"
ANSWERED = "answered"
RESOLVED = "resolved"
REJECTED = "rejected"
REOPENED = "reopened"
WITHDRAWN = "withdrawn"

_WORKING = (ACCEPTED, FORWARDED, IN_PROGRESS, EXTENDED, ANSWERED, REJECTED, WITHDRAWN)
# The one place that says which status may follow which (operators, the citizen and the
# follow-up alike; who may take which step is said in OPERATOR_ACTIONS and the dialogs).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    REGISTERED: _WORKING,
    ACCEPTED: tuple(s for s in _WORKING if s != ACCEPTED),
    FORWARDED: (IN_PROGRESS, EXTENDED, ANSWERED, REJECTED, WITHDRAWN),
    IN_PROGRESS: (FORWARDED, EXTENDED, ANSWERED, REJECTED, WITHDRAWN),
    EXTENDED: (FORWARDED, IN_PROGRESS, EXTENDED, ANSWERED, REJECTED, WITHDRAWN),
    REOPENED: _WORKING,
    ANSWERED: (RESOLVED, REOPENED),
    RESOLVED: (),
    REJECTED: (),
    WITHDRAWN: (),
}
# Open: still waiting for an answer on the merits (deadlines run, the citizen may add to it).
OPEN_STATUSES = (REGISTERED, ACCEPTED, FORWARDED, IN_PROGRESS, EXTENDED, REOPENED)
CLOSED_STATUSES = (RESOLVED, REJECTED, WITHDRAWN)
# Statuses an operator can only set together with a text for the citizen (for "forwarded":
# the competent body it went to; for "extended": the new date and the reason).
NEEDS_TEXT = frozenset({FORWARDED, ANSWERED, REJECTED, EXTENDED})

# Operator button ids: "op:<action>:<complaint id>"; the action names the target status.
OPERATOR_ACTIONS = {
    "accept": ACCEPTED,
    "forward": FORWARDED,
    "progress": IN_PROGRESS,
    "extend": EXTENDED,
    "answer": ANSWERED,
    "reject": REJECTED,
    "resolve": RESOLVED,
}

# Which deadlines a status meets: acknowledging, forwarding or working on a complaint
# acknowledges it and settles where it is handled; an answer or a closing ends them all.
_ALL = (REGISTRATION, ACKNOWLEDGEMENT, FORWARDING, ANSWER)
MEETS: dict[str, tuple[str, ...]] = {
    ACCEPTED: (ACKNOWLEDGEMENT, FORWARDING),
    FORWARDED: (ACKNOWLEDGEMENT, FORWARDING),
    IN_PROGRESS: (ACKNOWLEDGEMENT, FORWARDING),
    EXTENDED: (ACKNOWLEDGEMENT, FORWARDING),
    ANSWERED: _ALL,
    RESOLVED: _ALL,
    REJECTED: _ALL,
    WITHDRAWN: _ALL,
}

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CYRILLIC_LOOKALIKES = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def group_message(
    group: str, kind: str, replies: list[Reply], dedupe: str | None = None, **extra
) -> NewOutboxMessage:
    """A message for an operator group (a note, a prompt, a command's answer)."""
    payload = {"replies": [reply.to_dict() for reply in replies], **extra}
    return NewOutboxMessage("telegram", group, kind, payload, dedupe_key=dedupe)


def new_receipt_code() -> str:
    """Eight unambiguous characters shown as XXXX-XXXX (about 40 bits)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_receipt_code(typed: str) -> str:
    """Accept lower case, spaces, dashes, and Cyrillic look-alikes typed on a Russian layout."""
    upper = typed.upper().translate(_CYRILLIC_LOOKALIKES)
    raw = "".join(ch for ch in upper if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


def hash_receipt(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(normalize_receipt_code(code).encode(), salt=salt, **_SCRYPT)


def normalize_reg_number(typed: str) -> str:
    """'26-42', '26 00042', '№26-00042' all become '26-00042'; anything else is returned
    stripped. Decimal digits of any script count ('٢٦-٤٢'); '²' or '①' are not digits here."""
    # int() of one decimal character gives its ASCII digit whatever the script
    ascii_digits = "".join(str(int(ch)) if ch.isdecimal() else " " for ch in typed)
    digits = ascii_digits.split()
    if len(digits) == 2 and len(digits[0]) == 2 and 0 < len(digits[1]) <= 7:
        return f"{digits[0]}-{int(digits[1]):05d}"
    if len(digits) == 1 and len(digits[0]) == 7:
        return f"{digits[0][:2]}-{digits[0][2:]}"
    return typed.strip()


async def issue_receipt() -> tuple[str, bytes, bytes]:
    """A new receipt code with its salt and scrypt hash (hashed off the event loop)."""
    code = new_receipt_code()
    salt = secrets.token_bytes(16)
    return code, salt, await asyncio.to_thread(hash_receipt, code, salt)


@dataclass(frozen=True)
class Draft:
    """What the citizen entered, as collected by the complaint dialog."""

    category: str
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    photos: list[Photo]
    is_anonymous: bool
    full_name: str | None
    phone: str | None
    contact_address: str | None
    media: list[MediaFile] = field(default_factory=list)  # videos, and a voice description


@dataclass(frozen=True)
class OperatorRef:
    """Who acts: a Telegram user id (0 for the local console) and a display name."""

    id: int
    name: str

    @property
    def actor(self) -> str:
        return f"operator:{self.id}"


@dataclass(frozen=True)
class CitizenRef:
    """The citizen acting on their own complaint (withdrawing it, answering the follow-up)."""

    actor: str = "citizen"
    name: str = ""
    citizen_id: int | None = None  # the chat that acted, when not surely the complaint's own


CITIZEN = CitizenRef()
Actor = OperatorRef | CitizenRef


def parse_extension(text: str, tz: ZoneInfo) -> tuple[datetime | None, str]:
    """ "25.12.2026 the reason" -> (that day in `tz`, "the reason"); (None, text) without a
    valid date first (also 25/12/2026 and 2026-12-25)."""
    match = _EXTENSION_DATE.match(text.strip())
    if match is None:
        return None, text.strip()
    day, month, year = match.group("d", "m", "y")
    if match.group("iso"):
        year, month, day = match.group("iso").split("-")
    try:
        moment = datetime(int(year), int(month), int(day), tzinfo=tz)
    except ValueError:
        return None, text.strip()
    return moment, text.strip()[match.end() :].strip(" \t\n,;:—-")


_EXTENSION_DATE = re.compile(
    r"(?:(?P<iso>\d{4}-\d{1,2}-\d{1,2})|(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4}))(?!\d)",
    re.ASCII,
)


@dataclass(frozen=True)
class ChangeResult:
    ok: bool
    complaint: Complaint | None
    # when not ok: "not_found", "not_allowed", "stale", "needs_text"; for an extension also
    # "bad_date", "not_later", "too_long"
    reason: str = ""


class ComplaintService:
    """Registers complaints and applies operator actions; builds what each party is told."""

    def __init__(
        self,
        store: Store,
        content: Content,
        *,
        clock: Clock,
        tz: ZoneInfo,
        planner: DeadlinePlanner,
        follow_up_after: timedelta,
        operator_chat_id: int | None,
        operator_channel: str = "telegram",
        operator_recipient: str | None = None,
    ) -> None:
        self.store = store
        self.content = content
        self.clock = clock
        self.tz = tz
        self.planner = planner
        self.follow_up_after = follow_up_after
        self.operator_chat_id = operator_chat_id
        self.operator_channel = operator_channel
        self.operator_recipient = operator_recipient

    async def register(
        self,
        citizen: Citizen,
        draft: Draft,
        locale: str,
        *,
        draft_key: str | None = None,
        receipt_by_outbox: bool = False,
        step: Step | None = None,
    ) -> tuple[Complaint, str, bool]:
        """Store the complaint and queue its operator card (and, with `receipt_by_outbox`, the
        citizen's receipt); `step` is written in the same transaction. Returns the complaint,
        its receipt code and True; or an earlier complaint of the same `draft_key`, an empty
        code and False."""
        now = self.clock.now()
        deadlines = self.planner.at_registration(now)
        code, salt, digest = await issue_receipt()
        notify = []
        group = self.operator_recipient or self.content.operator_chat_for(
            draft.category, self.operator_chat_id
        )
        if group is not None:
            notify.append(
                NewOutboxMessage(
                    channel=self.operator_channel,
                    recipient=str(group),
                    kind="operator_card",
                    payload={"complaint_id": None},
                    dedupe_key="operator_card:{complaint_id}",
                )
            )
        if receipt_by_outbox:
            notify.append(self._receipt_message(citizen, None, code))
        complaint, created = await self.store.complaints.create(
            NewComplaint(
                year=now.astimezone(self.tz).year,
                citizen_id=citizen.id,
                category=draft.category,
                description=draft.description,
                address=draft.address,
                latitude=draft.latitude,
                longitude=draft.longitude,
                is_anonymous=draft.is_anonymous,
                full_name=None if draft.is_anonymous else draft.full_name,
                phone=None if draft.is_anonymous else draft.phone,
                contact_address=None if draft.is_anonymous else draft.contact_address,
                receipt_salt=salt,
                receipt_hash=digest,
                locale=locale,
                status=REGISTERED,
                due_at=deadlines[-1].due_at,
                photos=draft.photos,
                draft_key=draft_key,
                operator_group=None if group is None else str(group),
                media=draft.media,
            ),
            now=now,
            notify=notify,
            step=step,
            deadlines=deadlines,
        )
        return complaint, code if created else "", created

    def _receipt_message(
        self, citizen: Citizen, complaint_id: int | None, code: str
    ) -> NewOutboxMessage:
        """The receipt for the citizen's chat, rendered when sent (`render_receipt`); the
        code is blanked from the row once it is delivered."""
        return NewOutboxMessage(
            channel=citizen.channel,
            recipient=citizen.user_key,
            citizen_id=citizen.id,
            kind="receipt",
            payload={"complaint_id": complaint_id, "code": code, "secret": True},
        )

    async def backfill_deadlines(self) -> int:
        """Give open complaints stored before deadlines were kept their deadlines: counted from
        registration on the calendar, the answer due on the date they were given; the steps
        their status shows done are met. Returns how many complaints got them."""
        done = 0
        for complaint in await self.store.complaints.open_without_deadlines(
            open_statuses=OPEN_STATUSES
        ):
            planned = self.planner.at_registration(complaint.created_at)[:-1]
            met = MEETS.get(ACCEPTED, ()) if complaint.status != REGISTERED else ()
            deadlines = [
                replace(d, met_at=d.met_at or (complaint.updated_at if d.kind in met else None))
                for d in planned
            ]
            due = complaint.due_at
            deadlines.append(Deadline(ANSWER, due, self.planner.remind_at(due)))
            done += await self.store.deadlines.backfill(
                complaint_id=complaint.id,
                deadlines=deadlines,
                operator_group=self.group_of(complaint),
            )
        return done

    async def verify_receipt(self, reg_number: str, code: str) -> Complaint | None:
        """The complaint if the number exists and the code matches it; otherwise None."""
        complaint = await self.store.complaints.by_number(
            reg_number=normalize_reg_number(reg_number)
        )
        if complaint is None:
            await asyncio.to_thread(hash_receipt, code, b"0" * 16)  # same cost either way
            return None
        salt, stored = await self.store.complaints.receipt_of(complaint_id=complaint.id)
        digest = await asyncio.to_thread(hash_receipt, code, salt)
        return complaint if hmac.compare_digest(digest, stored) else None

    async def apply(
        self,
        complaint_id: int,
        new_status: str,
        actor: Actor,
        note: str | None = None,
        *,
        group: str | None = None,
        dedupe: str | None = None,
        step: Step | None = None,
        follow_up: tuple[int, str] | None = None,
    ) -> ChangeResult:
        """Move a complaint to `new_status` with all that follows, in one transaction: the
        deadlines it meets or sets anew, the follow-up after an answer, the citizen's notice in
        their language (not for the citizen's own steps: their dialog answers them) and the
        operator group's note (to `group`, keyed by `dedupe`; a citizen's step always tells the
        complaint's group). An extension's `note` starts with the new date ("25.12.2026 reason")."""
        complaint = await self.store.complaints.get(complaint_id=complaint_id)
        if complaint is None:
            return ChangeResult(False, None, "not_found")
        if new_status not in TRANSITIONS[complaint.status]:
            return ChangeResult(False, complaint, "not_allowed")
        note = note.strip() if note else None
        if new_status in NEEDS_TEXT and not note:
            return ChangeResult(False, complaint, "needs_text")
        now = self.clock.now()
        deadlines: list[Deadline] = []
        if new_status == EXTENDED:
            extension = await self._extension(complaint, note, now)
            if not extension.ok:
                return ChangeResult(False, complaint, extension.reason)
            deadlines, note = [extension.deadline], extension.reason
        elif new_status == REOPENED:
            deadlines = self.planner.at_reopening(now)
        notify = await self._notices(complaint, actor, group, dedupe)
        changed = await self.store.complaints.change_status(
            complaint_id=complaint.id,
            expected_status=complaint.status,
            new_status=new_status,
            actor=actor.actor,
            actor_name=actor.name,
            note=note,
            now=now,
            notify=notify,
            forwarded_to=note if new_status == FORWARDED else None,
            meets=MEETS.get(new_status, ()),
            deadlines=deadlines,
            follow_up_at=now + self.follow_up_after if new_status == ANSWERED else None,
            follow_up_outcome=follow_up,
            step=step,
        )
        updated = await self.store.complaints.get(complaint_id=complaint.id)
        return ChangeResult(changed, updated, "" if changed else "stale")

    async def _extension(self, complaint: Complaint, note: str | None, now: datetime) -> Extension:
        """The new answer deadline an operator asked for; the reason comes back in `reason`."""
        day, reason = parse_extension(note or "", self.tz)
        if day is None:
            return Extension(False, reason="bad_date")
        if not reason:
            return Extension(False, reason="needs_text")
        current = await self.store.deadlines.get(complaint_id=complaint.id, kind=ANSWER)
        if current is None:  # stored before deadlines were: its due date is the answer's
            current = Deadline(ANSWER, complaint.due_at, self.planner.remind_at(complaint.due_at))
        extension = self.planner.extend(current, day, now)
        return replace(extension, reason=reason) if extension.ok else extension

    async def _notices(
        self, complaint: Complaint, actor: Actor, group: str | None, dedupe: str | None
    ) -> list[NewOutboxMessage]:
        """The citizen's notice (ids only, rendered when sent) and the group's change note."""
        notify = []
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        own_step = actor.actor == CITIZEN.actor and getattr(actor, "citizen_id", None) in (
            None,
            complaint.citizen_id,
        )
        if citizen is not None and not own_step:  # the owner's own dialog answers them
            notify.append(
                NewOutboxMessage(
                    channel=citizen.channel,
                    recipient=citizen.user_key,
                    citizen_id=citizen.id,
                    kind="status_update",
                    payload={"complaint_id": complaint.id, "event_id": None},
                )
            )
        if group is None and actor.actor == CITIZEN.actor:
            group = self.group_of(complaint)
        if group is not None:
            payload = {"complaint_id": complaint.id, "event_id": None}
            notify.append(
                NewOutboxMessage(self.operator_channel, group, "change_note", payload, None, dedupe)
            )
        return notify

    def default_group(self) -> str | None:
        """The group of complaints registered before groups were stored, and of the rest."""
        group = self.operator_recipient or self.content.default_route or self.operator_chat_id
        return None if group is None else str(group)

    def operator_groups(self) -> list[str]:
        """Every operator group complaints can be routed to."""
        if self.operator_recipient is not None:
            return [str(self.operator_recipient)]
        return sorted(str(chat) for chat in self.content.operator_chats(self.operator_chat_id))

    def group_of(self, complaint: Complaint) -> str | None:
        """The operator group a complaint was routed to (by its category, when registered)."""
        if complaint.operator_group is not None:
            return complaint.operator_group
        group = self.operator_recipient or self.content.operator_chat_for(
            complaint.category, self.operator_chat_id
        )
        return None if group is None else str(group)

    async def add_from_citizen(
        self, complaint: Complaint, text: str | None, photos: list[str], step: Step
    ) -> int | None:
        """The citizen adds information or photos to an open complaint; the group gets it as
        a reply to the card, with nothing of who sent it."""
        return await self.store.complaint_messages.add(
            complaint_id=complaint.id,
            kind=ADDITION,
            body=text,
            photos=photos,
            now=self.clock.now(),
            notify=self._to_group(complaint, "complaint_addition"),
            step=step,
        )

    async def ask_citizen(
        self,
        complaint_id: int,
        text: str,
        operator: OperatorRef,
        *,
        dedupe: str | None = None,
    ) -> ChangeResult:
        """An operator's clarifying question, pushed to the citizen with an "Answer" button;
        only while the complaint is open."""
        complaint = await self.store.complaints.get(complaint_id=complaint_id)
        if complaint is None:
            return ChangeResult(False, None, "not_found")
        if complaint.status not in OPEN_STATUSES:
            return ChangeResult(False, complaint, "not_allowed")
        text = text.strip()
        if not text:
            return ChangeResult(False, complaint, "needs_text")
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        notify = []
        if citizen is not None:
            notify.append(
                NewOutboxMessage(
                    channel=citizen.channel,
                    recipient=citizen.user_key,
                    citizen_id=citizen.id,
                    kind="clarification",
                    payload={"message_id": None},
                )
            )
        added = await self.store.complaint_messages.add(
            complaint_id=complaint.id,
            kind=QUESTION,
            body=text,
            asked_by=operator.name,
            now=self.clock.now(),
            dedupe_key=dedupe,
            notify=notify,
        )
        return ChangeResult(added is not None, complaint, "" if added else "stale")

    async def answer_from_citizen(
        self, question: ComplaintMessage, text: str | None, photos: list[str], step: Step
    ) -> int | None:
        """The citizen's answer to a clarifying question, to the group under the card."""
        complaint = await self.store.complaints.get(complaint_id=question.complaint_id)
        return await self.store.complaint_messages.add(
            complaint_id=complaint.id,
            kind=ANSWER_MESSAGE,
            body=text,
            photos=photos,
            answers=question.id,
            now=self.clock.now(),
            dedupe_key=f"answer:{question.id}",
            notify=self._to_group(complaint, "clarification_answer"),
            step=step,
        )

    def _to_group(self, complaint: Complaint, kind: str) -> list[NewOutboxMessage]:
        group = self.group_of(complaint)
        if group is None:
            return []
        return [NewOutboxMessage(self.operator_channel, group, kind, {"message_id": None})]

    async def act_by_number(
        self, reg_number: str, action: str, operator: Actor, note: str | None = None
    ) -> ChangeResult:
        """Apply an operator action named by its word (accept, forward, ...) to a number."""
        status = OPERATOR_ACTIONS.get(action)
        complaint = await self.store.complaints.by_number(
            reg_number=normalize_reg_number(reg_number)
        )
        if status is None or complaint is None:
            return ChangeResult(False, complaint, "not_found")
        return await self.apply(complaint.id, status, operator, note)
