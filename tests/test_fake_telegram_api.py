"""Tests for the fake Telegram Bot API server, driven by a real aiogram Bot over HTTP."""

import json
import urllib.request

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)

from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    FakeTelegramThread,
    callback_update,
    message_update,
)


@pytest.fixture
async def api():
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(api):
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot("42:TEST", session=session)
    yield bot
    await bot.session.close()


async def test_get_me(bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (1000, "citizen_test_bot", True)


async def test_send_message_records_decoded_markup(api, bot):
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
    )
    msg = await bot.send_message(123, "hello", reply_markup=markup)
    assert (msg.chat.id, msg.chat.type, msg.text) == (123, "private", "hello")
    assert msg.from_user.id == 1000
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    second = await bot.send_message(-100500, "group")
    assert second.message_id == msg.message_id + 1 and second.chat.type == "supergroup"

    [call] = api.calls_to("sendMessage", chat_id=123)
    assert call.params["chat_id"] == 123
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]
    }
    assert len(api.calls_to("sendMessage")) == 2
    api.reset_calls()
    assert api.calls == []


async def test_send_photo_records_bytes_and_file_is_downloadable(api, bot):
    photo = BufferedInputFile(b"\x89PNG fake", filename="p.png")
    msg = await bot.send_photo(5, photo, caption="look")
    assert msg.caption == "look" and msg.photo
    call = api.calls_to("sendPhoto")[0]
    assert call.params["photo"].startswith("attach://")
    assert call.files["photo"] == b"\x89PNG fake"
    assert b"\x89PNG fake" in call.files.values()
    downloaded = await bot.download(msg.photo[-1].file_id)
    assert downloaded.read() == b"\x89PNG fake"


async def test_send_media_group_and_edits(api, bot):
    media = [
        InputMediaPhoto(media=BufferedInputFile(b"one", "1.jpg"), caption="first"),
        InputMediaPhoto(media=BufferedInputFile(b"two", "2.jpg")),
    ]
    msgs = await bot.send_media_group(5, media)
    assert len(msgs) == 2 and msgs[0].caption == "first"
    assert msgs[0].media_group_id == msgs[1].media_group_id
    call = api.calls_to("sendMediaGroup")[0]
    refs = [item["media"].removeprefix("attach://") for item in call.params["media"]]
    assert [call.files[r] for r in refs] == [b"one", b"two"]

    edited = await bot.edit_message_text("new", chat_id=5, message_id=msgs[0].message_id)
    assert (edited.message_id, edited.text) == (msgs[0].message_id, "new")
    assert await bot.delete_message(5, edited.message_id) is True
    assert await bot.answer_callback_query("cb-1") is True
    loc = await bot.send_location(5, 42.87, 74.59)
    assert loc.location.latitude == pytest.approx(42.87)


async def test_get_file_and_download(api, bot):
    api.add_file("doc-1", b"file content", file_path="documents/a.pdf")
    file = await bot.get_file("doc-1")
    assert (file.file_path, file.file_size) == ("documents/a.pdf", 12)
    assert (await bot.download("doc-1")).read() == b"file content"
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("missing")


async def test_fault_injection(api, bot):
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(1, "x")
    assert exc.value.retry_after == 7

    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(1, "x")
    api.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(TelegramServerError):
        await bot.send_message(1, "x")
    assert (await bot.send_message(1, "ok")).text == "ok"
    assert len(api.calls_to("sendMessage")) == 5  # failed calls are recorded too


async def test_get_chat_member(api, bot):
    api.chat_members[(-100, 7)] = "member"
    api.set_chat_member(-100, 8, "administrator")
    api.set_chat_member(-100, 9, "creator")
    assert isinstance(await bot.get_chat_member(-100, 7), ChatMemberMember)
    assert isinstance(await bot.get_chat_member(-100, 8), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(-100, 9), ChatMemberOwner)
    left = await bot.get_chat_member(-100, 10)
    assert isinstance(left, ChatMemberLeft) and left.user.id == 10
    for status in ("kicked", "restricted"):
        api.set_chat_member(-100, 11, status)
        assert (await bot.get_chat_member(-100, 11)).status == status


async def test_get_updates_accepts_builders(api, bot):
    builders = [
        message_update(7, "/start"),
        message_update(7, "caption", photo_file_id="ph-1", media_group_id="g1"),
        callback_update(7, "lang:ky", message_id=3),
        message_update(7, location=(42.87, 74.59)),
        message_update(7, contact="+996555000111"),
        message_update(7, document="doc-1"),
        message_update(7, voice=True),
        message_update(7, sticker=True),
        message_update(7, video=True),
        message_update(7, "in group", chat_id=-1001),
    ]
    ids = [api.push_update(u) for u in builders]
    assert ids == list(range(1, len(builders) + 1))

    updates = await bot.get_updates(offset=0, timeout=1)
    assert [u.update_id for u in updates] == ids
    start, photo, cb, loc, contact, doc, voice, sticker, video, group = updates
    assert start.message.text == "/start" and start.message.entities[0].type == "bot_command"
    assert photo.message.photo[-1].file_id == "ph-1" and photo.message.caption == "caption"
    assert cb.callback_query.data == "lang:ky" and cb.callback_query.message.message_id == 3
    assert loc.message.location.longitude == pytest.approx(74.59)
    assert contact.message.contact.phone_number == "+996555000111"
    assert doc.message.document.file_id == "doc-1"
    assert voice.message.voice and sticker.message.sticker and video.message.video
    assert group.message.chat.type == "supergroup" and group.message.from_user.id == 7
    for raw in builders:
        Update.model_validate({"update_id": 1, **raw}, context={"bot": bot})

    # confirmed updates are dropped; an empty queue long-polls and returns []
    assert await bot.get_updates(offset=ids[-1] + 1, timeout=1) == []


async def test_wait_for_since(api, bot):
    await bot.send_message(1, "a")
    since = len(api.calls)
    await bot.send_message(1, "b")
    call = await api.wait_for("sendMessage", since=since)
    assert call.params["text"] == "b"
    with pytest.raises(TimeoutError):
        await api.wait_for("sendMessage", lambda c: c.params["text"] == "zzz", timeout=0.2)


def test_thread_helper_from_sync_code():
    with FakeTelegramThread() as fake:
        fake.push_update(message_update(7, "hi"))
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        fake.set_chat_member(-1, 7, "member")

        def post(method, payload):
            req = urllib.request.Request(
                f"{fake.base_url}/bot42:TEST/{method}",
                data=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return json.load(resp)
            except urllib.error.HTTPError as e:
                with e:
                    return json.load(e)

        assert post("getUpdates", {"timeout": 1})["result"][0]["message"]["text"] == "hi"
        assert post("sendMessage", {"chat_id": "7", "text": "x"})["error_code"] == 403
        assert post("sendMessage", {"chat_id": "7", "text": "y"})["result"]["text"] == "y"
        assert (
            fake.wait_for("sendMessage", lambda c: c.params["text"] == "y").params["chat_id"] == 7
        )
        assert len(fake.calls_to("sendMessage", chat_id=7)) == 2
        assert post("getChatMember", {"chat_id": -1, "user_id": 7})["result"]["status"] == "member"
        fake.reset_calls()
        assert fake.calls == []
