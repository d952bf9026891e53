"""What every dialog works with: the turn being handled, the services, and the kernel's navigation.

A dialog never calls another dialog: it asks the kernel (`Nav`) to show the current prompt, go to
the main menu, or open another dialog by its name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.dialogs.caps import ChannelCaps
from bot.dialogs.events import Incoming, Option, Reply
from bot.dialogs.states import State
from bot.i18n import I18n, Texts
from bot.storage.models import Citizen, Conversation, InboundRef, Step

if TYPE_CHECKING:
    from bot.content import Content
    from bot.domain.complaints import ComplaintService
    from bot.domain.faq import FaqLibrary
    from bot.domain.media import MediaStore
    from bot.domain.questions import QuestionService
    from bot.storage.store import Store


@dataclass(frozen=True)
class Limits:
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024
    max_videos: int = 3
    max_video_bytes: int = 20 * 1024 * 1024  # videos and voice messages
    max_video_seconds: int = 60
    max_voice_seconds: int = 300


@dataclass(frozen=True)
class Services:
    """What the dialogs read and write through, built once by the engine."""

    store: Store
    i18n: I18n
    content: Content
    media: MediaStore
    complaints: ComplaintService
    faq: FaqLibrary
    questions: QuestionService
    clock: Any
    municipality: dict[str, str]
    limits: Limits
    default_locale: str
    content_dir: Path | None = None  # CONTENT_DIR: the operators' own content files, if any


@dataclass
class Turn:
    """One incoming event being handled: who, where they are, and how to speak to them."""

    citizen: Citizen
    conv: Conversation
    event: Incoming
    texts: Texts
    replies: list[Reply] = field(default_factory=list)
    inbound: InboundRef | None = None
    queue: bool = False  # replies also go to the outbox (a messenger, not the console)
    now: datetime | None = None
    committed: bool = False  # the step was written already (with a registration)
    caps: ChannelCaps = field(default_factory=ChannelCaps)  # what the citizen's channel shows

    def _(self, message: str) -> str:
        return self.texts.gettext(message)

    @property
    def state(self) -> str:
        return self.conv.state

    @property
    def draft(self) -> dict:
        return self.conv.data.setdefault("draft", {})

    def say(self, text: str, **kwargs) -> None:
        self.replies.append(Reply(text=text, **kwargs))

    def go(self, state: State | str) -> None:
        self.conv.state = state


class Directory(Protocol):
    """What a dialog may look up in the registry: the menu the dialogs declare."""

    menu_readers: list[Callable[[Turn], Awaitable[bool]]]

    def menu_options(self, turn: Turn) -> tuple[Option, ...]:
        """The main menu's entries, in order, in the citizen's language."""

    def menu_handler(self, option_id: str | None) -> Callable[[Turn], Awaitable[None]] | None:
        """What a main-menu option opens, or None."""


class Nav(Protocol):
    """The kernel as the dialogs see it."""

    registry: Directory

    async def prompt(self, turn: Turn) -> None:
        """Show the question of the current state again."""

    async def reprompt(self, turn: Turn, hint: str) -> None:
        """Say `hint`, then show the question of the current state again."""

    async def to_menu(self, turn: Turn) -> None:
        """Drop any draft and show the main menu."""

    async def open(self, name: str, turn: Turn, **kwargs: Any) -> None:
        """Open the dialog registered under `name`."""

    async def back_to_step_or_menu(self, turn: Turn) -> None:
        """The same step of an unfinished complaint, otherwise the main menu."""

    async def finish(self, turn: Turn) -> None:
        """A dialog is done: offer to continue a complaint kept meanwhile, else the main menu."""

    async def earlier_message(self, turn: Turn) -> None:
        """An option of an older message: say so and show the current prompt."""

    async def no_longer_open(self, turn: Turn) -> None:
        """A pushed option whose subject closed: say so politely and show the current prompt."""

    def step(self, turn: Turn, *, secret: bool = False) -> Step:
        """What the turn leaves behind, for a repository that commits it with its own rows."""
