"""Tier 2: the Telegram adapter with a real aiogram Bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import io

import pytest
from aiohttp import web
from PIL import Image

from bot.handlers.telegram.inbox import TelegramInbox
from tests.conftest import jpeg_bytes
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness

CITIZEN = 7001


@pytest.fixture
async def tg(app):
    async with FakeTelegramAPI() as api:
        harness = TelegramHarness(app, api)
        yield harness
        await harness.close()


def gps_jpeg() -> bytes:
    image = Image.new("RGB", (40, 20), "blue")
    exif = image.getexif()
    exif[0x010F] = "SecretPhoneMaker"
    exif[0x0112] = 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (42.0, 52.0, 30.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def sent_message_id(app, kind: str) -> int:
    """The Telegram message id the outbox recorded for the last row of `kind` it sent."""
    row = await app.store.fetchone(
        "SELECT d.provider_sid FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id"
        " WHERE o.kind = ? ORDER BY o.id DESC LIMIT 1",
        (kind,),
    )
    return int(row["provider_sid"].split(":")[1])


async def press(tg, data: str, user: int = CITIZEN, chat: int | None = None):
    await tg.feed(callback_update(user, data, message_id=1, chat_id=chat))


async def say(tg, text: str, user: int = CITIZEN, **kwargs):
    await tg.feed(message_update(user, text, **kwargs))


async def walk_to_photos(tg, locale: str = "ky"):
    await say(tg, "/start")
    await press(tg, f"lang:{locale}")
    await press(tg, "menu:complaint")
    await press(tg, "cat:water")
    await say(tg, "Кран суусу үч күндөн бери жок, балдар мектепке суусуз барат")
    await press(tg, "place:skip")


async def test_start_shows_language_buttons(tg):
    await say(tg, "/start")
    assert tg.last_buttons(CITIZEN) == ["lang:ky", "lang:ru"]


async def test_photo_is_cleaned_and_card_reaches_operators(tg, app):
    tg.api.add_file("photo-1", gps_jpeg())
    await walk_to_photos(tg)
    await tg.feed(message_update(CITIZEN, photo_file_id="photo-1"))
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    stored = app.media.open_path(complaint.photos[0].path).read_bytes()
    assert b"SecretPhoneMaker" not in stored
    assert Image.open(io.BytesIO(stored)).size == (20, 40)  # turned upright
    assert await app.outbox.run_once() == 1
    photo = tg.api.calls_to("sendPhoto", chat_id=OPERATOR_CHAT)[0]
    assert b"SecretPhoneMaker" not in photo.files["photo"]
    card = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    assert "26-00001" in card.params["text"] and str(CITIZEN) not in card.params["text"]
    assert "Aibek" not in card.params["text"] and "aibek" not in card.params["text"]


async def test_operator_changes_status_and_citizen_hears_in_kyrgyz(tg, app):
    await walk_to_photos(tg)
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    await app.outbox.run_once()
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
    since = len(tg.api.calls)
    await press(tg, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)
    await press(tg, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)  # pressed twice
    assert len(await app.store.complaints.events(complaint_id=1)) == 2
    assert tg.api.calls_to("editMessageReplyMarkup")
    assert await app.outbox.run_once() == 1
    notice = tg.texts_to(CITIZEN, since)[-1]
    assert "26-00001" in notice and "кабыл алынды" in notice


async def test_stranger_cannot_change_status(tg, app):
    await walk_to_photos(tg)
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    await press(tg, "op:reject:1", user=999, chat=OPERATOR_CHAT)
    answer = tg.api.calls_to("answerCallbackQuery")[-1]
    assert answer.params.get("show_alert") in (True, "true")
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.status == "registered"


async def test_operator_answer_is_relayed_to_the_citizen(tg, app):
    await walk_to_photos(tg, "ru")
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "administrator")
    await press(tg, "op:answer:1", user=OPERATOR, chat=OPERATOR_CHAT)
    prompt = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    assert prompt.params["reply_markup"].get("force_reply")
    update = message_update(OPERATOR, "Водопровод починили, вода есть.", chat_id=OPERATOR_CHAT)
    sent_prompt = await sent_message_id(app, "operator_prompt")
    update["message"]["reply_to_message"] = {
        "message_id": sent_prompt,
        "date": 0,
        "chat": {"id": OPERATOR_CHAT, "type": "supergroup"},
        "text": prompt.params["text"],
    }
    await tg.feed(update)
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.status == "answered"
    await app.outbox.run_once()
    assert "Водопровод починили" in tg.texts_to(CITIZEN)[-1]


async def test_album_photos_are_all_kept(tg, app):
    for n in range(3):
        tg.api.add_file(f"album-{n}", jpeg_bytes(color=("red", "green", "blue")[n]))
    await walk_to_photos(tg)
    await asyncio.gather(
        *(
            tg.feed(message_update(CITIZEN, photo_file_id=f"album-{n}", media_group_id="g1"))
            for n in range(3)
        )
    )
    conv = await app.store.conversations.load(citizen_id=1)
    assert len(conv.data["draft"]["photos"]) == 3


async def test_unsupported_files_are_refused_politely(tg, app):
    await walk_to_photos(tg, "ru")
    since = len(tg.api.calls)
    await tg.feed(message_update(CITIZEN, voice=True))  # a voice belongs to the description
    await tg.feed(message_update(CITIZEN, sticker=True))
    await tg.feed(message_update(CITIZEN, video=True))  # a video whose file cannot be had
    await tg.feed(message_update(CITIZEN, document="doc-1"))
    texts = [t.lower() for t in tg.texts_to(CITIZEN, since)]
    refusals = [t for t in texts if "принимаю фото" in t]
    assert len(refusals) == 2
    assert any("описанием жалобы" in t for t in texts)
    assert any("не удалось загрузить это видео" in t for t in texts)
    conv = await app.store.conversations.load(citizen_id=1)
    assert conv.state == "complaint.photos" and conv.data["draft"]["photos"] == []


async def test_huge_image_is_refused_without_download(tg, app):
    await walk_to_photos(tg, "ru")
    big = {
        "file_id": "big",
        "file_name": "x.jpg",
        "mime_type": "image/jpeg",
        "file_size": 30 * 1024 * 1024,
    }
    await tg.feed(message_update(CITIZEN, document=big))
    assert not tg.api.calls_to("getFile")
    assert "10 МБ" in tg.texts_to(CITIZEN)[-2]


async def test_outbox_waits_on_429_and_marks_blocked_citizens(tg, app, clock):
    await walk_to_photos(tg)
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    await app.outbox.run_once()
    await app.complaints.act_by_number("26-00001", "accept", _console())
    tg.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30)
    assert await app.outbox.run_once() == 0
    [row] = await app.store.outbox.list(status="pending")
    assert row.attempts == 0 and "rate" in row.last_error
    assert await app.outbox.run_once() == 0  # not due yet
    clock.advance(seconds=31)
    assert await app.outbox.run_once() == 1
    # two requests reached Telegram: the one refused with 429 and the one delivered
    assert len([t for t in tg.texts_to(CITIZEN) if "26-00001" in t and "кабыл" in t]) == 2
    [sent] = await app.store.outbox.list(kind="status_update", status="sent")
    assert sent.attempts == 1
    await app.complaints.act_by_number("26-00001", "progress", _console())
    tg.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await app.outbox.run_once()
    citizen = await app.store.citizens.get(citizen_id=1)
    assert citizen.unreachable
    assert (await app.store.outbox.list(status="unreachable"))[0].kind == "status_update"


async def test_network_error_is_retried_without_duplicates(tg, app, clock):
    await walk_to_photos(tg)
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    await press(tg, "confirm:yes")
    tg.api.fail_next("sendMessage", 502, "Bad Gateway")
    assert await app.outbox.run_once() == 0  # photo-less card: the message failed
    clock.advance(seconds=6)
    assert await app.outbox.run_once() == 1
    cards = [c for c in tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)]
    assert len(cards) == 2  # one failed attempt, one delivery


async def test_forged_webhook_is_rejected(tg, app):
    from aiohttp.test_utils import TestClient, TestServer

    inbox = TelegramInbox(app, tg.bot, tg.dispatcher)
    web_app = web.Application()
    web_app.add_routes([inbox.webhook_route("/tg", "s3cret")])
    async with TestClient(TestServer(web_app)) as client:
        forged = await client.post("/tg", json=message_update(CITIZEN, "/start") | {"update_id": 1})
        assert forged.status == 401
        good = await client.post(
            "/tg",
            json=message_update(CITIZEN, "/start") | {"update_id": 2},
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
        )
        assert good.status == 200
    await inbox.drain()
    assert tg.last_buttons(CITIZEN) == ["lang:ky", "lang:ru"]


def _console():
    from bot.handlers.console.chat import CONSOLE_OPERATOR

    return CONSOLE_OPERATOR


async def test_receipt_survives_a_rate_limit_on_the_direct_reply(tg, app, clock):
    await walk_to_photos(tg, "ru")
    await press(tg, "photos:done")
    await press(tg, "id:anon")
    tg.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    await press(tg, "confirm:yes")
    [receipt] = await app.store.outbox.list(kind="receipt")
    assert receipt.status == "pending" and receipt.payload["code"]
    [menu] = await app.store.outbox.list(kind="reply", status="pending")  # waits behind it
    clock.advance(seconds=4)
    await app.outbox.run_once()
    texts = tg.texts_to(CITIZEN)
    assert "26-00001" in texts[-2] and "Главное меню" in texts[-1]  # the receipt, then the menu
    [sent] = await app.store.outbox.list(kind="receipt", status="sent")
    assert sent.payload == {}  # the receipt code is not kept once delivered


async def test_phone_is_shared_with_the_contact_button(tg, app):
    await walk_to_photos(tg, "ru")
    await press(tg, "photos:done")
    await press(tg, "id:named")
    await say(tg, "Садыкова Гүлнара")
    keyboard = tg.api.calls_to("sendMessage", chat_id=CITIZEN)[-1].params["reply_markup"]
    assert keyboard["keyboard"][0][0]["request_contact"] in (True, "true")
    await tg.feed(message_update(CITIZEN, contact="996700112233"))
    await say(tg, "Ош ш., Ленин көч., 5")
    await press(tg, "confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.phone == "+996700112233" and complaint.full_name == "Садыкова Гүлнара"


async def test_image_sent_as_a_file_is_accepted(tg, app):
    buffer = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 255, 0, 128)).save(buffer, "PNG")
    tg.api.add_file("png-doc", buffer.getvalue())
    await walk_to_photos(tg, "ru")
    doc = {
        "file_id": "png-doc",
        "file_name": "scan.png",
        "mime_type": "image/png",
        "file_size": len(buffer.getvalue()),
    }
    await tg.feed(message_update(CITIZEN, document=doc))
    conv = await app.store.conversations.load(citizen_id=1)
    assert len(conv.data["draft"]["photos"]) == 1


async def test_question_card_answer_and_reload_in_the_operator_group(tg, app):
    await say(tg, "/start")
    await press(tg, "lang:ru")
    await press(tg, "sub:no")
    await press(tg, "menu:faq")
    await say(tg, "Когда в нашем селе починят мост через арык на Садовой улице?")
    if "faq:ask" in tg.last_buttons(CITIZEN):
        await press(tg, "faq:ask")
    await press(tg, "faq:send")
    await app.outbox.run_once()
    card = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    assert "Q-1" in card.params["text"] and str(CITIZEN) not in card.params["text"]
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
    await press(tg, "q:answer:1", user=OPERATOR, chat=OPERATOR_CHAT)
    prompt = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    assert prompt.params["reply_markup"].get("force_reply")
    row = {"message_id": await sent_message_id(app, "question_prompt")}
    update = message_update(OPERATOR, "Ремонт моста начнётся в мае.", chat_id=OPERATOR_CHAT)
    update["message"]["reply_to_message"] = {
        "message_id": row["message_id"],
        "date": 0,
        "chat": {"id": OPERATOR_CHAT, "type": "supergroup"},
        "text": prompt.params["text"],
    }
    await tg.feed(update)
    await app.outbox.run_once()
    assert "Ремонт моста начнётся в мае." in tg.texts_to(CITIZEN)[-1]
    assert "Q-1" in tg.texts_to(OPERATOR_CHAT)[-1]

    await say(tg, "/reload", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert str(len(app.faq.catalog.entries)) in tg.texts_to(OPERATOR_CHAT)[-1]
    await say(tg, "/queue", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert "0" in tg.texts_to(OPERATOR_CHAT)[-1]
