"""The main menu, and help and contacts.

The menu lists the entries the dialogs declare, in their order; a menu option opens the dialog
that owns it. Text typed at the menu is offered to the dialogs that read it (the FAQ answers
questions, small talk and stated problems), and anything else gets the menu again.
"""

from __future__ import annotations

from bot.dialogs.dialog import Command, Dialog, MenuEntry
from bot.dialogs.events import Reply
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.i18n import N_


class MenuDialog(Dialog):
    name = "menu"
    states = {State.MENU: "_in_menu"}
    prompts = {State.MENU: "_menu_reply"}
    commands = {"/menu": Command("open"), "/help": Command("help", leaves=False)}
    menu = MenuEntry("menu:help", N_("ℹ️ Help and contacts"), order=60, handler="help_from_menu")
    light_states = frozenset({State.MENU})

    async def open(self, turn: Turn) -> None:
        await self.nav.to_menu(turn)

    def _menu_reply(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Main menu. What would you like to do?"),
            options=self.nav.registry.menu_options(turn),
        )

    async def _in_menu(self, turn: Turn) -> None:
        chosen = self.nav.registry.menu_handler(turn.event.option_id)
        if chosen is not None:
            await chosen(turn)
            return
        if turn.event.kind == "text":
            for read in self.nav.registry.menu_readers:
                if await read(turn):
                    return
        if turn.event.attachments:
            turn.say(turn._("Photos can be attached to a complaint: start one from the menu."))
        else:
            turn.say(turn._("Please choose one of the options below."))
        await self.nav.to_menu(turn)

    async def help(self, turn: Turn) -> None:
        """/help: help, then back where the citizen was."""
        self._show_help(turn)
        await self.nav.back_to_step_or_menu(turn)

    async def help_from_menu(self, turn: Turn) -> None:
        self._show_help(turn)
        await self.nav.to_menu(turn)

    def _show_help(self, turn: Turn) -> None:
        """Help and contacts: the configured phone lines (each with whose line it is), 112, the
        reception schedule (HELP_PHONES_*, RECEPTION_SCHEDULE_*, shared with the FAQ)."""
        _ = turn._
        faq = self.services.faq
        phones = faq.substitution("help_phones", turn.texts.locale)
        schedule = faq.substitution("reception_schedule", turn.texts.locale)
        parts = [_("This bot accepts complaints and reports to the municipality around the clock.")]
        if phones:
            parts.append(_("Phone numbers:") + "\n" + phones)
        parts.append(_("In an emergency call 112: the bot is not an emergency service."))
        if schedule:
            parts.append(_("Personal reception of citizens:") + "\n" + schedule)
        parts.append(
            _("To check a complaint from another device, use its number and the receipt code.")
        )
        turn.say("\n\n".join(parts))
