"""The dialog kernel: one neutral event in, neutral replies out, state kept in the store.

No messenger is imported here. A channel adapter builds an `Incoming`, calls
`DialogEngine.handle`, and renders the returned `Reply` list. The kernel serialises each
citizen's events, refuses floods, loads and commits the step, reads typed words and numbers as
commands and options, and keeps the global navigation ("Main menu", "Cancel", the language, the
question about an unfinished complaint). Everything else is a dialog module (see `dialog.py`),
found through the registry by state, command, menu entry or option prefix. A button from an
older message, or a state the code no longer knows, leads back to a sensible prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from bot.dialogs.caps import DEFAULT_CAPS, ChannelCaps
from bot.dialogs.common import (
    LANGUAGE,
    LANGUAGE_COMMAND,
    LANGUAGE_OPTION,
    MENU_OPTION,
    draft_step,
    with_event,
)
from bot.dialogs.dialog import Dialog, Handler, Route
from bot.dialogs.events import Incoming, Option, Reply
from bot.dialogs.guards import FloodGuard, KeyedLocks
from bot.dialogs.inputs import clean_incoming
from bot.dialogs.matching import match_option
from bot.dialogs.pushed import PUSHED_KEY, pushed_options
from bot.dialogs.registry import DIALOGS, Registry
from bot.dialogs.states import DRAFT_STATES, State
from bot.dialogs.turn import Limits, Nav, Services, Turn
from bot.outbound import replies_message
from bot.storage.models import Citizen, Conversation, InboundRef, NewOutboxMessage, Step

__all__ = ["DialogEngine", "Limits", "Turn"]

TOUCH_EVERY = timedelta(minutes=1)
MENU_WORDS = {"menu", "меню", "баш меню", "главное меню", "/menu"}
CANCEL_WORDS = {"cancel", "отмена", "отменить", "жокко чыгаруу", "токтотуу", "/cancel"}
# States where "Cancel" drops an unfinished complaint; in the others (a pushed dialog opened over
# a complaint) the citizen is asked whether to continue it.
_HOLDING_DRAFT = frozenset({*DRAFT_STATES, State.UNFINISHED, State.LANGUAGE})


class DialogEngine:
    """The kernel: runs the registered dialogs (`registry.DIALOGS`, plus any `add_dialog`)."""

    def __init__(
        self,
        services: Services,
        *,
        flood: FloodGuard | None = None,
        channel_caps: Mapping[str, ChannelCaps] = DEFAULT_CAPS,
        dialogs: Iterable[Callable[[Services, Nav], Dialog]] = DIALOGS,
    ) -> None:
        self.services = services
        self.store = services.store
        self.i18n = services.i18n
        self.clock = services.clock
        self.default_locale = services.default_locale
        self.flood = flood or FloodGuard(10, 2.0, services.clock.monotonic)
        self.channel_caps = dict(channel_caps)
        self.registry = Registry()
        self.registry.own_state(State.UNFINISHED, self._in_unfinished, self._unfinished, "kernel")
        self.registry.own_command("/cancel", self.cancel, False, "kernel")
        for factory in dialogs:
            self.add_dialog(factory)
        self._locks = KeyedLocks()
        self._known_locale: dict[tuple[str, str], str] = {}

    def add_dialog(self, factory: Callable[[Services, Nav], Dialog]) -> Dialog:
        """Register one more dialog (a feature, or a test's)."""
        dialog = factory(self.services, self)
        self.registry.add(dialog)
        return dialog

    # ----- entry point -----------------------------------------------------------------------

    async def handle(
        self, event: Incoming, *, inbound: InboundRef | None = None, queue: bool = False
    ) -> list[Reply]:
        """Handle one event of one citizen; events of the same citizen run one at a time.

        With `queue`, the replies are also queued in the outbox for the citizen's chat, in the
        same transaction that saves the conversation and marks `inbound` (the journal entry the
        event came from) handled: a crash leaves all of that or none of it, so an event is
        applied once and its answer is never lost.
        """
        key = (event.channel, event.user_key)
        verdict = self.flood.check(key)
        if verdict != "ok":
            replies = [] if verdict == "drop" else [self._slow_down(key)]
            await self._finish_unsaved(event, replies, inbound, queue)
            return replies
        async with self._locks.hold(key):
            now = self.clock.now()
            citizen, conv = await self.store.citizens.with_conversation(
                channel=event.channel, user_key=event.user_key
            )
            waited_for = citizen is not None and (citizen.waiting or citizen.unreachable)
            if citizen is None or citizen.unreachable or _touch_due(citizen, now):
                citizen = await self.store.citizens.touch(
                    channel=event.channel, user_key=event.user_key, now=now
                )
            if waited_for:
                # the citizen wrote: what waited for that (blocked bot, closed window) goes out
                await self.store.outbox.release_for(citizen_id=citizen.id, now=now)
            if conv is None or conv.state not in self.registry.handlers:
                conv = Conversation(State.MENU if citizen.locale else State.LANGUAGE)
            turn = Turn(
                citizen,
                conv,
                event,
                self.i18n.texts(citizen.locale or self.default_locale),
                inbound=inbound,
                queue=queue,
                now=now,
                caps=self.channel_caps.get(event.channel) or ChannelCaps(),
            )
            await self._dispatch(turn)
            if not turn.committed:
                await self.store.conversations.commit_step(self.step(turn))
            self._known_locale[key] = turn.texts.locale
            return turn.replies

    def _slow_down(self, key: tuple[str, str]) -> Reply:
        texts = self.i18n.texts(self._known_locale.get(key, self.default_locale))
        return Reply(
            text=texts.gettext(
                "You are sending messages very quickly. Please wait a few seconds: "
                "messages sent in the meantime are not processed."
            )
        )

    def step(self, turn: Turn, *, secret: bool = False) -> Step:
        """What the turn leaves behind: the conversation (with the options now valid), and,
        when queued, its replies as one outbox row for the citizen's chat (`secret`: blanked
        once delivered, beyond the usual)."""
        _remember_options(turn)
        step = Step(turn.citizen.id, turn.conv, turn.now, inbound=turn.inbound)
        if turn.queue and turn.replies:
            row = self._reply_row(turn.event, turn.replies, turn.inbound, turn.citizen.id)
            if secret:
                row.payload["secret"] = True
            step.messages.append(row)
        return step

    def _reply_row(self, event: Incoming, replies, inbound, citizen_id=None) -> NewOutboxMessage:
        return replies_message(
            channel=event.channel,
            recipient=event.user_key,
            citizen_id=citizen_id,
            replies=list(replies),
            kind="reply",
            dedupe_key=f"reply:{inbound.channel}:{inbound.message_sid}" if inbound else None,
        )

    async def _finish_unsaved(self, event: Incoming, replies, inbound, queue: bool) -> None:
        """An event refused before any conversation was touched (a flood): queue what it
        answers and mark its journal entry handled."""
        messages = [self._reply_row(event, replies, inbound)] if queue and replies else []
        await self.store.outbox.add(messages=messages, now=self.clock.now(), inbound=inbound)

    # ----- dispatch --------------------------------------------------------------------------

    async def _dispatch(self, turn: Turn) -> None:
        turn.event = clean_incoming(turn.event)  # nothing unstorable reaches json or sqlite
        event = turn.event = self._normalize(turn)
        option = (event.option_id or "") if event.kind == "option" else ""
        if event.kind == "command":
            await self._command(turn, event.text)
        elif event.kind == "text" and (heard := self.registry.heard(turn)) is not None:
            await heard(turn)
        elif turn.citizen.locale is None and not (event.option_id or "").startswith(
            LANGUAGE_OPTION
        ):
            await self.open(LANGUAGE, turn)
        elif option and (routed := self.registry.route(option, turn.state)) is not None:
            await self._follow(turn, *routed)
        elif option.startswith("nav:"):
            await self._navigate(turn, option)
        elif option and self._menu_button_from_before(turn):
            turn.go(State.MENU)
            await self.registry.handlers[State.MENU](turn)
        elif option and option not in turn.conv.data.get("_offered", []):
            await self.earlier_message(turn)
        else:
            await self.registry.handlers.get(turn.state, self.registry.handlers[State.MENU])(turn)

    async def _follow(self, turn: Turn, route: Route, handler: Handler) -> None:
        """An option its dialog checks against the store. A pushed one may open that dialog
        in the middle of a complaint: the draft is kept, to come back to afterwards."""
        if route.pushed and (back := draft_step(turn)) is not None:
            turn.conv.data["resume"] = back
        await handler(turn)

    def _menu_button_from_before(self, turn: Turn) -> bool:
        """A main-menu button of an older message still works where no draft can be lost."""
        return (
            turn.event.option_id.startswith(MENU_OPTION)
            and turn.event.option_id not in turn.conv.data.get("_offered", [])
            and turn.state in self.registry.light_states
        )

    def _normalize(self, turn: Turn) -> Incoming:
        """Typed words for "menu"/"cancel", option numbers and labels become commands/options:
        matched against a pushed message's options first, when it was the last thing seen."""
        event = turn.event
        if event.kind != "text":
            return event
        typed = " ".join(event.text.split()).casefold()
        if typed in MENU_WORDS:
            return with_event(event, kind="command", text="/menu")
        if typed in CANCEL_WORDS:
            return with_event(event, kind="command", text="/cancel")
        numbers = turn.caps.numbered_options
        offered = [Option(i, label) for i, label in turn.conv.data.get("_options", [])]
        pushed = pushed_options(turn.conv.data)
        chosen = (pushed and match_option(event.text, pushed, allow_numbers=numbers)) or (
            match_option(event.text, offered, allow_numbers=numbers)
        )
        return with_event(event, kind="option", option_id=chosen.id) if chosen else event

    # ----- commands and navigation -----------------------------------------------------------

    async def _command(self, turn: Turn, text: str) -> None:
        command = (text.split() or [""])[0].split("@")[0].casefold()
        if turn.citizen.locale is None and command != LANGUAGE_COMMAND:
            await self.open(LANGUAGE, turn)
            return
        entry = self.registry.commands.get(command)
        if entry is None:
            turn.say(turn._("I do not know this command. Please choose from the menu."))
            await self.back_to_step_or_menu(turn)
        elif not (entry.leaves and self._ask_about_draft(turn, command)):
            await entry.handler(turn)

    async def _navigate(self, turn: Turn, option_id: str) -> None:
        if option_id == "nav:cancel":
            await self.cancel(turn)
        elif not self._ask_about_draft(turn, "/menu"):  # "Main menu" of an older message
            await self.to_menu(turn)

    async def cancel(self, turn: Turn) -> None:
        if turn.state != State.MENU and turn.state != State.LANGUAGE:
            turn.say(turn._(self.registry.cancel_note(turn.state)))
        if turn.state in _HOLDING_DRAFT or not self._ask_about_draft(turn, "/menu"):
            await self.to_menu(turn)  # (a dialog opened over a complaint: asked about it)

    def _ask_about_draft(self, turn: Turn, command: str) -> bool:
        """Before a command leaves an unfinished complaint, ask whether to keep it.
        True when asked (the command waits for the answer)."""
        back = draft_step(turn)
        if back is None:
            return False
        turn.conv.data["unfinished"] = {"back": back, "to": command}
        turn.go(State.UNFINISHED)
        turn.replies.append(self._unfinished(turn))
        return True

    def _unfinished(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("You have an unfinished complaint. Do you want to continue it?"),
            options=(
                Option("draft:continue", _("▶️ Yes, continue the complaint")),
                Option("draft:discard", _("🗑 No, discard it")),
            ),
        )

    async def _in_unfinished(self, turn: Turn) -> None:
        data = turn.conv.data
        back = draft_step(turn)
        match turn.event.option_id:
            case "draft:continue" if back is not None:
                data.pop("unfinished", None)
                turn.go(back)
                await self.prompt(turn)
            case "draft:discard" | "draft:continue":  # (continue with nothing left to continue)
                wanted = data.pop("unfinished", {}).get("to", "/menu")
                for key in ("draft", "editing", "resume", "identity_before"):
                    data.pop(key, None)
                if turn.event.option_id == "draft:discard":
                    turn.say(turn._("The unfinished complaint was discarded."))
                turn.go(State.MENU)
                await self._command(turn, wanted)
            case _:
                await self.reprompt(turn, turn._("Please choose with the buttons."))

    # ----- what the dialogs call (`Nav`) -----------------------------------------------------

    async def prompt(self, turn: Turn) -> None:
        prompt = self.registry.prompts.get(turn.state)
        if prompt is None:
            await self.to_menu(turn)
            return
        turn.replies.append(prompt(turn))

    async def reprompt(self, turn: Turn, hint: str) -> None:
        turn.say(hint)
        await self.prompt(turn)

    async def to_menu(self, turn: Turn) -> None:
        for key in ("draft", "editing", "resume"):
            turn.conv.data.pop(key, None)
        turn.go(State.MENU)
        await self.prompt(turn)

    async def open(self, name: str, turn: Turn, **kwargs: Any) -> None:
        await self.registry.dialog(name).open(turn, **kwargs)

    async def back_to_step_or_menu(self, turn: Turn) -> None:
        """After a command that changes nothing: the same step of an unfinished complaint (its
        draft kept), otherwise the main menu."""
        if draft_step(turn) is not None:
            await self.prompt(turn)
        else:
            await self.to_menu(turn)

    async def finish(self, turn: Turn) -> None:
        if not self._ask_about_draft(turn, "/menu"):
            await self.to_menu(turn)

    async def earlier_message(self, turn: Turn) -> None:
        await self.reprompt(
            turn, turn._("That button belongs to an earlier message. Here is where we are now:")
        )

    async def no_longer_open(self, turn: Turn) -> None:
        await self.reprompt(
            turn,
            turn._(
                "Thank you, but this is no longer open, so your answer was not recorded. "
                "Here is where we are now:"
            ),
        )


def _remember_options(turn: Turn) -> None:
    """The options of the last prompt are the ones valid for the next event; a pushed
    message's options are forgotten (they were seen before this turn's replies)."""
    offered = next((r.options for r in reversed(turn.replies) if r.options), ())
    turn.conv.data["_offered"] = [o.id for o in offered]
    turn.conv.data["_options"] = [[o.id, o.label] for o in offered]
    turn.conv.data.pop(PUSHED_KEY, None)


def _touch_due(citizen: Citizen, now) -> bool:
    """`last_inbound_at` is kept to the minute: most messages then cost no write for it."""
    last = citizen.last_inbound_at
    return last is None or now - last >= TOUCH_EVERY
