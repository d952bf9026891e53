"""My complaints: the citizen's complaints with their status, and a new receipt code for one.

The "new code" button (`receipt:new:<id>`) works in any state and from any older message: it is
checked against the store (the complaint must be the citizen's own), not against the last
prompt, and the citizen stays where they were.
"""

from __future__ import annotations

from bot.dialogs.common import thread_options
from bot.dialogs.dialog import Command, Dialog, MenuEntry, Route
from bot.dialogs.events import Option
from bot.dialogs.inputs import row_id
from bot.dialogs.turn import Turn
from bot.domain.complaints import OPEN_STATUSES, issue_receipt
from bot.i18n import N_
from bot.notices.complaints import STATUS_LABELS

RECEIPT_PREFIX = "receipt:new:"
MAX_RECEIPT_BUTTONS = 5
MAX_THREAD_COMPLAINTS = 3  # the newest open ones get "add" and "withdraw" buttons


class MyComplaintsDialog(Dialog):
    name = "mine"
    commands = {"/my": Command("open"), "/mycomplaints": Command("open")}
    menu = MenuEntry("menu:mine", N_("📋 My complaints"), order=20)
    routes = (Route(RECEIPT_PREFIX, "_new_receipt"),)

    async def open(self, turn: Turn) -> None:
        _ = turn._
        complaints = await self.store.complaints.of_citizen(citizen_id=turn.citizen.id)
        if not complaints:
            turn.say(_("You have not filed any complaints yet."))
        else:
            lines = [_("Your complaints:")]
            for complaint in complaints:
                category = self.content.category(complaint.category)
                lines.append(
                    _("No. {number} of {date}, {category}: {status}").format(
                        number=complaint.reg_number,
                        date=turn.texts.date(complaint.created_at),
                        category=category.label(turn.texts.locale)
                        if category
                        else complaint.category,
                        status=_(STATUS_LABELS[complaint.status]),
                    )
                )
            lines += ["", _("Lost a receipt code? Ask for a new one: the old one stops working.")]
            options = tuple(
                Option(
                    f"{RECEIPT_PREFIX}{c.id}",
                    _("🔑 New code for No. {number}").format(number=c.reg_number),
                )
                for c in complaints[:MAX_RECEIPT_BUTTONS]
            )
            open_ones = [c for c in complaints if c.status in OPEN_STATUSES]
            for complaint in open_ones[:MAX_THREAD_COMPLAINTS]:
                options += thread_options(turn, complaint)
            if open_ones:
                lines.append(
                    _("You can add information or photos to an open complaint, or withdraw it.")
                )
            turn.say("\n".join(lines), options=options)
        await self.nav.to_menu(turn)

    async def _new_receipt(self, turn: Turn) -> None:
        """A fresh receipt code for one of the citizen's own complaints, from any state; the
        hash changes in the same transaction that queues the code (blanked once delivered)."""
        raw_id = turn.event.option_id.removeprefix(RECEIPT_PREFIX)
        complaint = None
        if (complaint_id := row_id(raw_id)) is not None:
            complaint = await self.store.complaints.get(complaint_id=complaint_id)
        if complaint is None or complaint.citizen_id != turn.citizen.id:
            await self.nav.earlier_message(turn)
            return
        code, salt, digest = await issue_receipt()
        turn.say(
            turn._(
                "New receipt code for complaint No. {number}: {code}\n"
                "The previous code no longer works. Write this one down."
            ).format(number=complaint.reg_number, code=code)
        )
        await self.nav.prompt(turn)
        step = self.nav.step(turn, secret=True)
        await self.store.complaints.replace_receipt(
            complaint_id=complaint.id, salt=salt, digest=digest, step=step
        )
        turn.committed = True
