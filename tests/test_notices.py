"""Notices are rendered when they are sent: the outbox row holds ids, the text comes from the
data and the recipient's language of that moment."""

from __future__ import annotations

from bot.handlers.console.chat import CONSOLE_OPERATOR
from tests.conftest import file_complaint, rendered_text


async def test_a_notice_speaks_the_language_chosen_after_it_was_queued(app, chat):
    await file_complaint(chat, locale="ru")
    await app.complaints.act_by_number("26-00001", "progress", CONSOLE_OPERATOR)
    [notice] = await app.store.outbox.list(kind="status_update")
    assert "в работе" in await rendered_text(app, notice)
    assert set(notice.payload) == {"complaint_id", "event_id"}  # ids, no text
    await chat.command("/language")  # the citizen switches before it goes out
    await chat.press("lang:ky")
    text = await rendered_text(app, notice)
    assert "аткарылууда" in text and "в работе" not in text
    variables = (await app.outbox.render(notice)).template_variables
    assert variables["1"] == "26-00001" and "аткарылууда" in variables["2"]


async def test_a_change_note_holds_ids_only(app, chat):
    await file_complaint(chat)
    await app.complaints.apply(1, "in_progress", CONSOLE_OPERATOR, "Выезд в среду", group="-1")
    [note] = await app.store.outbox.list(kind="change_note")
    assert "Выезд в среду" in await rendered_text(app, note)
    assert set(note.payload) == {"complaint_id", "event_id"}
