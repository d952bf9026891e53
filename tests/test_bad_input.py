"""Tier 1: bad input gets a clear, polite, localized answer, and nothing accepted is lost."""

from __future__ import annotations

import io
import math

import pytest

from bot.app import build_app
from bot.dialogs.events import Attachment, Incoming
from bot.dialogs.guards import FloodGuard
from bot.dialogs.states import State
from bot.domain.complaints import normalize_reg_number
from bot.handlers.console.chat import run_console
from bot.handlers.whatsapp.inbox import to_incoming
from tests.conftest import (
    Chat,
    file_complaint,
    image_attachment,
    jpeg_bytes,
    make_settings,
    start_in,
)

NOT_A_NUMBER = (
    "This is not a registration number. It looks like 26-00042: two digits, "
    "a dash and the complaint's sequence number."
)
BAD_PIN = (
    "I could not use this location: its coordinates are not valid. "
    "Please send the pin again, or type the address."
)
NOT_OWN_CONTACT = (
    "This is someone else's contact, so I did not save it. Please share your own "
    "number, or type the number at which you can be reached."
)


async def at_description(chat: Chat, locale: str = "ru") -> None:
    await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:water")


async def at_photos(chat: Chat, locale: str = "ru") -> None:
    await at_description(chat, locale)
    await chat.text("Нет воды в доме уже третий день подряд")
    await chat.press("place:skip")


async def state_of(app, user_key: str = "700"):
    citizen = await app.store.citizens.find(channel="telegram", user_key=user_key)
    return await app.store.conversations.load(citizen_id=citizen.id)


async def test_oversized_text_is_refused_with_the_limit(app, chat):
    await at_description(chat)
    await chat.text("а" * 4001)
    assert "4001" in chat.said and "4000" in chat.said
    conv = await state_of(app)
    assert conv.state == State.DESCRIPTION and "description" not in conv.data["draft"]
    await chat.text("а" * 4000)
    assert (await state_of(app)).state == State.PLACE


async def test_too_short_and_empty_text(app, chat):
    await at_description(chat)
    await chat.text("   \u200b  ")
    assert "пуст" in chat.said.lower()
    await chat.text("вода")
    assert "10" in chat.said
    assert (await state_of(app)).state == State.DESCRIPTION


async def test_files_that_are_not_photos(app, chat):
    await at_photos(chat)

    async def never() -> bytes:
        raise AssertionError("must not be downloaded")

    for kind in ("sticker", "document"):
        await chat.photo(Attachment(kind, never))
        assert "принимаю фото" in chat.said.lower() and "видео" in chat.said.lower()
    await chat.photo(Attachment("voice", never))  # a voice is a description, not evidence
    assert "описанием жалобы" in chat.said.lower()
    assert (await state_of(app)).data["draft"]["photos"] == []
    assert chat.options[0] == "photos:done"


async def test_sixth_photo_is_refused(app, chat):
    await at_photos(chat)
    for n in range(6):
        await chat.photo(image_attachment(jpeg_bytes(color=("red", "blue")[n % 2], width=30 + n)))
    assert "5" in chat.said and "не добав" in chat.said.lower()
    assert len((await state_of(app)).data["draft"]["photos"]) == 5


async def test_thirty_megabyte_image_is_refused(app, chat):
    await at_photos(chat)
    await chat.photo(image_attachment(b"\xff\xd8" + b"0" * 100, size=30 * 1024 * 1024))
    assert "10 МБ" in chat.said
    # and the real size counts too, not only what the messenger declared
    await chat.photo(image_attachment(b"\xff\xd8" + b"0" * (11 * 1024 * 1024), size=1))
    assert "10 МБ" in chat.said
    assert (await state_of(app)).data["draft"]["photos"] == []


async def test_broken_image_is_refused(app, chat):
    await at_photos(chat)
    await chat.photo(image_attachment(b"%PDF-1.4 not an image"))
    assert "JPEG" in chat.said
    assert (await state_of(app)).data["draft"]["photos"] == []


async def test_button_from_an_old_message(app, chat):
    await at_photos(chat)
    await chat.press("cat:roads")  # category buttons are from an earlier message
    assert "ранее" in chat.said.lower() or "старого" in chat.said.lower()
    conv = await state_of(app)
    assert conv.state == State.PHOTOS and conv.data["draft"]["category"] == "water"


async def test_button_pressed_in_the_wrong_state(app, chat):
    await start_in(chat)
    await chat.press("confirm:yes")
    assert chat.options[0] == "menu:complaint"
    assert await app.store.complaints.by_number(reg_number="26-00001") is None


async def test_unknown_command_and_free_text_in_menu(app, chat):
    await start_in(chat)
    await chat.command("/weather")
    assert "команд" in chat.said.lower() and chat.options[0] == "menu:complaint"
    await chat.text("привет, как дела?")
    assert chat.options[0] == "menu:complaint"


async def test_emoji_and_mixed_scripts_are_kept_exactly(app, chat):
    text = "Суу жок 😡 Нет воды! No water 💧 — Өзгөн, үй №12"
    await file_complaint(chat, description=text)
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.description == text


async def test_sql_and_html_are_just_text(app, chat):
    text = "'); DROP TABLE complaints; -- <script>alert(1)</script> <b>жалоба</b>"
    await file_complaint(chat, description=text)
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.description == text
    assert await app.store.fetchone("SELECT count(*) FROM complaints") is not None
    card = app.notices.complaints.operator_card(complaint)
    assert text in card.text  # shown as plain text: the renderer sends no parse_mode


async def test_flood_is_throttled_politely(tmp_path, clock):
    app = await build_app(make_settings(tmp_path, flood_burst=10), clock=clock)
    try:
        chat = Chat(app.engine)
        await at_description(chat)  # 5 events of the burst of 10
        answered = []
        for n in range(50):
            replies = await chat.text(f"Сообщение номер {n}, вода не течёт")
            answered.append(replies)
        warnings = [r for r in answered if r and "быстро" in r[0].text.lower()]
        processed = [r for r in answered if r and "быстро" not in r[0].text.lower()]
        silent = [r for r in answered if not r]
        assert len(warnings) == 1 and len(processed) == 5 and len(silent) == 44
        conv = await state_of(app)
        # the first accepted message became the description; nothing accepted was lost
        assert conv.data["draft"]["description"] == "Сообщение номер 0, вода не течёт"
        clock.advance(seconds=5)
        await chat.press("place:skip")
        assert chat.options[0] == "photos:done"
    finally:
        await app.close()


async def test_unknown_stored_state_falls_back_to_menu(app, chat):
    await start_in(chat)
    citizen = await app.store.citizens.find(channel="telegram", user_key="700")
    conv = await app.store.conversations.load(citizen_id=citizen.id)
    conv.state = "removed.flow.step"
    await app.store.conversations.save(
        citizen_id=citizen.id, conversation=conv, now=app.clock.now()
    )
    await chat.text("что-нибудь")
    assert chat.options[0] == "menu:complaint"


async def test_photo_outside_a_complaint(app, chat):
    await start_in(chat)
    replies = await chat.engine.handle(
        Incoming(
            channel="telegram", user_key="700", kind="photo", attachments=(image_attachment(),)
        )
    )
    assert replies and chat.engine is not None
    assert not list((app.settings.media_dir).glob("**/*.jpg"))


async def test_photo_with_caption_at_the_description_step(app, chat):
    await at_description(chat)
    await chat._send(
        kind="photo", text="Мусор не вывозят уже две недели", attachments=(image_attachment(),)
    )
    conv = await state_of(app)
    assert conv.state == State.PLACE
    assert conv.data["draft"]["description"] == "Мусор не вывозят уже две недели"
    assert len(conv.data["draft"]["photos"]) == 1


# ----- crashes found by the fuzzer (issue 8) and slips found by a new user (issue 9) ---------


def said(app, locale: str, message: str) -> str:
    """A message as the citizen reads it in `locale` (and it must be translated)."""
    text = app.i18n.texts(locale).gettext(message)
    assert text != message, f"untranslated in {locale}: {message}"
    return text


def whatsapp_chat(app, user_key: str = "+996700000001") -> Chat:
    return Chat(app.engine, user_key=user_key, channel="whatsapp")


async def wa_state_of(app, user_key: str = "+996700000001"):
    citizen = await app.store.citizens.find(channel="whatsapp", user_key=user_key)
    return await app.store.conversations.load(citizen_id=citizen.id)


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_odd_digits_at_a_numbered_prompt(app, locale):
    chat = whatsapp_chat(app)
    await start_in(chat, locale)
    await chat.text("1")  # "1. File a complaint"
    assert chat.options[0] == "cat:water"
    for typed in ("²", "①", "⑶", "2²", "¹⁰"):  # isdigit() is true, int() refuses
        await chat.text(typed)
        assert (await wa_state_of(app)).state == State.CATEGORY
        assert chat.options[0] == "cat:water"
    await chat.text("٣")  # an Arabic-Indic three is a number: the third category
    conv = await wa_state_of(app)
    assert conv.state == State.DESCRIPTION and conv.data["draft"]["category"] == "roads"


def test_registration_number_with_odd_digits():
    assert normalize_reg_number("26-²") == "26-²"  # no crash, and not a number
    assert normalize_reg_number("26-①") == "26-①"
    assert normalize_reg_number("٢٦-٤٢") == "26-00042"
    assert normalize_reg_number("№ 26-42") == "26-00042"


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_check_refuses_a_text_that_is_not_a_number(app, chat, locale):
    await start_in(chat, locale)
    await chat.press("menu:check")
    for typed in ("26-²", "привет", "салам", "12"):
        await chat.text(typed)
        assert said(app, locale, NOT_A_NUMBER) in chat.said
        assert (await state_of(app)).state == State.CHECK_NUMBER
    rows = await app.store.fetchall("SELECT count(*) AS n FROM check_failures")
    assert rows[0]["n"] == 0  # none of them counted as a failed try


BAD_PINS = [
    (math.nan, 74.6),
    (42.8, math.nan),
    (math.inf, 74.6),
    (42.8, -math.inf),
    (90.5, 74.6),
    (-91.0, 74.6),
    (42.8, 180.01),
    (42.8, -200.0),
]


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_impossible_location_pins_are_refused(app, chat, locale):
    await at_description(chat, locale)
    await chat.text("Нет воды в доме уже третий день подряд")
    for lat, lon in BAD_PINS:
        await chat.location(lat, lon)
        assert said(app, locale, BAD_PIN) in chat.said
        conv = await state_of(app)
        assert conv.state == State.PLACE and conv.data["draft"].get("latitude") is None
        assert chat.options[0] == "place:skip"  # the dialog goes on
    await chat.location(-90.0, 180.0)  # the edges are real places
    conv = await state_of(app)
    assert conv.state == State.PHOTOS and conv.data["draft"]["latitude"] == -90.0


@pytest.mark.parametrize(
    ("latitude", "longitude"), [("nan", "74.6"), ("1e400", "74.6"), ("abc", "1"), ("42", "-inf")]
)
async def test_whatsapp_pins_that_are_not_places(app, latitude, longitude):
    params = {"From": "whatsapp:+996700000001", "Latitude": latitude, "Longitude": longitude}
    event = to_incoming(params, media=None)
    assert event.kind == "location"
    chat = whatsapp_chat(app)
    await at_description(chat, "ru")
    await chat.text("Нет воды в доме уже третий день подряд")
    replies = await app.engine.handle(event)
    assert said(app, "ru", BAD_PIN) in "\n".join(r.text for r in replies)
    assert (await wa_state_of(app)).state == State.PLACE


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_lone_surrogates_do_not_reach_the_store(app, chat, locale):
    await at_description(chat, locale)
    await chat.text("Нет воды \ud83d в доме уже неделю \udcd0")
    conv = await state_of(app)
    assert conv.state == State.PLACE
    assert conv.data["draft"]["description"] == "Нет воды \ufffd в доме уже неделю \ufffd"
    await chat.text("\udc80")  # alone: not an address, but no crash either
    assert (await state_of(app)).state == State.PLACE


async def test_console_reads_a_letter_cut_in_half(app):
    # "Салам" and then a Cyrillic letter whose second byte never came
    stdin = io.TextIOWrapper(io.BytesIO(b"1\n\xd0\xa1\xd0\xb0\xd0\n/quit\n"), encoding="utf-8")
    out = io.StringIO()
    await run_console(app, user="tester", stdin=stdin, out=out)
    citizen = await app.store.citizens.find(channel="console", user_key="tester")
    assert citizen.locale == "ky"
    # and a surrogate that a str stream already holds is replaced before the core sees it
    out = io.StringIO()
    await run_console(app, user="tester", stdin=io.StringIO("/menu\nСу\udcd0\n/quit\n"), out=out)
    assert "Traceback" not in out.getvalue()


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_phone_numbers_are_validated(app, chat, locale):
    await at_photos(chat, locale)
    await chat.press("photos:done")
    await chat.press("id:named")
    await chat.text("Асанова Айгүл")
    for phone in ("abc", "+", "12345", "+996 555 ABC DEF"):
        await chat.contact(phone)
        assert said(app, locale, "That does not look like a phone number.") in chat.said
        await chat.text(phone)
        assert (await state_of(app)).state == State.PHONE
    await chat._send(kind="contact", contact_phone="+996555987654", contact_is_own=False)
    assert said(app, locale, NOT_OWN_CONTACT) in chat.said
    conv = await state_of(app)
    assert conv.state == State.PHONE and not conv.data["draft"].get("phone")
    await chat.contact("996 555 12 34 56")  # a contact as Telegram shares it: no "+"
    conv = await state_of(app)
    assert conv.state == State.CONTACT_ADDRESS and conv.data["draft"]["phone"] == "+996555123456"


async def test_typed_phone_is_stored_in_e164(app, chat):
    await at_photos(chat, "ky")
    await chat.press("photos:done")
    await chat.press("id:named")
    await chat.text("Асанова Айгүл")
    await chat.text("0 (555) 12-34-56")
    assert (await state_of(app)).data["draft"]["phone"] == "+996555123456"


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_over_long_whatsapp_text_names_its_real_length(app, locale):
    body = "ж" * 5000
    event = to_incoming({"From": "whatsapp:+996700000001", "Body": body}, media=None)
    assert len(event.text) == 5000  # not cut before the core sees it
    chat = whatsapp_chat(app)
    await at_description(chat, locale)
    replies = await app.engine.handle(event)
    text = "\n".join(r.text for r in replies)
    assert "5000" in text and "4000" in text and "4096" not in text
    assert (await wa_state_of(app)).state == State.DESCRIPTION


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_voice_at_the_description_step_gets_one_answer(app, chat, locale):
    await at_description(chat, locale)

    async def never() -> bytes:
        raise ConnectionError("the download failed")

    await chat._send(kind="file", attachments=(Attachment("voice", never),))
    text = chat.said
    # a voice is taken as the description; this one could not be downloaded
    assert said(app, locale, "I could not download this voice message. Please send it again.") in (
        text
    )
    assert said(app, locale, "Photo noted. Now please continue:") not in text
    assert (await state_of(app)).data["draft"]["photos"] == []
    assert (await state_of(app)).state == State.DESCRIPTION


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_the_same_photo_is_kept_once(app, chat, locale):
    await at_photos(chat, locale)
    for _ in range(5):
        await chat.photo()
    assert said(app, locale, "This photo is already attached; it was not added again.") in (
        chat.said
    )
    assert len((await state_of(app)).data["draft"]["photos"]) == 1


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_one_counter_per_photo_and_no_invitation_after_the_last(app, chat, locale):
    await at_photos(chat, locale)
    texts = app.i18n.texts(locale)
    for n in range(1, 6):
        await chat.photo(image_attachment(jpeg_bytes(width=30 + n)))
        shown = chat.said
        counters = [f"{n} / 5", f"{n} из 5"]
        assert sum(shown.count(c) for c in counters) == 1, shown
    invitation = texts.gettext(
        "You can attach up to {max} photos as evidence. Send them now, or press Done."
    ).format(max=5)
    assert invitation not in chat.said
    assert said(app, locale, "You can send another photo, or press Done.") not in chat.said
    assert said(app, locale, "No more photos can be added. Press Done to go on.") in chat.said
    assert chat.options[0] == "photos:done"


async def test_flood_is_warned_once_per_flood(tmp_path, clock):
    app = await build_app(make_settings(tmp_path, flood_burst=10), clock=clock)
    try:
        chat = Chat(app.engine)
        await at_description(chat)

        async def flood(count: int, every: float) -> int:
            warnings = 0
            for n in range(count):
                replies = await chat.text(f"Сообщение номер {n}, вода не течёт")
                warnings += any("быстро" in r.text.lower() for r in replies)
                clock.advance(seconds=every)
            return warnings

        assert await flood(50, 1 / 50) == 1  # 50 in one second: refilled tokens do not re-warn
        assert await flood(50, 0.1) == 0  # still the same flood, five seconds of it
        clock.advance(seconds=6)  # quiet long enough for the bucket to refill
        assert await flood(30, 0) == 1  # a new flood: warned again, once
    finally:
        await app.close()


async def test_flood_guard_rearms_only_when_full():
    now = [0.0]
    guard = FloodGuard(burst=3, rate=1.0, monotonic=lambda: now[0])
    verdicts = []
    for _ in range(20):
        verdicts.append(guard.check("k"))
        now[0] += 0.25
    assert verdicts.count("warn") == 1 and "ok" in verdicts[4:]  # refills still pass
    now[0] += 3
    assert guard.check("k") == "ok"
    assert [guard.check("k") for _ in range(3)] == ["ok", "ok", "warn"]
