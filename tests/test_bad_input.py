"""Tier 1: bad input gets a clear, polite, localized answer, and nothing accepted is lost."""

from __future__ import annotations

from bot.app import build_app
from bot.dialogs.events import Attachment, Incoming
from bot.dialogs.states import State
from tests.conftest import (
    Chat,
    file_complaint,
    image_attachment,
    jpeg_bytes,
    make_settings,
    start_in,
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

    for kind in ("voice", "video", "sticker", "document"):
        await chat.photo(Attachment(kind, never))
        assert "только фото" in chat.said.lower()
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
    card = app.complaints.operator_card(complaint)
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
