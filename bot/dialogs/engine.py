"""The dialog core: one neutral event in, neutral replies out, state kept in the store.

No messenger is imported here. A channel adapter builds an `Incoming`, calls
`DialogEngine.handle`, and renders the returned `Reply` list. Each state has a handler for valid
input and a prompt that is shown again, with a short hint, for anything else. "Main menu" and
"Cancel" work everywhere; a button from an older message, or a state the code no longer knows,
leads back to a sensible prompt instead of an error.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.complaints import (
    ANSWERED,
    REJECTED,
    STATUS_LABELS,
    ComplaintService,
    Draft,
    issue_receipt,
    normalize_reg_number,
)
from bot.content import Content
from bot.dialogs.events import Attachment, Incoming, Option, Reply
from bot.dialogs.faq_flow import FAQ_PROMPTS, FAQ_STATES, FaqFlow, TypedText
from bot.dialogs.guards import FloodGuard, KeyedLocks
from bot.dialogs.inputs import clean_incoming, is_reg_number, parse_phone, valid_pin
from bot.dialogs.matching import match_option
from bot.dialogs.states import DRAFT_STATES, EDIT_STEP_STATES, PHOTO_STATES, State
from bot.dialogs.subscription import SubscriptionFlow, subscription_word
from bot.faq import FaqLibrary
from bot.i18n import I18n, Texts
from bot.media import NOT_AN_IMAGE, TOO_LARGE, ImageRejected, MediaStore
from bot.outbound import replies_message
from bot.questions import QuestionService
from bot.storage.models import Citizen, Conversation, InboundRef, NewOutboxMessage, Photo, Step
from bot.storage.store import Store

log = logging.getLogger(__name__)

MIN_DESCRIPTION = 10
MAX_DESCRIPTION = 4000
MAX_SHORT_TEXT = 300
MAX_CHECK_FAILURES = 5
RECEIPT_PREFIX = "receipt:new:"
MAX_RECEIPT_BUTTONS = 5
CHECK_LOCK_MINUTES = 15
CHECK_WINDOW = timedelta(minutes=15)  # five failures within it lock checking
TOUCH_EVERY = timedelta(minutes=1)
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2060\ufeff]")

MENU_WORDS = {"menu", "меню", "баш меню", "главное меню", "/menu"}
CANCEL_WORDS = {"cancel", "отмена", "отменить", "жокко чыгаруу", "токтотуу", "/cancel"}


@dataclass(frozen=True)
class Limits:
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024


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

    def go(self, state: State) -> None:
        self.conv.state = state


class DialogEngine(FaqFlow, SubscriptionFlow):
    """Runs every flow: language, announcements consent, main menu, complaint, my complaints,
    check, questions and answers, help."""

    def __init__(
        self,
        *,
        store: Store,
        i18n: I18n,
        content: Content,
        media: MediaStore,
        complaints: ComplaintService,
        faq: FaqLibrary,
        questions: QuestionService,
        clock,
        municipality: dict[str, str] | None = None,
        default_locale: str = "ky",
        limits: Limits | None = None,
        flood: FloodGuard | None = None,
        numbered_channels: frozenset[str] = frozenset({"console", "whatsapp"}),
        contact_button_channels: frozenset[str] = frozenset({"telegram", "console"}),
    ) -> None:
        self.store = store
        self.i18n = i18n
        self.content = content
        self.media = media
        self.complaints = complaints
        self.faq = faq
        self.questions = questions
        self.municipality = municipality or {}
        self.clock = clock
        self.default_locale = default_locale
        self.limits = limits or Limits()
        self.flood = flood or FloodGuard(10, 2.0, clock.monotonic)
        self.numbered_channels = numbered_channels
        # channels with a "share my phone number" button (the console's is /contact)
        self.contact_button_channels = contact_button_channels
        self._locks = KeyedLocks()
        self._known_locale: dict[tuple[str, str], str] = {}

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
            if conv is None or conv.state not in State.__members__.values():
                conv = Conversation(State.MENU if citizen.locale else State.LANGUAGE)
            turn = Turn(
                citizen,
                conv,
                event,
                self.i18n.texts(citizen.locale or self.default_locale),
                inbound=inbound,
                queue=queue,
                now=now,
            )
            await self._dispatch(turn)
            if not turn.committed:
                await self.store.conversations.commit_step(self._step(turn))
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

    def _step(self, turn: Turn, *, secret: bool = False) -> Step:
        """What the turn leaves behind: the conversation (with the options now valid), and,
        when queued, its replies as one outbox row for the citizen's chat (`secret`: blanked
        once delivered, beyond the usual)."""
        self._remember_options(turn)
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

    async def _dispatch(self, turn: Turn) -> None:
        turn.event = clean_incoming(turn.event)  # nothing unstorable reaches json or sqlite
        event = self._normalize(turn)
        turn.event = event
        if event.kind == "command":
            await self._command(turn, event.text)
        elif event.kind == "text" and (wanted := subscription_word(event.text)) is not None:
            await self._subscription_word(turn, wanted)
        elif turn.citizen.locale is None and not (event.option_id or "").startswith("lang:"):
            self._show_language(turn)
        elif event.kind == "option" and event.option_id.startswith("nav:"):
            await self._navigate(turn, event.option_id)
        elif event.kind == "option" and self._menu_button_from_before(turn):
            turn.go(State.MENU)
            await self._in_menu(turn)
        elif event.kind == "option" and event.option_id.startswith(RECEIPT_PREFIX):
            await self._new_receipt(turn)  # checked against the store, valid in any state
        elif event.option_id == "confirm:yes" and turn.state != State.CONFIRM:
            await self._confirm_again(turn)
        elif event.kind == "option" and event.option_id not in turn.conv.data.get("_offered", []):
            turn.say(turn._("That button belongs to an earlier message. Here is where we are now:"))
            await self._prompt(turn)
        else:
            handler = _HANDLERS.get(turn.state, DialogEngine._in_menu)
            await handler(self, turn)

    def _menu_button_from_before(self, turn: Turn) -> bool:
        """A main-menu button of an older message still works where no draft can be lost."""
        return (
            turn.event.option_id.startswith("menu:")
            and turn.event.option_id not in turn.conv.data.get("_offered", [])
            and turn.state in _NO_DRAFT_STATES
        )

    def _normalize(self, turn: Turn) -> Incoming:
        """Typed words for "menu"/"cancel", option numbers and labels become commands/options."""
        event = turn.event
        if event.kind != "text":
            return event
        typed = " ".join(event.text.split()).casefold()
        if typed in MENU_WORDS:
            return _as(event, kind="command", text="/menu")
        if typed in CANCEL_WORDS:
            return _as(event, kind="command", text="/cancel")
        offered = [Option(i, label) for i, label in turn.conv.data.get("_options", [])]
        chosen = match_option(
            event.text, offered, allow_numbers=event.channel in self.numbered_channels
        )
        return _as(event, kind="option", option_id=chosen.id) if chosen else event

    def _remember_options(self, turn: Turn) -> None:
        """The options of the last prompt are the ones valid for the next event."""
        offered = next((r.options for r in reversed(turn.replies) if r.options), ())
        turn.conv.data["_offered"] = [o.id for o in offered]
        turn.conv.data["_options"] = [[o.id, o.label] for o in offered]

    # ----- commands and navigation -----------------------------------------------------------

    async def _command(self, turn: Turn, text: str) -> None:
        command = (text.split() or [""])[0].split("@")[0].casefold()
        if turn.citizen.locale is None and command not in ("/language",):
            self._show_language(turn)
            return
        if command in _LEAVING_COMMANDS and self._ask_about_draft(turn, command):
            return
        match command:
            case "/start" | "/menu":
                await self._to_menu(turn)
            case "/cancel":
                await self._cancel(turn)
            case "/language":
                self._show_language(turn)
            case "/help":
                self._show_help(turn)
                await self._back_to_step_or_menu(turn)
            case "/complaint" | "/new":
                self._start_complaint(turn)
            case "/my" | "/mycomplaints":
                await self._show_my_complaints(turn)
            case "/check":
                self._start_check(turn)
            case "/faq" | "/questions":
                self._start_faq(turn)
            case "/announcements" | "/subscribe":
                self._ask_subscription(turn)
            case "/stop" | "/unsubscribe":
                await self._subscription_word(turn, False)
            case _:
                turn.say(turn._("I do not know this command. Please choose from the menu."))
                await self._back_to_step_or_menu(turn)

    async def _back_to_step_or_menu(self, turn: Turn) -> None:
        """After a command that changes nothing: the same step of an unfinished complaint (its
        draft kept), otherwise the main menu."""
        if self._draft_step(turn) is not None:
            await self._prompt(turn)
        else:
            await self._to_menu(turn)

    def _draft_step(self, turn: Turn) -> State | None:
        """The complaint step the citizen is at (or will return to), when a draft exists."""
        data = turn.conv.data
        if "draft" not in data:
            return None
        if turn.state in DRAFT_STATES:
            return State(turn.state)
        back = (
            data.get("unfinished", {}).get("back")
            if turn.state == State.UNFINISHED
            else data.get("resume")
            if turn.state == State.LANGUAGE
            else None
        )
        return State(back) if back in DRAFT_STATES else None

    def _ask_about_draft(self, turn: Turn, command: str) -> bool:
        """Before a command leaves an unfinished complaint, ask whether to keep it.
        True when asked (the command waits for the answer)."""
        back = self._draft_step(turn)
        if back is None:
            return False
        turn.conv.data["unfinished"] = {"back": back, "to": command}
        turn.go(State.UNFINISHED)
        turn.replies.append(self._prompt_unfinished(turn))
        return True

    def _prompt_unfinished(self, turn: Turn) -> Reply:
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
        back = self._draft_step(turn)
        match turn.event.option_id:
            case "draft:continue" if back is not None:
                data.pop("unfinished", None)
                turn.go(back)
                await self._prompt(turn)
            case "draft:discard" | "draft:continue":  # (continue with nothing left to continue)
                wanted = data.pop("unfinished", {}).get("to", "/menu")
                for key in ("draft", "editing", "resume", "identity_before"):
                    data.pop(key, None)
                if turn.event.option_id == "draft:discard":
                    turn.say(turn._("The unfinished complaint was discarded."))
                turn.go(State.MENU)
                await self._command(turn, wanted)
            case _:
                await self._reprompt(turn, turn._("Please choose with the buttons."))

    async def _navigate(self, turn: Turn, option_id: str) -> None:
        if option_id == "nav:cancel":
            await self._cancel(turn)
        elif option_id == "nav:summary":
            await self._back_to_summary(turn)
        elif not self._ask_about_draft(turn, "/menu"):  # "Main menu" of an older message
            await self._to_menu(turn)

    async def _back_to_summary(self, turn: Turn) -> None:
        """Leave a step opened from the summary unchanged (an identity half re-entered is
        restored as it was)."""
        data = turn.conv.data
        draft = data.get("draft", {})
        if turn.state not in EDIT_STEP_STATES or not data.get("editing"):
            turn.say(turn._("That button belongs to an earlier message. Here is where we are now:"))
            await self._prompt(turn)
            return
        if turn.state in _IDENTITY_STATES:
            draft.update(data.get("identity_before", {}))
        data.pop("editing", None)
        turn.go(State.CONFIRM)
        await self._prompt(turn)

    async def _cancel(self, turn: Turn) -> None:
        if turn.state != State.MENU and turn.state != State.LANGUAGE:
            turn.say(turn._("Cancelled. Nothing was sent."))
        await self._to_menu(turn)

    async def _to_menu(self, turn: Turn) -> None:
        turn.conv.data.pop("draft", None)
        turn.conv.data.pop("editing", None)
        turn.go(State.MENU)
        turn.replies.append(self._menu_reply(turn))

    def _menu_reply(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("Main menu. What would you like to do?"),
            options=(
                Option("menu:complaint", _("📝 File a complaint")),
                Option("menu:mine", _("📋 My complaints")),
                Option("menu:check", _("🔎 Check a complaint")),
                Option("menu:faq", _("❓ Questions and answers")),
                Option("menu:announcements", _("🔔 Announcements")),
                Option("menu:help", _("ℹ️ Help and contacts")),
                Option("menu:language", _("🌐 Language")),
            ),
        )

    def _show_language(self, turn: Turn) -> None:
        """Ask for the language; from an unfinished complaint, come back to its step after."""
        step = self._draft_step(turn)
        if step is not None:
            turn.conv.data["resume"] = step
        else:
            turn.conv.data.pop("resume", None)
        turn.conv.data.pop("unfinished", None)
        turn.go(State.LANGUAGE)
        turn.replies.append(self._language_reply(turn))

    def _language_reply(self, turn: Turn) -> Reply:
        """Asked in both languages at once: the citizen has not chosen yet."""
        ask = [
            self.i18n.texts(locale).gettext("Please choose a language.") for locale in ("ky", "ru")
        ]
        return Reply(
            text="\n".join(ask),
            options=(Option("lang:ky", "Кыргызча"), Option("lang:ru", "Русский")),
        )

    def _show_help(self, turn: Turn) -> None:
        """Help and contacts: the configured phone lines (each with whose line it is), 112, the
        reception schedule (HELP_PHONES_*, RECEPTION_SCHEDULE_*, shared with the FAQ)."""
        _ = turn._
        phones = self.faq.substitution("help_phones", turn.texts.locale)
        schedule = self.faq.substitution("reception_schedule", turn.texts.locale)
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

    # ----- language and menu states ----------------------------------------------------------

    async def _in_language(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        if not option.startswith("lang:"):
            self._show_language(turn)
            return
        locale = option.removeprefix("lang:")
        await self.store.citizens.set_locale(citizen_id=turn.citizen.id, locale=locale)
        turn.citizen = _with_locale(turn.citizen, locale)
        turn.texts = self.i18n.texts(locale)
        turn.say(
            turn._("Language saved: Russian.")
            if locale == "ru"
            else turn._("Language saved: Kyrgyz.")
        )
        resume = self._draft_step(turn)
        turn.conv.data.pop("resume", None)
        if resume is not None:  # the draft is kept: on with the complaint in the new language
            turn.go(resume)
            await self._prompt(turn)
        elif turn.citizen.announcements is None:
            self._ask_subscription(turn)
        else:
            await self._to_menu(turn)

    async def _in_menu(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "menu:complaint":
                self._start_complaint(turn)
            case "menu:mine":
                await self._show_my_complaints(turn)
            case "menu:check":
                self._start_check(turn)
            case "menu:help":
                self._show_help(turn)
                await self._to_menu(turn)
            case "menu:language":
                self._show_language(turn)
            case "menu:faq":
                self._start_faq(turn)
            case "menu:announcements":
                self._ask_subscription(turn)
            case _ if turn.event.kind == "text" and (read := self._menu_search(turn)) is not None:
                # small talk, a stated problem or a question typed at the menu: the FAQ answers
                await self._search_faq(turn, turn.event.text, read)
            case _ if turn.event.attachments:
                turn.say(turn._("Photos can be attached to a complaint: start one from the menu."))
                await self._to_menu(turn)
            case _:
                turn.say(turn._("Please choose one of the options below."))
                await self._to_menu(turn)

    def _menu_search(self, turn: Turn) -> TypedText | None:
        """Text typed at the menu, read for the FAQ, or None when the FAQ has nothing to say to
        it. Small talk gets a kind answer, a stated problem ("суу жок") the offer to file it as
        a complaint, a question the entries that fit, and a long text the offer to send it to
        the operators; a stray word gets none of these."""
        typed = turn.event.text
        read = self._read_typed(typed)
        worth = read.small_talk or read.problem or read.found or len(typed.split()) >= 5
        return read if worth else None

    # ----- prompts ---------------------------------------------------------------------------

    async def _prompt(self, turn: Turn) -> None:
        """Show the question of the current state again."""
        prompt = _PROMPTS.get(turn.state)
        if prompt is None:
            await self._to_menu(turn)
            return
        reply = prompt(self, turn)
        if turn.state in EDIT_STEP_STATES and turn.conv.data.get("editing"):
            # a step opened from the summary: back to it unchanged, besides "Cancel"
            back = Option("nav:summary", turn._("⬅️ Back to the summary"))
            options = [o for o in reply.options if o.id != "nav:cancel"]
            reply = replace(reply, options=(*options, back, self._cancel_option(turn)))
        turn.replies.append(reply)

    def _cancel_option(self, turn: Turn) -> Option:
        return Option("nav:cancel", turn._("✖ Cancel"))

    def _prompt_category(self, turn: Turn) -> Reply:
        locale = turn.texts.locale
        options = tuple(Option(f"cat:{c.id}", c.label(locale)) for c in self.content.categories)
        return Reply(
            text=turn._("What is the complaint about? Choose a category."),
            options=(*options, self._cancel_option(turn)),
        )

    def _prompt_description(self, turn: Turn) -> Reply:
        _ = turn._
        text = _(
            "Describe the problem in your own words: what happened, where and when. "
            "From {min} to {max} characters."
        ).format(min=MIN_DESCRIPTION, max=MAX_DESCRIPTION)
        options = [self._cancel_option(turn)]
        suggested = self._suggested_description(turn)
        if suggested:
            text += "\n\n" + _("Or use what you wrote before: «{text}»").format(text=suggested)
            options.insert(0, Option("desc:use", _("✅ Use what I wrote")))
        return Reply(text=text, options=tuple(options))

    def _suggested_description(self, turn: Turn) -> str | None:
        """The problem typed at the menu, when it can serve as the description as it is."""
        typed = turn.draft.get("suggested") or ""
        fits = MIN_DESCRIPTION <= len(typed) <= MAX_DESCRIPTION and not turn.draft.get(
            "description"
        )
        return typed if fits else None

    def _prompt_place(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("Where is it? Send a location pin or type the address. You can skip this step."),
            options=(Option("place:skip", _("⏭ Skip")), self._cancel_option(turn)),
            ask_location=_("📍 Send my location"),
        )

    def _prompt_photos(self, turn: Turn) -> Reply:
        _ = turn._
        count, most = len(turn.draft.get("photos", [])), self.limits.max_photos
        counter = _("Photos attached: {count} of {max}.").format(count=count, max=most)
        # a photo's own answer ("Photo 2 of 5 attached.") has just shown the count
        answered = bool(turn.event.attachments) and count > 0
        if count >= most:
            lines = [] if answered else [counter]
            lines.append(_("No more photos can be added. Press Done to go on."))
        elif answered:
            lines = [_("You can send another photo, or press Done.")]
        else:
            lines = [
                _(
                    "You can attach up to {max} photos as evidence. Send them now, or press Done."
                ).format(max=most)
            ]
            if count:
                lines.append(counter)
        options = [Option("photos:done", _("✅ Done"))]
        if count:
            options.append(Option("photos:clear", _("🗑 Remove the photos")))
        options.append(self._cancel_option(turn))
        return Reply(text="\n".join(lines), options=tuple(options))

    def _prompt_identity(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_(
                "Do you want to give your name?\n\n"
                "Named appeal: you give your full name, phone and address. It is a formal appeal: "
                "the law obliges the body to answer it on the merits within the legal deadline.\n\n"
                "Anonymous report: we do not ask who you are, and the operators will not see your "
                "name, phone or account. It is still registered, routed, tracked and answered "
                "here, but by law a body may decline to treat a report without name and address "
                "as a formal appeal."
            ),
            options=(
                Option("id:named", _("👤 Named appeal")),
                Option("id:anon", _("🕶 Anonymous report")),
                self._cancel_option(turn),
            ),
        )

    def _prompt_name(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Your full name (surname, first name):"),
            options=(self._cancel_option(turn),),
        )

    def _prompt_phone(self, turn: Turn) -> Reply:
        _ = turn._
        if turn.event.channel not in self.contact_button_channels:
            return Reply(
                text=_("Your phone number: please type it (e.g. +996 555 123 456)."),
                options=(self._cancel_option(turn),),
            )
        return Reply(
            text=_(
                "Your phone number: press the button to share it, "
                "or type it (e.g. +996 555 123 456)."
            ),
            options=(self._cancel_option(turn),),
            ask_contact=_("📱 Share my phone number"),
        )

    def _prompt_contact_address(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Your postal address, for the official answer:"),
            options=(self._cancel_option(turn),),
        )

    def _prompt_confirm(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=self._summary(turn),
            options=(
                Option("confirm:yes", _("✅ Send")),
                Option("confirm:edit", _("✏️ Change something")),
                self._cancel_option(turn),
            ),
        )

    def _prompt_edit(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("What do you want to change?"),
            options=(
                Option("edit:category", _("Category")),
                Option("edit:description", _("Description")),
                Option("edit:place", _("Place")),
                Option("edit:photos", _("Photos")),
                Option("edit:identity", _("Named or anonymous")),
                Option("edit:back", _("⬅️ Back to the summary")),
            ),
        )

    def _prompt_check_number(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Type the registration number of the complaint, for example 26-00042."),
            options=(self._cancel_option(turn),),
        )

    def _prompt_check_code(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Now type the receipt code you were given, for example 7KXM-4PQ2."),
            options=(self._cancel_option(turn),),
        )

    # ----- the complaint flow ----------------------------------------------------------------

    def _start_complaint(self, turn: Turn) -> None:
        # the draft's id becomes the complaint's unique key: registered once, however often
        # "Send" arrives
        turn.conv.data["draft"] = {"photos": [], "id": secrets.token_hex(8)}
        turn.conv.data.pop("editing", None)
        turn.go(State.CATEGORY)
        turn.replies.append(self._prompt_category(turn))

    async def _advance(self, turn: Turn, to: State) -> None:
        """Go to the next step, or back to the summary when the citizen was changing one field."""
        if turn.conv.data.get("editing") and to not in (
            State.NAME,
            State.PHONE,
            State.CONTACT_ADDRESS,
        ):
            turn.conv.data.pop("editing", None)
            to = State.CONFIRM
        turn.go(to)
        await self._prompt(turn)

    async def _in_category(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        category = (
            self.content.category(option.removeprefix("cat:"))
            if option.startswith("cat:")
            else None
        )
        if category is None:
            await self._reprompt(turn, turn._("Please choose a category with the buttons."))
            return
        turn.draft["category"] = category.id
        await self._advance(turn, State.DESCRIPTION)

    async def _in_description(self, turn: Turn) -> None:
        if turn.event.option_id == "desc:use" and (typed := self._suggested_description(turn)):
            turn.draft["description"] = typed
            await self._advance(turn, State.PLACE)
            return
        caption = turn.event.text.strip() if turn.event.attachments else ""
        if await self._took_photos(turn, prompt=not caption):
            if caption:  # a photo with a caption: the caption is the description
                turn.event = _as(turn.event, kind="text", attachments=())
                await self._in_description(turn)
            return
        text = await self._text_input(turn, MIN_DESCRIPTION, MAX_DESCRIPTION)
        if text is None:
            return
        turn.draft["description"] = text
        await self._advance(turn, State.PLACE)

    async def _in_place(self, turn: Turn) -> None:
        event = turn.event
        if await self._took_photos(turn):
            return
        if event.kind == "location":
            if not valid_pin(event.latitude, event.longitude):
                hint = turn._(
                    "I could not use this location: its coordinates are not valid. "
                    "Please send the pin again, or type the address."
                )
                await self._reprompt(turn, hint)
                return
            turn.draft.update(latitude=float(event.latitude), longitude=float(event.longitude))
            turn.say(turn._("Location saved."))
        elif event.option_id == "place:skip":
            turn.draft.update(latitude=None, longitude=None, address=None)
        else:
            text = await self._text_input(turn, 3, MAX_SHORT_TEXT)
            if text is None:
                return
            turn.draft["address"] = text
            turn.say(turn._("Address saved."))
        await self._advance(turn, State.PHOTOS)

    async def _in_photos(self, turn: Turn) -> None:
        if await self._took_photos(turn):
            return
        match turn.event.option_id:
            case "photos:done":
                await self._advance(turn, State.IDENTITY)
            case "photos:clear":
                turn.draft["photos"] = []
                turn.say(turn._("The photos were removed."))
                await self._prompt(turn)
            case _ if len(turn.draft.get("photos", [])) >= self.limits.max_photos:
                await self._reprompt(turn, turn._("Please choose with the buttons."))
            case _:
                await self._reprompt(turn, turn._("Send a photo, or press Done."))

    async def _in_identity(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "id:anon":
                turn.draft.update(anonymous=True, full_name=None, phone=None, contact_address=None)
                turn.conv.data.pop("editing", None)
                turn.go(State.CONFIRM)
                await self._prompt(turn)
            case "id:named":
                turn.draft["anonymous"] = False
                turn.go(State.NAME)
                await self._prompt(turn)
            case _:
                await self._reprompt(turn, turn._("Please choose with the buttons."))

    async def _in_name(self, turn: Turn) -> None:
        text = await self._text_input(turn, 3, 150)
        if text is not None:
            turn.draft["full_name"] = text
            turn.go(State.PHONE)
            await self._prompt(turn)

    async def _in_phone(self, turn: Turn) -> None:
        event = turn.event
        if event.kind == "contact" and not event.contact_is_own:
            hint = turn._(
                "This is someone else's contact, so I did not save it. Please share your own "
                "number, or type the number at which you can be reached."
            )
            await self._reprompt(turn, hint)
            return
        typed = {"contact": event.contact_phone, "text": event.text}.get(event.kind)
        phone = parse_phone(typed or "")
        if phone is None:
            await self._reprompt(turn, turn._("That does not look like a phone number."))
            return
        turn.draft["phone"] = phone
        turn.say(turn._("Phone number saved."))
        turn.go(State.CONTACT_ADDRESS)
        await self._prompt(turn)

    async def _in_contact_address(self, turn: Turn) -> None:
        text = await self._text_input(turn, 5, MAX_SHORT_TEXT)
        if text is not None:
            turn.draft["contact_address"] = text
            turn.conv.data.pop("editing", None)
            turn.go(State.CONFIRM)
            await self._prompt(turn)

    async def _in_confirm(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "confirm:yes":
                await self._register(turn)
            case "confirm:edit":
                turn.go(State.EDIT)
                await self._prompt(turn)
            case _:
                await self._reprompt(turn, turn._("Please check the summary and choose below."))

    async def _in_edit(self, turn: Turn) -> None:
        targets = {
            "edit:category": State.CATEGORY,
            "edit:description": State.DESCRIPTION,
            "edit:place": State.PLACE,
            "edit:photos": State.PHOTOS,
            "edit:identity": State.IDENTITY,
        }
        option = turn.event.option_id or ""
        if option == "edit:back":
            turn.go(State.CONFIRM)
        elif option in targets:
            data = turn.conv.data
            data["editing"] = True
            # "Back to the summary" from a half re-entered identity restores it as it was
            data["identity_before"] = {key: turn.draft.get(key) for key in _IDENTITY_FIELDS}
            turn.go(targets[option])
        else:
            await self._reprompt(turn, turn._("Please choose with the buttons."))
            return
        await self._prompt(turn)

    async def _register(self, turn: Turn) -> None:
        """Register the draft once: the complaint, the receipt, the operator card and this
        turn's conversation and replies are written in one transaction, and the draft's id is
        the complaint's unique key, so a "Send" that arrives twice registers nothing new."""
        draft = turn.draft
        if not draft.get("category") or not draft.get("description"):
            turn.say(turn._("Something is missing in the complaint. Let us start again."))
            self._start_complaint(turn)
            return
        draft_key = draft.get("id") or secrets.token_hex(8)
        complaint_draft = _draft_from(draft)
        await self._to_menu(turn)
        turn.conv.data["registered"] = draft_key
        complaint, code, created = await self.complaints.register(
            turn.citizen,
            complaint_draft,
            turn.texts.locale,
            draft_key=draft_key,
            receipt_by_outbox=turn.queue,
            step=self._step(turn),
        )
        if not created:
            turn.replies[:0] = [Reply(text=self._already_registered(turn, complaint))]
            return
        log.info("complaint %s registered (%s)", complaint.reg_number, complaint.category)
        turn.committed = True
        receipt = self.complaints.receipt_text(turn.texts, complaint, code)
        turn.replies[:0] = [Reply(text=receipt)]

    async def _confirm_again(self, turn: Turn) -> None:
        """A "Send" pressed again after the complaint was registered: say which one it is."""
        draft_key = turn.conv.data.get("registered")
        complaint = await self.store.complaints.by_draft(draft_key=draft_key) if draft_key else None
        if complaint is None:
            turn.say(turn._("That button belongs to an earlier message. Here is where we are now:"))
        else:
            turn.say(self._already_registered(turn, complaint))
        await self._prompt(turn)

    def _already_registered(self, turn: Turn, complaint) -> str:
        return turn._(
            "This complaint is already registered: No. {number}. The receipt code was sent "
            "in this chat; if it did not arrive, ask for a new one in «My complaints»."
        ).format(number=complaint.reg_number)

    def _summary(self, turn: Turn) -> str:
        _ = turn._
        draft = turn.draft
        category = self.content.category(draft.get("category", ""))
        lines = [
            _("Please check your complaint:"),
            _("Category: {category}").format(
                category=category.label(turn.texts.locale) if category else "—"
            ),
            _("Description: {text}").format(text=draft.get("description", "—")),
        ]
        if draft.get("address"):
            lines.append(_("Place: {address}").format(address=draft["address"]))
        if draft.get("latitude") is not None:
            lines.append(_("Location pin: attached"))
        lines.append(_("Photos: {count}").format(count=len(draft.get("photos", []))))
        if draft.get("anonymous"):
            lines.append(_("Anonymous report: your name and contacts are not sent."))
        else:
            lines.append(
                _("Applicant: {name}, phone {phone}, address {address}").format(
                    name=draft.get("full_name"),
                    phone=draft.get("phone"),
                    address=draft.get("contact_address"),
                )
            )
        return "\n".join(lines)

    # ----- photos and text -------------------------------------------------------------------

    async def _took_photos(self, turn: Turn, prompt: bool = True) -> bool:
        """Add the event's attachments to the draft. True when the event carried any."""
        if not turn.event.attachments:
            return False
        added = False
        for attachment in turn.event.attachments:
            answer, ok = await self._add_photo(turn, attachment)
            turn.say(answer)
            added = added or ok
        if prompt and added and turn.state != State.PHOTOS:
            turn.say(turn._("Photo noted. Now please continue:"))
        if prompt:
            await self._prompt(turn)
        return True

    async def _add_photo(self, turn: Turn, attachment: Attachment) -> tuple[str, bool]:
        """Attach one photo to the draft: what to tell the citizen, and whether it was added."""
        _ = turn._
        photos = turn.draft.setdefault("photos", [])
        if attachment.kind != "image":
            return _(
                "I can accept only photos (JPEG, PNG, WEBP and similar). Voice messages, videos, "
                "stickers and documents cannot be attached; please describe them in words."
            ), False
        if len(photos) >= self.limits.max_photos:
            return _("A complaint can have at most {max} photos; this one was not added.").format(
                max=self.limits.max_photos
            ), False
        if attachment.size and attachment.size > self.limits.max_photo_bytes:
            return self._too_large(turn), False
        try:
            stored = await self.media.save_photo(await attachment.fetch())
        except ImageRejected as rejected:
            if rejected.reason == TOO_LARGE:
                return self._too_large(turn), False
            if rejected.reason == NOT_AN_IMAGE:
                return _(
                    "This file is not a photo I can read. Please send a JPEG or PNG picture."
                ), False
            return _("This picture is too big in pixels. Please send a smaller photo."), False
        except Exception:  # a download that failed must not end the dialog
            log.exception("photo download failed")
            return _("I could not download this photo. Please try sending it again."), False
        if any(photo["sha256"] == stored.sha256 for photo in photos):
            return _("This photo is already attached; it was not added again."), False
        photos.append({"sha256": stored.sha256, "path": stored.path})
        return _("Photo {count} of {max} attached.").format(
            count=len(photos), max=self.limits.max_photos
        ), True

    def _too_large(self, turn: Turn) -> str:
        megabytes = self.limits.max_photo_bytes // (1024 * 1024)
        return turn._("This photo is larger than {mb} MB. Please send a smaller one.").format(
            mb=megabytes
        )

    async def _text_input(self, turn: Turn, minimum: int, maximum: int) -> str | None:
        """The typed text when it fits the limits; otherwise explain, re-prompt and return None."""
        event = turn.event
        if event.kind != "text":
            await self._reprompt(turn, self._wrong_kind(turn))
            return None
        text = _INVISIBLE.sub("", event.text).strip()
        if not text:
            await self._reprompt(turn, turn._("The message is empty. Please write it in words."))
            return None
        if len(text) > maximum:
            await self._reprompt(
                turn,
                turn._(
                    "The text is too long: {length} characters, the limit is {max}. "
                    "Please shorten it and send it again; nothing was saved from this message."
                ).format(length=len(text), max=maximum),
            )
            return None
        if len(text) < minimum:
            await self._reprompt(
                turn,
                turn._("The text is too short: please write at least {min} characters.").format(
                    min=minimum
                ),
            )
            return None
        return text

    def _wrong_kind(self, turn: Turn) -> str:
        event = turn.event
        if event.kind == "file" or (event.kind == "photo" and turn.state not in PHOTO_STATES):
            return turn._("I cannot use a file here.")
        if event.kind == "option":
            return turn._("Please type the answer as text.")
        return turn._("I expected a text message here.")

    async def _reprompt(self, turn: Turn, hint: str) -> None:
        turn.say(hint)
        await self._prompt(turn)

    # ----- my complaints and checking --------------------------------------------------------

    async def _show_my_complaints(self, turn: Turn) -> None:
        _ = turn._
        complaints = await self.store.complaints.of_citizen(citizen_id=turn.citizen.id)
        if not complaints:
            turn.say(_("You have not filed any complaints yet."))
        else:
            lines = [_("Your complaints:")]
            for complaint in complaints:
                category = self.content.category(complaint.category)
                lines.append(
                    _("No. {number} of {date}, {category}: {status}").format(
                        number=complaint.reg_number,
                        date=turn.texts.date(complaint.created_at),
                        category=category.label(turn.texts.locale)
                        if category
                        else complaint.category,
                        status=_(STATUS_LABELS[complaint.status]),
                    )
                )
            lines += ["", _("Lost a receipt code? Ask for a new one: the old one stops working.")]
            options = tuple(
                Option(
                    f"{RECEIPT_PREFIX}{c.id}",
                    _("🔑 New code for No. {number}").format(number=c.reg_number),
                )
                for c in complaints[:MAX_RECEIPT_BUTTONS]
            )
            turn.say("\n".join(lines), options=options)
        await self._to_menu(turn)

    async def _new_receipt(self, turn: Turn) -> None:
        """A fresh receipt code for one of the citizen's own complaints, from any state; the
        hash changes in the same transaction that queues the code (blanked once delivered)."""
        raw_id = turn.event.option_id.removeprefix(RECEIPT_PREFIX)
        complaint = None
        if raw_id.isascii() and raw_id.isdigit():
            complaint = await self.store.complaints.get(complaint_id=int(raw_id))
        if complaint is None or complaint.citizen_id != turn.citizen.id:
            turn.say(turn._("That button belongs to an earlier message. Here is where we are now:"))
            await self._prompt(turn)
            return
        code, salt, digest = await issue_receipt()
        turn.say(
            turn._(
                "New receipt code for complaint No. {number}: {code}\n"
                "The previous code no longer works. Write this one down."
            ).format(number=complaint.reg_number, code=code)
        )
        await self._prompt(turn)
        step = self._step(turn, secret=True)
        await self.store.complaints.replace_receipt(
            complaint_id=complaint.id, salt=salt, digest=digest, step=step
        )
        turn.committed = True

    def _start_check(self, turn: Turn) -> None:
        turn.go(State.CHECK_NUMBER)
        turn.replies.append(self._prompt_check_number(turn))

    async def _in_check_number(self, turn: Turn) -> None:
        text = await self._text_input(turn, 1, 40)
        if text is None:
            return
        number = normalize_reg_number(text)
        if not is_reg_number(number):  # refused here, never counted as a failed try
            hint = turn._(
                "This is not a registration number. It looks like 26-00042: two digits, "
                "a dash and the complaint's sequence number."
            )
            await self._reprompt(turn, hint)
            return
        if await self._check_locked(turn, number):
            return
        turn.conv.data["check_number"] = number
        turn.go(State.CHECK_CODE)
        await self._prompt(turn)

    async def _in_check_code(self, turn: Turn) -> None:
        code = await self._text_input(turn, 4, 40)
        if code is None:
            return
        data = turn.conv.data
        number = data.get("check_number", "")
        if await self._check_locked(turn, number):
            return
        complaint = await self.complaints.verify_receipt(number, code)
        if complaint is None:
            await self.store.check_attempts.record_failure(
                reg_number=number, citizen_id=turn.citizen.id, now=self.clock.now()
            )
            turn.say(
                turn._(
                    "No complaint matches this number and code. Please check them and try again."
                )
            )
            if not await self._check_locked(turn, number):
                await self._to_menu(turn)
            return
        turn.say(await self._status_report(turn, complaint))
        await self._to_menu(turn)

    async def _check_locked(self, turn: Turn, number: str) -> bool:
        """Too many recent wrong codes for this number (from anyone) or from this citizen (on
        any number): say so, go to the menu, and return True."""
        now = self.clock.now()
        number_lock, citizen_lock = await self.store.check_attempts.locked_until(
            reg_number=number,
            citizen_id=turn.citizen.id,
            now=now,
            limit=MAX_CHECK_FAILURES,
            window=CHECK_WINDOW,
            lock=timedelta(minutes=CHECK_LOCK_MINUTES),
        )
        until = max(filter(None, (number_lock, citizen_lock)), default=None)
        if until is None:
            return False
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))  # rounded up
        if citizen_lock is not None:
            text = turn._("Too many wrong attempts. Please try again in {minutes} minutes.")
        else:
            text = turn._(
                "Too many wrong codes were typed for this complaint, so checking it is paused "
                "for {minutes} minutes. If it is your complaint, you can see it under "
                '"My complaints" in the chat you filed it from.'
            )
        turn.say(text.format(minutes=minutes))
        await self._to_menu(turn)
        return True

    async def _status_report(self, turn: Turn, complaint) -> str:
        _ = turn._
        t = turn.texts
        category = self.content.category(complaint.category)
        lines = [
            _("Complaint No. {number}").format(number=complaint.reg_number),
            _("Category: {category}").format(
                category=category.label(t.locale) if category else complaint.category
            ),
            _("Registered: {date}").format(date=t.date(complaint.created_at)),
            _("Status: {status}").format(status=_(STATUS_LABELS[complaint.status])),
            _("Answer due: {date}").format(date=t.date(complaint.due_at)),
            "",
            _("History:"),
        ]
        answer = None
        for event in await self.store.complaints.events(complaint_id=complaint.id):
            lines.append(f"{t.datetime(event.created_at)} — {_(STATUS_LABELS[event.new_status])}")
            if event.new_status in (ANSWERED, REJECTED) and event.note:
                answer = event.note
        if answer:
            lines += ["", _("Answer from the operator:"), answer]
        return "\n".join(lines)


def _touch_due(citizen: Citizen, now) -> bool:
    """`last_inbound_at` is kept to the minute: most messages then cost no write for it."""
    last = citizen.last_inbound_at
    return last is None or now - last >= TOUCH_EVERY


def _as(event: Incoming, **changes) -> Incoming:
    return replace(event, **changes)


def _with_locale(citizen: Citizen, locale: str) -> Citizen:
    return replace(citizen, locale=locale)


def _draft_from(draft: dict) -> Draft:
    return Draft(
        category=draft["category"],
        description=draft["description"],
        address=draft.get("address"),
        latitude=draft.get("latitude"),
        longitude=draft.get("longitude"),
        photos=[Photo(p["sha256"], p["path"]) for p in draft.get("photos", [])],
        is_anonymous=bool(draft.get("anonymous", True)),
        full_name=draft.get("full_name"),
        phone=draft.get("phone"),
        contact_address=draft.get("contact_address"),
    )


# The identity part of a draft, and the steps that fill it in.
_IDENTITY_FIELDS = ("anonymous", "full_name", "phone", "contact_address")
_IDENTITY_STATES = frozenset({State.IDENTITY, State.NAME, State.PHONE, State.CONTACT_ADDRESS})
# Commands that leave the current flow: from an unfinished complaint, ask before they do.
_LEAVING_COMMANDS = frozenset(
    {"/start", "/menu", "/complaint", "/new", "/my", "/mycomplaints", "/check", "/faq"}
    | {"/questions", "/announcements", "/subscribe"}
)

# States where leaving loses nothing the citizen typed.
_NO_DRAFT_STATES = frozenset({State.MENU, State.SUBSCRIBE, *FAQ_STATES})

_HANDLERS = {
    State.LANGUAGE: DialogEngine._in_language,
    State.MENU: DialogEngine._in_menu,
    State.CATEGORY: DialogEngine._in_category,
    State.DESCRIPTION: DialogEngine._in_description,
    State.PLACE: DialogEngine._in_place,
    State.PHOTOS: DialogEngine._in_photos,
    State.IDENTITY: DialogEngine._in_identity,
    State.NAME: DialogEngine._in_name,
    State.PHONE: DialogEngine._in_phone,
    State.CONTACT_ADDRESS: DialogEngine._in_contact_address,
    State.CONFIRM: DialogEngine._in_confirm,
    State.EDIT: DialogEngine._in_edit,
    State.UNFINISHED: DialogEngine._in_unfinished,
    State.CHECK_NUMBER: DialogEngine._in_check_number,
    State.CHECK_CODE: DialogEngine._in_check_code,
    State.SUBSCRIBE: DialogEngine._in_subscribe,
    **{state: DialogEngine._in_faq for state in FAQ_STATES},
}

_PROMPTS = {
    State.CATEGORY: DialogEngine._prompt_category,
    State.DESCRIPTION: DialogEngine._prompt_description,
    State.PLACE: DialogEngine._prompt_place,
    State.PHOTOS: DialogEngine._prompt_photos,
    State.IDENTITY: DialogEngine._prompt_identity,
    State.NAME: DialogEngine._prompt_name,
    State.PHONE: DialogEngine._prompt_phone,
    State.CONTACT_ADDRESS: DialogEngine._prompt_contact_address,
    State.CONFIRM: DialogEngine._prompt_confirm,
    State.EDIT: DialogEngine._prompt_edit,
    State.UNFINISHED: DialogEngine._prompt_unfinished,
    State.CHECK_NUMBER: DialogEngine._prompt_check_number,
    State.CHECK_CODE: DialogEngine._prompt_check_code,
    State.MENU: DialogEngine._menu_reply,
    State.LANGUAGE: DialogEngine._language_reply,
    State.SUBSCRIBE: DialogEngine._prompt_subscribe,
    **FAQ_PROMPTS,
}
