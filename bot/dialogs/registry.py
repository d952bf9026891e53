"""Assembles the dialogs: which one handles each state, command, menu entry and option prefix.

Two dialogs claiming the same state, command, menu entry or overlapping option prefixes is an
error at start-up. `DIALOGS` lists the bot's dialogs; a later feature adds its module here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.dialogs.check import CheckDialog
from bot.dialogs.complaint import ComplaintDialog
from bot.dialogs.dialog import Dialog, Handler, MenuEntry, Route
from bot.dialogs.events import Option, Reply
from bot.dialogs.faq_flow import FaqDialog
from bot.dialogs.follow_up import FollowUpDialog
from bot.dialogs.hearings import HearingsDialog
from bot.dialogs.menu import MenuDialog
from bot.dialogs.mine import MyComplaintsDialog
from bot.dialogs.pushed import declare_pushed
from bot.dialogs.start import LanguageDialog
from bot.dialogs.subscription import SubscriptionDialog
from bot.dialogs.survey import SurveyDialog
from bot.dialogs.thread import ComplaintThreadDialog
from bot.dialogs.topics import TopicsDialog
from bot.dialogs.turn import Turn

# In this order they are registered; the main menu is ordered by each entry's `order`.
DIALOGS: tuple[type[Dialog], ...] = (
    LanguageDialog,
    MenuDialog,
    ComplaintDialog,
    MyComplaintsDialog,
    CheckDialog,
    FaqDialog,
    SubscriptionDialog,
    SurveyDialog,
    HearingsDialog,
    TopicsDialog,
    FollowUpDialog,
    ComplaintThreadDialog,
)

Prompt = Callable[[Turn], Reply]


@dataclass(frozen=True)
class CommandEntry:
    handler: Handler
    leaves: bool


class Registry:
    """The dispatch tables of the kernel, filled from the dialogs' declarations."""

    def __init__(self) -> None:
        self.dialogs: dict[str, Dialog] = {}
        self.handlers: dict[str, Handler] = {}
        self.prompts: dict[str, Prompt] = {}
        self.commands: dict[str, CommandEntry] = {}
        self.routes: list[tuple[Route, Handler]] = []
        self.light_states: set[str] = set()
        self.hearers: list[Callable[[Turn], Handler | None]] = []
        self.menu_readers: list[Callable[[Turn], Awaitable[bool]]] = []
        self._menu: list[tuple[MenuEntry, Handler]] = []
        self._owners: dict[str, str] = {}

    def add(self, dialog: Dialog) -> None:
        """Take in what the dialog declares; a conflict or a missing method changes nothing."""
        handlers = {state: dialog.method(name) for state, name in dialog.states.items()}
        for name in dialog.prompts.values():
            dialog.method(name)
        if set(dialog.prompts) != set(handlers):
            raise ValueError(f"dialog {dialog.name!r}: every state it handles needs a prompt")
        commands = {name: dialog.method(c.handler) for name, c in dialog.commands.items()}
        routes = [(route, dialog.method(route.handler)) for route in dialog.routes]
        menu = dialog.menu and (dialog.menu, dialog.method(dialog.menu.handler))
        claims = [f"dialog {dialog.name}", *(f"state {state}" for state in handlers)]
        claims += [f"command {name}" for name in commands]
        claims += [f"menu entry {menu[0].option_id}"] if menu else []
        self._check(claims, [route for route, _ in routes])
        for what in claims:
            self._owners[what] = dialog.name
        self.dialogs[dialog.name] = dialog
        for state, handler in handlers.items():
            self.handlers[state], self.prompts[state] = handler, dialog.prompt
        for name, handler in commands.items():
            self.commands[name] = CommandEntry(handler, dialog.commands[name].leaves)
        if menu:
            self._menu = sorted([*self._menu, menu], key=lambda entry: entry[0].order)
        for route, handler in routes:
            self.routes.append((route, handler))
            if route.pushed:
                declare_pushed(route.prefix)
        self.light_states |= dialog.light_states
        if type(dialog).hears is not Dialog.hears:
            self.hearers.append(dialog.hears)
        if type(dialog).at_menu is not Dialog.at_menu:
            self.menu_readers.append(dialog.at_menu)

    def own_state(self, state: str, handler: Handler, prompt: Prompt, owner: str) -> None:
        self._claim(f"state {state}", owner)
        self.handlers[state] = handler
        self.prompts[state] = prompt

    def own_command(self, name: str, handler: Handler, leaves: bool, owner: str) -> None:
        self._claim(f"command {name}", owner)
        self.commands[name] = CommandEntry(handler, leaves)

    def dialog(self, name: str) -> Dialog:
        return self.dialogs[name]

    def cancel_note(self, state: str) -> str:
        """What "cancel" says in a state: its dialog's `cancel_note` (an msgid)."""
        owner = self._owners.get(f"state {state}")
        return self.dialogs[owner].cancel_note if owner in self.dialogs else Dialog.cancel_note

    def route(self, option_id: str, state: str) -> tuple[Route, Handler] | None:
        """The dialog's answer to an option valid in any state, or None."""
        for route, handler in self.routes:
            if route.matches(option_id) and state not in route.except_in:
                return route, handler
        return None

    def heard(self, turn: Turn) -> Handler | None:
        """The handler of text that means something in any state, or None."""
        for hears in self.hearers:
            if (handler := hears(turn)) is not None:
                return handler
        return None

    @property
    def menu_entries(self) -> list[MenuEntry]:
        return [entry for entry, _ in self._menu]

    def menu_options(self, turn: Turn) -> tuple[Option, ...]:
        return tuple(Option(entry.option_id, turn._(entry.label)) for entry, _ in self._menu)

    def menu_handler(self, option_id: str | None) -> Handler | None:
        return next((h for entry, h in self._menu if entry.option_id == option_id), None)

    def _claim(self, what: str, owner: str) -> None:
        self._check([what], [])
        self._owners[what] = owner

    def _check(self, claims: list[str], routes: list[Route]) -> None:
        """Raise ValueError if any of these is claimed already (or twice here)."""
        taken = [what for what in claims if what in self._owners]
        if taken or len(set(claims)) < len(claims):
            raise ValueError(f"claimed twice: {taken or claims}")
        known = [route.prefix for route, _ in self.routes]
        for route in routes:
            if route.pushed and not route.prefix.endswith(":"):
                raise ValueError(f"a pushed route names a prefix ending in ':': {route.prefix!r}")
            clash = [p for p in known if p.startswith(route.prefix) or route.prefix.startswith(p)]
            if clash:
                raise ValueError(f"option prefix {route.prefix!r} overlaps {clash}")
            known.append(route.prefix)
