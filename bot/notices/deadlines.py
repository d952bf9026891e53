"""What the deadline watch, the morning digest and the follow-up say, rendered when sent: a
reminder or an escalation that no longer applies (the step was done, the date moved) is
dropped, not sent; the digest counts what is due at the moment it goes out.

Reminders and escalations are posted as replies to the complaint's card in its group, so the
card's thread shows that it is near or past its deadline. A reply, not an edit of the card:
Telegram notifies nobody of an edit, and a card scrolled far up would change unseen; a reply
notifies the group and links back to the card with one tap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.dialogs.events import Option, Rendered, Reply
from bot.domain.complaints import ANSWERED, ComplaintService
from bot.domain.deadlines import DeadlinePlanner
from bot.i18n import I18n, Texts
from bot.notices.complaints import DEADLINE_LABELS, STATUS_LABELS, ComplaintNotices
from bot.storage.deadlines import GroupScope, RunningDeadline
from bot.storage.store import Store

FOLLOW_UP_PREFIX = "fu:"
LIST_LIMIT = (
    100  # /overdue and /due list at most this many, and say so  # fu:<yes|no|dk>:<answer event id>
)


@dataclass(frozen=True)
class DeadlineReport:
    """Counts for one group at a moment, and the most urgent running deadlines."""

    overdue: int
    due_today: int
    due_soon: int
    urgent: list[RunningDeadline]


class DeadlineNotices:
    """Renderers of 'deadline_reminder', 'deadline_escalation', 'deadline_digest' and
    'follow_up', and the operators' /overdue, /due and /complaint answers."""

    def __init__(
        self,
        store: Store,
        i18n: I18n,
        complaints: ComplaintNotices,
        service: ComplaintService,
        planner: DeadlinePlanner,
        clock: Clock,
        *,
        soon_working_days: int,
        max_items: int,
    ) -> None:
        self.store = store
        self.i18n = i18n
        self.complaints = complaints
        self.service = service
        self.planner = planner
        self.clock = clock
        self.soon_working_days = soon_working_days
        self.max_items = max_items

    def _texts(self) -> Texts:
        return self.complaints.operator_texts()

    async def _card_reply_to(self, complaint_id: int) -> int | None:
        return await self.store.outbox.message_id_of(dedupe_key=f"operator_card:{complaint_id}")

    async def _still_due(self, payload: dict):
        """The complaint and its deadline when the deadline still runs with the same date."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        deadline = await self.store.deadlines.get(
            complaint_id=payload["complaint_id"], kind=payload["kind"]
        )
        if complaint is None or deadline is None or deadline.met_at is not None:
            return None, None
        if deadline.due_at.isoformat() != payload["due_at"]:
            return None, None
        return complaint, deadline

    async def render_reminder(self, payload: dict) -> Rendered:
        """'deadline_reminder': to the complaint's group, as a reply to its card."""
        complaint, deadline = await self._still_due(payload)
        if complaint is None:
            return Rendered([])
        t = self._texts()
        _ = t.gettext
        left = self.planner.working_days_between(self.clock.now(), deadline.due_at)
        text = _(
            "⏰ Complaint No. {number}: the deadline for {deadline} is {date} "
            "(working days left: {left}). Status: {status}."
        ).format(
            number=complaint.reg_number,
            deadline=_(DEADLINE_LABELS[deadline.kind]),
            date=t.date(deadline.due_at),
            left=left,
            status=_(STATUS_LABELS[complaint.status]),
        )
        reply_to = await self._card_reply_to(complaint.id)
        return Rendered([Reply(text=text, reply_to=reply_to)])

    async def render_escalation(self, payload: dict) -> Rendered:
        """'deadline_escalation': to the supervisors' chat (or the group), once per date."""
        complaint, deadline = await self._still_due(payload)
        if complaint is None:
            return Rendered([])
        t = self._texts()
        _ = t.gettext
        text = _(
            "🚨 Complaint No. {number} is overdue: the deadline for {deadline} was {date}. "
            "Status: {status}. /complaint {number} shows its history."
        ).format(
            number=complaint.reg_number,
            deadline=_(DEADLINE_LABELS[deadline.kind]),
            date=t.date(deadline.due_at),
            status=_(STATUS_LABELS[complaint.status]),
        )
        in_group = payload.get("in_group", False)
        reply_to = await self._card_reply_to(complaint.id) if in_group else None
        return Rendered([Reply(text=text, reply_to=reply_to)])

    async def report(self, group: GroupScope, now: datetime) -> DeadlineReport:
        """Counts of overdue, due today and due soon (working days) running deadlines of one
        group, and the most urgent of them; bounded work whatever the store holds."""
        end_of_today = self.planner.working_days_until(now, 0)
        soon = self.planner.working_days_until(now, self.soon_working_days)
        overdue, today, within = await self.store.deadlines.count_before(
            bounds=[now, end_of_today, soon], group=group
        )
        urgent = await self.store.deadlines.running_before(
            moment=soon, group=group, limit=self.max_items
        )
        return DeadlineReport(overdue, today - overdue, within - today, urgent)

    def _lines(self, t: Texts, deadlines: list[RunningDeadline], now: datetime) -> list[str]:
        _ = t.gettext
        lines = []
        for item in deadlines:
            template = (
                _("• No. {number}: {deadline}, overdue since {date}")
                if item.due_at < now
                else _("• No. {number}: {deadline}, due {date}")
            )
            lines.append(
                template.format(
                    number=item.reg_number,
                    deadline=_(DEADLINE_LABELS[item.kind]),
                    date=t.date(item.due_at),
                )
            )
        return lines

    async def render_digest(self, payload: dict) -> Rendered:
        """'deadline_digest': the morning digest of one group, as things stand when sent."""
        now = self.clock.now()
        group = GroupScope(payload["group"], payload.get("is_default", False))
        report = await self.report(group, now)
        t = self._texts()
        _ = t.gettext
        lines = [
            _("Deadlines on {date}").format(date=t.date(now)),
            _("Overdue: {count}").format(count=report.overdue),
            _("Due today: {count}").format(count=report.due_today),
            _("Due within {days} working days: {count}").format(
                days=self.soon_working_days, count=report.due_soon
            ),
        ]
        if report.urgent:
            lines += ["", _("Most urgent:"), *self._lines(t, report.urgent, now)]
        total = report.overdue + report.due_today + report.due_soon
        if total > len(report.urgent):
            lines += ["", _("/overdue and /due show the full lists.")]
        if not total:
            lines += ["", _("Nothing is due soon. Well done.")]
        return Rendered([Reply(text="\n".join(lines))])

    async def overdue_text(self, group: GroupScope | None) -> str:
        """/overdue: running deadlines already past, most overdue first."""
        now = self.clock.now()
        t = self._texts()
        _ = t.gettext
        items = await self.store.deadlines.running_before(
            moment=now, group=group, limit=LIST_LIMIT + 1
        )
        if not items:
            return _("No deadline has passed.")
        return "\n".join(
            [_("Overdue:"), *self._lines(t, items[:LIST_LIMIT], now), *self._more(t, items)]
        )

    async def due_text(self, group: GroupScope | None) -> str:
        """/due: running deadlines due within the next working days."""
        now = self.clock.now()
        t = self._texts()
        _ = t.gettext
        soon = self.planner.working_days_until(now, self.soon_working_days)
        items = await self.store.deadlines.running_before(
            moment=soon, group=group, limit=LIST_LIMIT + 1, after=now
        )
        if not items:
            return _("Nothing is due within {days} working days.").format(
                days=self.soon_working_days
            )
        header = _("Due within {days} working days:").format(days=self.soon_working_days)
        return "\n".join([header, *self._lines(t, items[:LIST_LIMIT], now), *self._more(t, items)])

    @staticmethod
    def _more(t: Texts, items: list) -> list[str]:
        """A line saying the list was cut, when it was."""
        if len(items) <= LIST_LIMIT:
            return []
        return [t.gettext("…and more: the {count} most urgent are shown.").format(count=LIST_LIMIT)]

    async def complaint_text(self, complaint_id: int) -> str:
        """/complaint 26-00042: the card, its history and its deadlines."""
        complaint = await self.store.complaints.get(complaint_id=complaint_id)
        t = self._texts()
        _ = t.gettext
        lines = [self.complaints.operator_card(complaint).text, "", _("History:")]
        for event in await self.store.complaints.events(complaint_id=complaint_id):
            who = _("the citizen") if event.actor == "citizen" else (event.actor_name or "")
            line = f"{t.datetime(event.created_at)} — {_(STATUS_LABELS[event.new_status])}"
            line += f" ({who})" if who else ""
            lines.append(line + (f": {event.note}" if event.note else ""))
        lines += ["", _("Deadlines:")]
        now = self.clock.now()
        for deadline in await self.store.deadlines.of_complaint(complaint_id=complaint_id):
            if deadline.met_at is not None:
                state = _("met {date}").format(date=t.date(deadline.met_at))
            elif deadline.due_at < now:
                state = _("overdue")
            else:
                state = _("running")
            lines.append(
                f"• {_(DEADLINE_LABELS[deadline.kind])}: {t.date(deadline.due_at)} — {state}"
            )
        return "\n".join(lines)

    async def render_follow_up(self, payload: dict) -> Rendered:
        """'follow_up': "Has the problem been solved?" with yes / no / don't know, answerable
        whenever pressed; dropped if the complaint moved on before it went out."""
        complaint = await self.store.complaints.get(complaint_id=payload["complaint_id"])
        follow_up = await self.store.deadlines.follow_up(event_id=payload["event_id"])
        if complaint is None or follow_up is None or complaint.status != ANSWERED:
            return Rendered([])
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        t = self.i18n.texts((citizen and citizen.locale) or complaint.locale)
        _ = t.gettext
        event = await self.store.complaints.event(event_id=follow_up.event_id)
        text = _(
            "Your complaint No. {number} was answered on {date}. Has the problem been solved?"
        ).format(number=complaint.reg_number, date=t.date(event.created_at))
        key = follow_up.event_id
        options = (
            Option(f"{FOLLOW_UP_PREFIX}yes:{key}", _("✅ Yes, solved")),
            Option(f"{FOLLOW_UP_PREFIX}no:{key}", _("❌ No, not solved")),
            Option(f"{FOLLOW_UP_PREFIX}dk:{key}", _("🤷 I don't know yet")),
        )
        variables = {"1": complaint.reg_number, "2": _(STATUS_LABELS[ANSWERED])}
        return Rendered([Reply(text=text, options=options)], variables)

    def renderers(self) -> dict:
        return {
            "deadline_reminder": self.render_reminder,
            "deadline_escalation": self.render_escalation,
            "deadline_digest": self.render_digest,
            "follow_up": self.render_follow_up,
        }
