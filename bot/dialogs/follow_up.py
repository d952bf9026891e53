"""The follow-up after an answer: "Has the problem been solved?" pushed some days after the
answer (`bot/jobs/follow_ups.py`) with yes / no / don't know, answerable whenever pressed.

"Yes" closes the complaint as resolved; "no" asks what is still wrong and reopens it with new
deadlines, telling the operators; "don't know" ends politely. Each is recorded once, in the
transaction of the citizen's step; a later press, or a press after the complaint moved on, gets
a polite answer. An unfinished complaint elsewhere is kept and offered again.
"""

from __future__ import annotations

from bot.dialogs.common import cancel_option, text_input
from bot.dialogs.dialog import Dialog, Route
from bot.dialogs.events import Reply
from bot.dialogs.inputs import row_id
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.complaints import ANSWERED, CITIZEN, REOPENED, RESOLVED
from bot.notices.deadlines import FOLLOW_UP_PREFIX

KEY = "follow_up"
MIN_REASON, MAX_REASON = 3, 2000


class FollowUpDialog(Dialog):
    name = "follow_up"
    states = {State.FOLLOW_UP_REASON: "_in_reason"}
    prompts = {State.FOLLOW_UP_REASON: "_prompt_reason"}
    routes = (Route(FOLLOW_UP_PREFIX, "_on_option", pushed=True),)

    async def open(self, turn: Turn) -> None:
        await self.nav.to_menu(turn)

    async def _on_option(self, turn: Turn) -> None:
        parts = (turn.event.option_id or "").split(":")
        event_id = row_id(parts[2]) if len(parts) == 3 else None
        if event_id is None or parts[1] not in ("yes", "no", "dk"):
            await self.nav.earlier_message(turn)
            return
        found = await self._open_follow_up(turn, event_id)
        if found is None:
            return
        complaint, event_id = found
        if parts[1] == "yes":
            await self._solved(turn, complaint, event_id)
        elif parts[1] == "no":
            turn.conv.data[KEY] = {"event": event_id, "complaint": complaint.id}
            turn.go(State.FOLLOW_UP_REASON)
            await self.nav.prompt(turn)
        else:
            await self._dont_know(turn, complaint, event_id)

    async def _open_follow_up(self, turn: Turn, event_id: int):
        """The complaint when this follow-up is the citizen's and still unanswered; otherwise
        says why not and returns None."""
        follow_up = await self.store.deadlines.follow_up(event_id=event_id)
        complaint = follow_up and await self.store.complaints.get(
            complaint_id=follow_up.complaint_id
        )
        if complaint is None or complaint.citizen_id != turn.citizen.id:
            await self.nav.earlier_message(turn)
            return None
        if follow_up.outcome is not None or complaint.status != ANSWERED:
            turn.say(
                turn._(
                    "Thank you! Your answer about complaint No. {number} has already been recorded."
                ).format(number=complaint.reg_number)
            )
            await self.nav.finish(turn)
            return None
        return complaint, event_id

    async def _solved(self, turn: Turn, complaint, event_id: int) -> None:
        turn.say(
            turn._(
                "Thank you! We are glad the problem was solved. Complaint No. {number} is closed."
            ).format(number=complaint.reg_number)
        )
        await self.nav.finish(turn)
        result = await self.services.complaints.apply(
            complaint.id,
            RESOLVED,
            CITIZEN,
            follow_up=(event_id, "yes"),
            step=self.nav.step(turn),
        )
        turn.committed = result.ok
        if not result.ok:
            await self._already(turn, complaint)

    async def _dont_know(self, turn: Turn, complaint, event_id: int) -> None:
        turn.say(
            turn._(
                "Thank you for answering. If the problem is still there, you can file a new "
                "complaint at any time."
            )
        )
        await self.nav.finish(turn)
        turn.committed = await self.store.deadlines.note_follow_up_outcome(
            event_id=event_id, outcome="dont_know", now=self.clock.now(), step=self.nav.step(turn)
        )
        if not turn.committed:
            await self._already(turn, complaint)

    def _prompt_reason(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._(
                "We are sorry. Please write briefly what is still not solved: the operators "
                "will consider the complaint again."
            ),
            options=(cancel_option(turn),),
        )

    async def _in_reason(self, turn: Turn) -> None:
        state = turn.conv.data.get(KEY) or {}
        found = await self._open_follow_up(turn, int(state.get("event", 0)))
        if found is None:
            turn.conv.data.pop(KEY, None)
            return
        reason = await text_input(self.nav, turn, MIN_REASON, MAX_REASON)
        if reason is None:
            return
        complaint, event_id = found
        new_due = self.services.complaints.planner.answer(self.clock.now()).due_at
        turn.conv.data.pop(KEY, None)
        turn.say(
            turn._(
                "Complaint No. {number} is reopened and will be considered again. We will "
                "answer {until}."
            ).format(number=complaint.reg_number, until=turn.texts.until(new_due))
        )
        await self.nav.finish(turn)
        result = await self.services.complaints.apply(
            complaint.id,
            REOPENED,
            CITIZEN,
            reason,
            follow_up=(event_id, "no"),
            step=self.nav.step(turn),
        )
        turn.committed = result.ok
        if not result.ok:
            await self._already(turn, complaint)

    async def _already(self, turn: Turn, complaint) -> None:
        """Someone else got there first (a second press racing the first)."""
        turn.replies.clear()
        turn.say(
            turn._(
                "Thank you! Your answer about complaint No. {number} has already been recorded."
            ).format(number=complaint.reg_number)
        )
        await self.nav.finish(turn)
