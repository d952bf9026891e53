"""A broadcast's rows are rendered when sent, in each citizen's language of that moment, while
what one announcement says in one language is made only once; and the marks of rows sent
together are written together."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.app import build_app
from tests.conftest import make_settings
from tests.test_broadcast import TEXTS, Recorder, announce, subscribers
from tests.test_hearings import cli


@pytest.fixture
async def one_at_a_time(tmp_path, clock):
    application = await build_app(make_settings(tmp_path, outbox_concurrency=1), clock=clock)
    yield application
    await application.close()


async def test_a_citizen_who_changes_language_mid_broadcast_gets_the_new_one(
    one_at_a_time, tmp_path, clock
):
    app = one_at_a_time
    await subscribers(app, clock, 4, locale="ru")
    recorder = Recorder()
    real_deliver = recorder.deliver

    async def deliver(recipient, reply):
        if not recorder.sent:  # while the first goes out, the others switch to Kyrgyz
            for citizen_id in (2, 3, 4):
                await app.store.citizens.set_locale(citizen_id=citizen_id, locale="ky")
        return await real_deliver(recipient, reply)

    recorder.deliver = deliver
    app.outbox.add_channel(recorder)
    reads = []
    real_get = app.store.broadcasts.get

    async def counted_get(**kwargs):
        reads.append(kwargs)
        return await real_get(**kwargs)

    app.store.broadcasts.get = counted_get
    await announce(app, tmp_path)
    reads.clear()  # the command line's own reads
    assert await app.outbox.run_once() == 4
    texts = [text for _, text in recorder.sent]
    assert TEXTS["ru"] in texts[0]
    assert all(TEXTS["ky"] in text and TEXTS["ru"] not in text for text in texts[1:])
    assert len(reads) == 2  # once in Russian, once in Kyrgyz, for four rows


async def test_a_second_broadcast_is_never_told_with_the_first_ones_text(app, tmp_path, clock):
    await subscribers(app, clock, 2, locale="ru")
    recorder = Recorder()
    app.outbox.add_channel(recorder)
    await announce(app, tmp_path)
    await app.outbox.run_once()
    other = tmp_path / "other.yaml"
    other.write_text(
        "topic: all\ntext:\n  ky: Эртең суу болбойт.\n  ru: Завтра не будет воды.\n",
        encoding="utf-8",
    )
    code, out = await cli(app, "announce", file=other, key=None, wait=False)
    assert code == 0, out
    await app.outbox.run_once()
    texts = [text for _, text in recorder.sent]
    assert len(texts) == 4
    assert all(TEXTS["ru"] in text for text in texts[:2])
    assert all("Завтра не будет воды." in text for text in texts[2:])


async def test_rows_sent_together_are_marked_in_one_transaction_each_waiting_for_its_own(
    app, tmp_path, clock
):
    await subscribers(app, clock, 3, locale="ru")
    await announce(app, tmp_path)
    rows = await app.store.outbox.list(kind="announcement")
    for row in rows:
        assert await app.store.outbox.claim(message_id=row.id, now=clock.now())
    transactions = []
    real_atomic = app.store.atomic

    async def counted_atomic(fn, *args, **kwargs):
        transactions.append(fn.__name__)
        return await real_atomic(fn, *args, **kwargs)

    app.store.atomic = counted_atomic
    await asyncio.gather(
        *(
            app.store.outbox.mark_sent(message_id=row.id, now=clock.now(), together=True)
            for row in rows
        )
    )
    assert transactions == ["_update_many"]  # one transaction for the three marks
    assert {row.status for row in await app.store.outbox.list(kind="announcement")} == {"sent"}


async def test_a_mark_that_cannot_be_written_fails_its_callers(app, tmp_path, clock):
    await subscribers(app, clock, 2, locale="ru")
    await announce(app, tmp_path)
    rows = await app.store.outbox.list(kind="announcement")

    async def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    app.store.atomic = broken
    results = await asyncio.gather(
        *(
            app.store.outbox.mark_sent(message_id=row.id, now=clock.now(), together=True)
            for row in rows
        ),
        return_exceptions=True,
    )
    assert all(isinstance(result, sqlite3.OperationalError) for result in results)
