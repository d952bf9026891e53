"""Broadcasts: every row written before anything is sent, nothing twice on a re-run or after an
interruption, pause and resume, the WhatsApp quota spread over days (oldest subscribers first),
templates outside the 24-hour window, and the delivery report."""

from __future__ import annotations

import pytest
import yaml

from bot.app import build_app
from bot.outbound import RecipientGone
from tests.conftest import make_settings
from tests.test_hearings import cli
from tests.test_whatsapp import rig_factory, twilio  # noqa: F401 (fixtures)

TEXTS = {
    "ky": "Жаңы таштанды чыгаруу графиги 1-апрелден баштап күчүнө кирет.",
    "ru": "С 1 апреля действует новый график вывоза мусора.",
}


class Recorder:
    """A Telegram-like channel: records what it sends; some recipients have blocked the bot."""

    def __init__(self, name: str = "telegram", blocked=()) -> None:
        self.name = name
        self.blocked = set(blocked)
        self.sent: list[tuple[str, str]] = []

    async def deliver(self, recipient, reply):
        if recipient in self.blocked:
            raise RecipientGone("Forbidden: bot was blocked by the user")
        self.sent.append((recipient, reply.text))
        return None


async def subscribers(app, clock, count: int, *, channel="telegram", first=1000, locale="ru"):
    """`count` citizens who agreed to announcements (directly through the repositories)."""
    for n in range(count):
        citizen = await app.store.citizens.touch(
            channel=channel, user_key=str(first + n), now=clock.now()
        )
        await app.store.citizens.set_locale(citizen_id=citizen.id, locale=locale)
        await app.store.citizens.set_announcements(
            citizen_id=citizen.id, wanted=True, now=clock.now()
        )
        clock.advance(seconds=1)


def announcement_file(tmp_path, topic="all"):
    path = tmp_path / "announcement.yaml"
    path.write_text(yaml.safe_dump({"topic": topic, "text": TEXTS}, allow_unicode=True))
    return path


async def announce(app, tmp_path, **extra):
    code, out = await cli(
        app, "announce", file=announcement_file(tmp_path), key=extra.get("key"), wait=False
    )
    assert code == 0, out
    return out


@pytest.fixture
async def small_batches(tmp_path, clock):
    application = await build_app(
        make_settings(tmp_path, broadcast_batch_size=3, whatsapp_daily_conversations=2),
        clock=clock,
    )
    yield application
    await application.close()


async def statuses(app) -> dict[str, int]:
    rows = await app.store.outbox.list(kind="announcement")
    found: dict[str, int] = {}
    for row in rows:
        found[row.status] = found.get(row.status, 0) + 1
    return found


async def test_every_row_is_written_before_anything_is_sent(small_batches, tmp_path, clock):
    app = small_batches
    await subscribers(app, clock, 10)
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    real = app.store.broadcasts.write_batch
    seen = []

    async def write_then_try_to_send(**kwargs):
        written = await real(**kwargs)
        seen.append(await app.outbox.run_once())  # a sender running between two batches
        return written

    app.store.broadcasts.write_batch = write_then_try_to_send
    await announce(app, tmp_path)
    assert seen == [0, 0, 0, 0] and recorder.sent == []  # four batches, nothing went
    assert await statuses(app) == {"pending": 10}
    rows = await app.store.outbox.list(kind="announcement")
    assert {row.lane for row in rows} == {2}
    await app.outbox.run_once()
    assert sorted(r for r, _ in recorder.sent) == [str(1000 + n) for n in range(10)]
    assert all(text.startswith("📣 Объявление") for _, text in recorder.sent)


async def test_the_same_announcement_again_sends_nothing_twice(app, tmp_path, clock):
    await subscribers(app, clock, 5)
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    await announce(app, tmp_path)
    await app.outbox.run_once()
    out = await announce(app, tmp_path)  # the organiser runs it again
    assert "5 messages written" in out
    await app.outbox.run_once()
    assert len(recorder.sent) == 5
    assert len(await app.store.broadcasts.list()) == 1


async def test_an_interrupted_write_goes_on_and_every_citizen_gets_it_once(
    small_batches, tmp_path, clock
):
    app = small_batches
    await subscribers(app, clock, 10)
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    real = app.store.broadcasts.write_batch
    calls = []

    async def dies_on_the_third_batch(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is killed half-way
        return await real(**kwargs)

    app.store.broadcasts.write_batch = dies_on_the_third_batch
    with pytest.raises(KeyboardInterrupt):
        await announce(app, tmp_path)
    assert await statuses(app) == {"staged": 6}
    assert await app.outbox.run_once() == 0  # nothing goes out of a half-written broadcast
    app.store.broadcasts.write_batch = real
    await announce(app, tmp_path)  # started again
    assert await statuses(app) == {"pending": 10}
    await app.outbox.run_once()
    recipients = [r for r, _ in recorder.sent]
    assert sorted(recipients) == [str(1000 + n) for n in range(10)]  # none missing, none twice


async def test_pause_stops_sending_and_resume_goes_on(app, tmp_path, clock):
    await subscribers(app, clock, 6)
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    await announce(app, tmp_path)
    [broadcast] = await app.store.broadcasts.list()
    code, out = await cli(app, "broadcast", action="pause", id=broadcast.id)
    assert code == 0 and "6 messages wait" in out
    assert await app.outbox.run_once() == 0 and recorder.sent == []
    report = await app.hearings.report(broadcast.id)
    assert (report.paused, report.finished) == (6, False)
    code, out = await cli(app, "broadcast", action="resume", id=broadcast.id)
    assert code == 0 and "6 messages go on" in out
    assert await app.outbox.run_once() == 6


async def test_whatsapp_quota_spreads_over_days_oldest_subscribers_first(
    small_batches, tmp_path, clock
):
    app = small_batches  # two business-initiated conversations a day
    await subscribers(app, clock, 5, channel="whatsapp", first=996700000100)
    clock.advance(days=2)  # all outside the 24-hour window
    await announce(app, tmp_path)
    rows = await app.store.outbox.list(kind="announcement")
    by_day = {row.recipient: row for row in rows}
    assert [by_day[str(996700000100 + n)].status for n in range(5)] == [
        "pending", "pending", "waiting", "waiting", "waiting"
    ]  # fmt: skip
    [broadcast] = await app.store.broadcasts.list()
    report = await app.hearings.report(broadcast.id)
    assert (report.queued, report.waiting_quota) == (2, 3)
    waiting = await app.store.outbox.list(status="waiting")
    assert len(waiting) == 3
    await app.store.broadcasts.wake_waiting(now=clock.now())
    assert len(await app.store.outbox.list(status="waiting")) == 3  # not their day yet
    clock.advance(days=1, minutes=1)
    assert await app.store.broadcasts.wake_waiting(now=clock.now()) == 2
    clock.advance(days=1)
    assert await app.store.broadcasts.wake_waiting(now=clock.now()) == 1
    quota = await app.store.fetchall("SELECT used FROM whatsapp_quota ORDER BY day")
    assert [row["used"] for row in quota] == [2, 2, 1]


async def test_the_report_counts_sent_unreachable_held_and_waiting(small_batches, tmp_path, clock):
    app = small_batches
    await subscribers(app, clock, 4, first=2000)
    await subscribers(app, clock, 3, channel="whatsapp", first=996700000200, locale="ky")
    clock.advance(days=2)
    recorder = Recorder(blocked={"2003"})
    app.outbox.add_channel(recorder)

    class NoTemplateWhatsApp:
        """Outside the window and no template configured: the row is held."""

        name = "whatsapp"

        async def prepare(self, row, rendered, done):
            from bot.outbound import Hold

            raise Hold("outside WhatsApp's 24-hour window; no template")

        async def deliver(self, recipient, part):  # pragma: no cover (never reached)
            raise AssertionError

    app.outbox.add_channel(NoTemplateWhatsApp())
    await announce(app, tmp_path)
    await app.outbox.run_once()
    [broadcast] = await app.store.broadcasts.list()
    report = await app.hearings.report(broadcast.id)
    assert (report.total, report.sent, report.unreachable) == (7, 3, 1)
    assert (report.waiting_template, report.waiting_quota, report.queued) == (2, 1, 0)
    assert report.finished
    assert await app.hearings.finish_broadcasts() == 1
    assert await app.hearings.finish_broadcasts() == 0  # once
    [row] = await app.store.outbox.list(kind="broadcast_report")
    assert row.recipient == "-100500"
    text = "\n".join(r.text for r in (await app.outbox.render(row)).replies)
    for line in (
        "Получателей: 7",
        "Отправлено: 3",
        "Недоступны (заблокировали бота): 1",
        "Ждут шаблона WhatsApp: 2",
        "Ждут квоты WhatsApp следующих дней: 1",
    ):
        assert line in text
    code, out = await cli(app, "broadcast", action="report", id=broadcast.id)
    assert code == 0 and "Отправлено: 3" in out and "posted to the operator group" in out
    assert len(await app.store.outbox.list(kind="broadcast_report")) == 2


async def test_an_announcement_to_a_topic_and_with_a_document(app, tmp_path, clock):
    await subscribers(app, clock, 2, first=3000)
    land = await app.store.citizens.find(channel="telegram", user_key="3001")
    await app.store.hearings.set_topics(citizen_id=land.id, topics={"land"})
    leaflet = tmp_path / "graph.pdf"
    leaflet.write_bytes(b"%PDF-1.4 graph")
    path = tmp_path / "a.yaml"
    path.write_text(
        yaml.safe_dump(
            {"topic": "tariffs", "text": TEXTS, "document": str(leaflet)}, allow_unicode=True
        )
    )
    code, out = await cli(app, "announce", file=path, key=None, wait=False)
    assert code == 0, out
    [row] = await app.store.outbox.list(kind="announcement")
    assert row.recipient == "3000"  # the other follows land only
    [reply] = (await app.outbox.render(row)).replies
    assert reply.document.name == "graph.pdf"
    assert app.media.open_path(reply.document.path).read_bytes() == b"%PDF-1.4 graph"
    missing = tmp_path / "b.yaml"
    missing.write_text(yaml.safe_dump({"topic": "tariffs", "text": {"ru": "x"}}))
    code, out = await cli(app, "announce", file=missing, key=None, wait=False)
    assert code == 1 and "text.ky: missing translation" in out


async def test_operators_ask_for_the_report_in_the_group(app, tmp_path, clock):
    from tests.fakes.telegram_api import FakeTelegramAPI, message_update
    from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness

    await subscribers(app, clock, 3, first=4000)
    await announce(app, tmp_path)
    async with FakeTelegramAPI() as api:
        tg = TelegramHarness(app, api)
        api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
        await app.outbox.run_once()
        await tg.feed(message_update(OPERATOR, "/report", chat_id=OPERATOR_CHAT))
        report = tg.texts_to(OPERATOR_CHAT)[-1]
        assert "рассылки № 1" in report and "Отправлено: 3" in report
        await tg.feed(message_update(OPERATOR, "/report 99", chat_id=OPERATOR_CHAT))
        assert tg.texts_to(OPERATOR_CHAT)[-1] == "Такой рассылки нет."
        await tg.feed(message_update(555, "/report", chat_id=OPERATOR_CHAT))  # not an operator
        assert "рассылки" not in tg.texts_to(OPERATOR_CHAT)[-1]
        await tg.close()


async def test_outside_the_window_the_other_languages_template_goes_and_is_reported(
    rig_factory,  # noqa: F811
    tmp_path,
    clock,
):
    wa = await rig_factory(twilio_template_hearing_ru="HX" + "1" * 32)
    await wa.send("салам")
    await wa.send("1")  # Кыргызча
    await wa.send("1")  # yes, announcements
    clock.advance(days=2)  # the window has closed
    await announce(wa.app, tmp_path)
    before = len(wa.twilio.sent)
    await wa.app.outbox.run_once()
    [message] = wa.twilio.sent[before:]
    assert message.content_sid == "HX" + "1" * 32  # the Russian template: no Kyrgyz one
    [broadcast] = await wa.app.store.broadcasts.list()
    assert broadcast.fallback == 1
    report = await wa.app.hearings.report(broadcast.id)
    text = wa.app.hearing_notices.report_text(broadcast, report)
    assert "другом языке: 1" in text and "Отправлено: 1" in text


async def test_a_broadcast_spread_over_days_reports_each_day_and_once_at_the_end(
    small_batches, tmp_path, clock
):
    app = small_batches  # two business-initiated WhatsApp conversations a day
    whatsapp = Recorder("whatsapp")
    app.outbox.add_channel(whatsapp)
    app.outbox.add_channel(Recorder())  # the operator group's reports
    await subscribers(app, clock, 5, channel="whatsapp", first=996700000300)
    clock.advance(days=2)  # outside the 24-hour window: each counts against the daily quota
    await announce(app, tmp_path)
    reports = []
    for _day in range(3):
        await app.store.broadcasts.wake_waiting(now=clock.now())
        await app.outbox.run_once()
        await app.hearings.finish_broadcasts()
        assert await app.hearings.finish_broadcasts() == 0  # once a day
        reports.append(len(await app.store.outbox.list(kind="broadcast_report")))
        clock.advance(days=1, minutes=1)
    assert len(whatsapp.sent) == 5
    assert reports == [1, 2, 3]  # day 1, day 2, then the final one
    [broadcast] = await app.store.broadcasts.list()
    assert (await app.hearings.report(broadcast.id)).waiting_quota == 0
    await app.hearings.finish_broadcasts()
    assert len(await app.store.outbox.list(kind="broadcast_report")) == 3
