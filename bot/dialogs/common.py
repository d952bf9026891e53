"""Helpers shared by the kernel and several dialogs (not a dialog itself).

The names under which dialogs are opened by others live here, so that no dialog module needs to
import another.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from bot.dialogs.events import Incoming, Option
from bot.dialogs.states import DRAFT_STATES, PHOTO_STATES, State
from bot.dialogs.turn import Nav, Turn
from bot.domain.complaints import OPEN_STATUSES
from bot.domain.media import ImageRejected

# Dialogs other dialogs (or the kernel) open by name.
LANGUAGE = "language"
COMPLAINT = "complaint"
SUBSCRIPTION = "subscription"
TOPICS = "topics"
# Option prefixes the kernel knows: a language is chosen before anything else works, and an
# older message's main-menu button still works where no draft is lost.
LANGUAGE_OPTION = "lang:"
LANGUAGE_COMMAND = "/language"  # the one command that works before a language is chosen
MENU_OPTION = "menu:"

_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2060\ufeff]")

log = logging.getLogger(__name__)


def with_event(event: Incoming, **changes) -> Incoming:
    return replace(event, **changes)


def cancel_option(turn: Turn) -> Option:
    return Option("nav:cancel", turn._("✖ Cancel"))


def draft_step(turn: Turn) -> State | None:
    """The complaint step the citizen is at, or will return to, when a draft exists: from the
    "unfinished complaint" question, the language choice or a pushed dialog opened meanwhile."""
    data = turn.conv.data
    if "draft" not in data:
        return None
    if turn.state in DRAFT_STATES:
        return State(turn.state)
    if turn.state == State.UNFINISHED:
        back = data.get("unfinished", {}).get("back")
    else:
        back = data.get("resume")
    return State(back) if back in DRAFT_STATES else None


async def text_input(nav: Nav, turn: Turn, minimum: int, maximum: int) -> str | None:
    """The typed text when it fits the limits; otherwise explain, re-prompt and return None."""
    event = turn.event
    if event.kind != "text":
        await nav.reprompt(turn, wrong_kind(turn))
        return None
    text = _INVISIBLE.sub("", event.text).strip()
    if not text:
        await nav.reprompt(turn, turn._("The message is empty. Please write it in words."))
        return None
    if len(text) > maximum:
        await nav.reprompt(
            turn,
            turn._(
                "The text is too long: {length} characters, the limit is {max}. "
                "Please shorten it and send it again; nothing was saved from this message."
            ).format(length=len(text), max=maximum),
        )
        return None
    if len(text) < minimum:
        await nav.reprompt(
            turn,
            turn._("The text is too short: please write at least {min} characters.").format(
                min=minimum
            ),
        )
        return None
    return text


def wrong_kind(turn: Turn) -> str:
    event = turn.event
    if event.kind == "file" or (event.kind == "photo" and turn.state not in PHOTO_STATES):
        return turn._("I cannot use a file here.")
    if event.kind == "option":
        return turn._("Please type the answer as text.")
    return turn._("I expected a text message here.")


# After filing (`thread.py`): the buttons that add to or withdraw an open complaint, offered by
# "My complaints" and after a check by number and code.
THREAD_PREFIX = "cx:"  # cx:add:<id>, cx:withdraw:<id>
VERIFIED_KEY = "verified"  # complaint ids checked by number and code in this conversation


def remember_verified(data: dict, complaint_id: int) -> None:
    """A complaint checked by number and receipt code may be added to or withdrawn here."""
    verified = [i for i in data.get(VERIFIED_KEY, []) if i != complaint_id][-9:]
    data[VERIFIED_KEY] = [*verified, complaint_id]


def thread_options(turn: Turn, complaint) -> tuple[Option, ...]:
    """The "add" and "withdraw" buttons of an open complaint (none for a closed one)."""
    if complaint.status not in OPEN_STATUSES:
        return ()
    _ = turn._
    number = complaint.reg_number
    return (
        Option(
            f"{THREAD_PREFIX}add:{complaint.id}", _("➕ Add to No. {number}").format(number=number)
        ),
        Option(
            f"{THREAD_PREFIX}withdraw:{complaint.id}",
            _("↩️ Withdraw No. {number}").format(number=number),
        ),
    )


async def take_photo(nav: Nav, turn: Turn, media, attachment) -> str | None:
    """Clean and store one photo a citizen sent; its stored path, or None after saying what was
    wrong and showing the step again (a file that is not a photo, an unreadable picture, a
    failed download)."""
    if attachment.kind != "image":
        await nav.reprompt(turn, turn._("I cannot use a file here."))
        return None
    try:
        stored = await media.save_photo(await attachment.fetch())
    except ImageRejected:
        hint = turn._("This file is not a photo I can read. Please send a JPEG or PNG picture.")
        await nav.reprompt(turn, hint)
        return None
    except Exception as exc:  # a failed download must not end the dialog
        log.warning("photo download failed: %s", type(exc).__name__)
        hint = turn._("I could not download this photo. Please try sending it again.")
        await nav.reprompt(turn, hint)
        return None
    return stored.path
