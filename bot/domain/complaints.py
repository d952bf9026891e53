"""Complaints: the status model, registration, receipt codes, and operator actions.

Channel-neutral. Everything a citizen or an operator must be told afterwards is queued in the
outbox in the same transaction as the change itself, so nothing is lost between the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.content import Content
from bot.dialogs.events import Option, Rendered, Reply
from bot.i18n import LANGUAGE_NAMES, N_, I18n, Texts
from bot.storage.models import Citizen, Complaint, NewComplaint, NewOutboxMessage, Photo, Step
from bot.storage.store import Store

REGISTERED = "registered"
ACCEPTED = "accepted"
FORWARDED = "forwarded"
IN_PROGRESS = "in_progress"
ANSWERED = "answered"
REJECTED = "rejected"

STATUS_LABELS = {
    REGISTERED: N_("registered"),
    ACCEPTED: N_("accepted for consideration"),
    FORWARDED: N_("forwarded to the competent body"),
    IN_PROGRESS: N_("in progress"),
    ANSWERED: N_("answered"),
    REJECTED: N_("rejected"),
}

# The one place that says which status may follow which.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    REGISTERED: (ACCEPTED, FORWARDED, IN_PROGRESS, ANSWERED, REJECTED),
    ACCEPTED: (FORWARDED, IN_PROGRESS, ANSWERED, REJECTED),
    FORWARDED: (IN_PROGRESS, ANSWERED, REJECTED),
    IN_PROGRESS: (FORWARDED, ANSWERED, REJECTED),
    ANSWERED: (),
    REJECTED: (),
}
OPEN_STATUSES = tuple(status for status, nxt in TRANSITIONS.items() if nxt)
# Statuses an operator can only set together with a text for the citizen (for "forwarded":
# the competent body it went to).
NEEDS_TEXT = frozenset({FORWARDED, ANSWERED, REJECTED})

# Operator button ids: "op:<action>:<complaint id>"; the action names the target status.
OPERATOR_ACTIONS = {
    "accept": ACCEPTED,
    "forward": FORWARDED,
    "progress": IN_PROGRESS,
    "answer": ANSWERED,
    "reject": REJECTED,
}
ACTION_LABELS = {
    "accept": N_("✅ Accept"),
    "forward": N_("📨 Forwarded"),
    "progress": N_("🔧 In progress"),
    "answer": N_("💬 Answer"),
    "reject": N_("⛔ Reject"),
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


def due_date(created: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The end of the local day `days` calendar days after registration (Law No. 67: 14 days)."""
    local_day = created.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(local_day, time(23, 59, 59), tzinfo=tz)


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


@dataclass(frozen=True)
class OperatorRef:
    """Who acts: a Telegram user id (0 for the local console) and a display name."""

    id: int
    name: str

    @property
    def actor(self) -> str:
        return f"operator:{self.id}"


@dataclass(frozen=True)
class ChangeResult:
    ok: bool
    complaint: Complaint | None
    reason: str = ""  # "not_found", "not_allowed", "stale" when not ok


class ComplaintService:
    """Registers complaints and applies operator actions; builds what each party is told."""

    def __init__(
        self,
        store: Store,
        i18n: I18n,
        content: Content,
        *,
        clock: Clock,
        tz: ZoneInfo,
        deadline_days: int,
        operator_chat_id: int | None,
        operator_locale: str,
        operator_channel: str = "telegram",
        operator_recipient: str | None = None,
    ) -> None:
        self.store = store
        self.i18n = i18n
        self.content = content
        self.clock = clock
        self.tz = tz
        self.deadline_days = deadline_days
        self.operator_chat_id = operator_chat_id
        self.operator_locale = operator_locale
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
                due_at=due_date(now, self.deadline_days, self.tz),
                photos=draft.photos,
                draft_key=draft_key,
            ),
            now=now,
            notify=notify,
            step=step,
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

    async def render_receipt(self, payload: dict) -> Rendered:
        """Outbox renderer for kind 'receipt', in the citizen's language of the moment."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        texts = self.i18n.texts((citizen and citizen.locale) or complaint.locale)
        return Rendered([Reply(text=self.receipt_text(texts, complaint, payload["code"]))])

    def receipt_text(self, t: Texts, complaint: Complaint, code: str) -> str:
        """The registration receipt: number, date, due date and the receipt code."""
        _ = t.gettext
        lines = [
            _("Your complaint is registered."),
            _("Registration number: {number}").format(number=complaint.reg_number),
            _("Date: {date}").format(date=t.date(complaint.created_at)),
            _("An answer is due by {date}.").format(date=t.date(complaint.due_at)),
            "",
            _("Receipt code: {code}").format(code=code),
            _(
                "Write the number and the code down: with them you can check the complaint "
                "from any device. We keep only a fingerprint of the code, so nobody can show "
                "it to you again; in this chat, «My complaints» can give you a new one."
            ),
            _("You will get a message here every time the status changes."),
        ]
        return "\n".join(lines)

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
        operator: OperatorRef,
        note: str | None = None,
        *,
        group: str | None = None,
        dedupe: str | None = None,
    ) -> ChangeResult:
        """Move a complaint to `new_status` and queue the citizen's notice in their language;
        with `group`, also the one-line note for that operator group, in the same transaction
        (`dedupe` keys it to the operator's update, so a redelivered press posts it once)."""
        complaint = await self.store.complaints.get(complaint_id=complaint_id)
        if complaint is None:
            return ChangeResult(False, None, "not_found")
        if new_status not in TRANSITIONS[complaint.status]:
            return ChangeResult(False, complaint, "not_allowed")
        note = note.strip() if note else None
        if new_status in NEEDS_TEXT and not note:
            return ChangeResult(False, complaint, "needs_text")
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        notify = [self._status_notice(complaint, new_status, note, citizen)]
        if group is not None:
            payload = {"complaint_id": complaint.id, "event_id": None}
            notify.append(NewOutboxMessage("telegram", group, "change_note", payload, None, dedupe))
        changed = await self.store.complaints.change_status(
            complaint_id=complaint.id,
            expected_status=complaint.status,
            new_status=new_status,
            actor=operator.actor,
            actor_name=operator.name,
            note=note,
            now=self.clock.now(),
            notify=[message for message in notify if message],
            forwarded_to=note if new_status == FORWARDED else None,
        )
        updated = await self.store.complaints.get(complaint_id=complaint.id)
        return ChangeResult(changed, updated, "" if changed else "stale")

    def group_of(self, complaint: Complaint) -> str | None:
        """The operator group a complaint is routed to (by its category)."""
        group = self.operator_recipient or self.content.operator_chat_for(
            complaint.category, self.operator_chat_id
        )
        return None if group is None else str(group)

    def _status_notice(
        self, complaint: Complaint, new_status: str, note: str | None, citizen: Citizen | None
    ) -> NewOutboxMessage | None:
        """The citizen's notice of a change: only ids, rendered when sent (`render_status`)."""
        if citizen is None:
            return None
        return NewOutboxMessage(
            channel=citizen.channel,
            recipient=citizen.user_key,
            citizen_id=citizen.id,
            kind="status_update",
            payload={"complaint_id": complaint.id, "event_id": None},
        )

    async def render_status(self, payload: dict) -> Rendered:
        """Outbox renderer for 'status_update': the change as stored, in the citizen's language
        of the moment, with the due date as it stands; the WhatsApp template's variables are the
        number and the new status."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        event = await self.store.complaints.event(event_id=payload["event_id"])
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        t = self.i18n.texts((citizen and citizen.locale) or complaint.locale)
        _ = t.gettext
        status, note = event.new_status, event.note
        lines = [
            _("Your complaint No. {number}: the status is now «{status}».").format(
                number=complaint.reg_number, status=_(STATUS_LABELS[status])
            )
        ]
        if status == ANSWERED:
            lines.append(_("Answer from the operator:") + "\n" + (note or ""))
        elif status == REJECTED:
            lines.append(_("Reason:") + " " + (note or ""))
        elif status == FORWARDED:
            lines.append(_("Forwarded to: {body}").format(body=note or "—"))
        elif note:
            lines.append(_("Note from the operator:") + "\n" + note)
        if status in OPEN_STATUSES:
            lines.append(_("An answer is due by {date}.").format(date=t.date(complaint.due_at)))
        variables = {"1": complaint.reg_number, "2": _(STATUS_LABELS[status])}
        return Rendered([Reply(text="\n\n".join(lines))], variables)

    async def render_change_note(self, payload: dict) -> Rendered:
        """Outbox renderer for 'change_note': the operator group's line about a change."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        event = await self.store.complaints.event(event_id=payload["event_id"])
        text = self.change_note(complaint, event.new_status, event.actor_name or "", event.note)
        return Rendered([Reply(text=text)])

    def operator_texts(self) -> Texts:
        return self.i18n.texts(self.operator_locale)

    def operator_card(self, complaint: Complaint, citizen: Citizen | None = None) -> Reply:
        """The message operators see: everything but the identity of an anonymous reporter."""
        t = self.operator_texts()
        _ = t.gettext
        category = self.content.category(complaint.category)
        lines = [
            _("Complaint No. {number}").format(number=complaint.reg_number),
            _("Category: {category}").format(
                category=category.label(t.locale) if category else complaint.category
            ),
            _("Status: {status}").format(status=_(STATUS_LABELS[complaint.status])),
            _("Registered: {date}").format(date=t.datetime(complaint.created_at)),
            _("Answer due: {date}").format(date=t.date(complaint.due_at)),
        ]
        if complaint.address:
            lines.append(_("Place: {address}").format(address=complaint.address))
        if complaint.latitude is not None:
            lines.append(
                _("Location: {lat:.5f}, {lon:.5f}").format(
                    lat=complaint.latitude, lon=complaint.longitude
                )
            )
        if complaint.photos:
            lines.append(_("Photos: {count}").format(count=len(complaint.photos)))
        if complaint.is_anonymous:
            lines.append(_("Anonymous report: the sender's identity is protected."))
        else:
            lines.append(
                _("Applicant: {name}, phone {phone}, address {address}").format(
                    name=complaint.full_name,
                    phone=complaint.phone,
                    address=complaint.contact_address,
                )
            )
        lines.append(_("Written in: {language}").format(language=LANGUAGE_NAMES[complaint.locale]))
        lines.append("")
        lines.append(complaint.description)
        options = tuple(
            Option(f"op:{action}:{complaint.id}", _(ACTION_LABELS[action]))
            for action, status in OPERATOR_ACTIONS.items()
            if status in TRANSITIONS[complaint.status]
        )
        return Reply(text="\n".join(lines), options=options)

    async def render_card_payload(self, payload: dict) -> Rendered:
        """Outbox renderer for kind 'operator_card': the card as the complaint stands now."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        return Rendered(self.operator_card_replies(complaint))

    def operator_card_replies(self, complaint: Complaint) -> list[Reply]:
        """Photos first (when any), then the card with its buttons."""
        replies = []
        if complaint.photos:
            replies.append(Reply(photos=tuple(p.path for p in complaint.photos)))
        if complaint.latitude is not None:
            replies.append(Reply(location=(complaint.latitude, complaint.longitude)))
        replies.append(self.operator_card(complaint))
        return replies

    def change_note(self, complaint: Complaint, new_status: str, who: str, note: str | None) -> str:
        """A line for the operator group: what changed, by whom, and the note."""
        _ = self.operator_texts().gettext
        text = _("No. {number}: «{status}», set by {who}.").format(
            number=complaint.reg_number, status=_(STATUS_LABELS[new_status]), who=who
        )
        if note:
            text += "\n" + note
            text += "\n" + _("The citizen will receive this in their language.")
        return text

    def operator_help(self) -> str:
        _ = self.operator_texts().gettext
        return (
            _(
                "Every new complaint appears here as a card with buttons.\n"
                "✅ Accept, 📨 Forwarded and 🔧 In progress change the status at once.\n"
                "💬 Answer and ⛔ Reject ask for a text: reply to the bot's question with it.\n"
                "The citizen is told about every change automatically, in their language.\n"
                "Anonymous reports never show who sent them."
            )
            + "\n\n"
            + _(
                "Questions the FAQ could not answer come as ❓ cards: press 💬 Answer and reply "
                "with the text.\n"
                "/queue shows what waits to be sent and why; /reload reloads the FAQ after its "
                "file was edited."
            )
        )

    async def act_by_number(
        self, reg_number: str, action: str, operator: OperatorRef, note: str | None = None
    ) -> ChangeResult:
        """Apply an operator action named by its word (accept, forward, ...) to a number."""
        status = OPERATOR_ACTIONS.get(action)
        complaint = await self.store.complaints.by_number(
            reg_number=normalize_reg_number(reg_number)
        )
        if status is None or complaint is None:
            return ChangeResult(False, complaint, "not_found")
        return await self.apply(complaint.id, status, operator, note)

    async def queue_deadline_digest(self, warn_days: int = 2) -> int:
        """Once a local day, tell each operator group which open complaints are due soon or late.

        Returns the number of complaints listed. The dedupe key makes repeated runs on the same
        day harmless.
        """
        now = self.clock.now()
        due = await self.store.complaints.open_due_before(
            moment=now + timedelta(days=warn_days), open_statuses=OPEN_STATUSES
        )
        by_group: dict[str, list[Complaint]] = {}
        for complaint in due:
            group = self.operator_recipient or self.content.operator_chat_for(
                complaint.category, self.operator_chat_id
            )
            if group is not None:
                by_group.setdefault(str(group), []).append(complaint)
        t = self.operator_texts()
        _ = t.gettext
        today = now.astimezone(self.tz).date().isoformat()
        messages = []
        for group, complaints in by_group.items():
            lines = [_("Deadlines: these complaints need an answer soon.")]
            for complaint in complaints:
                template = (
                    _("No. {number}: overdue since {date}")
                    if complaint.due_at < now
                    else _("No. {number}: due {date}")
                )
                lines.append(
                    "• "
                    + template.format(number=complaint.reg_number, date=t.date(complaint.due_at))
                )
            messages.append(
                NewOutboxMessage(
                    channel=self.operator_channel,
                    recipient=group,
                    kind="deadline_digest",
                    payload={"replies": [Reply(text="\n".join(lines)).to_dict()]},
                    dedupe_key=f"deadline_digest:{group}:{today}",
                )
            )
        await self.store.outbox.add(messages=messages, now=now)
        return len(due)
