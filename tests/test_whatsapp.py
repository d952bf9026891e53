"""Tier 3: the WhatsApp adapter. Signed (and forged) webhooks through aiohttp's test client,
the real twilio SDK sending to a fake Twilio API on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import attach_whatsapp, build_app
from bot.dialogs.events import Option, Reply
from bot.handlers.whatsapp.channel import render_messages, split_body
from bot.pacing import Limits
from bot.pacing import Pacer as WhatsAppPacer
from tests.conftest import jpeg_bytes, make_settings
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_SENDER,
    FakeTwilioAPI,
    inbound_params,
    new_sid,
    sign,
    status_params,
)

PUBLIC = "https://bot.example.org"
INBOUND = "/twilio/whatsapp"
STATUS = "/twilio/status"
PHONE = "+996700123456"
USER = f"whatsapp:{PHONE}"


class WhatsAppRig:
    """The app with its WhatsApp routes on a test server, and the fake Twilio behind it."""

    def __init__(self, app, client: TestClient, twilio: FakeTwilioAPI) -> None:
        self.app = app
        self.client = client
        self.twilio = twilio

    async def post(self, path: str, params: dict, *, signature: str | None = None, url=None):
        headers = {}
        signed = sign(url or PUBLIC + path, params, DEFAULT_AUTH_TOKEN)
        if signature != "":
            headers["X-Twilio-Signature"] = signature if signature is not None else signed
        response = await self.client.post(path, data=params, headers=headers)
        return response.status, await response.text()

    async def send(self, body: str = "", *, sid: str | None = None, **kwargs) -> list[str]:
        """A signed inbound message; returns the bodies the citizen received for it."""
        before = len(self.twilio.sent)
        params = inbound_params(from_=USER, body=body, message_sid=sid, **kwargs)
        status, text = await self.post(INBOUND, params)
        assert status == 200 and "<Response>" in text, (status, text)
        await self.app.whatsapp.inbox.drain()
        return [m.body or "" for m in self.twilio.sent[before:]]

    async def walk_to_photos(self, locale: str = "ru") -> None:
        await self.send("салам")
        await self.send("2" if locale == "ru" else "1")
        await self.send("2")  # no announcements
        await self.send("1")  # file a complaint
        await self.send("Освещение")  # the category, typed as its label
        await self.send("Во дворе дома 5 третью неделю не горит фонарь")
        await self.send("ул. Ленина, 12")

    async def citizen(self):
        return await self.app.store.citizens.find(channel="whatsapp", user_key=PHONE)


def whatsapp_settings(tmp_path, twilio: FakeTwilioAPI, **overrides):
    values = {
        "twilio_account_sid": DEFAULT_ACCOUNT_SID,
        "twilio_auth_token": DEFAULT_AUTH_TOKEN,
        "twilio_whatsapp_from": DEFAULT_SENDER,
        "public_base_url": PUBLIC,
        "twilio_api_base": twilio.base_url,
        "twilio_messages_per_second": 1000,
    }
    return make_settings(tmp_path, **(values | overrides))


@pytest.fixture
async def twilio():
    async with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
async def rig_factory(tmp_path, clock, twilio):
    made = []

    async def make(**overrides) -> WhatsAppRig:
        app = await build_app(whatsapp_settings(tmp_path, twilio, **overrides), clock=clock)
        web_app = web.Application()
        web_app.add_routes(attach_whatsapp(app).routes)
        client = TestClient(TestServer(web_app))
        await client.start_server()
        made.append((app, client))
        return WhatsAppRig(app, client, twilio)

    yield make
    for app, client in made:
        await client.close()
        await app.close()


@pytest.fixture
async def wa(rig_factory) -> WhatsAppRig:
    return await rig_factory()


async def count(app, table: str) -> int:
    return (await app.store.fetchone(f"SELECT COUNT(*) FROM {table}"))[0]


# ----- the webhook's gate ---------------------------------------------------------------------


async def test_signed_message_gets_the_language_question_as_numbered_lines(wa):
    status, text = await wa.post(INBOUND, inbound_params(from_=USER, body="Салам"))
    assert status == 200 and text.endswith("<Response></Response>")
    await wa.app.whatsapp.inbox.drain()
    [message] = wa.twilio.sent
    assert message.to == USER and message.from_ == DEFAULT_SENDER
    assert "1. Кыргызча\n2. Русский" in message.body
    assert message.status_callback == PUBLIC + STATUS


@pytest.mark.parametrize("signature", ["", "forged0signature0AAAAAAAAAA="])
async def test_forged_or_missing_signature_is_refused_and_nothing_is_stored(wa, signature):
    status, _ = await wa.post(INBOUND, inbound_params(from_=USER, body="hi"), signature=signature)
    assert status == 403
    await wa.app.whatsapp.inbox.drain()
    assert await count(wa.app, "inbound_messages") == 0
    assert await count(wa.app, "citizens") == 0
    assert wa.twilio.sent == []


async def test_signature_for_another_url_is_refused(wa):
    params = inbound_params(from_=USER, body="hi")
    status, _ = await wa.post(INBOUND, params, url="https://elsewhere.example" + INBOUND)
    assert status == 403


async def test_a_tampered_field_breaks_the_signature(wa):
    params = inbound_params(from_=USER, body="hi")
    good = sign(PUBLIC + INBOUND, params, DEFAULT_AUTH_TOKEN)
    status, _ = await wa.post(INBOUND, params | {"Body": "changed"}, signature=good)
    assert status == 403


async def test_missing_fields_and_an_empty_body_are_refused_politely(wa):
    no_sid = {k: v for k, v in inbound_params(from_=USER, body="hi").items() if k != "MessageSid"}
    assert (await wa.post(INBOUND, no_sid))[0] == 400
    assert (await wa.post(INBOUND, {}))[0] == 400  # an empty, correctly signed request
    response = await wa.client.post(INBOUND, data=b"")  # empty and unsigned
    assert response.status == 403
    assert await count(wa.app, "inbound_messages") == 0


async def test_an_empty_message_text_gets_the_current_question_again(wa):
    await wa.send("салам")
    [reply] = await wa.send("")
    assert "1. Кыргызча" in reply


async def test_a_replayed_message_sid_is_handled_once(wa):
    sid = new_sid("SM")
    await wa.send("салам", sid=sid)
    await wa.send("2", sid=sid)  # Twilio retried the first delivery
    citizen = await wa.citizen()
    assert citizen.locale is None  # the "2" of the replay was never read
    assert len(wa.twilio.sent) == 1
    assert await count(wa.app, "inbound_messages") == 1


@pytest.mark.parametrize(
    ("sender", "answered"),
    [("+996700123456", True), ("sms:+996700123456", False), ("whatsapp:12345", False)],
)
async def test_unknown_from_formats_are_not_taken_for_citizens(wa, sender, answered):
    status, text = await wa.post(INBOUND, inbound_params(from_=sender, body="salam"))
    assert status == 200
    assert ("WhatsApp" in text) is answered  # an SMS sender is told where to write
    assert await count(wa.app, "citizens") == 0 and wa.twilio.sent == []


async def test_handled_messages_keep_no_text_or_phone(wa):
    await wa.send("салам")
    row = await wa.app.store.fetchone("SELECT params, status FROM inbound_messages")
    assert row["status"] == "done" and row["params"] == "{}"


async def test_messages_accepted_before_a_crash_are_handled_at_start(rig_factory, clock):
    first = await rig_factory()
    await first.app.store.inbound.accept(
        channel="whatsapp",
        message_sid=new_sid("SM"),
        params=inbound_params(from_=USER, body="салам"),
        now=clock.now(),
    )
    assert await first.app.whatsapp.inbox.recover() == 1
    await first.app.whatsapp.inbox.drain()
    assert "Кыргызча" in first.twilio.sent[-1].body


# ----- the same dialogs, rendered for WhatsApp ------------------------------------------------


async def test_options_accept_numbers_labels_and_lookalike_letters(wa):
    await wa.send("салам")
    [reply] = await wa.send("кыргызча")  # typed label, lower case
    assert "1. 🔔" in reply
    await wa.send("2")
    citizen = await wa.citizen()
    assert citizen.locale == "ky" and citizen.announcements is False
    [menu] = await wa.send("меню")
    assert "1. 📝" in menu


async def test_complaint_with_a_photo_in_russian(wa):
    await wa.walk_to_photos()
    url = wa.twilio.add_media(jpeg_bytes(), "image/jpeg")
    [reply] = await wa.send("", media=[(url, "image/jpeg")])
    assert "1 из 5" in reply
    await wa.send("1")  # done
    await wa.send("2")  # anonymous
    receipt, _menu = await wa.send("1")  # send: the receipt, then the menu
    [listed] = await wa.app.store.complaints.of_citizen(citizen_id=(await wa.citizen()).id)
    complaint = await wa.app.store.complaints.get(complaint_id=listed.id)
    assert complaint.reg_number in receipt and complaint.locale == "ru"
    assert complaint.is_anonymous and len(complaint.photos) == 1
    assert wa.twilio.media_requests and all(ok for _, ok in wa.twilio.media_requests)


async def test_eleven_media_items_keep_five_and_say_so(wa):
    await wa.walk_to_photos()
    urls = [wa.twilio.add_media(jpeg_bytes(width=30 + n), "image/jpeg") for n in range(11)]
    replies = "\n".join(await wa.send("", media=[(u, "image/jpeg") for u in urls]))
    assert "5 из 5" in replies and "не больше 5 фото; это фото не добавлено" in replies
    assert len(wa.twilio.media_requests) == 5  # the refused ones are not even downloaded
    assert len(wa.twilio.sent[-1].body) <= 1600


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        ("missing", "не удалось загрузить"),
        ("html", "не могу открыть этот файл как фото"),
        ("huge", "больше 10 мб"),
        ("audio", "описанием жалобы"),  # a voice belongs to the description
    ],
)
async def test_media_that_is_not_a_usable_photo_is_explained(wa, media, expected):
    await wa.walk_to_photos()
    if media == "missing":
        url = (
            f"{wa.twilio.base_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/MM1/Media/ME1"
        )
        items = [(url, "image/jpeg")]
    elif media == "html":
        items = [(wa.twilio.add_media(b"<html>not found</html>", "image/jpeg"), "image/jpeg")]
    elif media == "huge":
        huge = b"\xff\xd8\xff" + b"0" * (20 * 1024 * 1024)
        items = [(wa.twilio.add_media(huge, "image/jpeg"), "image/jpeg")]
    else:
        items = [(wa.twilio.add_media(b"OggS....", "audio/ogg"), "audio/ogg")]
    replies = "\n".join(await wa.send("", media=items))
    assert expected in replies.casefold()
    _, conv = await wa.app.store.citizens.with_conversation(channel="whatsapp", user_key=PHONE)
    assert conv.data["draft"].get("photos", []) == []


async def test_a_location_pin_is_taken_as_the_place(wa):
    await wa.send("салам")
    await wa.send("2")
    await wa.send("2")
    await wa.send("1")
    await wa.send("Освещение")
    await wa.send("Во дворе дома 5 третью неделю не горит фонарь")
    await wa.send("", latitude=42.87, longitude=74.59)
    _, conv = await wa.app.store.citizens.with_conversation(channel="whatsapp", user_key=PHONE)
    assert conv.data["draft"]["latitude"] == pytest.approx(42.87)


# ----- announcements consent -------------------------------------------------------------------


async def test_stop_and_start_change_announcements_but_not_complaint_answers(wa):
    await wa.send("салам")
    await wa.send("2")
    [ask] = await wa.send("1")  # yes to announcements... the menu comes next
    citizen = await wa.citizen()
    assert citizen.announcements is True
    [stopped] = await wa.send("СТОП")
    assert (await wa.citizen()).announcements is False
    assert "START" in stopped
    await wa.send("ТОКТОТ")
    assert (await wa.citizen()).announcements is False
    await wa.send("start")
    assert (await wa.citizen()).announcements is True
    assert [c.id for c in await wa.app.store.citizens.subscribers(channel="whatsapp")] == [
        citizen.id
    ]


async def test_the_consent_question_names_the_municipality(rig_factory):
    wa = await rig_factory(municipality_name_ru="Администрация села Кара-Суу")
    await wa.send("салам")
    [ask] = await wa.send("2")
    assert "Администрация села Кара-Суу" in ask and "1. 🔔" in ask


# ----- pushes: the 24-hour window, templates, status callbacks ---------------------------------


async def file_and_accept(wa) -> str:
    await wa.walk_to_photos()
    await wa.send("1")  # no photos: done
    await wa.send("2")  # anonymous
    await wa.send("1")  # send
    citizen = await wa.citizen()
    [complaint] = await wa.app.store.complaints.of_citizen(citizen_id=citizen.id)
    from bot.domain.complaints import OperatorRef

    await wa.app.complaints.act_by_number(complaint.reg_number, "accept", OperatorRef(42, "Op"))
    return complaint.reg_number


async def test_status_update_inside_the_window_is_free_text(wa):
    number = await file_and_accept(wa)
    await wa.app.outbox.run_once()
    message = wa.twilio.sent[-1]
    assert number in message.body and message.content_sid is None


async def test_outside_the_window_without_a_template_the_update_is_held(wa, clock):
    number = await file_and_accept(wa)
    clock.advance(hours=25)
    sent_before = len(wa.twilio.sent)
    await wa.app.outbox.run_once()
    assert len(wa.twilio.sent) == sent_before
    [held] = await wa.app.store.outbox.list(status="held")
    assert held.kind == "status_update" and "24-hour" in held.last_error
    from bot.handlers.operator_tools import queue_report

    assert "24-hour" in await queue_report(wa.app)
    # the citizen writes again: the window is open and the update goes out as text
    await wa.send("меню")
    assert any(number in (m.body or "") for m in wa.twilio.sent[sent_before:])
    assert await wa.app.store.outbox.list(status="held") == []


async def test_outside_the_window_the_configured_template_is_sent(rig_factory, clock):
    wa = await rig_factory(twilio_template_status_ru="HX" + "1" * 32)
    number = await file_and_accept(wa)
    clock.advance(hours=25)
    await wa.app.outbox.run_once()
    message = wa.twilio.sent[-1]
    assert message.content_sid == "HX" + "1" * 32 and message.body in (None, "")
    assert message.content_variables == {"1": number, "2": "принята к рассмотрению"}


async def test_error_63016_turns_the_text_into_a_template(rig_factory):
    wa = await rig_factory(twilio_template_status_ru="HX" + "2" * 32)
    await file_and_accept(wa)
    wa.twilio.fail_next(400, 63016, "outside the allowed window")
    await wa.app.outbox.run_once()  # text refused: queued again as a template
    await wa.app.outbox.run_once()
    assert wa.twilio.sent[-1].content_sid == "HX" + "2" * 32


async def test_error_63016_without_a_template_holds_the_row(wa):
    await file_and_accept(wa)
    wa.twilio.fail_next(400, 63016, "outside the allowed window")
    await wa.app.outbox.run_once()
    await wa.app.outbox.run_once()
    [held] = await wa.app.store.outbox.list(status="held")
    assert held.kind == "status_update"


async def test_rate_limit_and_server_errors_are_retried(wa, clock):
    await file_and_accept(wa)
    wa.twilio.fail_next(429, 20429, "Too Many Requests")
    await wa.app.outbox.run_once()
    [row] = await wa.app.store.outbox.list(status="pending", kind="status_update")
    assert row.attempts == 0  # a rate limit is not a failed attempt
    clock.advance(seconds=5)
    wa.twilio.fail_next(500, 20500, "Internal Server Error")
    await wa.app.outbox.run_once()
    [row] = await wa.app.store.outbox.list(status="pending", kind="status_update")
    assert row.attempts == 1
    clock.advance(minutes=1)
    assert await wa.app.outbox.run_once() == 1


async def test_an_invalid_number_is_marked_unreachable(wa):
    await file_and_accept(wa)
    wa.twilio.fail_next(400, 21211, "Invalid 'To' Phone Number")
    await wa.app.outbox.run_once()
    assert (await wa.citizen()).unreachable


async def test_status_callbacks_are_recorded_and_never_move_back(wa):
    await file_and_accept(wa)
    await wa.app.outbox.run_once()
    sid = wa.twilio.sent[-1].sid
    for state in ("sent", "read", "delivered"):  # "delivered" arrives late
        status, _ = await wa.post(STATUS, status_params(message_sid=sid, status=state))
        assert status == 200
    [row] = await wa.app.store.outbox.list(kind="status_update")
    assert row.delivery_status == "read"


async def test_forged_status_callbacks_are_refused(wa):
    await file_and_accept(wa)
    await wa.app.outbox.run_once()
    sid = wa.twilio.sent[-1].sid
    status, _ = await wa.post(
        STATUS, status_params(message_sid=sid, status="failed"), signature="AAAA"
    )
    assert status == 403
    [row] = await wa.app.store.outbox.list(kind="status_update")
    assert row.delivery_status is None


async def test_a_failed_callback_with_63016_requeues_as_template(rig_factory):
    wa = await rig_factory(twilio_template_status_ru="HX" + "3" * 32)
    await file_and_accept(wa)
    await wa.app.outbox.run_once()
    sid = wa.twilio.sent[-1].sid
    params = status_params(message_sid=sid, status="undelivered", error_code="63016")
    assert (await wa.post(STATUS, params))[0] == 200
    await wa.app.outbox.run_once()
    assert wa.twilio.sent[-1].content_sid == "HX" + "3" * 32


# ----- WhatsApp: held rows released as text, receipts kept until delivered --------------------


async def test_a_held_row_goes_out_as_free_text_once_the_citizen_writes(wa):
    number = await file_and_accept(wa)
    wa.twilio.fail_next(400, 63016, "outside the allowed window")
    await wa.app.outbox.run_once()
    await wa.app.outbox.run_once()
    [held] = await wa.app.store.outbox.list(status="held")
    assert held.payload.get("force_template")
    before = len(wa.twilio.sent)
    await wa.send("меню")  # the window is open again
    notice = [m for m in wa.twilio.sent[before:] if number in (m.body or "")]
    assert len(notice) == 1 and notice[0].content_sid is None
    assert await wa.app.store.outbox.list(status="held") == []


async def test_a_whatsapp_receipt_is_kept_until_delivered_and_then_blanked(wa):
    await file_and_accept(wa)
    [receipt] = await wa.app.store.outbox.list(kind="receipt")
    assert receipt.status == "sent" and receipt.payload["code"]  # "sent" is only Twilio's yes
    sid = next(m.sid for m in wa.twilio.sent if "26-00001" in (m.body or ""))
    params = status_params(message_sid=sid, status="undelivered", error_code="63016")
    assert (await wa.post(STATUS, params))[0] == 200
    requeued = await wa.app.store.outbox.get(message_id=receipt.id)
    assert requeued.status == "pending" and requeued.payload["code"]  # can still be resent
    await wa.app.outbox.run_once()  # no template for receipts: held until the citizen writes
    await wa.send("меню")
    sid = [m.sid for m in wa.twilio.sent if "26-00001" in (m.body or "")][-1]
    assert (await wa.post(STATUS, status_params(message_sid=sid, status="delivered")))[0] == 200
    assert (await wa.app.store.outbox.get(message_id=receipt.id)).payload == {}


async def test_a_receipt_that_fails_for_good_is_blanked(wa, clock):
    for text in ("салам", "2", "2", "1", "Освещение", "Во дворе дома 5 не горит фонарь"):
        await wa.send(text)
    for text in ("ул. Ленина, 12", "1", "2"):
        await wa.send(text)
    wa.twilio.fail_next(500, 20500, "Internal Server Error", times=20)
    await wa.send("1")  # send: the receipt cannot go out
    for _ in range(10):
        clock.advance(hours=2)
        await wa.app.outbox.run_once()
    [receipt] = await wa.app.store.outbox.list(kind="receipt")
    assert receipt.status == "failed" and receipt.payload == {}


# ----- rendering and pacing, without the network -----------------------------------------------


def test_replies_are_joined_and_long_ones_split_under_1600():
    short = [Reply(text="Фото 1 из 5."), Reply(text="Готово?", options=(Option("a", "Да"),))]
    assert render_messages(short) == ["Фото 1 из 5.\n\nГотово?\n\n1. Да"]
    long_text = "\n\n".join(f"Абзац {i}. " + "слово " * 60 for i in range(12))
    parts = split_body(long_text)
    assert len(parts) > 1 and all(len(p) <= 1600 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == long_text.replace("\n", "").replace(
        " ", ""
    )


async def test_sending_is_paced_to_the_configured_rate():
    pacer = WhatsAppPacer(Limits(per_second=10))
    for _ in range(10):  # a burst of ten fits at once...
        await pacer.wait("+996555000001", 1)
    with pytest.raises(TimeoutError):  # ...the eleventh waits for the next tenth of a second
        await asyncio.wait_for(pacer.wait("+996555000002", 1), timeout=0.01)
