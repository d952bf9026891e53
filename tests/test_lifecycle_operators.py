"""The lifecycle from the operator group, through the real aiogram dispatcher and the fake Bot
API: extending with a date and a reason, asking the citizen a question, reminders posted under
the card, and /overdue, /due and /complaint."""

from __future__ import annotations

import pytest

from bot.jobs import deadline_watch
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness

CITIZEN = 7301


@pytest.fixture
async def api():
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def tg(app, api):
    harness = TelegramHarness(app, api)
    api.set_chat_member(OPERATOR_CHAT, OPERATOR, "administrator")
    yield harness
    await harness.close()


async def press(tg, data: str, user: int = CITIZEN, chat: int | None = None):
    await tg.feed(callback_update(user, data, message_id=1, chat_id=chat))


async def say(tg, text: str, user: int = CITIZEN, **kwargs):
    await tg.feed(message_update(user, text, **kwargs))


async def file(tg):
    await say(tg, "/start")
    await press(tg, "lang:ru")
    await press(tg, "sub:no")
    await press(tg, "menu:complaint")
    await press(tg, "cat:water")
    await say(tg, "Кран суусу үч күндөн бери жок, балдар мектепке суусуз барат")
    await press(tg, "place:skip")
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    await tg.app.outbox.drain()


async def reply_to_last_prompt(tg, text: str):
    """The operator answers the bot's last question in the group with a reply."""
    prompt = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    row = await tg.app.store.fetchone(
        "SELECT d.provider_sid FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id"
        " WHERE o.kind = 'operator_prompt' ORDER BY o.id DESC LIMIT 1"
    )
    update = message_update(OPERATOR, text, chat_id=OPERATOR_CHAT)
    update["message"]["reply_to_message"] = {
        "message_id": int(row["provider_sid"].split(":")[1]),
        "date": 0,
        "chat": {"id": OPERATOR_CHAT, "type": "supergroup"},
        "text": prompt.params["text"],
    }
    await tg.feed(update)


def card_message_id(tg) -> int:
    """The message id the fake Bot API gave the complaint's card (the one with buttons)."""
    for call in tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT):
        markup = call.params.get("reply_markup") or {}
        if "inline_keyboard" in markup:
            return call.result["message_id"]
    raise AssertionError("no card")


async def test_extend_from_the_group_refuses_too_long_and_accepts_a_legal_date(tg, app):
    await file(tg)
    await press(tg, "op:extend:1", user=OPERATOR, chat=OPERATOR_CHAT)
    await reply_to_last_prompt(tg, "30.05.2026 нужна экспертиза")
    assert (await app.store.complaints.get(complaint_id=1)).status == "registered"
    refusal = tg.texts_to(OPERATOR_CHAT)[-1]
    assert "30" in refusal and "2026" in refusal
    await press(tg, "op:extend:1", user=OPERATOR, chat=OPERATOR_CHAT)
    await reply_to_last_prompt(tg, "10.04.2026 нужна экспертиза")
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.status == "extended"
    await app.outbox.run_once()
    assert "нужна экспертиза" in tg.texts_to(CITIZEN)[-1]


async def test_a_clarifying_question_goes_to_the_citizen_and_the_answer_comes_back(tg, app):
    await file(tg)
    await press(tg, "op:ask:1", user=OPERATOR, chat=OPERATOR_CHAT)
    await reply_to_last_prompt(tg, "Какой номер дома?")
    await app.outbox.run_once()
    assert "Какой номер дома?" in tg.texts_to(CITIZEN)[-1]
    [button] = tg.last_buttons(CITIZEN)
    await press(tg, button)
    await say(tg, "Дом 14, второй подъезд")
    await app.outbox.drain()
    await app.outbox.run_once()
    answer = [t for t in tg.texts_to(OPERATOR_CHAT) if "Дом 14" in t]
    assert answer and "Aibek" not in answer[0] and str(CITIZEN) not in answer[0]
    sent = [
        call
        for call in tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)
        if "Дом 14" in (call.params.get("text") or "")
    ]
    assert sent[0].params["reply_parameters"]["message_id"] == card_message_id(tg)


async def test_a_reminder_is_posted_under_the_card(tg, app, clock):
    await file(tg)
    clock.advance(days=1)  # Wednesday: two working days before the acknowledgement
    assert await deadline_watch.tick(app) == 1
    await app.outbox.run_once()
    [reminder] = [
        call
        for call in tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)
        if (call.params.get("text") or "").startswith("⏰")
    ]
    assert reminder.params["reply_parameters"]["message_id"] == card_message_id(tg)


async def test_overdue_due_and_complaint_commands(tg, app, clock):
    await file(tg)
    await say(tg, "/due", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert "26-00001" not in tg.texts_to(OPERATOR_CHAT)[-1]  # nothing within 2 working days
    clock.advance(days=1)
    await say(tg, "/due", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert "26-00001" in tg.texts_to(OPERATOR_CHAT)[-1]
    clock.advance(days=4)
    await say(tg, "/overdue", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert "26-00001" in tg.texts_to(OPERATOR_CHAT)[-1]
    await say(tg, "/complaint 26-1", user=OPERATOR, chat_id=OPERATOR_CHAT)
    shown = tg.texts_to(OPERATOR_CHAT)[-1]
    assert "26-00001" in shown and "Кран суусу" in shown
    await say(tg, "/complaint", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert "/complaint 26-00042" in tg.texts_to(OPERATOR_CHAT)[-1]
    await say(tg, "/overdue", user=999, chat_id=OPERATOR_CHAT)  # not an operator
    assert "26-00001" not in tg.texts_to(OPERATOR_CHAT)[-1]
