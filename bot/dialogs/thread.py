"""After filing: the citizen adds information or photos to an open complaint, withdraws it, or
answers an operator's clarifying question.

"➕ Add" and "↩️ Withdraw" (`cx:add:<id>`, `cx:withdraw:<id>`) are offered under "My
complaints" and after a successful check by number and receipt code (from any device: the
checked complaint is remembered in that conversation). They are checked against the store in
any state: the complaint must be the citizen's own or checked in this chat, and still open.
"✍️ Answer" (`clar:<question id>`) sits under a question the operators pushed, and works
whenever it is pressed. What the citizen adds reaches the operator group under the complaint's
card, with nothing of who sent it, exactly as the report itself.
"""

from __future__ import annotations

import logging
import uuid

from bot.dialogs.common import (
    THREAD_PREFIX,
    VERIFIED_KEY,
    cancel_option,
    take_photo,
    text_input,
)
from bot.dialogs.dialog import Dialog, Route
from bot.dialogs.events import Option, Reply
from bot.dialogs.inputs import row_id
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.complaints import OPEN_STATUSES, WITHDRAWN, CitizenRef
from bot.i18n import N_
from bot.notices.complaints import STATUS_LABELS
from bot.notices.thread import CLARIFY_PREFIX

log = logging.getLogger(__name__)

KEY = "thread"
MIN_TEXT, MAX_TEXT = 3, 3000


class ComplaintThreadDialog(Dialog):
    name = "thread"
    states = {
        State.ADDING: "_in_adding",
        State.WITHDRAW_CONFIRM: "_in_withdraw",
        State.CLARIFY_ANSWER: "_in_clarify",
    }
    prompts = {
        State.ADDING: "_prompt_adding",
        State.WITHDRAW_CONFIRM: "_prompt_withdraw",
        State.CLARIFY_ANSWER: "_prompt_clarify",
    }
    cancel_note = N_("Stopped. What you already sent has reached the operators.")
    routes = (
        # pushed: pressed from an older "My complaints" message while writing a new complaint,
        # the draft is kept and offered again afterwards
        Route(THREAD_PREFIX, "_on_option", pushed=True),
        Route(CLARIFY_PREFIX, "_on_clarify", pushed=True),
    )

    async def open(self, turn: Turn) -> None:
        await self.nav.to_menu(turn)

    async def _complaint_of(self, turn: Turn, raw_id: str):
        """The complaint when this citizen may act on it and it is open; else says why."""
        complaint = None
        if (complaint_id := row_id(raw_id)) is not None:
            complaint = await self.store.complaints.get(complaint_id=complaint_id)
        allowed = complaint is not None and (
            complaint.citizen_id == turn.citizen.id
            or complaint.id in turn.conv.data.get(VERIFIED_KEY, [])
        )
        if not allowed:
            await self.nav.earlier_message(turn)
            return None
        if complaint.status not in OPEN_STATUSES:
            turn.say(
                turn._(
                    "Complaint No. {number} is «{status}»: nothing can be added to it or "
                    "withdrawn now. You can file a new complaint."
                ).format(
                    number=complaint.reg_number, status=turn._(STATUS_LABELS[complaint.status])
                )
            )
            await self.nav.finish(turn)
            return None
        return complaint

    async def _on_option(self, turn: Turn) -> None:
        _prefix, _sep, rest = (turn.event.option_id or "").partition(THREAD_PREFIX)
        action, _sep, raw_id = rest.partition(":")
        if action not in ("add", "withdraw"):
            await self.nav.earlier_message(turn)
            return
        complaint = await self._complaint_of(turn, raw_id)
        if complaint is None:
            return
        turn.conv.data[KEY] = {"complaint": complaint.id, "number": complaint.reg_number}
        turn.go(State.ADDING if action == "add" else State.WITHDRAW_CONFIRM)
        await self.nav.prompt(turn)

    # ----- adding ----------------------------------------------------------------------------

    def _prompt_adding(self, turn: Turn) -> Reply:
        number = (turn.conv.data.get(KEY) or {}).get("number", "")
        return Reply(
            text=turn._(
                "Write what you want to add to complaint No. {number}, or send photos. Each "
                "message goes to the operators at once. Press «Done» when you have finished."
            ).format(number=number),
            options=(Option("thread:done", turn._("✅ Done")),),
        )

    async def _in_adding(self, turn: Turn) -> None:
        if turn.event.option_id == "thread:done":
            turn.conv.data.pop(KEY, None)
            await self.nav.finish(turn)
            return
        complaint = await self._complaint_of(
            turn, str((turn.conv.data.get(KEY) or {}).get("complaint", ""))
        )
        if complaint is None:
            turn.conv.data.pop(KEY, None)
            return
        text, photos = await self._text_or_photos(turn)
        if text is None and not photos:
            return
        turn.say(turn._("Added and passed to the operators. You can add more, or press «Done»."))
        await self.nav.prompt(turn)
        await self.services.complaints.add_from_citizen(
            complaint, text, photos, self.nav.step(turn)
        )
        turn.committed = True

    async def _text_or_photos(self, turn: Turn) -> tuple[str | None, list[str]]:
        """The text typed, or the photos sent (cleaned and stored); (None, []) after saying
        what was wrong."""
        if turn.event.kind == "photo" and turn.event.attachments:
            photos = []
            for attachment in turn.event.attachments:
                path = await take_photo(self.nav, turn, self.services.media, attachment)
                if path is None:
                    return None, []
                photos.append(path)
            return None, photos
        return await text_input(self.nav, turn, MIN_TEXT, MAX_TEXT), []

    # ----- withdrawing -----------------------------------------------------------------------

    def _prompt_withdraw(self, turn: Turn) -> Reply:
        number = (turn.conv.data.get(KEY) or {}).get("number", "")
        return Reply(
            text=turn._(
                "Do you really want to withdraw complaint No. {number}? The operators will stop "
                "working on it, and it cannot be undone."
            ).format(number=number),
            options=(
                Option("withdraw:yes", turn._("↩️ Yes, withdraw it")),
                Option("withdraw:no", turn._("⬅️ No, keep it")),
            ),
        )

    async def _in_withdraw(self, turn: Turn) -> None:
        state = turn.conv.data.pop(KEY, None) or {}
        if turn.event.option_id != "withdraw:yes":
            turn.say(turn._("The complaint stays as it is."))
            await self.nav.finish(turn)
            return
        complaint = await self._complaint_of(turn, str(state.get("complaint", "")))
        if complaint is None:
            return
        turn.say(
            turn._(
                "Complaint No. {number} is withdrawn. The operators have been told. "
                "Thank you for letting us know."
            ).format(number=complaint.reg_number)
        )
        await self.nav.finish(turn)
        result = await self.services.complaints.apply(
            complaint.id,
            WITHDRAWN,
            CitizenRef(citizen_id=turn.citizen.id),
            step=self.nav.step(turn),
        )
        turn.committed = result.ok
        if not result.ok:
            turn.replies.clear()
            turn.say(turn._("Nothing changed: the complaint has moved on in the meantime."))
            await self.nav.finish(turn)

    # ----- answering a clarifying question ---------------------------------------------------

    async def _on_clarify(self, turn: Turn) -> None:
        raw_id = (turn.event.option_id or "").removeprefix(CLARIFY_PREFIX)
        question = await self._open_question(turn, raw_id)
        if question is None:
            return
        turn.conv.data[KEY] = {"question": question.id, "key": uuid.uuid4().hex}
        turn.go(State.CLARIFY_ANSWER)
        await self.nav.prompt(turn)

    async def _open_question(self, turn: Turn, raw_id: str):
        question = None
        if (question_id := row_id(raw_id)) is not None:
            question = await self.store.complaint_messages.get(message_id=question_id)
        complaint = question and await self.store.complaints.get(complaint_id=question.complaint_id)
        if complaint is None or complaint.citizen_id != turn.citizen.id:
            await self.nav.earlier_message(turn)
            return None
        answered = await self.store.complaint_messages.answer_to(question_id=question.id)
        if answered is not None or complaint.status not in OPEN_STATUSES:
            turn.say(
                turn._(
                    "Thank you, but this question is no longer open: it was answered, or the "
                    "complaint is closed."
                )
            )
            await self.nav.finish(turn)
            return None
        return question

    def _prompt_clarify(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._(
                "Write your answer to the operators' question in one message. You may send "
                "photos first."
            ),
            options=(cancel_option(turn),),
        )

    async def _in_clarify(self, turn: Turn) -> None:
        state = turn.conv.data.get(KEY) or {}
        question = await self._open_question(turn, str(state.get("question", "")))
        if question is None:
            turn.conv.data.pop(KEY, None)
            return
        text, photos = await self._text_or_photos(turn)
        if photos:  # kept in the conversation until the text comes
            state["photos"] = [*state.get("photos", []), *photos][:10]
            turn.conv.data[KEY] = state
            await self.nav.reprompt(turn, turn._("Photo received. Now write your answer."))
            return
        if text is None:
            return
        turn.conv.data.pop(KEY, None)
        turn.say(turn._("Thank you! Your answer was passed to the operators."))
        await self.nav.finish(turn)
        await self.services.complaints.answer_from_citizen(
            question, text, state.get("photos", []), self.nav.step(turn)
        )
        turn.committed = True
