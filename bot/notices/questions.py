"""What citizens and operators read about questions, rendered when the outbox sends it: the
operator card of a question, the citizen's answer and the group's note after an answer."""

from __future__ import annotations

from bot.dialogs.events import Option, Rendered, Reply
from bot.i18n import LANGUAGE_NAMES, I18n, Texts
from bot.storage.models import Question
from bot.storage.store import Store


class QuestionNotices:
    """Renderers of the question kinds of the outbox."""

    def __init__(self, store: Store, i18n: I18n, operator_locale: str) -> None:
        self.store = store
        self.i18n = i18n
        self.operator_locale = operator_locale

    def operator_texts(self) -> Texts:
        return self.i18n.texts(self.operator_locale)

    def operator_card(self, question: Question) -> Reply:
        """What operators see: the number, the language and the text; never who asked."""
        t = self.operator_texts()
        _ = t.gettext
        text = _("❓ Question {number} ({language}), {date}").format(
            number=question.number,
            language=LANGUAGE_NAMES.get(question.locale, question.locale),
            date=t.datetime(question.created_at),
        )
        return Reply(
            text=text + "\n\n" + question.text,
            options=(Option(f"q:answer:{question.id}", _("💬 Answer")),),
        )

    async def render_answer(self, payload: dict) -> Rendered:
        """Outbox renderer for 'question_answer', in the citizen's language of the moment."""
        question = await self.store.questions.get(question_id=payload["question_id"])
        citizen = await self.store.citizens.get(citizen_id=question.citizen_id)
        _ = self.i18n.texts((citizen and citizen.locale) or question.locale).gettext
        lines = [
            _("Answer to your question {number}:").format(number=question.number),
            "«" + question.text[:300] + ("…" if len(question.text) > 300 else "") + "»",
            question.answer or "",
        ]
        variables = {"1": question.number, "2": _("answered")}
        return Rendered([Reply(text="\n\n".join(lines))], variables)

    async def render_card(self, payload: dict) -> Rendered:
        """Outbox renderer for 'question_card': the card as the question stands now."""
        question = await self.store.questions.get(question_id=payload["question_id"])
        return Rendered([self.operator_card(question)])

    async def render_answered_note(self, payload: dict) -> Rendered:
        """Outbox renderer for 'question_note': the group's line after an answer went out."""
        question = await self.store.questions.get(question_id=payload["question_id"])
        _ = self.operator_texts().gettext
        text = _("Question {number} answered by {who}; the citizen will get the answer.")
        return Rendered([Reply(text=text.format(number=question.number, who=payload["who"]))])
