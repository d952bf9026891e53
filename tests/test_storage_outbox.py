"""The store and the outbox: migrations, progress across failures, and restarts."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.app import build_app
from bot.dialogs.events import Reply
from bot.outbound import RecipientGone, RetryLater, TransientError, replies_message
from bot.storage.store import Store
from tests.conftest import Chat, file_complaint, make_settings, rendered_text

MIGRATIONS = Path(__file__).resolve().parent.parent / "bot" / "storage" / "migrations"


class RecordingChannel:
    """A channel that records deliveries and fails on command."""

    name = "telegram"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    async def deliver(self, recipient: str, reply: Reply) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append((recipient, reply.text))


async def test_migrations_apply_once_with_wal_and_foreign_keys(tmp_path):
    store = await Store.open(tmp_path / "x.sqlite3")
    await store.close()
    store = await Store.open(tmp_path / "x.sqlite3")
    try:
        versions = await store.fetchall("SELECT version FROM schema_migrations")
        in_package = sorted(int(f.name[:4]) for f in MIGRATIONS.glob("[0-9]*.sql"))
        assert [row[0] for row in versions] == in_package and in_package[:3] == [1, 2, 3]
        assert (await store.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await store.fetchone("PRAGMA foreign_keys"))[0] == 1
    finally:
        await store.close()


def _three_part(recipient: str = "5"):
    replies = [Reply(text=f"part {n}") for n in range(3)]
    return replies_message(channel="telegram", recipient=recipient, replies=replies, kind="test")


async def test_a_failure_half_way_does_not_repeat_sent_parts(app, clock):
    channel = RecordingChannel()
    app.outbox.add_channel(channel)
    await app.store.outbox.add(messages=[_three_part()], now=clock.now())
    channel.delivered.clear()

    async def fail_on_second(recipient, reply, original=channel.deliver):
        if reply.text == "part 1" and not getattr(channel, "failed", False):
            channel.failed = True
            raise TransientError("timeout")
        await original(recipient, reply)

    channel.deliver = fail_on_second
    assert await app.outbox.run_once() == 0
    clock.advance(seconds=10)
    assert await app.outbox.run_once() == 1
    assert [text for _, text in channel.delivered] == ["part 0", "part 1", "part 2"]


async def test_rate_limit_waits_without_counting_an_attempt(app, clock):
    channel = RecordingChannel()
    app.outbox.add_channel(channel)
    await app.store.outbox.add(messages=[_three_part()], now=clock.now())
    channel.failures = [RetryLater(20)]
    await app.outbox.run_once()
    clock.advance(seconds=19)
    assert await app.outbox.run_once() == 0
    clock.advance(seconds=2)
    assert await app.outbox.run_once() == 1
    [row] = await app.store.outbox.list(status="sent")
    assert row.attempts == 1


async def test_gives_up_after_max_attempts(tmp_path, clock):
    app = await build_app(make_settings(tmp_path, outbox_max_attempts=3), clock=clock)
    try:
        channel = RecordingChannel()
        app.outbox.add_channel(channel)
        await app.store.outbox.add(messages=[_three_part()], now=clock.now())
        channel.failures = [TransientError("down")] * 3
        for _ in range(3):
            await app.outbox.run_once()
            clock.advance(hours=1)
        [row] = await app.store.outbox.list(status="failed")
        assert row.attempts == 3 and "down" in row.last_error
    finally:
        await app.close()


async def test_blocked_recipient_is_marked_unreachable(app, chat, clock):
    await file_complaint(chat)
    channel = RecordingChannel()
    app.outbox.add_channel(channel)
    await app.outbox.run_once()  # operator card
    from bot.handlers.console.chat import CONSOLE_OPERATOR

    await app.complaints.act_by_number("26-00001", "accept", CONSOLE_OPERATOR)
    channel.failures = [RecipientGone("blocked")]
    await app.outbox.run_once()
    assert (await app.store.citizens.get(citizen_id=1)).unreachable
    await chat.text("меню")  # writing again makes the citizen reachable
    assert not (await app.store.citizens.get(citizen_id=1)).unreachable


async def test_restart_resends_rows_a_crash_left_half_claimed(tmp_path, clock):
    settings = make_settings(tmp_path)
    app = await build_app(settings, clock=clock)
    await app.store.outbox.add(messages=[_three_part()], now=clock.now())
    [row] = await app.store.outbox.due(now=clock.now())
    assert await app.store.outbox.claim(message_id=row.id, now=clock.now())  # then it "dies"
    await app.close()
    app = await build_app(settings, clock=clock)
    try:
        channel = RecordingChannel()
        app.outbox.add_channel(channel)
        assert await app.outbox.run_once() == 1
        assert len(channel.delivered) == 3
    finally:
        await app.close()


async def test_status_change_is_queued_once_per_change(app, chat):
    await file_complaint(chat)
    from bot.handlers.console.chat import CONSOLE_OPERATOR

    first = await app.complaints.act_by_number("26-00001", "accept", CONSOLE_OPERATOR)
    again = await app.complaints.act_by_number("26-00001", "accept", CONSOLE_OPERATOR)
    assert first.ok and not again.ok
    notices = await app.store.outbox.list(kind="status_update")
    assert len(notices) == 1
    events = await app.store.complaints.events(complaint_id=1)
    assert [(e.new_status, e.actor) for e in events] == [
        ("registered", "citizen"),
        ("accepted", "operator:0"),
    ]


async def test_answer_needs_text_and_closes_the_complaint(app, chat):
    await file_complaint(chat)
    from bot.handlers.console.chat import CONSOLE_OPERATOR

    assert not (await app.complaints.act_by_number("26-00001", "answer", CONSOLE_OPERATOR)).ok
    result = await app.complaints.act_by_number(
        "26-00001", "answer", CONSOLE_OPERATOR, "Фонари заменены 12 марта."
    )
    assert result.ok and result.complaint.status == "answered"
    assert not (await app.complaints.act_by_number("26-00001", "progress", CONSOLE_OPERATOR)).ok
    [notice] = await app.store.outbox.list(kind="status_update")
    assert "Фонари заменены" in await rendered_text(app, notice)


async def test_logs_hold_no_identity_or_text_of_anonymous_reports(app, caplog):
    caplog.set_level(logging.DEBUG)
    chat = Chat(app.engine, user_key="987654321")
    secret = "Глава айыл окмоту берет взятки за справки"
    await file_complaint(chat, description=secret)
    channel = RecordingChannel()
    app.outbox.add_channel(channel)
    await app.outbox.run_once()
    assert "26-00001" in caplog.text  # something was logged
    assert "987654321" not in caplog.text and "взятки" not in caplog.text
