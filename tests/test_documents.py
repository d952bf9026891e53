"""Documents and photos leave on every channel: Telegram's sendDocument, WhatsApp media behind
a signed, expiring link on the bot's own server, and a saved file on the console."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.dialogs.events import Document, Rendered, Reply
from bot.handlers.console.chat import ConsoleChannel
from bot.outbound import replies_message
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram_harness import TelegramHarness
from tests.test_whatsapp import PHONE, rig_factory, twilio, wa  # noqa: F401 (fixtures)

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


async def test_telegram_sends_a_stored_and_a_made_document(app):
    path = await app.media.save_document(ICS, "hearing.ics")
    stored = Reply(text="Календарь", document=Document("hearing.ics", "text/calendar", path))

    async def made(payload):
        return Rendered([Reply(document=Document("report.csv", "text/csv", data=b"a,b\n1,2\n"))])

    app.outbox.add_renderer("report", made)
    async with FakeTelegramAPI() as api:
        harness = TelegramHarness(app, api)
        row = replies_message(channel="telegram", recipient="7001", replies=[stored], kind="x")
        await app.store.outbox.add(messages=[row], now=app.clock.now())
        await app.store.outbox.add(
            messages=[
                replies_message(channel="telegram", recipient="7002", replies=[], kind="report")
            ],
            now=app.clock.now(),
        )
        assert await app.outbox.run_once() == 2
        sent = {c.params["chat_id"]: c for c in api.calls_to("sendDocument")}
        assert sent[7001].files["document"] == ICS and sent[7002].files["document"] == b"a,b\n1,2\n"
        assert api.calls_to("sendMessage", chat_id=7001)[0].params["text"] == "Календарь"
        await harness.close()


async def test_whatsapp_sends_media_by_a_signed_expiring_link(wa, clock):  # noqa: F811
    await wa.send("салам")  # the citizen wrote: inside the 24-hour window
    citizen = await wa.citizen()
    path = await wa.app.media.save_document(ICS, "hearing.ics")
    reply = Reply(text="Календарь", document=Document("hearing.ics", "text/calendar", path))
    row = replies_message(
        channel="whatsapp", recipient=PHONE, replies=[reply], kind="x", citizen_id=citizen.id
    )
    before = len(wa.twilio.sent)
    await wa.app.store.outbox.add(messages=[row], now=clock.now())
    await wa.app.outbox.run_once()
    media, text = wa.twilio.sent[before:]
    assert text.body == "Календарь" and not text.media_urls
    [url] = media.media_urls
    assert url.startswith("https://bot.example.org/twilio/media/")
    link = urlsplit(url)
    fetched = await wa.client.get(f"{link.path}?{link.query}")
    assert fetched.status == 200 and await fetched.read() == ICS
    forged = link.query.replace("sig=", "sig=0")
    assert (await wa.client.get(f"{link.path}?{forged}")).status == 403
    other = link.path.rsplit("/", 1)[0] + "/x.ics"
    assert (await wa.client.get(f"{other}?{link.query}")).status == 403
    clock.advance(hours=3)  # links expire
    assert (await wa.client.get(f"{link.path}?{link.query}")).status == 403


async def test_the_console_saves_a_document_and_prints_where(app):
    out = io.StringIO()
    channel = ConsoleChannel(out, app.media)
    await channel.deliver("local", Reply(document=Document("report.csv", "text/csv", data=b"x\n")))
    line = next(line for line in out.getvalue().splitlines() if line.startswith("[document"))
    saved = Path(line.split(": ", 1)[1].rstrip("]"))
    assert saved.read_bytes() == b"x\n"  # noqa: ASYNC240


def test_a_document_made_in_memory_is_never_written_into_the_outbox():
    with pytest.raises(ValueError):
        Reply(document=Document("a.csv", "text/csv", data=b"1")).to_dict()
