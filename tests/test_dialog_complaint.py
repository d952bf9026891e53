"""Tier 1: the complaint dialog through the neutral core, on a real SQLite store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import build_app
from bot.dialogs.states import State
from bot.domain.complaints import hash_receipt
from bot.storage.check_attempts import lock_end
from tests.conftest import (
    Chat,
    file_complaint,
    image_attachment,
    jpeg_bytes,
    make_settings,
    rendered_text,
    start_in,
)


async def test_new_citizen_is_asked_for_language_first(chat):
    replies = await chat.text("Салам")
    assert chat.options == ["lang:ky", "lang:ru"]
    assert "Тилди тандаңыз" in replies[-1].text or "тандаңыз" in replies[-1].text.lower()


async def test_language_choice_is_stored_and_used(app, chat):
    await chat.command("/start")
    await chat.press("lang:ky")
    citizen = await app.store.citizens.find(channel="telegram", user_key="700")
    assert citizen.locale == "ky"
    assert chat.options == ["sub:yes", "sub:no"]  # asked once, after the first language
    await chat.press("sub:no")
    assert "menu:complaint" in chat.options
    assert "Башкы меню" in chat.said
    await chat.command("/language")
    await chat.press("lang:ru")
    assert "Главное меню" in chat.said  # not asked again


async def test_anonymous_complaint_end_to_end(app, chat, clock):
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:lighting")
    await chat.text("Возле школы №5 уже неделю не горят фонари")
    await chat.text("ул. Ленина, 12")
    for color in ("red", "blue"):  # two different photos (the same one twice is kept once)
        await chat.photo(image_attachment(jpeg_bytes(color=color)))
    await chat.press("photos:done")
    await chat.press("id:anon")
    replies = await chat.press("confirm:yes")
    text = "\n".join(r.text for r in replies)
    number = re.search(r"\b(\d{2}-\d{5})\b", text).group(1)
    code = re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b", text).group(1)
    assert number == "26-00001"
    assert "10 марта 2026 г." in text  # registration date, Asia/Bishkek
    assert "24 марта 2026 г." in text  # due date: 14 days later
    complaint = await app.store.complaints.by_number(reg_number=number)
    assert complaint.is_anonymous and complaint.full_name is None and complaint.phone is None
    assert complaint.category == "lighting" and complaint.address == "ул. Ленина, 12"
    assert len(complaint.photos) == 2
    salt, stored = await app.store.complaints.receipt_of(complaint_id=complaint.id)
    assert stored == hash_receipt(code, salt)
    assert code.encode() not in stored
    cards = await app.store.outbox.list(kind="operator_card")
    assert [(c.recipient, c.payload) for c in cards] == [
        ("-100500", {"complaint_id": complaint.id})
    ]
    assert chat.options[0] == "menu:complaint"  # back in the main menu


async def test_named_complaint_keeps_identity_for_operators(app, chat):
    await file_complaint(chat, anonymous=False)
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert not complaint.is_anonymous
    assert complaint.full_name == "Асанова Айгүл"
    assert complaint.phone == "+996555123456"
    card = app.notices.complaints.operator_card(complaint)
    assert "Асанова Айгүл" in card.text and "+996555123456" in card.text


async def test_anonymous_card_hides_identity(app, chat):
    await file_complaint(chat, anonymous=True)
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    card = app.notices.complaints.operator_card(complaint)
    assert "700" not in card.text
    assert "Aibek" not in card.text
    assert {o.id for o in card.options} == {
        f"op:{a}:{complaint.id}"
        for a in ("accept", "forward", "progress", "extend", "answer", "reject", "ask")
    }


async def test_explanation_of_named_and_anonymous_comes_before_the_choice(chat):
    await start_in(chat, "ru")
    await chat.press("menu:complaint")
    await chat.press("cat:water")
    await chat.text("Нет воды в доме уже третий день")
    await chat.press("place:skip")
    replies = await chat.press("photos:done")
    assert chat.options[:2] == ["id:named", "id:anon"]
    explanation = replies[-1].text
    assert "официальное обращение" in explanation.lower()
    assert "аноним" in explanation.lower()


async def test_typed_phone_and_location_pin(app, chat):
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("Яма на дороге у моста, машины ломаются")
    await chat.location(42.8746, 74.5698)
    await chat.press("photos:done")
    await chat.press("id:named")
    await chat.text("Токтогулов Бакыт")
    await chat.text("0555 12-34-56")
    assert (await app.store.conversations.load(citizen_id=1)).state == State.CONTACT_ADDRESS
    await chat.text("г. Бишкек, ул. Киевская, 1")
    await chat.press("confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.latitude == 42.8746 and complaint.phone == "+996555123456"


async def test_summary_can_change_a_field(app, chat):
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("Первое описание проблемы с дорогой")
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.press("id:anon")
    await chat.press("confirm:edit")
    await chat.press("edit:description")
    await chat.text("Исправленное описание: яма на дороге")
    assert chat.options[0] == "confirm:yes"
    assert "Исправленное описание" in chat.said
    await chat.press("confirm:edit")
    await chat.press("edit:category")
    await chat.press("cat:waste")
    await chat.press("confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.description.startswith("Исправленное") and complaint.category == "waste"


async def test_cancel_discards_the_draft(app, chat):
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.press("nav:cancel")
    assert chat.options[0] == "menu:complaint"
    await chat.text("отмена")
    assert await app.store.complaints.by_number(reg_number="26-00001") is None


async def test_restart_in_the_middle_continues(tmp_path, clock):
    settings = make_settings(tmp_path)
    first = await build_app(settings, clock=clock)
    chat = Chat(first.engine)
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:water")
    await first.close()
    second = await build_app(settings, clock=clock)
    try:
        chat = Chat(second.engine)
        await chat.text("После перезапуска описание всё равно принято")
        assert chat.options[0] == "place:skip"
    finally:
        await second.close()


async def test_my_complaints_lists_status(app, chat):
    await file_complaint(chat)
    await chat.press("menu:mine")
    assert "26-00001" in chat.said and "зарегистрирована" in chat.said.lower()


async def test_check_by_number_and_code_from_another_device(app, chat):
    replies = await file_complaint(chat)
    code = re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b", replies[0].text).group(1)
    other = Chat(app.engine, user_key="800")
    await start_in(other, "ky")
    await other.press("menu:check")
    await other.text("№ 26-1")
    await other.text(code.lower().replace("-", " "))
    assert "26-00001" in other.said and "Тарых" in other.said


async def test_wrong_codes_lock_checking_for_a_while(app, chat, clock):
    await file_complaint(chat)
    for _ in range(5):
        await chat.press("menu:check")
        await chat.text("26-00001")
        await chat.text("AAAA-AAAA")
    assert "15" in chat.said  # the fifth wrong code locks at once, and says so
    await chat.press("menu:check")
    await chat.text("26-00001")  # refused at the number: no code is even asked for
    assert "15" in chat.said and chat.options[0] == "menu:complaint"
    clock.advance(minutes=16)
    await chat.press("menu:check")
    await chat.text("26-00001")
    await chat.text("AAAA-AAAA")
    assert "15" not in chat.said


async def wrong_code(chat: Chat, number: str) -> str:
    await chat.press("menu:check")
    await chat.text(number)
    if chat.options == ["nav:cancel"]:  # asked for the code
        await chat.text("AAAA-AAAA")
    return chat.said


def receipt_of(replies) -> str:
    text = "\n".join(r.text for r in replies)
    return re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b", text).group(1)


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_lockout_counts_a_number_across_citizens(app, clock, locale):
    owner = Chat(app.engine, user_key="1")
    code = receipt_of(await file_complaint(owner, locale=locale))
    for user in ("2", "3", "4", "5", "6"):  # one wrong guess each, from five chats
        guesser = Chat(app.engine, user_key=user)
        await start_in(guesser, locale)
        await wrong_code(guesser, "26-00001")
    paused = app.i18n.texts(locale).gettext(NUMBER_PAUSED).format(minutes=15)
    owner_again = Chat(app.engine, user_key="7")  # even the right code waits now
    await start_in(owner_again, locale)
    await owner_again.press("menu:check")
    await owner_again.text("26-00001")
    assert paused in owner_again.said and "26-00001" not in owner_again.said
    clock.advance(minutes=15, seconds=1)
    await owner_again.press("menu:check")
    await owner_again.text("26-00001")
    await owner_again.text(code)
    assert "26-00001" in owner_again.said  # the status report


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_own_success_does_not_reset_the_count(app, locale):
    mine = Chat(app.engine, user_key="1")
    my_code = receipt_of(await file_complaint(mine, locale=locale))
    await file_complaint(Chat(app.engine, user_key="2"), locale=locale)  # 26-00002
    for attempt in range(5):
        await wrong_code(mine, "26-00002")
        if attempt < 4:  # a check of my own complaint between the guesses
            await mine.press("menu:check")
            await mine.text("26-00001")
            await mine.text(my_code)
            assert "26-00001" in mine.said
    texts = app.i18n.texts(locale)
    locked = texts.gettext("Too many wrong attempts. Please try again in {minutes} minutes.")
    assert locked.format(minutes=15) in mine.said
    await mine.press("menu:check")
    await mine.text("26-00001")  # the citizen is locked on every number, their own too
    assert locked.format(minutes=15) in mine.said


async def test_lockout_counts_a_citizen_across_numbers(app, clock):
    await file_complaint(Chat(app.engine, user_key="1"))
    guesser = Chat(app.engine, user_key="2")
    await start_in(guesser)
    for n in range(2, 7):  # five different numbers, one guess each
        await wrong_code(guesser, f"26-0000{n}")
    assert "15" in guesser.said
    await guesser.press("menu:check")
    await guesser.text("26-00001")
    assert "15" in guesser.said and guesser.options[0] == "menu:complaint"
    clock.advance(minutes=10)
    await guesser.press("menu:check")
    await guesser.text("26-00001")
    locked = app.i18n.texts("ru").gettext(
        "Too many wrong attempts. Please try again in {minutes} minutes."
    )
    assert locked.format(minutes=5) in guesser.said  # the minutes left, not always 15
    other = Chat(app.engine, user_key="3")  # somebody else is not locked out by it
    await start_in(other)
    await other.press("menu:check")
    await other.text("26-00001")
    assert other.options == ["nav:cancel"]


def test_lock_end_needs_the_failures_within_the_window():
    t0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    spread = [t0 + timedelta(minutes=4 * i) for i in range(5)]  # 16 minutes apart end to end
    window, lock = timedelta(minutes=15), timedelta(minutes=15)
    assert lock_end(spread, limit=5, window=window, lock=lock) is None
    close = [t0 + timedelta(minutes=3 * i) for i in range(5)]
    assert lock_end(close, limit=5, window=window, lock=lock) == close[-1] + lock


async def test_registration_numbers_are_unique_and_sequential(app):
    numbers = []
    for user in ("1", "2", "3"):
        chat = Chat(app.engine, user_key=user)
        await file_complaint(chat)
        numbers.append(re.search(r"\b(\d{2}-\d{5})\b", chat.replies[0].text).group(1))
    assert numbers == ["26-00001", "26-00002", "26-00003"]


async def test_state_names_are_all_known(app, chat):
    await start_in(chat)
    await chat.press("menu:complaint")
    conv = await app.store.conversations.load(citizen_id=1)
    assert conv.state in {s.value for s in State}


async def test_status_notice_uses_the_language_chosen_later(app, chat):
    from bot.handlers.console.chat import CONSOLE_OPERATOR

    await file_complaint(chat, locale="ru")
    await chat.command("/language")
    await chat.press("lang:ky")
    await app.complaints.act_by_number("26-00001", "progress", CONSOLE_OPERATOR)
    [notice] = await app.store.outbox.list(kind="status_update")
    text = await rendered_text(app, notice)
    assert "аткарылууда" in text and "в работе" not in text
    assert notice.recipient == "700" and notice.channel == "telegram"


NUMBER_PAUSED = (
    "Too many wrong codes were typed for this complaint, so checking it is paused for "
    '{minutes} minutes. If it is your complaint, you can see it under "My complaints" in the '
    "chat you filed it from."
)
