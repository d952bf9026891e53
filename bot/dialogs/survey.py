"""The satisfaction survey ("Rate a service"): the handbook's questionnaire in a chat.

Which service; then one overall 1-5 question (a citizen in a hurry may stop there) or the full
survey: the five aspects 1-5, the final result yes/no, the money spent (official, unofficial,
incidental; each skippable), how to improve the service, and the respondent data, each skippable
with one "skip all". Every answer is written the moment it is given, so an abandoned survey
counts what it has, and the menu offers to continue it later.

When an unofficial payment was asked for or made, the bot offers once, without pressure, an
anonymous complaint pre-filled with the service and the survey's context; it is registered by
the complaint service like any other and follows the normal complaint path.

Invitations the bot pushes (after a complaint was answered, after a hearing) carry
`survey:<invitation id>:go|optout`, answered in any state, checked against the store: a closed
invitation or an already answered survey gets a polite answer. `surveyopt:on|off` changes the
survey opt-out from any message that offers it (the announcements settings).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.dialogs.common import text_input
from bot.dialogs.dialog import Command, Dialog, MenuEntry, Route
from bot.dialogs.events import Option, Reply
from bot.dialogs.inputs import row_id
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.complaints import Draft
from bot.domain.surveys import (
    ASPECTS,
    MONEY,
    MONEY_VALUES,
    OTHER_SERVICE,
    OVERALL,
    PROFILE,
    PROFILE_VALUES,
    RATINGS,
    SUBJECT_SERVICE,
    UNOFFICIAL_REPORTABLE,
    services_in_force,
)
from bot.i18n import N_
from bot.notices.complaints import receipt_text

log = logging.getLogger(__name__)

INVITATION_PREFIX = "survey:"
OPT_PREFIX = "surveyopt:"
REPORT_CATEGORY = "corruption"
MAX_IMPROVEMENT = 2000
MAX_DETAILS = 2000

QUESTION_TEXTS = {
    "conditions": N_("the conditions where you received the service (premises, queue, comfort)"),
    "staff": N_("the staff's attitude (politeness, attentiveness)"),
    "information": N_("the quality and accessibility of information"),
    "requirements": N_("the requirements for getting the service (documents, procedures)"),
    "timeliness": N_("the time it took to get the service"),
}
MONEY_TEXTS = {
    "paid_official": N_(
        "Did you pay anything official for this service: fees or charges paid to the state "
        "with a receipt?"
    ),
    "paid_unofficial": N_(
        "Did anyone ask you for an unofficial payment: money to third parties to speed things "
        "up, as «thanks», or a bribe?"
    ),
    "paid_incidental": N_(
        "Did you have incidental costs without a receipt: transport, copies, forms and the like?"
    ),
}
MONEY_LABELS = {
    ("paid_official", "yes"): N_("Yes, I paid"),
    ("paid_official", "no"): N_("No"),
    ("paid_unofficial", "paid"): N_("Yes, I paid"),
    ("paid_unofficial", "asked"): N_("They asked, I did not pay"),
    ("paid_unofficial", "no"): N_("No"),
    ("paid_incidental", "yes"): N_("Yes, I had such costs"),
    ("paid_incidental", "no"): N_("No"),
}
PROFILE_TEXTS = {
    "sex": N_("Your sex:"),
    "age_band": N_("Your age:"),
    "education": N_("Your education:"),
    "occupation": N_("Your main occupation:"),
    "settlement": N_("Where do you live?"),
}
PROFILE_LABELS = {
    "male": N_("Male"),
    "female": N_("Female"),
    "17-21": "17–21",
    "22-35": "22–35",
    "36-60": "36–60",
    "61-75": "61–75",
    "76+": N_("76 and older"),
    "higher": N_("Higher"),
    "incomplete_higher": N_("Incomplete higher"),
    "secondary": N_("Secondary"),
    "vocational": N_("Secondary vocational"),
    "primary": N_("Primary or none"),
    "employee": N_("Employed"),
    "self_employed": N_("Self-employed, business"),
    "farmer": N_("Farming"),
    "student": N_("Student"),
    "pensioner": N_("Pensioner"),
    "unemployed": N_("Not working"),
    "other": N_("Other"),
    "town": N_("Town"),
    "village": N_("Village"),
}
# Where each step leads in the full survey (the quick one: overall, then "go on or stop").
_FULL_ORDER: list[tuple[str, str | None]] = [
    *((State.SURVEY_RATE, aspect) for aspect in ASPECTS),
    (State.SURVEY_RESULT, None),
    *((State.SURVEY_MONEY, money) for money in MONEY),
    (State.SURVEY_IMPROVE, None),
    *((State.SURVEY_PROFILE, item) for item in PROFILE),
]
_REPORT_STATES = frozenset({State.SURVEY_REPORT, State.SURVEY_REPORT_TEXT})


class SurveyDialog(Dialog):
    name = "survey"
    states = {
        State.SURVEY_RESUME: "_in_resume",
        State.SURVEY_SERVICE: "_in_service",
        State.SURVEY_MODE: "_in_mode",
        State.SURVEY_RATE: "_in_rate",
        State.SURVEY_MORE: "_in_more",
        State.SURVEY_RESULT: "_in_result",
        State.SURVEY_MONEY: "_in_money",
        State.SURVEY_REPORT: "_in_report",
        State.SURVEY_REPORT_TEXT: "_in_report_text",
        State.SURVEY_IMPROVE: "_in_improve",
        State.SURVEY_PROFILE: "_in_profile",
    }
    prompts = {state: "_prompt" for state in states}
    cancel_note = N_(
        "Stopped. The answers you gave are kept: you can continue the survey from the menu."
    )
    commands = {"/survey": Command("open"), "/rate": Command("open")}
    menu = MenuEntry("menu:survey", N_("⭐ Rate a service"), order=45)
    routes = (
        Route(INVITATION_PREFIX, "_invited", pushed=True),
        Route(OPT_PREFIX, "_opt"),
    )
    # answers are stored as they are given: an older main-menu button loses nothing here
    light_states = frozenset(states) - {State.SURVEY_REPORT_TEXT, State.SURVEY_IMPROVE}

    # ----- opening ---------------------------------------------------------------------------

    async def open(self, turn: Turn) -> None:
        unfinished = await self.store.surveys.unfinished(citizen_id=turn.citizen.id)
        if unfinished is not None:
            turn.conv.data["survey"] = {"id": unfinished.id, "q": None, "trail": []}
            turn.go(State.SURVEY_RESUME)
        else:
            turn.conv.data["survey"] = {"id": None, "q": None, "trail": []}
            turn.say(self._intro(turn))
            turn.go(State.SURVEY_SERVICE)
        await self.nav.prompt(turn)

    def _intro(self, turn: Turn) -> str:
        return turn._(
            "Thank you for helping to improve the municipality's services. It takes a minute or "
            "two. Every answer is kept as soon as you give it: you can stop at any time and "
            "continue later from the menu. The survey is anonymous: operators see only figures."
        )

    async def _in_resume(self, turn: Turn) -> None:
        data = turn.conv.data.get("survey") or {}
        survey = await self._survey(turn)
        match turn.event.option_id:
            case "srv:resume" if survey is not None and survey.status == "open":
                await self._resume(turn, survey)
            case "srv:new" | "srv:resume":
                data.update({"id": None, "q": None, "trail": []})
                turn.say(self._intro(turn))
                await self._goto(turn, State.SURVEY_SERVICE, None, record=False)
            case _:
                await self._choose_hint(turn)

    async def _resume(self, turn: Turn, survey) -> None:
        data = turn.conv.data["survey"]
        data.update({"id": survey.id, "trail": []})
        state, _, q = (survey.position or f"{State.SURVEY_MODE}|").partition("|")
        if state not in self.states or state in (State.SURVEY_SERVICE, State.SURVEY_RESUME):
            state, q = State.SURVEY_MODE, ""
        if state == State.SURVEY_REPORT_TEXT:
            state, q = State.SURVEY_REPORT, ""
        turn.say(turn._("Let us continue where you stopped."))
        await self._goto(turn, State(state), q or None, record=False)

    async def _invited(self, turn: Turn) -> None:
        """A button of an invitation, pressed whenever: checked against the store."""
        _, raw_id, action = (turn.event.option_id.split(":") + ["", ""])[:3]
        invitation = None
        invitation_id = row_id(raw_id)
        if invitation_id is not None and action in ("go", "optout"):
            invitation = await self.store.surveys.invitation(invitation_id=invitation_id)
        if invitation is None or invitation.citizen_id != turn.citizen.id:
            await self.nav.no_longer_open(turn)
            return
        if action == "optout":
            await self._set_wanted(turn, False)
            await self.nav.prompt(turn)
            return
        survey = await self.store.surveys.by_invitation(invitation_id=invitation.id)
        if survey is not None and survey.status == "done":
            turn.say(turn._("You have already answered this survey. Thank you!"))
            await self.nav.prompt(turn)
            return
        if self.clock.now() > invitation.closes_at:
            await self.nav.no_longer_open(turn)
            return
        service = SUBJECT_SERVICE.get(invitation.subject_kind, OTHER_SERVICE)
        survey = await self.store.surveys.create(
            citizen_id=turn.citizen.id,
            service=service,
            invitation_id=invitation.id,
            now=self.clock.now(),
        )
        turn.conv.data["survey"] = {"id": survey.id, "q": None, "trail": []}
        if survey.position:
            await self._resume(turn, survey)
            return
        turn.say(self._intro(turn))
        await self._goto(turn, State.SURVEY_MODE, None, record=False)

    # ----- the opt-out -----------------------------------------------------------------------

    async def _opt(self, turn: Turn) -> None:
        wanted = turn.event.option_id.removeprefix(OPT_PREFIX)
        if wanted not in ("on", "off"):
            await self.nav.earlier_message(turn)
            return
        await self._set_wanted(turn, wanted == "on")
        await self.nav.prompt(turn)

    async def _set_wanted(self, turn: Turn, wanted: bool) -> None:
        await self.store.surveys.set_wanted(
            citizen_id=turn.citizen.id, wanted=wanted, now=self.clock.now()
        )
        turn.citizen = replace(turn.citizen, surveys=wanted)  # prompts shown next see it
        if wanted:
            turn.say(turn._("Done: the bot may invite you to rate a service now and then."))
        else:
            turn.say(
                turn._(
                    "Done: you will not be invited to surveys any more. You can still rate a "
                    "service from the menu at any time."
                )
            )

    # ----- moving between questions ----------------------------------------------------------

    async def _survey(self, turn: Turn):
        survey_id = (turn.conv.data.get("survey") or {}).get("id")
        return await self.store.surveys.get(survey_id=survey_id) if survey_id else None

    async def _goto(self, turn: Turn, state: State, q: str | None, *, record: bool = True) -> None:
        """Show a question; `record`: the one left is where "Back" returns."""
        data = turn.conv.data.setdefault("survey", {"id": None, "q": None, "trail": []})
        trail = data.setdefault("trail", [])
        if turn.state in _REPORT_STATES and state not in _REPORT_STATES:
            # the report was filed or declined: "Back" skips it (it is offered once)
            trail[:] = [step for step in trail if step[0] not in _REPORT_STATES]
        elif record:
            trail.append([turn.state, data.get("q")])
        data["q"] = q
        turn.go(state)
        if data.get("id") is not None and state != State.SURVEY_RESUME:
            await self.store.surveys.move(
                survey_id=data["id"], position=f"{state}|{q or ''}", now=self.clock.now()
            )
        await self.nav.prompt(turn)

    async def _forward(self, turn: Turn) -> None:
        """The next question of the full survey after the current one, or the end."""
        here = (turn.state, turn.conv.data["survey"].get("q"))
        unofficial = here == (State.SURVEY_MONEY, "paid_unofficial")
        if unofficial and await self._offer_report(turn):
            return
        if here[0] in (State.SURVEY_REPORT, State.SURVEY_REPORT_TEXT):
            here = (State.SURVEY_MONEY, "paid_unofficial")
        if here in _FULL_ORDER:
            index = _FULL_ORDER.index(here) + 1
        elif here[0] == State.SURVEY_MORE:
            index = 0
        else:
            index = len(_FULL_ORDER)
        if index >= len(_FULL_ORDER):
            await self._done(turn)
            return
        await self._goto(turn, *_FULL_ORDER[index])

    async def _offer_report(self, turn: Turn) -> bool:
        """Once per survey, when an unofficial payment was asked for or made."""
        survey = await self._survey(turn)
        if survey is None or survey.answers["report"] is not None:
            return False
        if survey.answers["paid_unofficial"] not in UNOFFICIAL_REPORTABLE:
            return False
        await self._answer(turn, "report", "offered")
        await self._goto(turn, State.SURVEY_REPORT, None)
        return True

    async def _back(self, turn: Turn) -> None:
        data = turn.conv.data.get("survey") or {}
        trail = data.get("trail") or []
        while trail:
            state, q = trail.pop()
            if state in self.states and state != State.SURVEY_RESUME:
                await self._goto(turn, State(state), q, record=False)
                return
        await self.nav.finish(turn)

    async def _done(self, turn: Turn) -> None:
        data = turn.conv.data.pop("survey", None) or {}
        if data.get("id") is not None:
            await self.store.surveys.complete(survey_id=data["id"], now=self.clock.now())
        turn.say(turn._("Thank you! Your answers are saved and will help to improve the service."))
        await self.nav.finish(turn)

    async def _answer(self, turn: Turn, field: str, value) -> bool:
        """Keep one answer now; False (and a polite restart) when the survey is gone."""
        survey_id = (turn.conv.data.get("survey") or {}).get("id")
        if survey_id is None:
            await self.open(turn)
            return False
        await self.store.surveys.answer(
            survey_id=survey_id, field=field, value=value, now=self.clock.now()
        )
        return True

    async def _common(self, turn: Turn) -> bool:
        """Back and skip-all work in every question; True when handled."""
        if turn.event.option_id == "srv:back":
            await self._back(turn)
            return True
        return False

    async def _choose_hint(self, turn: Turn) -> None:
        await self.nav.reprompt(turn, turn._("Please choose one of the options below."))

    # ----- answers ---------------------------------------------------------------------------

    async def _in_service(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        option = turn.event.option_id or ""
        service = services_in_force().get(option.removeprefix("srv:s:"))
        if not option.startswith("srv:s:") or service is None:
            await self._choose_hint(turn)
            return
        data = turn.conv.data["survey"]
        if data.get("id") is not None:  # back to this question: the same survey, rated anew
            await self.store.surveys.set_service(survey_id=data["id"], service=service.id)
        else:
            survey = await self.store.surveys.create(
                citizen_id=turn.citizen.id, service=service.id, now=self.clock.now()
            )
            data["id"] = survey.id
        await self._goto(turn, State.SURVEY_MODE, None)

    async def _in_mode(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        match turn.event.option_id:
            case "srv:quick":
                await self._goto(turn, State.SURVEY_RATE, OVERALL)
            case "srv:full":
                await self._goto(turn, *_FULL_ORDER[0])
            case _:
                await self._choose_hint(turn)

    async def _in_rate(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        q = turn.conv.data["survey"].get("q")
        option = turn.event.option_id or ""
        if option == "srv:skip" and q != OVERALL:
            await self._forward(turn)
            return
        rating = option.removeprefix("srv:r:")
        if not option.startswith("srv:r:") or rating not in {str(r) for r in RATINGS}:
            await self.nav.reprompt(turn, turn._("Please choose a number from 1 to 5."))
            return
        if not await self._answer(turn, q, int(rating)):
            return
        if q == OVERALL:
            await self._goto(turn, State.SURVEY_MORE, None)
        else:
            await self._forward(turn)

    async def _in_more(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        match turn.event.option_id:
            case "srv:more:yes":
                await self._forward(turn)
            case "srv:more:no":
                await self._done(turn)
            case _:
                await self._choose_hint(turn)

    async def _in_result(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        match turn.event.option_id:
            case "srv:result:yes" | "srv:result:no" as chosen:
                if await self._answer(turn, "result_ok", int(chosen.endswith("yes"))):
                    await self._forward(turn)
            case "srv:skip":
                await self._forward(turn)
            case _:
                await self._choose_hint(turn)

    async def _in_money(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        q = turn.conv.data["survey"].get("q")
        option = turn.event.option_id or ""
        if option == "srv:skip":
            await self._forward(turn)
            return
        value = option.removeprefix("srv:m:")
        if not option.startswith("srv:m:") or value not in MONEY_VALUES.get(q, ()):
            await self._choose_hint(turn)
            return
        if await self._answer(turn, q, value):
            await self._forward(turn)

    async def _in_report(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        match turn.event.option_id:
            case "srv:report:yes":
                await self._goto(turn, State.SURVEY_REPORT_TEXT, None)
            case "srv:report:no":
                if await self._answer(turn, "report", "declined"):
                    turn.say(turn._("Understood. Let us go on with the survey."))
                    await self._forward(turn)
            case _:
                await self._choose_hint(turn)

    async def _in_report_text(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        if turn.event.option_id == "srv:report:send":
            await self._file_report(turn, None)
            return
        details = await text_input(self.nav, turn, 1, MAX_DETAILS)
        if details is not None:
            await self._file_report(turn, details)

    async def _file_report(self, turn: Turn, details: str | None) -> None:
        """The anonymous complaint, registered like any other: receipt, operator card (no
        identity: it is anonymous), tracking and answers; once per survey (its draft key)."""
        survey = await self._survey(turn)
        if survey is None:
            await self.open(turn)
            return
        await self._answer(turn, "report", "filed")
        draft = Draft(
            category=REPORT_CATEGORY,
            description=self._report_text(turn, survey, details),
            address=None,
            latitude=None,
            longitude=None,
            photos=[],
            is_anonymous=True,
            full_name=None,
            phone=None,
            contact_address=None,
        )
        turn.say(turn._("Thank you for your courage. Now let us finish the survey."))
        await self._forward(turn)
        complaints = self.services.complaints
        complaint, code, created = await complaints.register(
            turn.citizen,
            draft,
            turn.texts.locale,
            draft_key=f"survey:{survey.id}",
            receipt_by_outbox=turn.queue,
            step=self.nav.step(turn),
        )
        if created:
            log.info("anonymous complaint %s filed from a survey", complaint.reg_number)
            turn.committed = True
            turn.replies[:0] = [Reply(text=receipt_text(turn.texts, complaint, code))]

    def _report_text(self, turn: Turn, survey, details: str | None) -> str:
        _ = turn._
        what = (
            _("An unofficial payment was made.")
            if survey.answers["paid_unofficial"] == "paid"
            else _("An unofficial payment was asked for; it was not made.")
        )
        lines = [
            _("Anonymous complaint filed from a satisfaction survey."),
            _("Service: {service}").format(
                service=services_in_force().label(survey.service, turn.texts.locale)
            ),
            what,
            _("Survey date: {date}").format(date=turn.texts.date(survey.created_at)),
        ]
        if details:
            lines += ["", _("In the citizen's words:"), details]
        return "\n".join(lines)

    async def _in_improve(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        if turn.event.option_id == "srv:skip":
            await self._forward(turn)
            return
        text = await text_input(self.nav, turn, 1, MAX_IMPROVEMENT)
        if text is not None and await self._answer(turn, "improvement", text):
            turn.say(turn._("Thank you, noted."))
            await self._forward(turn)

    async def _in_profile(self, turn: Turn) -> None:
        if await self._common(turn):
            return
        q = turn.conv.data["survey"].get("q")
        option = turn.event.option_id or ""
        if option == "srv:skipall":
            await self._done(turn)
            return
        if option == "srv:skip":
            await self._forward(turn)
            return
        value = option.removeprefix("srv:p:")
        if not option.startswith("srv:p:") or value not in PROFILE_VALUES.get(q, ()):
            await self._choose_hint(turn)
            return
        if await self._answer(turn, q, value):
            await self._forward(turn)

    # ----- questions -------------------------------------------------------------------------

    def _prompt(self, turn: Turn) -> Reply:
        _ = turn._
        q = (turn.conv.data.get("survey") or {}).get("q")
        tail = (Option("srv:back", _("⬅️ Back")), Option("nav:menu", _("🏠 Main menu")))
        skip = Option("srv:skip", _("⏭ Skip"))
        match turn.state:
            case State.SURVEY_RESUME:
                return Reply(
                    _("You have an unfinished survey. Continue it, or start a new one?"),
                    options=(
                        Option("srv:resume", _("▶️ Continue the survey")),
                        Option("srv:new", _("🆕 Start a new one")),
                        tail[1],
                    ),
                )
            case State.SURVEY_SERVICE:
                catalogue = services_in_force()
                options = tuple(
                    Option(f"srv:s:{s.id}", s.label(turn.texts.locale)) for s in catalogue.items
                )
                return Reply(_("Which service did you use?"), options=(*options, tail[1]))
            case State.SURVEY_MODE:
                return Reply(
                    _(
                        "In a hurry? Answer one question, or take the full survey "
                        "(about ten questions, most are one tap)."
                    ),
                    options=(
                        Option("srv:quick", _("⚡ One question")),
                        Option("srv:full", _("📋 Full survey")),
                        *tail,
                    ),
                )
            case State.SURVEY_RATE:
                ratings = tuple(Option(f"srv:r:{r}", str(r)) for r in RATINGS)
                scale = _("1 means not at all satisfied, 5 means fully satisfied.")
                if q == OVERALL:
                    text = _("How satisfied are you with the service as a whole?")
                    return Reply(f"{text}\n{scale}", options=(*ratings, *tail))
                text = _("Question {number} of {total}. How satisfied are you with {what}?").format(
                    number=ASPECTS.index(q) + 1, total=len(ASPECTS), what=_(QUESTION_TEXTS[q])
                )
                return Reply(f"{text}\n{scale}", options=(*ratings, skip, *tail))
            case State.SURVEY_MORE:
                return Reply(
                    _(
                        "Thank you, your answer is saved. Would you answer a few more questions "
                        "(about ten taps), or stop here?"
                    ),
                    options=(
                        Option("srv:more:yes", _("📋 Go on")),
                        Option("srv:more:no", _("✅ Stop here")),
                        *tail,
                    ),
                )
            case State.SURVEY_RESULT:
                return Reply(
                    _("Are you satisfied with the final result?"),
                    options=(
                        Option("srv:result:yes", _("Yes")),
                        Option("srv:result:no", _("No")),
                        skip,
                        *tail,
                    ),
                )
            case State.SURVEY_MONEY:
                options = tuple(
                    Option(f"srv:m:{value}", _(MONEY_LABELS[q, value])) for value in MONEY_VALUES[q]
                )
                return Reply(_(MONEY_TEXTS[q]), options=(*options, skip, *tail))
            case State.SURVEY_REPORT:
                return Reply(
                    "\n\n".join(
                        [
                            _(
                                "Asking for unofficial payments is against the law. If you "
                                "wish, you can file an anonymous complaint about it now: we "
                                "fill it in from this survey, and it is handled like any "
                                "complaint."
                            ),
                            _(
                                "Operators will not see who you are. This is entirely up to "
                                "you: the survey goes on either way."
                            ),
                        ]
                    ),
                    options=(
                        Option("srv:report:yes", _("🕶 File an anonymous complaint")),
                        Option("srv:report:no", _("No, thank you")),
                        *tail,
                    ),
                )
            case State.SURVEY_REPORT_TEXT:
                return Reply(
                    _(
                        "If you like, describe in a few words what happened (without your "
                        "name). Or send the complaint as it is."
                    ),
                    options=(Option("srv:report:send", _("📨 Send as it is")), *tail),
                )
            case State.SURVEY_IMPROVE:
                return Reply(
                    _("How could this service be improved? Write your suggestion, or skip."),
                    options=(skip, *tail),
                )
            case State.SURVEY_PROFILE:
                intro = ""
                if q == PROFILE[0]:
                    intro = (
                        _(
                            "Finally, a few questions about you, for the statistics only. "
                            "Each one can be skipped."
                        )
                        + "\n\n"
                    )
                options = tuple(
                    Option(f"srv:p:{value}", _(PROFILE_LABELS[value]))
                    for value in PROFILE_VALUES[q]
                )
                return Reply(
                    intro + _(PROFILE_TEXTS[q]),
                    options=(
                        *options,
                        skip,
                        Option("srv:skipall", _("⏩ Skip all and finish")),
                        *tail,
                    ),
                )
        return Reply(_("Please choose one of the options below."), options=tail)
