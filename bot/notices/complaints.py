"""What citizens and operators read about complaints, rendered when the outbox sends it: the
receipt, status notices, the operator card and the group's change notes, in the reader's language
of the moment and from the complaint as it stands."""

from __future__ import annotations

from datetime import timedelta

from bot.content import Content
from bot.dialogs.events import Option, Rendered, Reply
from bot.domain.complaints import (
    ACCEPTED,
    ANSWERED,
    CITIZEN,
    EXTENDED,
    FORWARDED,
    IN_PROGRESS,
    OPEN_STATUSES,
    OPERATOR_ACTIONS,
    REGISTERED,
    REJECTED,
    REOPENED,
    RESOLVED,
    TRANSITIONS,
    WITHDRAWN,
    ChangeResult,
)
from bot.domain.deadlines import ACKNOWLEDGEMENT, ANSWER, FORWARDING, REGISTRATION
from bot.domain.recordings import VOICE_DESCRIPTION
from bot.domain.workdays import MAX_EXTENSION_DAYS
from bot.i18n import LANGUAGE_NAMES, N_, I18n, Texts
from bot.storage.models import Complaint
from bot.storage.store import Store

STATUS_LABELS = {
    REGISTERED: N_("registered"),
    ACCEPTED: N_("accepted for consideration"),
    FORWARDED: N_("forwarded to the competent body"),
    IN_PROGRESS: N_("in progress"),
    EXTENDED: N_("term extended"),
    ANSWERED: N_("answered"),
    RESOLVED: N_("resolved"),
    REJECTED: N_("rejected"),
    REOPENED: N_("reopened"),
    WITHDRAWN: N_("withdrawn by the citizen"),
}

ACTION_LABELS = {
    "accept": N_("✅ Accept"),
    "forward": N_("📨 Forwarded"),
    "progress": N_("🔧 In progress"),
    "extend": N_("⏳ Extend"),
    "answer": N_("💬 Answer"),
    "reject": N_("⛔ Reject"),
    "resolve": N_("☑️ Resolved"),
}

DEADLINE_LABELS = {
    REGISTRATION: N_("registration"),
    ACKNOWLEDGEMENT: N_("acknowledgement"),
    FORWARDING: N_("forwarding to the competent body"),
    ANSWER: N_("answer on the merits"),
}


def receipt_text(t: Texts, complaint: Complaint, code: str) -> str:
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


def description_text(t: Texts, complaint: Complaint) -> str:
    """The complaint's description to show: its text, or, for one told by voice, a line saying
    so in the reader's language (the voice message itself is sent with it)."""
    voice = complaint.voice
    if voice is not None and complaint.description == VOICE_DESCRIPTION:
        return t.gettext("🎤 The description is a voice message ({seconds} s), sent above.").format(
            seconds=round(voice.seconds)
        )
    return complaint.description


class ComplaintNotices:
    """Renderers of the complaint kinds of the outbox, and the operator card."""

    def __init__(
        self,
        store: Store,
        i18n: I18n,
        content: Content,
        operator_locale: str,
        remind_days: int = 2,
    ) -> None:
        self.store = store
        self.remind_days = remind_days  # DEADLINE_REMIND_WORKING_DAYS, for the help text
        self.i18n = i18n
        self.content = content
        self.operator_locale = operator_locale

    def operator_texts(self) -> Texts:
        return self.i18n.texts(self.operator_locale)

    async def render_receipt(self, payload: dict) -> Rendered:
        """Outbox renderer for kind 'receipt', in the citizen's language of the moment."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        texts = self.i18n.texts((citizen and citizen.locale) or complaint.locale)
        return Rendered([Reply(text=receipt_text(texts, complaint, payload["code"]))])

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
            lines.append(_("In a few days we will ask you whether the problem has been solved."))
        elif status == REJECTED:
            lines.append(_("Reason:") + " " + (note or ""))
        elif status == FORWARDED:
            lines.append(_("Forwarded to: {body}").format(body=note or "—"))
        elif status == EXTENDED:
            lines.append(_("Reason:") + " " + (note or ""))
            lines.append(_("The answer will come {until}.").format(until=t.until(complaint.due_at)))
        elif status == REOPENED:
            lines.append(_("It is being considered again."))
        elif status == WITHDRAWN:
            lines.append(
                _(
                    "It was withdrawn from another chat, with its number and receipt code. If "
                    "it was not you, please file the complaint again and keep the new receipt "
                    "code to yourself."
                )
            )
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
        _ = self.operator_texts().gettext
        who = event.actor_name or ""
        if event.actor == CITIZEN.actor:
            who = _("the citizen")
        from_citizen = event.actor == CITIZEN.actor
        text = self.change_note(complaint, event.new_status, who, event.note, from_citizen)
        if event.new_status == REOPENED and complaint.status == REOPENED:
            # the card's buttons ended at "answered": the note carries the ones allowed now
            return Rendered([Reply(text=text, options=self.operator_card(complaint).options)])
        if event.new_status == EXTENDED:
            text += "\n" + _("Answer due: {date}").format(
                date=self.operator_texts().date(complaint.due_at)
            )
        return Rendered([Reply(text=text)])

    def operator_card(self, complaint: Complaint) -> Reply:
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
        if complaint.videos:
            lines.append(_("Videos: {count}").format(count=len(complaint.videos)))
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
        lines.append(description_text(t, complaint))
        options = tuple(
            Option(f"op:{action}:{complaint.id}", _(ACTION_LABELS[action]))
            for action, status in OPERATOR_ACTIONS.items()
            if status in TRANSITIONS[complaint.status]
        )
        if complaint.status in OPEN_STATUSES:
            options += (Option(f"op:ask:{complaint.id}", _("❔ Ask the citizen")),)
        return Reply(text="\n".join(lines), options=options)

    async def render_card_payload(self, payload: dict) -> Rendered:
        """Outbox renderer for kind 'operator_card': the card as the complaint stands now."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        return Rendered(self.operator_card_replies(complaint))

    def operator_card_replies(self, complaint: Complaint) -> list[Reply]:
        """Photos and videos first (when any), the pin, the voice description, then the card
        with its buttons."""
        replies = []
        if complaint.photos:
            replies.append(Reply(photos=tuple(p.path for p in complaint.photos)))
        if complaint.videos:
            replies.append(Reply(videos=tuple(v.path for v in complaint.videos)))
        if complaint.latitude is not None:
            replies.append(Reply(location=(complaint.latitude, complaint.longitude)))
        if complaint.voice is not None:
            replies.append(Reply(voice=complaint.voice.path))
        replies.append(self.operator_card(complaint))
        return replies

    def change_note(
        self,
        complaint: Complaint,
        new_status: str,
        who: str,
        note: str | None,
        from_citizen: bool = False,
    ) -> str:
        """A line for the operator group: what changed, by whom, and the note."""
        _ = self.operator_texts().gettext
        text = _("No. {number}: «{status}», set by {who}.").format(
            number=complaint.reg_number, status=_(STATUS_LABELS[new_status]), who=who
        )
        if note:
            text += "\n" + note
            if not from_citizen:
                text += "\n" + _("The citizen will receive this in their language.")
        return text

    async def refusal(self, result: ChangeResult, new_status: str) -> str:
        """Why a step on a complaint was refused, for the operator who tried it."""
        t = self.operator_texts()
        _ = t.gettext
        complaint = result.complaint
        if complaint is None:
            return _("This button is no longer valid.")
        if result.reason == "not_allowed" and new_status not in STATUS_LABELS:
            return _(
                "Complaint No. {number} is «{status}»: questions can be asked only while it is "
                "open."
            ).format(number=complaint.reg_number, status=_(STATUS_LABELS[complaint.status]))
        if result.reason == "not_allowed":
            return _("Complaint No. {number} is «{status}»: it cannot become «{new}».").format(
                number=complaint.reg_number,
                status=_(STATUS_LABELS[complaint.status]),
                new=_(STATUS_LABELS.get(new_status, new_status)),
            )
        if result.reason in ("bad_date", "needs_text") and new_status == EXTENDED:
            return _(
                "Start with the new date, then the reason, e.g. «25.12.2026 an on-site check "
                "is needed». Nothing changed."
            )
        if result.reason in ("not_later", "too_long"):
            answer = await self.store.deadlines.get(complaint_id=complaint.id, kind=ANSWER)
            first = answer.first_due_at if answer else complaint.due_at
            return _(
                "The new date must be after {current} and at most 30 days after the first "
                "answer deadline, {first}: the latest possible date is {latest}. Nothing changed."
            ).format(
                current=t.date(complaint.due_at),
                first=t.date(first),
                latest=t.date(first + timedelta(days=MAX_EXTENSION_DAYS)),
            )
        if result.reason == "needs_text":
            return _("A text is needed for this step. Nothing changed.")
        return _("Nothing changed: the complaint is already past this step.")

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
            + "\n\n"
            + _(
                "⏳ Extend asks for the new date and the reason (at most 30 days beyond the answer "
                "deadline). ❔ Ask the citizen sends them a question; their answer and anything "
                "they add appear here under the card.\n"
                "Reminders come {days} working days before each deadline, and every working "
                "morning a digest. /overdue and /due list the deadlines of this group; "
                "/complaint 26-00042 "
                "shows one complaint with its history and deadlines."
            ).format(days=self.remind_days)
            + "\n\n"
            + _(
                "/stats shows the survey and complaint figures with a chart (/stats 30d, "
                "/stats 2026-01, /stats service NAME); /report shows how the last broadcast "
                "was delivered."
            )
        )
