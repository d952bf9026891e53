"""Checking a complaint by its registration number and receipt code, from any chat.

Wrong codes are counted per number (from anyone) and per citizen (on any number); too many
within a window pause checking for a while.
"""

from __future__ import annotations

from datetime import timedelta

from bot.dialogs.common import cancel_option, remember_verified, text_input, thread_options
from bot.dialogs.dialog import Command, Dialog, MenuEntry
from bot.dialogs.events import Reply
from bot.dialogs.inputs import is_reg_number
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.complaints import ANSWERED, REJECTED, normalize_reg_number
from bot.i18n import N_
from bot.notices.complaints import STATUS_LABELS

MAX_CHECK_FAILURES = 5
CHECK_LOCK_MINUTES = 15
CHECK_WINDOW = timedelta(minutes=15)  # five failures within it lock checking


class CheckDialog(Dialog):
    name = "check"
    states = {State.CHECK_NUMBER: "_in_check_number", State.CHECK_CODE: "_in_check_code"}
    prompts = {State.CHECK_NUMBER: "_prompt_check_number", State.CHECK_CODE: "_prompt_check_code"}
    commands = {"/check": Command("open")}
    menu = MenuEntry("menu:check", N_("🔎 Check a complaint"), order=30)

    async def open(self, turn: Turn) -> None:
        turn.go(State.CHECK_NUMBER)
        turn.replies.append(self._prompt_check_number(turn))

    def _prompt_check_number(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Type the registration number of the complaint, for example 26-00042."),
            options=(cancel_option(turn),),
        )

    def _prompt_check_code(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Now type the receipt code you were given, for example 7KXM-4PQ2."),
            options=(cancel_option(turn),),
        )

    async def _in_check_number(self, turn: Turn) -> None:
        text = await text_input(self.nav, turn, 1, 40)
        if text is None:
            return
        number = normalize_reg_number(text)
        if not is_reg_number(number):  # refused here, never counted as a failed try
            hint = turn._(
                "This is not a registration number. It looks like 26-00042: two digits, "
                "a dash and the complaint's sequence number."
            )
            await self.nav.reprompt(turn, hint)
            return
        if await self._check_locked(turn, number):
            return
        turn.conv.data["check_number"] = number
        turn.go(State.CHECK_CODE)
        await self.nav.prompt(turn)

    async def _in_check_code(self, turn: Turn) -> None:
        code = await text_input(self.nav, turn, 4, 40)
        if code is None:
            return
        number = turn.conv.data.get("check_number", "")
        if await self._check_locked(turn, number):
            return
        complaint = await self.services.complaints.verify_receipt(number, code)
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
                await self.nav.to_menu(turn)
            return
        remember_verified(turn.conv.data, complaint.id)
        turn.say(
            await self._status_report(turn, complaint), options=thread_options(turn, complaint)
        )
        await self.nav.to_menu(turn)

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
        await self.nav.to_menu(turn)
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
