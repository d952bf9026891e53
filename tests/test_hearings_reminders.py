"""Reminders follow the hearing: due at each offset to subscribers and RSVPs, once; a change of
time drops those computed for the old time and the new ones go out for the new time; nothing
after a cancellation. And a hearing notice's buttons pressed days later, from another state, on
Telegram (real aiogram against the fake Bot API) and WhatsApp (a typed number)."""

from __future__ import annotations

import pytest

from bot.dialogs.states import State
from bot.storage.hearings import reminder_key
from tests.conftest import Chat, start_in
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.telegram_harness import TelegramHarness
from tests.test_hearings import add_hearing, cli, subscriber, write
from tests.test_whatsapp import PHONE, rig_factory, twilio, wa  # noqa: F401 (fixtures)


class Recorder:
    """A channel that takes every message (what the citizens would see)."""

    name = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def deliver(self, recipient, reply):
        self.sent.append((recipient, reply.text))
        return None


@pytest.fixture
def recorder(app) -> Recorder:
    channel = Recorder()
    app.outbox.add_channel(channel)
    return channel


async def reminders(app, status: str | None = None):
    return await app.store.outbox.list(kind="hearing_reminder", status=status)


async def test_reminders_go_at_each_offset_once_to_subscribers_and_rsvps(
    app, tmp_path, clock, recorder
):
    await add_hearing(app, tmp_path, topic="tariffs")  # 25 March, 10:00 Bishkek
    follower = await subscriber(app, "901")  # all topics
    other = await subscriber(app, "902")
    await other.command("/topics")
    await other.press("topic:land")
    await other.press("topics:save")
    coming = await subscriber(app, "903")  # follows land only, but said they will come
    await coming.command("/topics")
    await coming.press("topic:land")
    await coming.press("topics:save")
    await coming.press("hearing:1:rsvp")
    declined = Chat(app.engine, user_key="904")  # said they will come, then sent STOP
    await start_in(declined, "ru", announcements=True)
    await declined.press("hearing:1:rsvp")
    await declined.text("STOP")
    assert await app.hearings.queue_reminders() == 0  # 15 days ahead: nothing due
    clock.advance(days=13, hours=1)  # 23 March 11:00: two days before
    await app.hearings.queue_reminders()
    await app.hearings.queue_reminders()  # again: nothing twice
    rows = await reminders(app)
    assert sorted(r.recipient for r in rows) == ["901", "903"]
    assert {r.payload["minutes"] for r in rows} == {2880}
    recorder.sent.clear()
    await app.outbox.run_once()
    assert sorted(r for r, _ in recorder.sent) == ["901", "903"]
    assert all("25 марта 2026 г., 10:00" in text for _, text in recorder.sent)
    clock.advance(days=1, hours=21)  # 25 March 08:00: two hours before
    await app.hearings.queue_reminders()
    assert len(await reminders(app)) == 4
    assert follower  # (kept for clarity: the all-topics subscriber got both)


async def test_a_reschedule_drops_the_old_reminders_and_the_new_ones_follow(
    app, tmp_path, clock, recorder
):
    await add_hearing(app, tmp_path)
    await subscriber(app, "911")
    clock.advance(days=13, hours=1)  # two days before the old time
    await app.hearings.queue_reminders()
    [old] = await reminders(app, "pending")
    moved = write(tmp_path, {"starts_at": "2026-03-28 10:00"}, "move.yaml")
    code, out = await cli(app, "hearings", action="update", id=1, file=moved, wait=False)
    assert code == 0, out
    assert (await app.store.outbox.get(message_id=old.id)).status == "dropped"
    recorder.sent.clear()
    await app.outbox.run_once()
    texts = [text for _, text in recorder.sent]
    assert not any("Напоминание" in text for text in texts)  # the old reminder never went
    [changed] = [text for text in texts if "изменены" in text]
    assert "28 марта 2026 г., 10:00" in changed
    await app.hearings.queue_reminders()  # nothing due for the new time yet
    assert await reminders(app, "pending") == []
    clock.advance(days=3)  # two days before the new time
    await app.hearings.queue_reminders()
    [new] = await reminders(app, "pending")
    assert (new.payload["version"], new.payload["minutes"]) == (2, 2880)
    recorder.sent.clear()
    await app.outbox.run_once()
    [(_, text)] = recorder.sent
    assert "Напоминание" in text and "28 марта 2026 г., 10:00" in text


async def test_a_reminder_for_an_older_version_is_dropped_when_rendered(app, tmp_path, clock):
    """Defence in depth: a row computed for version 1 that escaped the drop is not sent."""
    from bot.storage.models import NewOutboxMessage

    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "921")
    citizen = await app.store.citizens.find(channel="telegram", user_key=chat.user_key)
    moved = write(tmp_path, {"starts_at": "2026-03-27 10:00"}, "move.yaml")
    await cli(app, "hearings", action="update", id=1, file=moved, wait=False)
    stale = NewOutboxMessage(
        "telegram",
        "921",
        "hearing_reminder",
        {"hearing_id": 1, "version": 1, "starts_at": "2026-03-25T04:00:00+00:00",
         "minutes": 120, "citizen_id": citizen.id},
        citizen_id=citizen.id,
        dedupe_key=reminder_key(1, 1, 120, citizen.id),
    )  # fmt: skip
    await app.store.outbox.add(messages=[stale], now=clock.now())
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    await app.outbox.run_once()
    assert not any("Напоминание" in text for _, text in recorder.sent)
    [row] = await reminders(app)
    assert row.status == "dropped"


async def test_no_reminder_after_a_cancellation(app, tmp_path, clock, recorder):
    await add_hearing(app, tmp_path)
    await subscriber(app, "931")
    clock.advance(days=13, hours=1)
    await app.hearings.queue_reminders()
    await cli(app, "hearings", action="cancel", id=1, wait=False)
    recorder.sent.clear()
    await app.outbox.run_once()
    assert [text for _, text in recorder.sent if "Напоминание" in text] == []
    clock.advance(days=1, hours=23)
    await app.hearings.queue_reminders()
    assert await reminders(app, "pending") == []


# ----- pushed buttons, days later, from another state ---------------------------------------------


async def test_telegram_rsvp_under_a_notice_days_later_while_writing_a_complaint(
    app, tmp_path, clock
):
    async with FakeTelegramAPI() as api:
        tg = TelegramHarness(app, api)
        await tg.feed(message_update(7101, "/start"))
        await tg.feed(callback_update(7101, "lang:ru", message_id=1))
        await tg.feed(callback_update(7101, "sub:yes", message_id=2))
        await add_hearing(app, tmp_path)
        await app.outbox.run_once()
        [notice] = api.calls_to("sendMessage", chat_id=7101)[-1:]
        buttons = [b["callback_data"] for row in notice.params["reply_markup"]["inline_keyboard"]
                   for b in row]  # fmt: skip
        assert buttons == ["hearing:1:rsvp", "hearing:1:ics", "hearing:1:propose"]
        assert "25 марта 2026 г., 10:00" in notice.params["text"]
        await tg.feed(callback_update(7101, "menu:complaint", message_id=3))
        await tg.feed(callback_update(7101, "cat:water", message_id=4))
        clock.advance(days=4)
        await tg.feed(callback_update(7101, "hearing:1:rsvp", message_id=90))
        await app.outbox.run_once()
        assert await app.store.hearings.rsvp_count(hearing_id=1) == 1
        texts = tg.texts_to(7101)
        assert any("Записано: вы придёте." in text for text in texts)
        _, conv = await app.store.citizens.with_conversation(channel="telegram", user_key="7101")
        assert conv.state == State.DESCRIPTION and conv.data["draft"]["category"] == "water"
        await tg.close()


async def test_whatsapp_rsvp_by_number_days_later_and_a_stale_one(wa, tmp_path, clock):  # noqa: F811
    await wa.send("салам")
    await wa.send("2")  # Русский
    await wa.send("1")  # yes, announcements
    await add_hearing(wa.app, tmp_path)
    await wa.app.outbox.run_once()
    notice = wa.twilio.sent[-1].body
    assert "25 марта 2026 г., 10:00" in notice and "1. ✋ Я приду" in notice
    clock.advance(hours=20)  # still inside the 24-hour window
    await wa.send("1")  # "1. I will come" of the notice just delivered
    assert await wa.app.store.hearings.rsvp_count(hearing_id=1) == 1
    assert "Записано: вы придёте." in wa.twilio.sent[-1].body
    code, _ = await cli(wa.app, "hearings", action="cancel", id=1, wait=False)
    assert code == 0
    await wa.app.outbox.run_once()
    assert "отменены" in wa.twilio.sent[-1].body
    [answer] = await wa.send("1")  # "1. I will not come after all" of the card shown before
    assert "отменены, поэтому ничего не записано" in answer
    citizen = await wa.citizen()
    assert await wa.app.store.hearings.is_coming(hearing_id=1, citizen_id=citizen.id)
