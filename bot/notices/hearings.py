"""Hearing notices, announcements and broadcast reports, rendered when they are sent.

Each outbox row holds ids only (`hearing_id`, `broadcast_id`, `citizen_id`, and for a reminder
the hearing's `version` and `starts_at` it was computed for); the text comes from the hearing as
it stands and the recipient's language of that moment. Every notice carries the date, the time
and the place in its body, not only in a button or a calendar file. A reminder whose hearing
moved, was cancelled or was held is dropped (`Drop`), never sent.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from bot.dialogs.events import Document, Option, Rendered, Reply
from bot.domain.hearings import CANCELLED, HELD, Hearing, Topic
from bot.i18n import N_, I18n, Texts
from bot.outbound import Drop
from bot.storage.db import to_db

if TYPE_CHECKING:
    from bot.storage.broadcasts import Broadcast, BroadcastReport
    from bot.storage.hearings import Proposal
    from bot.storage.store import Store

ANNOUNCEMENTS_KEPT = 32  # (broadcast, language) pairs whose rendered announcement is kept
HEARING_PREFIX = "hearing:"  # options `hearing:<id>:<action>`, answered by the hearings dialog
HEADINGS = {
    "hearing_announcement": N_("📢 Public hearing: {title}"),
    "hearing_changed": N_("🔄 The public hearing has changed: {title}"),
    "hearing_reminder": N_("⏰ Reminder: public hearing «{title}»"),
    "open": N_("🏛 Public hearing: {title}"),
}


def when_and_where(hearing: Hearing, t: Texts) -> list[str]:
    _ = t.gettext
    return [
        _("🗓 When: {when}").format(when=t.datetime(hearing.starts_at)),
        _("📍 Where: {place}").format(place=hearing.text("place", t.locale)),
    ]


def hearing_body(hearing: Hearing, t: Texts, heading: str) -> str:
    """The full notice: what, when, where, who, materials, proposals (001: 2848-2858)."""
    _ = t.gettext
    locale = t.locale
    lines = [
        _(heading).format(title=hearing.text("title", locale)),
        hearing.text("question", locale),
        "\n".join(when_and_where(hearing, t)),
    ]
    who = _("👥 Who takes part: {participants}").format(
        participants=hearing.text("participants", locale)
    )
    if hearing.expected_participants:
        who += "\n" + _("About {count} participants are expected.").format(
            count=hearing.expected_participants
        )
    lines.append(who)
    materials = _("📄 Materials: {materials}").format(materials=hearing.text("materials", locale))
    if hearing.materials_url:
        materials += "\n" + hearing.materials_url
    lines.append(materials)
    lines.append(
        _("✍️ Proposals: {proposals}").format(proposals=hearing.text("proposals", locale))
        + "\n"
        + _("Proposals are accepted until: {deadline}").format(
            deadline=t.datetime(hearing.proposals_until)
        )
    )
    return "\n\n".join(lines)


def hearing_options(
    hearing: Hearing, t: Texts, *, coming: bool, now=None, menu: bool = False
) -> tuple[Option, ...]:
    """What a citizen can do under a standing hearing's notice."""
    _ = t.gettext
    if not hearing.stands:
        return (Option("nav:menu", _("🏠 Main menu")),) if menu else ()
    rsvp = (
        Option(f"{HEARING_PREFIX}{hearing.id}:unrsvp", _("↩️ I will not come after all"))
        if coming
        else Option(f"{HEARING_PREFIX}{hearing.id}:rsvp", _("✋ I will come"))
    )
    options = [rsvp, Option(f"{HEARING_PREFIX}{hearing.id}:ics", _("📅 Add to my calendar"))]
    if now is None or hearing.open_for_proposals(now):
        options.append(Option(f"{HEARING_PREFIX}{hearing.id}:propose", _("✍️ Send a proposal")))
    if menu:
        options.append(Option("nav:menu", _("🏠 Main menu")))
    return tuple(options)


def hearing_card(hearing: Hearing, t: Texts, *, coming: bool, now, menu: bool) -> Reply:
    """One hearing as the dialog shows it: the full notice, its state, what can be done."""
    _ = t.gettext
    text = hearing_body(hearing, t, HEADINGS["open"])
    if hearing.status == CANCELLED:
        text = _("❌ This public hearing was cancelled.") + "\n\n" + text
    elif hearing.status == HELD:
        text = _("This public hearing has already taken place.") + "\n\n" + text
    elif coming:
        text += "\n\n" + _("✅ You said you will come.")
    return Reply(
        text=text,
        options=hearing_options(hearing, t, coming=coming, now=now, menu=menu),
        location=hearing.location,
    )


def _channels(report: BroadcastReport) -> str:
    """ " (telegram: 8000, whatsapp: 2000)", or nothing when there are no recipients."""
    if not report.by_channel:
        return ""
    return " (" + ", ".join(f"{k}: {n}" for k, n in sorted(report.by_channel.items())) + ")"


def _variables(hearing: Hearing, t: Texts) -> dict[str, str]:
    """A WhatsApp template's variables: title, date and time, place."""
    return {
        "1": hearing.text("title", t.locale),
        "2": t.datetime(hearing.starts_at),
        "3": hearing.text("place", t.locale),
    }


class HearingNotices:
    """The renderers of the hearing and announcement kinds, and the operators' texts."""

    def __init__(
        self, store: Store, i18n: I18n, *, clock, default_locale: str, operator_locale: str,
        topics: tuple[Topic, ...],
    ) -> None:  # fmt: skip
        self.store = store
        self.i18n = i18n
        self.clock = clock
        self.default_locale = default_locale
        self.operator_locale = operator_locale
        self.topics = {topic.id: topic for topic in topics}
        # (broadcast id, locale) -> the announcement's reply and template variables
        self._announcements: OrderedDict[tuple[int, str], tuple[Reply, dict[str, str]]] = (
            OrderedDict()
        )

    def renderers(self) -> dict:
        return {
            "hearing_announcement": self.render_announcement,
            "hearing_changed": self.render_changed,
            "hearing_reminder": self.render_reminder,
            "hearing_cancelled": self.render_cancelled,
            "hearing_results": self.render_results,
            "announcement": self.render_general,
            "hearing_proposal": self.render_proposal,
            "broadcast_report": self.render_report,
        }

    async def _texts(self, payload: dict) -> Texts:
        locale = None
        if payload.get("citizen_id") is not None:
            locale = await self.store.citizens.locale_of(citizen_id=payload["citizen_id"])
        return self.i18n.texts(locale or self.default_locale)

    async def _hearing(self, payload: dict) -> Hearing:
        hearing = await self.store.hearings.get(hearing_id=payload["hearing_id"])
        if hearing is None:
            raise Drop("the hearing no longer exists")
        return hearing

    async def _coming(self, hearing: Hearing, payload: dict) -> bool:
        citizen_id = payload.get("citizen_id")
        if citizen_id is None:
            return False
        return await self.store.hearings.is_coming(hearing_id=hearing.id, citizen_id=citizen_id)

    async def _standing_notice(self, payload: dict, heading: str, intro: str | None) -> Rendered:
        hearing = await self._hearing(payload)
        t = await self._texts(payload)
        if not hearing.stands:
            raise Drop(f"the hearing is {hearing.status}")
        text = hearing_body(hearing, t, heading)
        if intro:
            text = t.gettext(intro) + "\n\n" + text
        coming = await self._coming(hearing, payload)
        options = hearing_options(hearing, t, coming=coming, now=self.clock.now())
        reply = Reply(text=text, options=options, location=hearing.location)
        return Rendered([reply], _variables(hearing, t))

    async def render_announcement(self, payload: dict) -> Rendered:
        """'hearing_announcement': the full notice with its buttons (bulk lane)."""
        return await self._standing_notice(payload, HEADINGS["hearing_announcement"], None)

    async def render_changed(self, payload: dict) -> Rendered:
        """'hearing_changed': the notice as it stands now; reminders follow the new time."""
        intro = N_("The time or the place of the public hearing has changed. Here it is now:")
        return await self._standing_notice(payload, HEADINGS["hearing_changed"], intro)

    async def render_reminder(self, payload: dict) -> Rendered:
        """'hearing_reminder': dropped when the hearing moved, was cancelled or was held since
        the reminder was computed (its version and start time no longer match)."""
        hearing = await self._hearing(payload)
        if hearing.version != payload["version"] or to_db(hearing.starts_at) != payload.get(
            "starts_at"
        ):
            raise Drop("the hearing moved after this reminder was computed")
        if hearing.starts_at <= self.clock.now():
            raise Drop("the hearing has started")
        return await self._standing_notice(payload, HEADINGS["hearing_reminder"], None)

    async def render_cancelled(self, payload: dict) -> Rendered:
        hearing = await self._hearing(payload)
        t = await self._texts(payload)
        _ = t.gettext
        text = "\n\n".join(
            [
                _("❌ The public hearing is cancelled: {title}").format(
                    title=hearing.text("title", t.locale)
                ),
                "\n".join(when_and_where(hearing, t)),
                _(
                    "It will not take place at this time. If a new date is set, we will "
                    "announce it."
                ),
            ]
        )
        return Rendered([Reply(text=text)], _variables(hearing, t))

    async def render_results(self, payload: dict) -> Rendered:
        hearing = await self._hearing(payload)
        if hearing.results is None:
            raise Drop("no results published")
        t = await self._texts(payload)
        text = await self.results_text(hearing, t)
        return Rendered([Reply(text=text)], _variables(hearing, t))

    async def results_text(self, hearing: Hearing, t: Texts) -> str:
        _ = t.gettext
        results = hearing.results
        received = await self.store.hearings.proposal_count(hearing_id=hearing.id)
        lines = [
            _("📋 Results of the public hearing: {title}").format(
                title=hearing.text("title", t.locale)
            ),
            "\n".join(when_and_where(hearing, t)),
            _("Decisions:")
            + "\n"
            + (results.summary.get(t.locale) or results.summary[self.default_locale]),
            _("Participants: {count}").format(count=results.participants)
            + "\n"
            + _("Proposals received: {received}; taken into account: {accepted}").format(
                received=received, accepted=results.proposals_accepted
            ),
        ]
        if results.protocol_url:
            lines.append(_("Protocol: {url}").format(url=results.protocol_url))
        return "\n\n".join(lines)

    async def render_general(self, payload: dict) -> Rendered:
        """'announcement': a general announcement in the citizen's language (read for every
        row, when it is sent), with its file. A broadcast's content never changes once written,
        so what it says in one language is made once and kept (ANNOUNCEMENTS_KEPT of them)."""
        t = await self._texts(payload)
        key = (payload["broadcast_id"], t.locale)
        made = self._announcements.get(key)
        if made is None:
            made = await self._announcement(payload["broadcast_id"], t)
            self._announcements[key] = made
            while len(self._announcements) > ANNOUNCEMENTS_KEPT:
                self._announcements.popitem(last=False)
        else:
            self._announcements.move_to_end(key)
        reply, variables = made
        return Rendered([reply], dict(variables))

    async def _announcement(self, broadcast_id: int, t: Texts) -> tuple[Reply, dict[str, str]]:
        broadcast = await self.store.broadcasts.get(broadcast_id=broadcast_id)
        data = broadcast.payload
        text = data["texts"].get(t.locale) or data["texts"][self.default_locale]
        document = None
        if data.get("document"):
            document = Document(data["document"]["name"], data["document"]["mime"],
                                path=data["document"]["path"])  # fmt: skip
        reply = Reply(
            text=t.gettext("📣 Announcement") + "\n\n" + text,
            photos=tuple([data["photo"]] if data.get("photo") else []),
            document=document,
        )
        # the hearing template's three variables: the text, and two that a notice fills with
        # the date and the place
        return reply, {"1": text[:900], "2": "—", "3": "—"}

    async def render_proposal(self, payload: dict) -> Rendered:
        """'hearing_proposal': the operators' copy of a citizen's proposal (never who)."""
        proposal = await self.store.hearings.proposal(proposal_id=payload["proposal_id"])
        hearing = await self._hearing({"hearing_id": proposal.hearing_id})
        t = self.i18n.texts(self.operator_locale)
        return Rendered([self.proposal_card(proposal, hearing, t)])

    def proposal_card(self, proposal: Proposal, hearing: Hearing, t: Texts) -> Reply:
        _ = t.gettext
        text = _("Proposal No. {number} for the public hearing «{title}» ({when}):").format(
            number=proposal.number,
            title=hearing.text("title", t.locale),
            when=t.datetime(hearing.starts_at),
        )
        return Reply(
            text=text + "\n\n" + proposal.text,
            photos=(proposal.photo_path,) if proposal.photo_path else (),
        )

    async def render_report(self, payload: dict) -> Rendered:
        """'broadcast_report': the delivery report, as it stands when sent."""
        broadcast = await self.store.broadcasts.get(broadcast_id=payload["broadcast_id"])
        report = await self.store.broadcasts.report(broadcast_id=broadcast.id, now=self.clock.now())
        return Rendered([Reply(text=self.report_text(broadcast, report))])

    def report_text(self, broadcast: Broadcast, report: BroadcastReport) -> str:
        t = self.i18n.texts(self.operator_locale)
        _ = t.gettext
        topic = self.topics.get(broadcast.topic)
        lines = [
            _("Delivery report of broadcast No. {id} ({kind}, topic: {topic})").format(
                id=broadcast.id,
                kind=broadcast.kind,
                topic=topic.label(t.locale) if topic else broadcast.topic,
            ),
            _("Recipients: {count}").format(count=report.total) + _channels(report),
            _("Sent: {count}").format(count=report.sent),
            _(
                "Delivered: {delivered}, read: {read} (WhatsApp reports this, Telegram does not)"
            ).format(delivered=report.delivered, read=report.read),
            _("Failed: {count}").format(count=report.failed),
            _("Unreachable (blocked the bot): {count}").format(count=report.unreachable),
            _("Waiting for a WhatsApp template: {count}").format(count=report.waiting_template),
            _("Waiting for the next days' WhatsApp quota: {count}").format(
                count=report.waiting_quota
            ),
            _("Still in the queue: {count}").format(count=report.queued),
        ]
        if report.paused:
            lines.append(_("Paused: {count}").format(count=report.paused))
        if broadcast.fallback:
            lines.append(
                _(
                    "WhatsApp recipients without a template in their language, sent in the "
                    "other language's template: {count}"
                ).format(count=broadcast.fallback)
            )
        return "\n".join(lines)
