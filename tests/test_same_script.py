"""One conversation script, three channels: the adapters add no dialog logic.

The same named complaint with a photo is walked on Telegram (real aiogram against the fake Bot
API), WhatsApp (signed webhooks, real twilio SDK against the fake Twilio API) and the console,
each in its own natural input: Telegram presses buttons, WhatsApp and the console type the
option's number. What ends up in the store must be identical.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import attach_whatsapp, build_app
from bot.handlers.console.chat import parse_line
from tests.conftest import jpeg_bytes, make_settings
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.telegram_harness import TelegramHarness
from tests.test_whatsapp import USER, WhatsAppRig, whatsapp_settings

PHOTO = jpeg_bytes(color="purple")
SCRIPT = [
    ("text", "Здравствуйте"),
    ("choose", "lang:ru"),
    ("choose", "sub:yes"),
    ("choose", "menu:complaint"),
    ("choose", "cat:water"),
    ("text", "Третий день нет воды в колонке на улице Манаса, люди ходят к реке"),
    ("text", "с. Кара-Суу, ул. Манаса, 14"),
    ("photo", None),
    ("choose", "photos:done"),
    ("choose", "id:named"),
    ("text", "Асанова Айгүл"),
    ("text", "+996 555 123 456"),
    ("text", "с. Кара-Суу, ул. Токтогула, 5"),
    ("choose", "confirm:yes"),
]


async def offered_number(app, channel: str, user_key: str, option_id: str) -> str:
    """The number under which the last message listed this option (as the citizen saw it)."""
    _, conv = await app.store.citizens.with_conversation(channel=channel, user_key=user_key)
    ids = [option for option, _label in conv.data["_options"]]
    return str(ids.index(option_id) + 1)


async def walk_telegram(tmp_path, clock):
    app = await build_app(make_settings(tmp_path), clock=clock)
    async with FakeTelegramAPI() as api:
        tg = TelegramHarness(app, api)
        api.add_file("photo-1", PHOTO, "photos/1.jpg")
        for action, value in SCRIPT:
            if action == "choose":
                await tg.feed(callback_update(9001, value, message_id=1))
            elif action == "photo":
                await tg.feed(message_update(9001, None, photo_file_id="photo-1"))
            else:
                await tg.feed(message_update(9001, value))
        await tg.close()
    return app, "telegram", "9001"


async def walk_whatsapp(tmp_path, clock):
    twilio = FakeTwilioAPI()
    await twilio.start()
    app = await build_app(whatsapp_settings(tmp_path, twilio), clock=clock)
    web_app = web.Application()
    web_app.add_routes(attach_whatsapp(app).routes)
    client = TestClient(TestServer(web_app))
    await client.start_server()
    wa = WhatsAppRig(app, client, twilio)
    key = USER.removeprefix("whatsapp:")
    for action, value in SCRIPT:
        if action == "choose":
            await wa.send(await offered_number(app, "whatsapp", key, value))
        elif action == "photo":
            await wa.send("", media=[(twilio.add_media(PHOTO, "image/jpeg"), "image/jpeg")])
        else:
            await wa.send(value)
    await client.close()
    await twilio.stop()
    return app, "whatsapp", key


async def walk_console(tmp_path, clock):
    app = await build_app(make_settings(tmp_path), clock=clock)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(PHOTO)
    for action, value in SCRIPT:
        if action == "choose":
            line = await offered_number(app, "console", "aigul", value)
        elif action == "photo":
            line = f"/photo {photo}"
        else:
            line = value
        await app.engine.handle(parse_line(line, "aigul"))
    return app, "console", "aigul"


async def stored_result(app, channel: str, user_key: str) -> dict:
    citizen = await app.store.citizens.find(channel=channel, user_key=user_key)
    _, conv = await app.store.citizens.with_conversation(channel=channel, user_key=user_key)
    [listed] = await app.store.complaints.of_citizen(citizen_id=citizen.id)
    complaint = await app.store.complaints.get(complaint_id=listed.id)
    events = await app.store.complaints.events(complaint_id=complaint.id)
    return {
        "citizen": (citizen.locale, citizen.announcements, conv.state),
        "complaint": (
            complaint.reg_number,
            complaint.category,
            complaint.description,
            complaint.address,
            complaint.is_anonymous,
            complaint.full_name,
            complaint.phone,
            complaint.contact_address,
            complaint.locale,
            complaint.status,
            complaint.due_at,
        ),
        "photos": [photo.sha256 for photo in complaint.photos],
        "events": [(e.old_status, e.new_status, e.actor) for e in events],
    }


@pytest.mark.parametrize("walk", [walk_telegram, walk_whatsapp, walk_console])
async def test_the_script_completes_on_every_channel(tmp_path, clock, walk):
    app, channel, key = await walk(tmp_path, clock)
    try:
        result = await stored_result(app, channel, key)
        assert result["complaint"][1:3] == ("water", SCRIPT[5][1])
        assert len(result["photos"]) == 1
    finally:
        await app.close()


async def test_the_same_script_stores_the_same_result_on_all_channels(tmp_path, clock):
    results = []
    for walk in (walk_telegram, walk_whatsapp, walk_console):
        folder = tmp_path / walk.__name__
        folder.mkdir()
        app, channel, key = await walk(folder, clock)
        try:
            results.append(await stored_result(app, channel, key))
        finally:
            await app.close()
    telegram, whatsapp, console = results
    assert telegram == whatsapp == console
    assert telegram["complaint"][5:8] == (
        "Асанова Айгүл",
        "+996555123456",
        "с. Кара-Суу, ул. Токтогула, 5",
    )
