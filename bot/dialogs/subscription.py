"""Consent to announcements: asked once after the language, changed from the menu or by words.

The bot asks, naming the municipality, whether the citizen wants its announcements (public
hearings, news). STOP / СТОП / ТОКТОТ / "unsubscribe" typed as a whole message ends them and
START resumes them, on every channel. Announcements only: answers about the citizen's own
complaints and questions keep coming whatever is chosen here.
"""

from __future__ import annotations

from functools import partial

from bot.dialogs.common import LANGUAGE, SUBSCRIPTION, TOPICS
from bot.dialogs.dialog import Command, Dialog, Handler, MenuEntry
from bot.dialogs.events import Option, Reply
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.i18n import N_

STOP_WORDS = frozenset(
    {"stop", "стоп", "токтот", "токтотом", "unsubscribe", "отписаться", "отписка"}
)
START_WORDS = frozenset({"start", "старт", "subscribe", "подписаться", "жазылуу", "баштоо"})


def subscription_word(typed: str) -> bool | None:
    """True for a START word, False for a STOP word, None for anything else."""
    word = " ".join(typed.split()).strip(" .!").casefold()
    if word in STOP_WORDS:
        return False
    if word in START_WORDS:
        return True
    return None


class SubscriptionDialog(Dialog):
    """The SUBSCRIBE state and the STOP/START words."""

    name = SUBSCRIPTION
    states = {State.SUBSCRIBE: "_in_subscribe"}
    prompts = {State.SUBSCRIBE: "_prompt_subscribe"}
    commands = {
        "/announcements": Command("open"),
        "/subscribe": Command("open"),
        "/stop": Command("stop", leaves=False),
        "/unsubscribe": Command("stop", leaves=False),
    }
    menu = MenuEntry("menu:announcements", N_("🔔 Announcements"), order=50)
    light_states = frozenset({State.SUBSCRIBE})

    def _municipality(self, turn: Turn) -> str:
        return self.services.municipality.get(turn.texts.locale, "")

    async def open(self, turn: Turn) -> None:
        turn.go(State.SUBSCRIBE)
        turn.replies.append(self._prompt_subscribe(turn))

    def hears(self, turn: Turn) -> Handler | None:
        """STOP or START typed as a whole message, in any state."""
        wanted = subscription_word(turn.event.text)
        return None if wanted is None else partial(self._subscription_word, wanted=wanted)

    async def stop(self, turn: Turn) -> None:
        await self._subscription_word(turn, False)

    def _prompt_subscribe(self, turn: Turn) -> Reply:
        _ = turn._
        lines = [
            _(
                "{body} can send you its announcements here: public hearings, news and "
                "notices. Would you like to receive them?"
            ).format(body=self._municipality(turn))
        ]
        if turn.citizen.announcements is not None:
            lines.append(
                _("Now: you receive announcements.")
                if turn.citizen.announcements
                else _("Now: you do not receive announcements.")
            )
        lines.append(
            _("You can change this at any time: send STOP to stop them and START to resume.")
        )
        options = [
            Option("sub:yes", _("🔔 Yes, send me announcements")),
            Option("sub:no", _("🔕 No, thank you")),
        ]
        if turn.citizen.announcements:  # asked before and agreed: the topics can be chosen
            options.append(Option("sub:topics", _("🗂 Choose topics")))
        if turn.citizen.announcements is not None:  # the settings, not the first question
            options.append(
                Option("surveyopt:on", _("⭐ Invite me to surveys again"))
                if turn.citizen.surveys is False
                else Option("surveyopt:off", _("🚫 No survey invitations"))
            )
        return Reply(text="\n\n".join(lines), options=tuple(options))

    async def _in_subscribe(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "sub:yes":
                await self._set_subscription(turn, True)
            case "sub:no":
                await self._set_subscription(turn, False)
            case "sub:topics":
                await self.nav.open(TOPICS, turn)
                return
            case _:
                turn.say(turn._("Please choose one of the options below."))
                turn.replies.append(self._prompt_subscribe(turn))
                return
        await self.nav.to_menu(turn)

    async def _set_subscription(self, turn: Turn, wanted: bool) -> None:
        await self.store.citizens.set_announcements(
            citizen_id=turn.citizen.id, wanted=wanted, now=self.clock.now()
        )
        _ = turn._
        if wanted:
            turn.say(
                _(
                    "Done: you will receive announcements from {body}. To stop them, send STOP."
                ).format(body=self._municipality(turn))
            )
        else:
            turn.say(
                _(
                    "Done: you will not receive announcements. Answers about your own "
                    "complaints and questions will still come. To resume, send START."
                )
            )

    async def _subscription_word(self, turn: Turn, wanted: bool) -> None:
        """STOP or START typed anywhere: change consent, then carry on where the citizen was."""
        await self._set_subscription(turn, wanted)
        if turn.citizen.locale is None:
            await self.nav.open(LANGUAGE, turn)
        else:
            await self.nav.prompt(turn)
