"""Telegram adapter for operators: the buttons under complaint and question cards, replies
with answers, and the group commands /help, /queue (what waits and why) and /reload (FAQ).

Only operators may act: users listed in OPERATOR_IDS, or members of an operator group (asked of
Telegram, remembered for five minutes). Anyone else is refused and nothing changes. A button
pressed twice, or after another operator already moved the complaint on, changes nothing.
"""

from __future__ import annotations

import logging
import time

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ForceReply, Message

from bot.complaints import NEEDS_TEXT, OPERATOR_ACTIONS, OperatorRef
from bot.handlers.telegram_render import inline_keyboard, split_text
from bot.operator_tools import queue_report, reload_faq
from bot.storage.models import OperatorPrompt

log = logging.getLogger(__name__)
MEMBER_STATUSES = {"creator", "administrator", "member"}
MEMBERSHIP_TTL = 300.0
MAX_ANSWER = 4000


class OperatorAuth:
    """Decides whether a Telegram user may act as an operator."""

    def __init__(self, operator_ids: frozenset[int], operator_chats: set[int]) -> None:
        self.operator_ids = operator_ids
        self.operator_chats = operator_chats
        self._cache: dict[int, tuple[bool, float]] = {}

    async def allows(self, bot: Bot, user_id: int) -> bool:
        if user_id in self.operator_ids:
            return True
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[1] < MEMBERSHIP_TTL:
            return cached[0]
        allowed = False
        for chat_id in self.operator_chats:
            try:
                member = await bot.get_chat_member(chat_id, user_id)
            except TelegramAPIError:
                continue
            if member.status in MEMBER_STATUSES or getattr(member, "is_member", False):
                allowed = True
                break
        self._cache[user_id] = (allowed, time.monotonic())
        return allowed


def _operator(user) -> OperatorRef:
    name = user.full_name + (f" (@{user.username})" if user.username else "")
    return OperatorRef(id=user.id, name=name)


def build_operator_router(app) -> Router:
    """Callbacks `op:<action>:<id>` anywhere, and replies inside the operator groups."""
    router = Router(name="operators")
    service = app.complaints
    chats = app.content.operator_chats(app.settings.operator_chat_id)
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
        return service.operator_texts().gettext(message)

    @router.callback_query(operator_button)
    async def on_action(query: CallbackQuery, bot: Bot) -> None:
        if not await auth.allows(bot, query.from_user.id):
            await query.answer(_("Only operators can change complaints."), show_alert=True)
            return
        parts = (query.data or "").split(":")
        status = OPERATOR_ACTIONS.get(parts[1]) if len(parts) == 3 else None
        if status is None or not parts[2].isdigit() or query.message is None:
            await query.answer(_("This button is no longer valid."))
            return
        complaint_id = int(parts[2])
        if status in NEEDS_TEXT:
            await _ask_for_text(query, bot, complaint_id, parts[1])
            return
        result = await service.apply(complaint_id, status, _operator(query.from_user))
        if not result.ok:
            await query.answer(_("Nothing changed: the complaint is already past this step."))
            return
        await query.answer(_("Done."))
        await _after_change(bot, query.message.chat.id, query.message.message_id, result)

    async def _ask_for_text(query: CallbackQuery, bot: Bot, complaint_id: int, action: str) -> None:
        complaint = await app.store.complaints.get(complaint_id=complaint_id)
        if complaint is None:
            await query.answer(_("This button is no longer valid."))
            return
        question = (
            _("Reply to this message with the answer for the citizen on complaint No. {number}.")
            if action == "answer"
            else _("Reply to this message with the reason for rejecting complaint No. {number}.")
        ).format(number=complaint.reg_number)
        prompt = await bot.send_message(
            query.message.chat.id,
            question,
            reply_to_message_id=query.message.message_id,
            reply_markup=ForceReply(selective=True),
        )
        await app.store.prompts.add(
            prompt=OperatorPrompt(
                chat_id=prompt.chat.id,
                message_id=prompt.message_id,
                complaint_id=complaint_id,
                action=action,
                operator_id=query.from_user.id,
                card_message_id=query.message.message_id,
            ),
            now=app.clock.now(),
        )
        await query.answer()

    async def _after_change(bot: Bot, chat_id: int, card_id: int | None, result) -> None:
        complaint = result.complaint
        if card_id is not None:
            card = service.operator_card(complaint)
            markup = inline_keyboard(card.options) if card.options else None
            try:
                await bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=card_id, reply_markup=markup
                )
            except TelegramAPIError:
                log.info("card buttons of complaint %s not refreshed", complaint.reg_number)
        events = await app.store.complaints.events(complaint_id=complaint.id)
        await bot.send_message(chat_id, service.change_note(complaint, events[-1]))

    @router.callback_query(question_button)
    async def on_question_button(query: CallbackQuery, bot: Bot) -> None:
        if not await auth.allows(bot, query.from_user.id):
            await query.answer(_("Only operators can change complaints."), show_alert=True)
            return
        number = (query.data or "").removeprefix("q:answer:")
        question = (
            await app.store.questions.get(question_id=int(number)) if number.isdigit() else None
        )
        if question is None or query.message is None:
            await query.answer(_("This button is no longer valid."))
            return
        if question.status != "open":
            await query.answer(_("This question has already been answered."))
            return
        prompt = await bot.send_message(
            query.message.chat.id,
            _("Reply to this message with the answer to question {number}.").format(
                number=question.number
            ),
            reply_to_message_id=query.message.message_id,
            reply_markup=ForceReply(selective=True),
        )
        await app.store.questions.add_prompt(
            chat_id=prompt.chat.id,
            message_id=prompt.message_id,
            question_id=question.id,
            operator_id=query.from_user.id,
            now=app.clock.now(),
        )
        await query.answer()

    async def _answer_question(message: Message, bot: Bot, question_id: int) -> None:
        if not await auth.allows(bot, message.from_user.id):
            await message.reply(_("Only operators can change complaints."))
            return
        operator = _operator(message.from_user)
        result = await app.questions.answer(question_id, message.text, operator)
        if result.ok:
            await message.reply(app.questions.answered_note(result.question, operator))
        elif result.reason == "needs_text":
            await message.reply(
                _("The answer must be from 1 to {max} characters; it was not sent.").format(
                    max=MAX_ANSWER
                )
            )
        else:
            await message.reply(_("This question has already been answered."))

    @router.message(reply_with_text)
    async def on_reply(message: Message, bot: Bot) -> None:
        replied_to = message.reply_to_message.message_id
        prompt = await app.store.prompts.find(chat_id=message.chat.id, message_id=replied_to)
        if prompt is None:
            question_id = await app.store.questions.prompt_target(
                chat_id=message.chat.id, message_id=replied_to
            )
            if question_id is not None:
                await _answer_question(message, bot, question_id)
            return
        if not await auth.allows(bot, message.from_user.id):
            await message.reply(_("Only operators can change complaints."))
            return
        text = message.text.strip()
        if not text or len(text) > MAX_ANSWER:
            await message.reply(
                _("The answer must be from 1 to {max} characters; it was not sent.").format(
                    max=MAX_ANSWER
                )
            )
            return
        status = OPERATOR_ACTIONS[prompt.action]
        result = await service.apply(
            prompt.complaint_id, status, _operator(message.from_user), text
        )
        if not result.ok:
            await message.reply(_("Nothing changed: the complaint is already past this step."))
            return
        await app.store.prompts.remove(chat_id=prompt.chat_id, message_id=prompt.message_id)
        await _after_change(bot, message.chat.id, prompt.card_message_id, result)

    @router.message(Command("help", "start"))
    async def on_help(message: Message) -> None:
        for part in split_text(service.operator_help()):
            await message.answer(part)

    @router.message(Command("queue"))
    async def on_queue(message: Message) -> None:
        await message.answer(await queue_report(app))

    @router.message(Command("reload"))
    async def on_reload(message: Message, bot: Bot) -> None:
        if not await auth.allows(bot, message.from_user.id):
            await message.reply(_("Only operators can change complaints."))
            return
        await message.reply(reload_faq(app))

    @router.message()
    async def ignore_chatter(message: Message) -> None:
        """Operators talk among themselves in the group; the bot stays quiet."""

    return router
