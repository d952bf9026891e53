"""Public hearings for citizens: the upcoming ones, one hearing's full notice, "I will come"
(and taking it back), a calendar file, and a proposal for the organisers.

The options `hearing:<id>:open|rsvp|unrsvp|ics|propose` are a pushed route: they sit under the
notices the bot pushes (announcement, change, reminder), and pressing one, days later and in any
state, works; each is checked against the store. A cancelled or held hearing, or a deadline
passed, gets a polite answer and the citizen's current step again. An unfinished complaint is
kept across it. A proposal is stored with the hearing and a number, and a copy goes to the
operators, in one transaction.
"""

from __future__ import annotations

import logging
import uuid

from bot.dialogs.common import take_photo, text_input
from bot.dialogs.dialog import Command, Dialog, MenuEntry, Route
from bot.dialogs.events import Document, Option, Reply
from bot.dialogs.inputs import row_id
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.hearings import CANCELLED, Hearing, hearing_ics
from bot.i18n import N_
from bot.notices.hearings import HEARING_PREFIX, hearing_card
from bot.storage.models import NewOutboxMessage

log = logging.getLogger(__name__)

HEARINGS = "hearings"
MIN_PROPOSAL, MAX_PROPOSAL = 5, 3000
ACTIONS = ("open", "rsvp", "unrsvp", "ics", "propose")
DRAFT_KEY = "hearing_proposal"


class HearingsDialog(Dialog):
    name = HEARINGS
    states = {State.HEARING_PROPOSAL: "_in_proposal"}
    prompts = {State.HEARING_PROPOSAL: "_prompt_proposal"}
    commands = {"/hearings": Command("open")}
    menu = MenuEntry("menu:hearings", N_("🏛 Public hearings"), order=45)
    routes = (Route(HEARING_PREFIX, "_on_option", pushed=True),)

    async def open(self, turn: Turn) -> None:
        """The upcoming hearings, soonest first, each a button that opens it."""
        _ = turn._
        hearings = await self.store.hearings.upcoming(now=self.clock.now())
        if not hearings:
            turn.say(_("No public hearings are planned at the moment."))
            await self.nav.to_menu(turn)
            return
        lines = [_("Upcoming public hearings:")]
        lines += [
            f"• {turn.texts.datetime(h.starts_at)} — {h.text('title', turn.texts.locale)}"
            for h in hearings
        ]
        options = [
            Option(f"{HEARING_PREFIX}{h.id}:open", _short(h.text("title", turn.texts.locale)))
            for h in hearings
        ]
        options.append(Option("nav:menu", _("🏠 Main menu")))
        turn.go(State.MENU)
        turn.say("\n".join(lines), options=tuple(options))

    # ----- the pushed options ----------------------------------------------------------------

    async def _on_option(self, turn: Turn) -> None:
        parts = (turn.event.option_id or "").split(":")
        hearing = None
        hearing_id = row_id(parts[1]) if len(parts) == 3 else None
        if hearing_id is not None and parts[2] in ACTIONS:
            hearing = await self.store.hearings.get(hearing_id=hearing_id)
        if hearing is None:
            await self.nav.earlier_message(turn)
            return
        action = parts[2]
        if action == "open":
            await self._show(turn, hearing)
            return
        if not hearing.stands or hearing.starts_at <= self.clock.now():
            await self._stale(turn, hearing)
            return
        await getattr(self, f"_{action}")(turn, hearing)

    async def _stale(self, turn: Turn, hearing: Hearing) -> None:
        _ = turn._
        if hearing.status == CANCELLED:
            hint = _("Thank you, but this public hearing was cancelled, so nothing was recorded.")
        else:
            hint = _("Thank you, but this public hearing has already taken place.")
        await self._after(turn, hearing, hint)

    async def _show(self, turn: Turn, hearing: Hearing) -> None:
        coming = await self.store.hearings.is_coming(
            hearing_id=hearing.id, citizen_id=turn.citizen.id
        )
        await self._after(turn, hearing, None, coming=coming)

    async def _after(
        self, turn: Turn, hearing: Hearing, said: str | None, *, coming: bool | None = None
    ) -> None:
        """At the menu: the hearing's card again (its buttons as they are now). Elsewhere (a
        complaint being written): the citizen's step again."""
        if said:
            turn.say(said)
        if turn.state == State.MENU:
            if coming is None:
                coming = await self.store.hearings.is_coming(
                    hearing_id=hearing.id, citizen_id=turn.citizen.id
                )
            card = hearing_card(hearing, turn.texts, coming=coming, now=self.clock.now(), menu=True)
            turn.replies.append(card)
        else:
            await self.nav.prompt(turn)

    async def _rsvp(self, turn: Turn, hearing: Hearing) -> None:
        await self.store.hearings.rsvp(
            hearing_id=hearing.id, citizen_id=turn.citizen.id, coming=True, now=self.clock.now()
        )
        said = turn._(
            "Noted: you will come. We expect you on {when}, at this address: {place}. "
            "We will remind you before the hearing."
        ).format(
            when=turn.texts.datetime(hearing.starts_at),
            place=hearing.text("place", turn.texts.locale),
        )
        await self._after(turn, hearing, said, coming=True)

    async def _unrsvp(self, turn: Turn, hearing: Hearing) -> None:
        await self.store.hearings.rsvp(
            hearing_id=hearing.id, citizen_id=turn.citizen.id, coming=False, now=self.clock.now()
        )
        said = turn._("Noted: you will not come. Thank you for letting us know.")
        await self._after(turn, hearing, said, coming=False)

    async def _ics(self, turn: Turn, hearing: Hearing) -> None:
        locale = turn.texts.locale
        alarm = min(hearing.reminder_minutes, default=120)
        data = hearing_ics(hearing, locale, turn.texts.tz, alarm)
        path = await self.services.media.save_document(data, f"hearing-{hearing.id}.ics")
        turn.replies.append(
            Reply(
                text=turn._(
                    "The calendar file of the public hearing «{title}», {when}. Open it to add "
                    "the hearing to your phone's calendar."
                ).format(
                    title=hearing.text("title", locale),
                    when=turn.texts.datetime(hearing.starts_at),
                ),
                document=Document(f"hearing-{hearing.id}.ics", "text/calendar", path=path),
            )
        )
        await self._after(turn, hearing, None)

    async def _propose(self, turn: Turn, hearing: Hearing) -> None:
        if not hearing.open_for_proposals(self.clock.now()):
            said = turn._(
                "Proposals for this public hearing are no longer accepted: the deadline "
                "was {deadline}."
            ).format(deadline=turn.texts.datetime(hearing.proposals_until))
            await self._after(turn, hearing, said)
            return
        turn.conv.data[DRAFT_KEY] = {"hearing": hearing.id, "key": uuid.uuid4().hex}
        turn.go(State.HEARING_PROPOSAL)
        await self.nav.prompt(turn)

    # ----- the proposal ----------------------------------------------------------------------

    def _prompt_proposal(self, turn: Turn) -> Reply:
        _ = turn._
        draft = turn.conv.data.get(DRAFT_KEY) or {}
        text = _(
            "Write your proposal in one message. You may send one photo before the text. "
            "Proposals are stored with the hearing and passed to the organisers."
        )
        if draft.get("photo"):
            text += "\n\n" + _("A photo is attached. Now write the text of your proposal.")
        return Reply(text=text, options=(Option("nav:cancel", _("✖ Cancel")),))

    async def _in_proposal(self, turn: Turn) -> None:
        draft = turn.conv.data.get(DRAFT_KEY) or {}
        hearing = await self.store.hearings.get(hearing_id=draft.get("hearing", 0))
        if hearing is None or not hearing.open_for_proposals(self.clock.now()):
            turn.conv.data.pop(DRAFT_KEY, None)
            turn.say(turn._("Proposals for this public hearing are no longer accepted."))
            await self.nav.finish(turn)
            return
        if turn.event.kind == "photo" and turn.event.attachments:
            await self._photo(turn, draft)
            return
        text = await text_input(self.nav, turn, MIN_PROPOSAL, MAX_PROPOSAL)
        if text is None:
            return
        await self._store_proposal(turn, hearing, draft, text)

    async def _photo(self, turn: Turn, draft: dict) -> None:
        path = await take_photo(self.nav, turn, self.services.media, turn.event.attachments[0])
        if path is None:
            return
        draft["photo"] = path
        turn.conv.data[DRAFT_KEY] = draft
        await self.nav.prompt(turn)

    async def _store_proposal(self, turn: Turn, hearing: Hearing, draft: dict, text: str) -> None:
        services = self.services.questions  # the operators' destination, as for questions

        def card(proposal) -> list[NewOutboxMessage]:
            if services.operator_recipient is None:
                return []
            return [
                NewOutboxMessage(
                    channel=services.operator_channel,
                    recipient=services.operator_recipient,
                    kind="hearing_proposal",
                    payload={"proposal_id": proposal.id},
                    dedupe_key=f"hearing_proposal:{proposal.id}",
                )
            ]

        proposal, _created = await self.store.hearings.add_proposal(
            hearing_id=hearing.id,
            citizen_id=turn.citizen.id,
            text=text,
            photo_path=draft.get("photo"),
            step_key=draft["key"],
            now=self.clock.now(),
            notify=card,
        )
        turn.conv.data.pop(DRAFT_KEY, None)
        turn.say(
            turn._(
                "Thank you! Your proposal No. {number} for the public hearing «{title}» is "
                "received and passed to the organisers. It will be counted in the results."
            ).format(number=proposal.number, title=hearing.text("title", turn.texts.locale))
        )
        await self.nav.finish(turn)


def _short(title: str, limit: int = 60) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"
