"""Start and language: /start, and the choice of Kyrgyz or Russian.

A citizen without a language is asked for one before anything else (the kernel opens this
dialog). Chosen from an unfinished complaint, the language changes and the complaint goes on at
the same step; chosen the first time, the announcements question follows.
"""

from __future__ import annotations

from dataclasses import replace

from bot.dialogs.common import (
    LANGUAGE,
    LANGUAGE_COMMAND,
    LANGUAGE_OPTION,
    SUBSCRIPTION,
    draft_step,
)
from bot.dialogs.dialog import Command, Dialog, MenuEntry
from bot.dialogs.events import Option, Reply
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.i18n import N_


class LanguageDialog(Dialog):
    name = LANGUAGE
    states = {State.LANGUAGE: "_in_language"}
    prompts = {State.LANGUAGE: "_language_reply"}
    commands = {"/start": Command("start"), LANGUAGE_COMMAND: Command("open", leaves=False)}
    menu = MenuEntry("menu:language", N_("🌐 Language"), order=70)

    async def start(self, turn: Turn) -> None:
        await self.nav.to_menu(turn)

    async def open(self, turn: Turn) -> None:
        """Ask for the language; from an unfinished complaint, come back to its step after."""
        step = draft_step(turn)
        if step is not None:
            turn.conv.data["resume"] = step
        else:
            turn.conv.data.pop("resume", None)
        turn.conv.data.pop("unfinished", None)
        turn.go(State.LANGUAGE)
        turn.replies.append(self._language_reply(turn))

    def _language_reply(self, turn: Turn) -> Reply:
        """Asked in both languages at once: the citizen has not chosen yet."""
        i18n = self.services.i18n
        ask = [i18n.texts(locale).gettext("Please choose a language.") for locale in ("ky", "ru")]
        return Reply(
            text="\n".join(ask),
            options=(Option("lang:ky", "Кыргызча"), Option("lang:ru", "Русский")),
        )

    async def _in_language(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        if not option.startswith(LANGUAGE_OPTION):
            await self.open(turn)
            return
        locale = option.removeprefix(LANGUAGE_OPTION)
        await self.store.citizens.set_locale(citizen_id=turn.citizen.id, locale=locale)
        turn.citizen = replace(turn.citizen, locale=locale)
        turn.texts = self.services.i18n.texts(locale)
        turn.say(
            turn._("Language saved: Russian.")
            if locale == "ru"
            else turn._("Language saved: Kyrgyz.")
        )
        resume = draft_step(turn)
        turn.conv.data.pop("resume", None)
        if resume is not None:  # the draft is kept: on with the complaint in the new language
            turn.go(resume)
            await self.nav.prompt(turn)
        elif turn.citizen.announcements is None:
            await self.nav.open(SUBSCRIPTION, turn)
        else:
            await self.nav.to_menu(turn)
