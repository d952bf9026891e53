"""Issue 8: nothing lost, nothing doubled, nobody let in.

Each test here failed on the code before the hardening: the Telegram update journal, the
idempotent registration, the outbox's per-part progress and per-chat order, operators checked
per group and on every action, the token kept out of the logs.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.__main__ import webhook_secret
from bot.app import build_app
from bot.dialogs.events import Reply
from bot.domain.complaints import normalize_receipt_code
from bot.handlers.console.chat import CONSOLE_OPERATOR
from bot.handlers.telegram.inbox import SECRET_HEADER, TelegramInbox
from bot.logsafe import redact_logs
from tests.conftest import jpeg_bytes, make_settings, rendered_text
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI, callback_update, message_update
from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness

CITIZEN = 7101
CONTENT = Path(__file__).resolve().parent.parent / "bot" / "content"


@pytest.fixture
async def api():
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def tg(app, api):
    harness = TelegramHarness(app, api)
    yield harness
    await harness.close()


def journal(tg) -> TelegramInbox:
    return TelegramInbox(tg.app, tg.bot, tg.dispatcher)


async def deliver(inbox: TelegramInbox, update: dict) -> bool:
    """Telegram delivers an update (again, if it has the same update_id)."""
    fresh = await inbox.accept(update)
    await inbox.drain()
    return fresh


async def press(tg, data: str, user: int = CITIZEN, chat: int | None = None, message_id=1):
    await tg.feed(callback_update(user, data, message_id=message_id, chat_id=chat))


async def say(tg, text: str, user: int = CITIZEN, **kwargs):
    await tg.feed(message_update(user, text, **kwargs))


async def to_summary(tg, description: str = "Кран суусу үч күндөн бери жок, балдар суусуз"):
    await say(tg, "/start")
    await press(tg, "lang:ru")
    await press(tg, "sub:no")
    await press(tg, "menu:complaint")
    await press(tg, "cat:water")
    await say(tg, description)
    await press(tg, "place:skip")
    await press(tg, "photos:done")
    await press(tg, "id:anon")


# ----- the update journal ----------------------------------------------------------------------


async def test_a_redelivered_update_is_handled_once(tg, app):
    inbox = journal(tg)
    update = message_update(CITIZEN, "/start") | {"update_id": 501}
    assert await deliver(inbox, update)
    assert not await deliver(inbox, dict(update))  # Telegram sends it again after a crash
    assert len(tg.api.calls_to("sendMessage", chat_id=CITIZEN)) == 1


async def test_an_update_stored_before_a_crash_is_handled_at_the_next_start(tmp_path, clock, api):
    settings = make_settings(tmp_path)
    first = await build_app(settings, clock=clock)
    update = message_update(CITIZEN, "/start") | {"update_id": 777}
    await first.store.inbound.accept(
        channel="telegram", message_sid="777", params=update, now=clock.now()
    )
    await first.close()  # the process died before handling it
    second = await build_app(settings, clock=clock)
    harness = TelegramHarness(second, api)
    try:
        inbox = journal(harness)
        assert await inbox.recover() == 1
        await inbox.drain()
        assert harness.last_buttons(CITIZEN) == ["lang:ky", "lang:ru"]
        assert await second.store.inbound.pending(channel="telegram") == []
        assert await inbox.recover() == 0  # handled once
    finally:
        await harness.close()
        await second.close()


async def test_the_webhook_stores_updates_only_with_the_secret(tg, app):
    inbox = journal(tg)
    web_app = web.Application()
    web_app.add_routes([inbox.webhook_route("/tg", "s3cret-s3cret")])
    async with TestClient(TestServer(web_app)) as client:
        update = message_update(CITIZEN, "/start") | {"update_id": 9}
        assert (await client.post("/tg", json=update)).status == 401
        wrong = {SECRET_HEADER: "s3cret-s3creX"}
        assert (await client.post("/tg", json=update, headers=wrong)).status == 401
        assert (
            await client.post("/tg", data=b"{", headers={SECRET_HEADER: "s3cret-s3cret"})
        ).status == 400
        good = await client.post("/tg", json=update, headers={SECRET_HEADER: "s3cret-s3cret"})
        assert good.status == 200
    await inbox.drain()
    stored = await app.store.fetchall("SELECT message_sid FROM inbound_messages")
    assert [row[0] for row in stored] == ["9"]


def test_the_webhook_never_runs_without_a_secret(tmp_path):
    settings = make_settings(tmp_path, telegram_webhook_url="https://bot.example.kg/tg")
    first, second = webhook_secret(settings), webhook_secret(settings)
    assert len(first) >= 40 and first != second  # a strong random one for each run
    configured = make_settings(tmp_path, telegram_webhook_secret="configured-secret-123")
    assert webhook_secret(configured) == "configured-secret-123"


# ----- registration once, receipt through the outbox -----------------------------------------


async def test_send_pressed_twice_registers_once_and_names_the_first(tg, app):
    await to_summary(tg)
    await press(tg, "confirm:yes")
    await press(tg, "confirm:yes")  # a second press on the same old button
    rows = await app.store.fetchall("SELECT reg_number FROM complaints")
    assert [row[0] for row in rows] == ["26-00001"]
    assert "уже зарегистрирована: № 26-00001" in tg.texts_to(CITIZEN)[-2]
    assert len(await app.store.outbox.list(kind="operator_card")) == 1


async def test_a_receipt_queued_before_a_crash_reaches_the_citizen_after_it(tmp_path, clock, api):
    settings = make_settings(tmp_path)
    app = await build_app(settings, clock=clock)
    harness = TelegramHarness(app, api)
    await to_summary(harness)
    api.fail_next("sendMessage", 502, "Bad Gateway")  # the process "dies" before it is sent
    await press(harness, "confirm:yes")
    await harness.close()
    await app.close()
    app = await build_app(settings, clock=clock)
    harness = TelegramHarness(app, api)
    try:
        clock.advance(seconds=10)
        await app.outbox.run_once()
        receipts = [t for t in harness.texts_to(CITIZEN) if "26-00001" in t and "Код" in t]
        assert len(receipts) == 2 and receipts[0] == receipts[1]  # refused with 502, then sent
        code = receipts[0].split("Код проверки: ")[1].split()[0]
        assert await app.complaints.verify_receipt("26-00001", code) is not None
        [row] = await app.store.outbox.list(kind="receipt")
        assert row.status == "sent" and row.payload == {}  # the code is not kept
    finally:
        await harness.close()
        await app.close()


async def test_a_new_receipt_code_replaces_the_old_one(tg, app):
    await to_summary(tg)
    await press(tg, "confirm:yes")
    old = tg.texts_to(CITIZEN)[-2].split("Код проверки: ")[1].split()[0]
    await press(tg, "menu:mine")
    assert (
        "receipt:new:1"
        in tg.api.calls_to("sendMessage", chat_id=CITIZEN)[-2].params["reply_markup"][
            "inline_keyboard"
        ][0][0]["callback_data"]
    )
    await press(tg, "receipt:new:1")
    new = tg.texts_to(CITIZEN)[-2].split("26-00001: ")[1].split()[0]
    assert normalize_receipt_code(new) != normalize_receipt_code(old)
    assert await app.complaints.verify_receipt("26-00001", old) is None
    assert await app.complaints.verify_receipt("26-00001", new) is not None
    sent = await app.store.outbox.list(kind="reply", status="sent")
    assert sent and all(row.payload == {} for row in sent)  # the new code is not kept either


async def test_another_citizens_complaint_gets_no_new_code(tg, app):
    await to_summary(tg)
    await press(tg, "confirm:yes")
    salt_hash = await app.store.complaints.receipt_of(complaint_id=1)
    await say(tg, "/start", user=7202)
    await press(tg, "receipt:new:1", user=7202)
    assert await app.store.complaints.receipt_of(complaint_id=1) == salt_hash


# ----- the outbox: progress, order, blocked citizens ------------------------------------------


def fail_call(api, method: str, number: int, chat_id: int) -> None:
    """Make the `number`-th call of `method` to `chat_id` fail once with a 500."""
    original = getattr(api, f"_m_{method.lower()}")
    seen = {"n": 0}

    def flaky(call):
        if call.params.get("chat_id") == chat_id:
            seen["n"] += 1
            if seen["n"] == number:
                raise ApiError(500, "Internal Server Error")
        return original(call)

    setattr(api, f"_m_{method.lower()}", flaky)


async def test_a_two_part_card_never_repeats_its_first_part(tg, app, clock):
    await to_summary(tg, description="Очень длинное описание. " * 166)  # 3,984 characters
    await press(tg, "confirm:yes")
    fail_call(tg.api, "sendMessage", 2, OPERATOR_CHAT)
    assert await app.outbox.run_once() == 0
    clock.advance(seconds=10)
    assert await app.outbox.run_once() == 1
    texts = tg.texts_to(OPERATOR_CHAT)
    assert len(texts) == 3  # part 1, part 2 refused, part 2 again
    assert texts[1] == texts[2] and texts[0] != texts[1]
    assert all(len(t) <= 4096 for t in texts)


async def test_a_postponed_reply_still_comes_before_later_ones(tg, app, clock):
    await say(tg, "/start")
    tg.api.fail_next("sendMessage", 502, "Bad Gateway")
    await press(tg, "lang:ru")  # its answer is postponed
    await press(tg, "sub:no")  # the next answer waits behind it
    assert len(tg.texts_to(CITIZEN)) == 2  # /start's answer and the refused attempt only
    clock.advance(seconds=10)
    await app.outbox.run_once()
    texts = tg.texts_to(CITIZEN)
    saved, consent, declined, menu = texts[2:]
    assert texts[1] == saved and "STOP" in consent and "START" in declined
    assert "Главное меню" in menu


async def test_notices_to_a_blocked_citizen_are_sent_when_they_come_back(tg, app, clock):
    await to_summary(tg)
    await press(tg, "confirm:yes")
    await app.outbox.run_once()
    await app.complaints.act_by_number("26-00001", "accept", CONSOLE_OPERATOR)
    tg.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await app.outbox.run_once()
    assert (await app.store.citizens.get(citizen_id=1)).unreachable
    [waiting] = await app.store.outbox.list(status="unreachable")
    clock.advance(hours=5)
    await say(tg, "меню")  # unblocked and wrote again
    await app.outbox.run_once()
    assert (await app.store.outbox.get(message_id=waiting.id)).status == "sent"
    assert any("26-00001" in t and "принята" in t for t in tg.texts_to(CITIZEN)[-3:])


# ----- operators -------------------------------------------------------------------------------


async def filed(tg, app) -> None:
    await to_summary(tg)
    await press(tg, "confirm:yes")
    await app.outbox.run_once()


async def test_a_server_error_on_the_membership_check_is_not_remembered(tg, app):
    await filed(tg, app)
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
    tg.api.fail_next("getChatMember", 500, "Internal Server Error")
    await press(tg, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)
    assert (await app.store.complaints.get(complaint_id=1)).status == "registered"
    await press(tg, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)  # a second later
    assert (await app.store.complaints.get(complaint_id=1)).status == "accepted"


async def test_restricted_and_removed_members_are_refused(tg, app):
    await filed(tg, app)
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "restricted")
    await press(tg, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)
    assert (await app.store.complaints.get(complaint_id=1)).status == "registered"
    tg.api.set_chat_member(OPERATOR_CHAT, 43, "member")
    await press(tg, "op:accept:1", user=43, chat=OPERATOR_CHAT)
    assert (await app.store.complaints.get(complaint_id=1)).status == "accepted"
    tg.api.set_chat_member(OPERATOR_CHAT, 43, "left")
    await tg.feed(chat_member_update(OPERATOR_CHAT, 43, "member", "left"))
    await press(tg, "op:progress:1", user=43, chat=OPERATOR_CHAT)  # within the 5 minutes
    assert (await app.store.complaints.get(complaint_id=1)).status == "accepted"


def chat_member_update(chat_id: int, user_id: int, old: str, new: str) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "X"}

    def member(status):
        return {"status": status, "user": user} | ({"until_date": 0} if status == "kicked" else {})

    return {
        "chat_member": {
            "chat": {"id": chat_id, "type": "supergroup", "title": "ops"},
            "from": {"id": 1, "is_bot": False, "first_name": "Admin"},
            "date": 0,
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
    }


async def test_group_commands_answer_operators_only(tg, app):
    await filed(tg, app)
    await say(tg, "/queue", user=999, chat_id=OPERATOR_CHAT)
    assert "Сообщений" not in tg.texts_to(OPERATOR_CHAT)[-1]
    assert tg.texts_to(OPERATOR_CHAT)[-1] == app.notices.complaints.operator_texts().gettext(
        "Only operators can change complaints."
    )
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
    await say(tg, "/queue", user=OPERATOR, chat_id=OPERATOR_CHAT)
    assert tg.texts_to(OPERATOR_CHAT)[-1].startswith(
        app.notices.complaints.operator_texts().gettext("Messages waiting to be sent: {count}.")[
            :10
        ]
    )


async def test_an_operator_of_one_group_cannot_act_on_anothers_complaint(tmp_path, clock, api):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    routing = {"default": None, "categories": {"corruption": None, "water": -200}}
    (content / "routing.json").write_text(json.dumps(routing), encoding="utf-8")
    app = await build_app(make_settings(tmp_path, content_dir=content), clock=clock)
    harness = TelegramHarness(app, api)
    try:
        await filed(harness, app)  # a water complaint: group -200
        api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")  # an operator of the other group
        await press(harness, "op:accept:1", user=OPERATOR, chat=OPERATOR_CHAT)
        assert (await app.store.complaints.get(complaint_id=1)).status == "registered"
        api.set_chat_member(-200, 44, "member")
        await press(harness, "op:accept:1", user=44, chat=OPERATOR_CHAT)  # right person, wrong chat
        assert (await app.store.complaints.get(complaint_id=1)).status == "registered"
        await press(harness, "op:accept:1", user=44, chat=-200)
        assert (await app.store.complaints.get(complaint_id=1)).status == "accepted"
    finally:
        await harness.close()
        await app.close()


async def test_a_long_answer_reaches_group_and_citizen_split_to_the_limit(tg, app):
    await filed(tg, app)
    tg.api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
    await press(tg, "op:answer:1", user=OPERATOR, chat=OPERATOR_CHAT)
    prompt = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    row = await app.store.fetchone("SELECT provider_sid FROM outbox_deliveries ORDER BY rowid DESC")
    prompt_id = int(row[0].split(":")[1])
    answer = "Ответ по существу. " * 210  # 3,990 characters
    update = message_update(OPERATOR, answer.strip(), chat_id=OPERATOR_CHAT)
    update["message"]["reply_to_message"] = {
        "message_id": prompt_id,
        "date": 0,
        "chat": {"id": OPERATOR_CHAT, "type": "supergroup"},
        "text": prompt.params["text"],
    }
    await tg.feed(update)
    assert (await app.store.complaints.get(complaint_id=1)).status == "answered"
    notes = [c.params["text"] for c in tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)][-2:]
    assert len(notes) == 2 and all(len(n) <= 4096 for n in notes)  # split, nothing refused
    await tg.app.outbox.run_once()
    assert all(len(t) <= 4096 for t in tg.texts_to(CITIZEN))


async def test_forwarded_names_the_body_and_the_citizen_hears_it(app, chat):
    from tests.conftest import file_complaint

    await file_complaint(chat)
    assert not (await app.complaints.act_by_number("26-00001", "forward", CONSOLE_OPERATOR)).ok
    body = "Бишкекводоканал"
    result = await app.complaints.act_by_number("26-00001", "forward", CONSOLE_OPERATOR, body)
    assert result.ok and result.complaint.forwarded_to == body
    [notice] = await app.store.outbox.list(kind="status_update")
    assert body in await rendered_text(app, notice)
    await app.complaints.act_by_number("26-00001", "progress", CONSOLE_OPERATOR, "Выезд в среду")
    notices = await app.store.outbox.list(kind="status_update")
    assert "Выезд в среду" in await rendered_text(app, notices[-1])


# ----- downloads and logs ----------------------------------------------------------------------


async def test_a_file_without_a_size_is_streamed_and_cut_at_the_limit(tg, app):
    await say(tg, "/start")
    await press(tg, "lang:ru")
    await press(tg, "sub:no")
    await press(tg, "menu:complaint")
    await press(tg, "cat:water")
    await say(tg, "Кран суусу үч күндөн бери жок, балдар суусуз")
    await press(tg, "place:skip")
    big = jpeg_bytes() + b"\0" * (11 * 1024 * 1024)
    tg.api.add_file("nosize", big)
    original = tg.api._m_getfile

    def without_size(call):
        answer = original(call)
        answer.pop("file_size")
        return answer

    tg.api._m_getfile = without_size
    document = {"file_id": "nosize", "file_name": "x.jpg", "mime_type": "image/jpeg"}
    await tg.feed(message_update(CITIZEN, document=document))
    assert "10 МБ" in "\n".join(tg.texts_to(CITIZEN)[-2:])
    assert (await app.store.conversations.load(citizen_id=1)).data["draft"]["photos"] == []


def test_no_log_line_shows_the_token():
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        redact_logs([token, "twilio-auth-token-xyz"], logger)
        try:
            raise OSError(f"GET https://api.telegram.org/file/bot{token}/photos/1.jpg failed")
        except OSError:
            logger.exception("photo download failed")
        logger.warning("secret half alone: %s", token.split(":")[1])
        logger.info("twilio %s", "twilio-auth-token-xyz")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "photo download failed" in text and "[redacted]" in text
    assert token not in text and token.split(":")[1] not in text
    assert "twilio-auth-token-xyz" not in text


async def test_a_group_gets_a_few_at_once_then_a_steady_pace_and_a_reply_is_not_held():
    import asyncio

    from bot.pacing import Limits, Pacer
    from bot.storage.models import NOTICE_LANE, REPLY_LANE

    pacer = Pacer(
        Limits(per_second=1000, per_chat_per_second=1, group_per_minute=20),
        is_group=lambda chat: chat.startswith("-"),
    )
    for _ in range(5):  # a card, its note, a prompt... at once
        await asyncio.wait_for(pacer.wait("-100500", NOTICE_LANE), timeout=0.5)
    with pytest.raises(TimeoutError):  # then at most 20 in any minute: one every 4 s
        await asyncio.wait_for(pacer.wait("-100500", REPLY_LANE), timeout=0.05)
    for _ in range(3):  # replies to a citizen who just wrote: no per-chat wait
        await asyncio.wait_for(pacer.wait("7001", REPLY_LANE), timeout=0.5)
    await pacer.wait("7002", NOTICE_LANE)
    with pytest.raises(TimeoutError):  # a second notice to one chat within the second
        await asyncio.wait_for(pacer.wait("7002", NOTICE_LANE), timeout=0.05)


# ----- found by review: order under two senders, multi-part receipts, a group the bot left ----


def _row(recipient: str, text: str, **extra):
    from bot.outbound import replies_message

    return replies_message(
        channel="telegram", recipient=recipient, replies=[Reply(text=text)], kind="x", **extra
    )


async def test_a_row_taken_from_an_old_snapshot_waits_for_an_older_row_that_came_back(
    app, chat, clock
):
    await chat.command("/start")  # a citizen, so rows can wait for them
    await app.store.outbox.add(
        messages=[_row("700", "notice-1", citizen_id=1), _row("700", "notice-2", citizen_id=1)],
        now=clock.now(),
    )
    first, second = await app.store.outbox.list(kind="x")
    await app.store.outbox.mark_failed(message_id=first.id, error="gone", status="unreachable")
    [snapshot] = await app.store.outbox.due(now=clock.now())  # run_once sees notice-2 only
    assert snapshot.id == second.id
    await app.store.outbox.release_for(citizen_id=1, now=clock.now())  # the citizen came back
    assert not await app.store.outbox.claim(message_id=second.id, now=clock.now())
    assert await app.store.outbox.claim(message_id=first.id, now=clock.now())


async def test_a_row_postponed_by_another_sender_is_not_taken_again(app, clock):
    await app.store.outbox.add(messages=[_row("701", "a")], now=clock.now())
    [row] = await app.store.outbox.due(now=clock.now())
    await app.store.outbox.retry_later(
        message_id=row.id, at=clock.now() + timedelta(seconds=30), error="429"
    )
    assert not await app.store.outbox.claim(message_id=row.id, now=clock.now())


async def test_a_secret_row_is_blanked_only_when_all_of_it_is_delivered(app, clock):
    await app.store.outbox.add(messages=[_row("702", "code 7KXM-4PQ2")], now=clock.now())
    [row] = await app.store.outbox.list(kind="x")
    await app.store.outbox.record_part(
        message_id=row.id, parts_done=1, provider_sid="SM1", now=clock.now()
    )
    await app.store.outbox.record_delivery(
        provider_sid="SM1", status="delivered", error_code=None, now=clock.now()
    )
    assert not await app.store.outbox.scrub_if_done(message_id=row.id)  # part 2 still to go
    await app.store.outbox.mark_sent(
        message_id=row.id, now=clock.now(), parts_done=2, provider_sid="SM2"
    )
    assert not await app.store.outbox.scrub_if_done(message_id=row.id)  # SM2 not delivered
    await app.store.outbox.record_delivery(
        provider_sid="SM2", status="read", error_code=None, now=clock.now()
    )
    assert await app.store.outbox.scrub_if_done(message_id=row.id)
    assert (await app.store.outbox.get(message_id=row.id)).payload == {}


async def test_cards_for_a_group_the_bot_is_not_in_are_sent_once_it_is_added(tg, app, clock):
    tg.api.fail_next("sendMessage", 403, "Forbidden: bot is not a member of the group chat")
    await app.store.outbox.add(messages=[_row(str(OPERATOR_CHAT), "card")], now=clock.now())
    assert await app.outbox.run_once() == 0
    [row] = await app.store.outbox.list(kind="x")
    assert row.status == "pending"  # not "unreachable": no citizen will ever write for a group
    clock.advance(minutes=16)
    assert await app.outbox.run_once() == 1
    from bot.handlers.operator_tools import queue_report

    assert "unreachable" not in await queue_report(app)


async def test_a_stopping_outbox_puts_back_what_waits_for_its_pace(app, clock):
    import asyncio

    class Slow:
        name = "telegram"

        def __init__(self):
            self.sent = []

            class Pacer:
                async def wait(self, recipient, lane):
                    await asyncio.sleep(0.2)  # the group's 20-a-minute turn

            self.pacer = Pacer()

        async def deliver(self, recipient, part):
            self.sent.append(part.text)

    channel = Slow()
    app.outbox.add_channel(channel)
    await app.store.outbox.add(
        messages=[_row("-100500", "note 1"), _row("-100500", "note 2")], now=clock.now()
    )
    app.outbox.kick("telegram", "-100500")
    await asyncio.sleep(0)  # the send has begun waiting for its turn
    await app.outbox.stop()
    assert channel.sent == []  # nothing went out after the stop
    rows = await app.store.outbox.list(kind="x")
    assert [row.status for row in rows] == ["pending", "pending"]  # both sent at the next start
