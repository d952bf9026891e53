"""The FAQ dialog: browse by topic, search typed questions, ask the operators.

- Topics, then a topic's questions a page at a time (`PAGE_SIZE` per message), then an answer.
- Anything typed in these states (or a question typed in the main menu) is searched in both
  languages; the best few entries are offered, with "none of these: ask the operators".
- Thanks, greetings and other small talk get a short kind answer and the main menu, never
  unrelated entries. A problem stated plainly ("суу жок", "свет не горит третий день") is offered
  as a complaint to file, above any entries that fit.
- When nothing fits, the citizen may send the question itself to the operators; it is stored
  with a number and the answer comes back in this chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.dialogs.common import COMPLAINT
from bot.dialogs.dialog import Command, Dialog, MenuEntry
from bot.dialogs.events import Option, Reply
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.i18n import N_

if TYPE_CHECKING:
    from bot.domain.faq import FaqCatalog, FaqEntry

PAGE_SIZE = 6
MIN_QUERY_LETTERS = 3
MAX_QUESTION = 1000

FAQ_PROMPTS = {
    State.FAQ_TOPICS: "_prompt_faq_topics",
    State.FAQ_LIST: "_prompt_faq_list",
    State.FAQ_RESULTS: "_prompt_faq_results",
    State.FAQ_ANSWER: "_prompt_faq_answer",
    State.FAQ_ASK: "_prompt_faq_ask",
}
FAQ_STATES = frozenset(FAQ_PROMPTS)


@dataclass(frozen=True)
class TypedText:
    """Free text read for the FAQ: small talk ("thanks", "greeting", "chat") or None, whether it
    states a problem to file as a complaint, and the entries that fit it."""

    small_talk: str | None
    problem: bool
    found: list[FaqEntry]


class FaqDialog(Dialog):
    """FAQ states: FAQ_TOPICS, FAQ_LIST, FAQ_RESULTS, FAQ_ANSWER, FAQ_ASK (one handler)."""

    name = "faq"
    states = dict.fromkeys(FAQ_STATES, "_in_faq")
    prompts = FAQ_PROMPTS
    commands = {"/faq": Command("open"), "/questions": Command("open")}
    menu = MenuEntry("menu:faq", N_("❓ Questions and answers"), order=40)
    light_states = FAQ_STATES

    @property
    def catalog(self) -> FaqCatalog:
        return self.services.faq.catalog

    def _faq(self, turn: Turn) -> dict:
        return turn.conv.data.setdefault("faq", {})

    def _faq_go(self, turn: Turn, state: State) -> None:
        turn.go(state)
        turn.replies.append(self.prompt(turn))

    async def open(self, turn: Turn) -> None:
        turn.conv.data["faq"] = {}
        self._faq_go(turn, State.FAQ_TOPICS)

    async def at_menu(self, turn: Turn) -> bool:
        """Small talk, a stated problem or a question typed at the menu: the FAQ answers."""
        read = self._menu_search(turn)
        if read is None:
            return False
        await self._search_faq(turn, turn.event.text, read)
        return True

    def _menu_search(self, turn: Turn) -> TypedText | None:
        """Text typed at the menu, read for the FAQ, or None when the FAQ has nothing to say to
        it. Small talk gets a kind answer, a stated problem ("суу жок") the offer to file it as
        a complaint, a question the entries that fit, and a long text the offer to send it to
        the operators; a stray word gets none of these."""
        typed = turn.event.text
        read = self._read_typed(typed)
        worth = read.small_talk or read.problem or read.found or len(typed.split()) >= 5
        return read if worth else None

    def _faq_tail(self, turn: Turn) -> tuple[Option, ...]:
        _ = turn._
        return (Option("faq:topics", _("🗂 All topics")), Option("nav:menu", _("🏠 Main menu")))

    # ----- prompts ---------------------------------------------------------------------------

    def _prompt_faq_topics(self, turn: Turn) -> Reply:
        _ = turn._
        locale = turn.texts.locale
        topics = [t for t in self.catalog.topics if self.catalog.entries_in(t.id)]
        return Reply(
            text=_(
                "Questions and answers. Choose a topic, or type your question in your own words."
            ),
            options=(
                *(Option(f"faq:topic:{t.id}", t.title(locale)) for t in topics),
                Option("nav:menu", _("🏠 Main menu")),
            ),
        )

    def _prompt_faq_list(self, turn: Turn) -> Reply:
        _ = turn._
        locale = turn.texts.locale
        state = self._faq(turn)
        topic = self.catalog.topic(state.get("topic", ""))
        entries = self.catalog.entries_in(topic.id) if topic else []
        if not entries:
            return self._prompt_faq_topics(turn)
        pages = (len(entries) + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(max(int(state.get("page", 0)), 0), pages - 1)
        state["page"] = page
        shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        title = topic.title(locale)
        if pages > 1:
            title += " " + _("(page {page} of {pages})").format(page=page + 1, pages=pages)
        options = [Option(f"faq:entry:{e.id}", e.question(locale)) for e in shown]
        if page + 1 < pages:
            options.append(Option(f"faq:page:{page + 1}", _("▶ More questions")))
        if page > 0:
            options.append(Option(f"faq:page:{page - 1}", _("◀ Previous questions")))
        return Reply(
            text=title + "\n" + _("Choose a question, or type your own."),
            options=(*options, *self._faq_tail(turn)),
        )

    def _prompt_faq_results(self, turn: Turn) -> Reply:
        _ = turn._
        locale = turn.texts.locale
        found = [self.catalog.entry(i) for i in self._faq(turn).get("results", [])]
        options = [Option(f"faq:entry:{e.id}", e.question(locale)) for e in found if e]
        if self._faq(turn).get("problem"):
            return self._prompt_faq_problem(turn, options)
        if not options:
            return self._prompt_faq_ask(turn)
        return Reply(
            text=_("This is what I found. Choose the question closest to yours:"),
            options=(
                *options,
                Option("faq:ask", _("✉ None of these: ask the operators")),
                *self._faq_tail(turn),
            ),
        )

    def _prompt_faq_problem(self, turn: Turn, entries: list[Option]) -> Reply:
        """A problem stated plainly: file it as a complaint, or read the entries that fit."""
        _ = turn._
        text = _(
            "This sounds like a problem the municipality should know about. You can file a "
            "complaint about it: it gets a registration number and an answer within the legal "
            "deadline."
        )
        if entries:
            text += "\n\n" + _("These answers may help too:")
        return Reply(
            text=text,
            options=(
                Option("faq:complain", _("📝 File a complaint about this")),
                *entries,
                *self._faq_tail(turn),
            ),
        )

    def _prompt_faq_answer(self, turn: Turn) -> Reply:
        _ = turn._
        locale = turn.texts.locale
        entry = self.catalog.entry(self._faq(turn).get("entry", ""))
        if entry is None:
            return self._prompt_faq_topics(turn)
        return Reply(
            text=f"❓ {entry.question(locale)}\n\n{entry.answer(locale)}",
            options=(Option("faq:back", _("◀ Back to the list")), *self._faq_tail(turn)),
        )

    def _prompt_faq_ask(self, turn: Turn) -> Reply:
        _ = turn._
        query = self._faq(turn).get("query", "")
        return Reply(
            text=_(
                "I have no ready answer to this question:\n«{question}»\n\n"
                "Shall I send it to the operators? They will answer here, in this chat."
            ).format(question=query),
            options=(
                Option("faq:send", _("✉ Send to the operators")),
                *self._faq_tail(turn),
            ),
        )

    # ----- the one handler of all FAQ states -------------------------------------------------

    async def _in_faq(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        state = self._faq(turn)
        if option.startswith("faq:topic:"):
            state.update(topic=option.removeprefix("faq:topic:"), page=0, back=State.FAQ_LIST)
            self._faq_go(turn, State.FAQ_LIST)
        elif option.startswith("faq:page:") and option.removeprefix("faq:page:").isdigit():
            state["page"] = int(option.removeprefix("faq:page:"))
            self._faq_go(turn, State.FAQ_LIST)
        elif option == "faq:topics":
            self._faq_go(turn, State.FAQ_TOPICS)
        elif option.startswith("faq:entry:"):
            state["back"] = turn.state if turn.state != State.FAQ_ANSWER else state.get("back")
            state["entry"] = option.removeprefix("faq:entry:")
            self._faq_go(turn, State.FAQ_ANSWER)
        elif option == "faq:back":
            back = state.get("back")
            self._faq_go(turn, State(back) if back in FAQ_PROMPTS else State.FAQ_TOPICS)
        elif option == "faq:ask":
            self._faq_go(turn, State.FAQ_ASK)
        elif option == "faq:send":
            await self._send_question(turn)
        elif option == "faq:complain":
            typed = turn.conv.data.pop("faq", {}).get("query", "")
            # offered as the description, so the citizen need not type it again
            await self.nav.open(COMPLAINT, turn, suggested=typed)
        elif turn.event.kind == "text":
            await self._search_faq(turn, turn.event.text)
        else:
            turn.say(self._wrong_kind_in_faq(turn))
            self._faq_go(turn, State(turn.state))

    def _wrong_kind_in_faq(self, turn: Turn) -> str:
        if turn.event.attachments:
            return turn._("Photos can be attached to a complaint: start one from the menu.")
        return turn._("Please choose one of the options below, or type your question.")

    def _read_typed(self, text: str) -> TypedText:
        """What free text is, for the FAQ: small talk, a stated problem, entries that fit."""
        small_talk = self.catalog.small_talk(text)
        if small_talk:
            return TypedText(small_talk, False, [])
        return TypedText(None, self.catalog.states_problem(text), self.catalog.search(text, 3))

    async def _search_faq(self, turn: Turn, typed: str, read: TypedText | None = None) -> None:
        """Answer small talk kindly; offer to file a stated problem as a complaint; offer the
        entries that fit a question, or to ask the operators. `read`: the text already read."""
        _ = turn._
        text = " ".join(typed.split())
        read = read if read is not None else self._read_typed(text[:MAX_QUESTION])
        if read.small_talk:
            turn.say(_small_talk_reply(turn, read.small_talk))
            turn.conv.data.pop("faq", None)
            await self.nav.to_menu(turn)
            return
        if sum(ch.isalpha() for ch in text) < MIN_QUERY_LETTERS:
            turn.say(_("Please type your question in a few words."))
            self._faq_go(turn, self._faq_state_or_topics(turn))
            return
        if len(text) > MAX_QUESTION:
            turn.say(
                _("The question is too long: at most {max} characters, please.").format(
                    max=MAX_QUESTION
                )
            )
            self._faq_go(turn, self._faq_state_or_topics(turn))
            return
        state = self._faq(turn)
        state.update(query=text, problem=read.problem, back=State.FAQ_RESULTS)
        state["results"] = [entry.id for entry in read.found]
        shown = state["results"] or read.problem
        self._faq_go(turn, State.FAQ_RESULTS if shown else State.FAQ_ASK)

    def _faq_state_or_topics(self, turn: Turn) -> State:
        return State(turn.state) if turn.state in FAQ_PROMPTS else State.FAQ_TOPICS

    async def _send_question(self, turn: Turn) -> None:
        query = self._faq(turn).get("query", "")
        if not query:
            self._faq_go(turn, State.FAQ_TOPICS)
            return
        question = await self.services.questions.ask(turn.citizen, query, turn.texts.locale)
        turn.conv.data.pop("faq", None)
        turn.say(
            turn._(
                "Your question was sent to the operators under number {number}. "
                "The answer will come in this chat."
            ).format(number=question.number)
        )
        await self.nav.to_menu(turn)


def _small_talk_reply(turn: Turn, kind: str) -> str:
    """A short kind answer to thanks, a greeting or other small talk."""
    _ = turn._
    if kind == "thanks":
        return _("You are welcome! Glad to help.")
    if kind == "greeting":
        return _("Hello! Choose what you need in the menu below, or type your question.")
    return _(
        "I can help only with the municipality's matters: complaints, their status and "
        "questions about them. Choose what you need in the menu below."
    )
