"""Options of messages the bot pushes (a follow-up, a survey, a hearing notice).

Their ids start with a prefix a dialog declares as a pushed `Route`; the kernel routes them to
that dialog in any state. Buttons carry the id itself; on channels with numbered options the
outbox calls `remember_pushed_options` once such a message is delivered, and a number or label
the citizen types next is read against these options first (the kernel's `_normalize`). The
next step of the conversation forgets them: from then on the last prompt is what was seen last.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.dialogs.events import Option
from bot.storage.conversation_notes import ConversationNoteRepo

if TYPE_CHECKING:
    from bot.storage.store import Store

PUSHED_KEY = "_pushed"  # in `Conversation.data`: [[id, label], ...] of the last push
_PREFIXES: set[str] = set()  # filled by the registry from the dialogs' pushed routes


def declare_pushed(prefix: str) -> None:
    _PREFIXES.add(prefix)


def is_pushed(option_id: str) -> bool:
    """True when a dialog answers this option as part of a pushed message."""
    return any(option_id.startswith(prefix) for prefix in _PREFIXES)


async def remember_pushed_options(store: Store, citizen_id: int, options: Iterable[Option]) -> bool:
    """Note the pushed options just delivered to the citizen (others are ignored); True when
    noted. Call it after delivering a message whose replies carry options."""
    pushed = [[option.id, option.label] for option in options if is_pushed(option.id)]
    if not pushed:
        return False
    notes = ConversationNoteRepo(store)
    return await notes.put(citizen_id=citizen_id, key=PUSHED_KEY, value=pushed)


def pushed_options(data: dict) -> list[Option]:
    """The options of the last push, if nothing happened in the conversation since."""
    return [Option(option_id, label) for option_id, label in data.get(PUSHED_KEY, ())]
