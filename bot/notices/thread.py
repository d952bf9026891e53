"""The thread of a complaint, rendered when sent: the citizen's additions and answers go to the
operator group as replies to the complaint's card (photos first), with nothing of who sent them;
an operator's clarifying question goes to the citizen with an "Answer" button that works
whenever it is pressed."""

from __future__ import annotations

from bot.dialogs.events import Option, Rendered, Reply
from bot.i18n import N_, I18n
from bot.notices.complaints import ComplaintNotices
from bot.storage.store import Store

CLARIFY_PREFIX = "clar:"  # clar:<question id>: answer the operators' question


class ThreadNotices:
    def __init__(self, store: Store, i18n: I18n, complaints: ComplaintNotices) -> None:
        self.store = store
        self.i18n = i18n
        self.complaints = complaints

    async def _for_group(self, payload: dict, header: str) -> Rendered:
        message = await self.store.complaint_messages.get(message_id=payload["message_id"])
        complaint = await self.store.complaints.get(complaint_id=message.complaint_id)
        _ = self.complaints.operator_texts().gettext
        card = await self.store.outbox.message_id_of(dedupe_key=f"operator_card:{complaint.id}")
        lines = [_(header).format(number=complaint.reg_number)]
        if message.answers is not None:
            question = await self.store.complaint_messages.get(message_id=message.answers)
            lines.append(_("Question: {text}").format(text=question.body))
        if message.body:
            lines.append(message.body)
        replies = [Reply(photos=message.photos, reply_to=card)] if message.photos else []
        replies.append(Reply(text="\n\n".join(lines), reply_to=card))
        return Rendered(replies)

    async def render_addition(self, payload: dict) -> Rendered:
        """'complaint_addition': what the citizen added, under the card."""
        return await self._for_group(payload, N_("➕ The citizen added to complaint No. {number}:"))

    async def render_answer(self, payload: dict) -> Rendered:
        """'clarification_answer': the citizen's answer to a clarifying question."""
        return await self._for_group(
            payload, N_("💬 The citizen answered the question on complaint No. {number}:")
        )

    async def render_question(self, payload: dict) -> Rendered:
        """'clarification': the operators' question, in the citizen's language of the moment."""
        question = await self.store.complaint_messages.get(message_id=payload["message_id"])
        complaint = await self.store.complaints.get(complaint_id=question.complaint_id)
        citizen = await self.store.citizens.get(citizen_id=complaint.citizen_id)
        _ = self.i18n.texts((citizen and citizen.locale) or complaint.locale).gettext
        text = "\n\n".join(
            [
                _("The operators have a question about your complaint No. {number}:").format(
                    number=complaint.reg_number
                ),
                question.body or "",
                _("Press «Answer» and write your reply; you may add photos."),
            ]
        )
        option = Option(f"{CLARIFY_PREFIX}{question.id}", _("✍️ Answer"))
        variables = {"1": complaint.reg_number, "2": _("a question from the operators")}
        return Rendered([Reply(text=text, options=(option,))], variables)

    def renderers(self) -> dict:
        return {
            "complaint_addition": self.render_addition,
            "clarification_answer": self.render_answer,
            "clarification": self.render_question,
        }
