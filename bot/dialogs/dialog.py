"""The shape of a dialog: what one feature's module declares, for the registry to assemble.

A dialog module defines one `Dialog` subclass and declares, by method name:
- `states`: the states it handles (named in `states.py`) and `prompts`, the question each shows;
- `commands`: the slash commands it owns (`leaves`: an unfinished complaint is asked about first);
- `menu`: its entry in the main menu, if any;
- `routes`: option-id prefixes it answers in ANY state, checking them against the store itself
  (not against the options of the last prompt). A `pushed` route answers options of messages the
  bot pushes (a follow-up, a survey, a hearing): pressing one, even days later, opens the dialog
  and keeps the citizen's unfinished complaint for afterwards;
- `light_states`: states where nothing typed would be lost, so an older main-menu button works.
It never imports another dialog module: it reaches the others through `self.nav`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bot.dialogs.events import Reply
from bot.i18n import N_

if TYPE_CHECKING:
    from bot.dialogs.turn import Nav, Services, Turn

Handler = Callable[["Turn"], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    handler: str  # the dialog's method that runs it
    leaves: bool = True  # leaves the current flow: asks about an unfinished complaint first


@dataclass(frozen=True)
class MenuEntry:
    option_id: str  # "menu:…"
    label: str  # an msgid, marked with N_ and translated when the menu is shown
    order: int  # place in the main menu, top first
    handler: str = "open"


@dataclass(frozen=True)
class Route:
    prefix: str  # "receipt:new:" answers every id it starts; without a final ":", one id
    handler: str
    pushed: bool = False  # options of messages the bot pushes (see the module's docstring)
    except_in: frozenset[str] = frozenset()  # states where such an option is an ordinary one

    def matches(self, option_id: str) -> bool:
        if self.prefix.endswith(":"):
            return option_id.startswith(self.prefix)
        return option_id == self.prefix


class Dialog:
    """One feature's conversation; subclasses declare what they own (see the module)."""

    name: ClassVar[str]
    states: ClassVar[Mapping[str, str]] = {}
    prompts: ClassVar[Mapping[str, str]] = {}
    commands: ClassVar[Mapping[str, Command]] = {}
    menu: ClassVar[MenuEntry | None] = None
    routes: ClassVar[tuple[Route, ...]] = ()
    light_states: ClassVar[frozenset[str]] = frozenset()
    # what "cancel" says inside this dialog (an msgid, marked with N_)
    cancel_note: ClassVar[str] = N_("Cancelled. Nothing was sent.")

    def __init__(self, services: Services, nav: Nav) -> None:
        self.services = services
        self.nav = nav
        self.store = services.store
        self.clock = services.clock
        self.content = services.content

    async def open(self, turn: Turn, **kwargs: Any) -> None:
        """Start this dialog (from a command, the menu or another dialog)."""
        raise NotImplementedError

    def prompt(self, turn: Turn) -> Reply:
        """The question of the current state, one of this dialog's."""
        return getattr(self, self.prompts[turn.state])(turn)

    def hears(self, turn: Turn) -> Handler | None:
        """A handler for text that means something in any state (STOP, START), or None."""
        return None

    async def at_menu(self, turn: Turn) -> bool:
        """Answer text typed at the main menu; True when answered."""
        return False

    def method(self, name: str) -> Callable:
        """The method a declaration names (a typo fails at start-up, not in a chat)."""
        found = getattr(self, name, None)
        if not callable(found):
            raise TypeError(f"dialog {self.name!r} declares {name!r}, which it does not define")
        return found
