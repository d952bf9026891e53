"""Questions the FAQ could not answer: handed to the operators, answered through the outbox.

A question is stored with a number (`Q-<id>`) together with its card for the operator group, in
one transaction. An operator answers it once (a reply to the bot's prompt in the group, or
`/op Q-<id> answer TEXT` on the console); the answer is queued for the citizen in their
language. Answered questions are the raw material for new FAQ entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.complaints import OperatorRef
from bot.storage.models import Citizen, NewOutboxMessage, Question
from bot.storage.store import Store

MAX_ANSWER = 4000


def parse_question_number(typed: str) -> int | None:
    """`Q-12`, `q12` or `12` as the question id 12; None when it is not one."""
    digits = typed.strip().upper().removeprefix("Q").lstrip("-").strip()
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class AnswerResult:
    ok: bool
    question: Question | None
    reason: str = ""  # "not_found", "answered", "needs_text" when not ok


class QuestionService:
    """Stores citizens' questions with an operator card, and delivers the operators' answers."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        operator_channel: str,
        operator_recipient: str | None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.operator_channel = operator_channel
        self.operator_recipient = operator_recipient

    async def ask(self, citizen: Citizen, text: str, locale: str) -> Question:
        """Store the question and queue its card for the operators."""

        def card(question: Question) -> list[NewOutboxMessage]:
            if self.operator_recipient is None:
                return []
            return [
                NewOutboxMessage(
                    channel=self.operator_channel,
                    recipient=self.operator_recipient,
                    kind="question_card",
                    payload={"question_id": question.id},
                    dedupe_key=f"question_card:{question.id}",
                )
            ]

        return await self.store.questions.create(
            citizen_id=citizen.id, text=text, locale=locale, now=self.clock.now(), notify=card
        )

    async def answer(
        self,
        question_id: int,
        text: str,
        operator: OperatorRef,
        *,
        group: str | None = None,
        dedupe: str | None = None,
    ) -> AnswerResult:
        """Record the answer and queue it for the citizen, once; with `group`, the operator
        group's note about it in the same transaction."""
        question = await self.store.questions.get(question_id=question_id)
        if question is None:
            return AnswerResult(False, None, "not_found")
        text = text.strip()
        if not text or len(text) > MAX_ANSWER:
            return AnswerResult(False, question, "needs_text")
        citizen = await self.store.citizens.get(citizen_id=question.citizen_id)
        notice = [self._answer_notice(question, text, citizen)] if citizen else []
        if group is not None:
            payload = {"question_id": question.id, "who": operator.name}
            notice.append(
                NewOutboxMessage("telegram", group, "question_note", payload, None, dedupe)
            )
        ok = await self.store.questions.answer(
            question_id=question.id,
            answer=text,
            answered_by=operator.actor,
            now=self.clock.now(),
            notify=notice,
        )
        updated = await self.store.questions.get(question_id=question.id)
        return AnswerResult(ok, updated, "" if ok else "answered")

    def _answer_notice(self, question: Question, text: str, citizen: Citizen) -> NewOutboxMessage:
        """The citizen's answer: only the question's id, rendered when sent."""
        return NewOutboxMessage(
            channel=citizen.channel,
            recipient=citizen.user_key,
            citizen_id=citizen.id,
            kind="question_answer",
            payload={"question_id": question.id},
        )


async def faq_drafts(store: Store) -> list[dict]:
    """Answered questions as draft FAQ entries (in faq.json's shape) for an editor to finish:
    the other language, a topic and keywords are left to fill in; nothing about who asked."""
    drafts = []
    for question in await store.questions.answered():
        drafts.append(
            {
                "id": f"question-{question.id}",
                "topic": "",
                "question": {question.locale: question.text},
                "answer": {question.locale: question.answer},
                "keywords": {},
                "sources": [f"operators' answer to {question.number}"],
            }
        )
    return drafts
