"""Notices rendered at send time: one renderer per outbox kind, reading current data and the
recipient's current language. An outbox row holds only the kind, the ids and the recipient."""

from __future__ import annotations

from dataclasses import dataclass

from bot.notices.complaints import ComplaintNotices
from bot.notices.deadlines import DeadlineNotices
from bot.notices.questions import QuestionNotices
from bot.notices.surveys import SurveyNotices
from bot.notices.thread import ThreadNotices


@dataclass(frozen=True)
class Notices:
    """The renderers, by subject."""

    complaints: ComplaintNotices
    questions: QuestionNotices
    surveys: SurveyNotices
    deadlines: DeadlineNotices
    thread: ThreadNotices

    def renderers(self) -> dict:
        """Outbox kind -> its renderer: the one place that says how each kind is written."""
        return {
            "operator_card": self.complaints.render_card_payload,
            "receipt": self.complaints.render_receipt,
            "status_update": self.complaints.render_status,
            "change_note": self.complaints.render_change_note,
            "question_card": self.questions.render_card,
            "question_answer": self.questions.render_answer,
            "question_note": self.questions.render_answered_note,
            "survey_invitation": self.surveys.render_invitation,
            **self.deadlines.renderers(),
            **self.thread.renderers(),
        }
