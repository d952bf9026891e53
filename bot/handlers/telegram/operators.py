"""Telegram adapter for operators: the buttons under complaint and question cards, replies
with answers, and the group commands /help, /queue (what waits and why), /reload (FAQ) and
/report [N] (a broadcast's delivery report, the latest one by default).

Only operators may act, checked on every action: users listed in OPERATOR_IDS, or members of the
operator group a complaint is routed to (asked of Telegram; a real answer is remembered for five
minutes, a failed question is asked again; a `chat_member` update forgets it at once). Restricted
members, people who left and strangers are refused and nothing changes. A button pressed twice, or
after another operator already moved the complaint on, changes nothing.

Everything the bot says in the group (change notes, prompts for a text, command answers) goes
through the outbox, keyed to the operator's update: a crash or a 429 loses none of it and a
redelivered update posts nothing twice. An operator's reply to a prompt is matched to the prompt
through the messenger's id the outbox recorded when it sent it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.dialogs.events import Reply
from bot.dialogs.inputs import row_id
from bot.domain.complaints import (
    NEEDS_TEXT,
    OPEN_STATUSES,
    OPERATOR_ACTIONS,
    TRANSITIONS,
    ChangeResult,
    OperatorRef,
    group_message,
    normalize_reg_number,
)
from bot.handlers.operator_tools import broadcast_report, queue_report, reload_faq
from bot.handlers.telegram.citizens import answer_query
from bot.handlers.telegram.render import inline_keyboard
from bot.notices.survey_report import stats_reply
from bot.storage.deadlines import GroupScope
from bot.storage.models import InboundRef

log = logging.getLogger(__name__)
MEMBER_STATUSES = {"creator", "administrator", "member"}
MEMBERSHIP_TTL = 300.0
MAX_ANSWER = 4000
PROMPT_KINDS = ("operator_prompt", "question_prompt")
ASK = "ask"  # the card's "ask the citizen" button: a question, not a change of status
DEADLINE_COMMANDS = ("overdue", "due", "complaint")


class OperatorAuth:
    """Decides whether a Telegram user may act as an operator of a group."""

    def __init__(self, operator_ids: frozenset[int], operator_chats: set[int]) -> None:
        self.operator_ids = operator_ids
        self.operator_chats = operator_chats
        self._cache: dict[tuple[int, int], tuple[bool, float]] = {}

    async def allows(self, bot: Bot, user_id: int, chat_id: int | None = None) -> bool:
        """True for OPERATOR_IDS, and for members of `chat_id` (of any operator group when
        None) that is an operator group."""
        if user_id in self.operator_ids:
            return True
        chats = self.operator_chats if chat_id is None else {chat_id} & self.operator_chats
        for chat in chats:
            if await self._member(bot, chat, user_id):
                return True
        return False

    def forget(self, chat_id: int, user_id: int) -> None:
        """Membership changed (joined, left, restricted): ask Telegram again next time."""
        self._cache.pop((chat_id, user_id), None)

    async def _member(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        cached = self._cache.get((chat_id, user_id))
        if cached and time.monotonic() - cached[1] < MEMBERSHIP_TTL:
            return cached[0]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramBadRequest:  # "user not found" and the like: a real "no"
            allowed = False
        except TelegramAPIError as exc:  # a server or network error says nothing: not cached
            log.warning("operator check failed: %s", type(exc).__name__)
            return False
        else:
            allowed = member.status in MEMBER_STATUSES
        self._cache[(chat_id, user_id)] = (allowed, time.monotonic())
        return allowed


def _operator(user) -> OperatorRef:
    name = user.full_name + (f" (@{user.username})" if user.username else "")
    return OperatorRef(id=user.id, name=name)


def _key(kind: str, inbound: InboundRef | None) -> str | None:
    """A dedupe key for what handling one update queues (None outside the journal: tests)."""
    return f"{kind}:{inbound.channel}:{inbound.message_sid}" if inbound else None


def build_operator_router(app) -> Router:
    """Callbacks `op:<action>:<id>` and `q:answer:<id>` anywhere, replies and commands inside
    the operator groups, and membership changes."""
    router = Router(name="operators")
    service = app.complaints
    notices = app.notices.complaints
    supervisors = app.settings.supervisor_chat_id
    # the supervisors' chat gets escalations and may use the group commands (for all groups)
    chats = app.content.operator_chats(app.settings.operator_chat_id) | (
        {supervisors} if supervisors is not None else set()
    )
    auth = OperatorAuth(app.settings.operator_ids, chats)

    # Async filters: aiogram runs synchronous ones (F.* included) in a worker thread.
    async def in_operator_chat(message: Message) -> bool:
        return message.chat.id in chats

    async def operator_button(query: CallbackQuery) -> bool:
        return (query.data or "").startswith("op:")

    async def question_button(query: CallbackQuery) -> bool:
        return (query.data or "").startswith("q:answer:")

    async def reply_with_text(message: Message) -> bool:
        return message.reply_to_message is not None and bool(message.text)

    # Messages count only inside operator groups; one check lets citizens' messages pass by.
    router.message.filter(in_operator_chat)

    def _(message: str) -> str:
        return notices.operator_texts().gettext(message)

    async def post(chat_id: int, kind: str, reply: Reply, inbound, **extra) -> None:
        """Queue a message for the group (once per update) and send the group's queue now."""
        message = group_message(str(chat_id), kind, [reply], _key(kind, inbound), **extra)
        await app.store.outbox.add(messages=[message], now=app.clock.now())
        app.outbox.kick("telegram", str(chat_id))

    async def refusal(result, action: str) -> str:
        """Why an operator's step was refused, in words an operator can act on."""
        return await notices.refusal(result, OPERATOR_ACTIONS.get(action, action))

    async def say(message: Message, text: str, inbound) -> None:
        await post(message.chat.id, "group_note", Reply(text, reply_to=message.message_id), inbound)

    @router.chat_member()
    async def on_membership(update: ChatMemberUpdated) -> None:
        auth.forget(update.chat.id, update.new_chat_member.user.id)

    @router.callback_query(operator_button)
    async def on_action(query: CallbackQuery, bot: Bot, inbound: InboundRef | None = None) -> None:
        parts = (query.data or "").split(":")
        status = OPERATOR_ACTIONS.get(parts[1]) if len(parts) == 3 else None
        asking = len(parts) == 3 and parts[1] == ASK
        complaint_id = row_id(parts[2]) if status is not None or asking else None
        complaint = None
        if complaint_id is not None:
            complaint = await app.store.complaints.get(complaint_id=complaint_id)
        if complaint is None or query.message is None:
            await answer_query(query, _("This button is no longer valid."))
            return
        group = service.group_of(complaint)
        chat_id = query.message.chat.id
        if not await auth.allows(bot, query.from_user.id, int(group) if group else None):
            await answer_query(query, _("Only operators can change complaints."), show_alert=True)
            return
        if group != str(chat_id):
            await answer_query(query, _("This complaint belongs to another operator group."))
            return
        if status in NEEDS_TEXT or asking:
            allowed = (
                complaint.status in OPEN_STATUSES
                if asking
                else (status in TRANSITIONS[complaint.status])
            )
            if not allowed:  # say so now, not after the operator wrote the text
                refused = ChangeResult(False, complaint, "not_allowed")
                await answer_query(query, await refusal(refused, parts[1]), show_alert=True)
                return
            await _ask_for_text(query, complaint, parts[1], inbound)
            return
        result = await service.apply(
            complaint.id,
            status,
            _operator(query.from_user),
            group=str(chat_id),
            dedupe=_key("note", inbound),
        )
        if not result.ok:
            await answer_query(query, await refusal(result, parts[1]), show_alert=True)
            return
        await answer_query(query, _("Done."))
        await _refresh_card(bot, chat_id, query.message.message_id, result.complaint)
        app.outbox.kick("telegram", str(chat_id))

    async def _ask_for_text(query: CallbackQuery, complaint, action: str, inbound) -> None:
        questions = {
            "answer": _(
                "Reply to this message with the answer for the citizen on complaint No. {number}."
            ),
            "reject": _(
                "Reply to this message with the reason for rejecting complaint No. {number}."
            ),
            "forward": _(
                "Reply to this message with the competent body complaint No. {number} was "
                "forwarded to (and, if you like, what happens next)."
            ),
            "ask": _(
                "Reply to this message with your question for the author of complaint No. "
                "{number}. They will get it with an «Answer» button; their answer comes back "
                "here. The author's identity stays hidden, as on the card."
            ),
            "extend": _(
                "Reply to this message with the new answer date for complaint No. {number} and "
                "the reason, e.g. «25.12.2026 an on-site check is needed». The law allows at "
                "most 30 days beyond the answer deadline."
            ),
        }
        card_id = query.message.message_id
        reply = Reply(
            questions[action].format(number=complaint.reg_number),
            reply_to=card_id,
            force_reply=True,
        )
        await answer_query(query)
        await post(
            query.message.chat.id,
            "operator_prompt",
            reply,
            inbound,
            complaint_id=complaint.id,
            action=action,
            card_message_id=card_id,
        )

    async def _refresh_card(bot: Bot, chat_id: int, card_id: int | None, complaint) -> None:
        """Show only the steps still allowed under the card (best effort: an edit)."""
        if card_id is None:
            return
        card = notices.operator_card(complaint)
        markup = inline_keyboard(card.options) if card.options else None
        try:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=card_id, reply_markup=markup
            )
        except TelegramAPIError:
            log.info("card buttons of complaint %s not refreshed", complaint.reg_number)

    @router.callback_query(question_button)
    async def on_question_button(
        query: CallbackQuery, bot: Bot, inbound: InboundRef | None = None
    ) -> None:
        if query.message is None or not await auth.allows(
            bot, query.from_user.id, query.message.chat.id
        ):
            await answer_query(query, _("Only operators can change complaints."), show_alert=True)
            return
        number = (query.data or "").removeprefix("q:answer:")
        question_id = row_id(number)
        question = None
        if question_id is not None:
            question = await app.store.questions.get(question_id=question_id)
        if question is None:
            await answer_query(query, _("This button is no longer valid."))
            return
        if question.status != "open":
            await answer_query(query, _("This question has already been answered."))
            return
        await answer_query(query)
        text = _("Reply to this message with the answer to question {number}.")
        reply = Reply(
            text.format(number=question.number),
            reply_to=query.message.message_id,
            force_reply=True,
        )
        await post(
            query.message.chat.id, "question_prompt", reply, inbound, question_id=question.id
        )

    @router.message(reply_with_text)
    async def on_reply(message: Message, bot: Bot, inbound: InboundRef | None = None) -> None:
        sid = f"{message.chat.id}:{message.reply_to_message.message_id}"
        prompt = await app.store.outbox.sent_as(provider_sid=sid)
        if prompt is None or prompt.kind not in PROMPT_KINDS:
            return  # operators talking among themselves
        if not await auth.allows(bot, message.from_user.id, message.chat.id):
            await say(message, _("Only operators can change complaints."), inbound)
            return
        text = message.text.strip()
        if not text or len(text) > MAX_ANSWER:
            too_long = _("The answer must be from 1 to {max} characters; it was not sent.")
            await say(message, too_long.format(max=MAX_ANSWER), inbound)
            return
        if prompt.kind == "question_prompt":
            await _answer_question(message, prompt.payload["question_id"], text, inbound)
            return
        if prompt.payload["action"] == ASK:
            asked = await service.ask_citizen(
                prompt.payload["complaint_id"],
                text,
                _operator(message.from_user),
                dedupe=_key("ask", inbound),
            )
            if asked.ok:
                await say(message, _("The question was sent to the citizen."), inbound)
            else:
                await say(message, await refusal(asked, ASK), inbound)
            return
        result = await service.apply(
            prompt.payload["complaint_id"],
            OPERATOR_ACTIONS[prompt.payload["action"]],
            _operator(message.from_user),
            text,
            group=str(message.chat.id),
            dedupe=_key("note", inbound),
        )
        if not result.ok:
            await say(message, await refusal(result, prompt.payload["action"]), inbound)
            return
        await _refresh_card(
            bot, message.chat.id, prompt.payload.get("card_message_id"), result.complaint
        )
        app.outbox.kick("telegram", str(message.chat.id))

    async def _answer_question(message: Message, question_id: int, text: str, inbound) -> None:
        result = await app.questions.answer(
            question_id,
            text,
            _operator(message.from_user),
            group=str(message.chat.id),
            dedupe=_key("note", inbound),
        )
        if result.ok:
            app.outbox.kick("telegram", str(message.chat.id))
        else:
            await say(message, _("This question has already been answered."), inbound)

    @router.message(
        Command("help", "start", "queue", "reload", "stats", "report", *DEADLINE_COMMANDS)
    )
    async def on_command(message: Message, bot: Bot, inbound: InboundRef | None = None) -> None:
        if message.from_user is None or not await auth.allows(
            bot, message.from_user.id, message.chat.id
        ):
            await say(message, _("Only operators can change complaints."), inbound)
            return
        command = (message.text or "").split()[0].split("@")[0].lstrip("/").casefold()
        if command == "stats":  # a chart (drawn off the event loop) and the figures
            reply = await stats_reply(app, (message.text or "").split()[1:])
            reply = replace(reply, reply_to=message.message_id)
            await post(message.chat.id, "group_note", reply, inbound)
            return
        if command in DEADLINE_COMMANDS:
            text = await _deadline_command(message, command)
        elif command == "queue":
            text = await queue_report(app)
        elif command == "reload":
            text = reload_faq(app)
        elif command == "report":
            text = await broadcast_report(app, (message.text or "").split()[1:])
        else:
            text = notices.operator_help()
        await say(message, text, inbound)

    async def _deadline_command(message: Message, command: str) -> str:
        """/overdue and /due for this group; /complaint 26-00042 for one of its complaints."""
        chat = str(message.chat.id)
        everywhere = message.chat.id == supervisors
        scope = None if everywhere else GroupScope(chat, chat == service.default_group())
        if command == "overdue":
            return await app.notices.deadlines.overdue_text(scope)
        if command == "due":
            return await app.notices.deadlines.due_text(scope)
        words = (message.text or "").split()[1:]
        number = normalize_reg_number(" ".join(words)) if words else ""
        complaint = await app.store.complaints.by_number(reg_number=number) if number else None
        if complaint is None:
            return _("Write the number after the command, e.g. /complaint 26-00042.")
        if service.group_of(complaint) != chat and not everywhere:
            return _("This complaint belongs to another operator group.")
        return await app.notices.deadlines.complaint_text(complaint.id)

    @router.message()
    async def ignore_chatter(message: Message) -> None:
        """Operators talk among themselves in the group; the bot stays quiet."""

    return router
