"""The complaint lifecycle: legal deadlines on the Kyrgyz working-day calendar, the deadline
watch, the morning digest and the follow-up, driven by the controllable clock (no sleeping)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_app
from bot.clock import FakeClock
from bot.domain.complaints import OperatorRef
from bot.jobs import deadline_watch, follow_ups, morning_digest
from tests.conftest import Chat, file_complaint, make_settings, rendered_text, start_in

OPERATOR = OperatorRef(42, "Operator Asel")
GROUP = "-100500"
BISHKEK = ZoneInfo("Asia/Bishkek")
SUPERVISORS = -100900


def bishkek(year, month, day, hour=10) -> datetime:
    """A moment given in Bishkek local time (UTC+6)."""
    return datetime(year, month, day, hour - 6, 0, tzinfo=UTC)


@pytest.fixture
async def make_app(tmp_path):
    apps = []

    async def make(start: datetime, **overrides):
        clock = FakeClock(start)
        settings = make_settings(tmp_path, supervisor_chat_id=SUPERVISORS, **overrides)
        app = await build_app(settings, clock=clock)
        apps.append(app)
        return app, clock

    yield make
    for app in apps:
        await app.close()


async def deadlines_of(app, complaint_id=1) -> dict[str, object]:
    return {d.kind: d for d in await app.store.deadlines.of_complaint(complaint_id=complaint_id)}


def local_day(moment: datetime) -> date:
    return moment.astimezone(BISHKEK).date()


def all_options(chat: Chat) -> list[str]:
    return [option.id for reply in chat.replies for option in reply.options]


async def rows(app, kind: str):
    return await app.store.outbox.list(kind=kind)


# ----- due dates ---------------------------------------------------------------------------


async def test_due_dates_of_a_complaint_filed_before_orozo_ait(make_app):
    # Thursday 19 March 2026: Friday 20 is Orozo Ait, then the weekend and Nooruz
    app, _clock = await make_app(bishkek(2026, 3, 19))
    await file_complaint(Chat(app.engine))
    found = await deadlines_of(app)
    assert found["registration"].met_at is not None
    assert local_day(found["acknowledgement"].due_at) == date(2026, 3, 25)  # 23, 24, 25
    assert local_day(found["forwarding"].due_at) == date(2026, 3, 24)  # 5 days: Tue 24
    assert local_day(found["answer"].due_at) == date(2026, 4, 2)  # 14 calendar days
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.due_at == found["answer"].due_at


async def test_answer_period_in_working_days_is_configuration(make_app):
    app, _clock = await make_app(
        bishkek(2026, 3, 19), answer_deadline_days=10, answer_deadline_working_days=True
    )
    await file_complaint(Chat(app.engine))
    # ten working days after Thu 19 March: 23–27, 30, 31 March, 1–3 April
    assert local_day((await deadlines_of(app))["answer"].due_at) == date(2026, 4, 3)


async def test_the_declared_days_off_of_8_and_9_january_2026_count(make_app):
    app, _clock = await make_app(bishkek(2025, 12, 31))
    calendar = app.complaints.planner.calendar
    assert not calendar.is_working_day(date(2026, 1, 8))
    assert not calendar.is_working_day(date(2026, 1, 9))
    await file_complaint(Chat(app.engine))
    found = await deadlines_of(app)
    assert local_day(found["acknowledgement"].due_at) == date(2026, 1, 14)  # 12, 13, 14
    # five calendar days end on Mon 5 January, a day off: the next working day, 12 January
    assert local_day(found["forwarding"].due_at) == date(2026, 1, 12)


# ----- extension -----------------------------------------------------------------------------


async def test_an_extension_beyond_30_days_is_refused_with_the_latest_date(make_app):
    app, _clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    # the answer is due 24 March; at most 30 days more: 23 April
    result = await app.complaints.apply(1, "extended", OPERATOR, "24.04.2026 проверка на месте")
    assert not result.ok and result.reason == "too_long"
    refusal = await app.notices.complaints.refusal(result, "extended")
    assert "23" in refusal and "2026" in refusal
    no_date = await app.complaints.apply(1, "extended", OPERATOR, "нужна проверка")
    assert not no_date.ok and no_date.reason == "bad_date"
    no_reason = await app.complaints.apply(1, "extended", OPERATOR, "20.04.2026")
    assert not no_reason.ok
    assert (await app.store.complaints.get(complaint_id=1)).status == "registered"


async def test_an_extension_moves_the_answer_deadline_and_tells_the_citizen_why(make_app):
    app, _clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    result = await app.complaints.apply(
        1, "extended", OPERATOR, "20.04.2026 нужна выездная проверка"
    )
    assert result.ok and result.complaint.status == "extended"
    assert local_day(result.complaint.due_at) == date(2026, 4, 20)
    answer = (await deadlines_of(app))["answer"]
    assert local_day(answer.first_due_at) == date(2026, 3, 24)
    [notice] = await rows(app, "status_update")
    text = await rendered_text(app, notice)
    assert "нужна выездная проверка" in text and "20 апреля 2026" in text
    # a second extension still counts from the first deadline
    again = await app.complaints.apply(1, "extended", OPERATOR, "24.04.2026 ещё одна")
    assert not again.ok and again.reason == "too_long"
    assert (await app.complaints.apply(1, "extended", OPERATOR, "23.04.2026 ещё одна")).ok


async def test_an_illegal_transition_is_refused_with_a_clear_message(make_app):
    app, _clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    assert (await app.complaints.apply(1, "answered", OPERATOR, "Заменили лампы.")).ok
    result = await app.complaints.apply(1, "in_progress", OPERATOR)
    assert not result.ok and result.reason == "not_allowed"
    text = await app.notices.complaints.refusal(result, "in_progress")
    assert "26-00001" in text and "«" in text


# ----- the deadline watch --------------------------------------------------------------------


async def test_reminders_and_escalations_fire_once(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))  # Tuesday
    await file_complaint(Chat(app.engine))
    assert await deadline_watch.tick(app) == 0
    clock.advance(days=1)  # Wed 11 March 10:00: 2 working days before the acknowledgement
    assert await deadline_watch.tick(app) == 1
    assert await deadline_watch.tick(app) == 0
    [reminder] = await rows(app, "deadline_reminder")
    assert reminder.recipient == GROUP
    text = await rendered_text(app, reminder)
    assert "26-00001" in text and "13" in text
    clock.advance(days=3)  # Sat 14 March: acknowledgement overdue; forwarding reminder due
    assert await deadline_watch.tick(app) == 2
    assert await deadline_watch.tick(app) == 0
    assert len(await rows(app, "deadline_reminder")) == 2
    escalations = await rows(app, "deadline_escalation")
    assert sorted(row.recipient for row in escalations) == sorted([str(SUPERVISORS), GROUP])
    assert all("26-00001" in text for text in [await rendered_text(app, r) for r in escalations])


async def test_a_reminder_for_a_step_done_meanwhile_is_not_sent(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    clock.advance(days=1)
    await deadline_watch.tick(app)
    [reminder] = await rows(app, "deadline_reminder")
    assert (await app.complaints.apply(1, "accepted", OPERATOR)).ok  # acknowledged
    assert (await app.outbox.render(reminder)).replies == []
    clock.advance(days=10)
    await deadline_watch.tick(app)
    assert await rows(app, "deadline_escalation") == []  # acknowledgement and forwarding met


async def test_a_restart_or_a_crash_between_ticks_sends_nothing_twice(make_app, tmp_path):
    app, clock = await make_app(bishkek(2026, 3, 10))
    for n in range(3):
        await file_complaint(Chat(app.engine, user_key=f"70{n}"))
    clock.advance(days=1)
    calls = {"n": 0}
    real = deadline_watch._advance

    async def crash_after_two(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed in the middle of a tick")
        return await real(*args)

    deadline_watch._advance = crash_after_two
    try:
        with pytest.raises(RuntimeError):
            await deadline_watch.tick(app)
    finally:
        deadline_watch._advance = real
    assert len(await rows(app, "deadline_reminder")) == 2
    await app.close()
    again = await build_app(app.settings, clock=clock)  # the next start, on the same store
    try:
        assert await deadline_watch.tick(again) == 1
        assert await deadline_watch.tick(again) == 0
        reminders = await again.store.outbox.list(kind="deadline_reminder")
        assert len(reminders) == 3
        assert len({r.payload["complaint_id"] for r in reminders}) == 3
    finally:
        await again.close()


async def test_a_withdrawn_complaint_stops_all_reminders(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))
    chat = Chat(app.engine)
    await file_complaint(chat)
    await chat.press("menu:mine")
    assert "cx:withdraw:1" in all_options(chat)
    await chat.press("cx:withdraw:1")
    assert chat.options == ["withdraw:yes", "withdraw:no"]
    await chat.press("withdraw:yes")
    assert "26-00001" in chat.said
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.status == "withdrawn"
    [note] = await rows(app, "change_note")
    assert note.recipient == GROUP
    clock.advance(days=40)
    assert await deadline_watch.tick(app) == 0
    assert await rows(app, "deadline_reminder") == []
    assert await rows(app, "deadline_escalation") == []
    await chat.press("cx:add:1")  # an older button of the closed complaint
    assert "26-00001" in chat.said


# ----- the morning digest --------------------------------------------------------------------


async def test_the_morning_digest_counts_and_is_sent_once_per_working_day(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10), digest_max_items=1)
    await file_complaint(Chat(app.engine, user_key="701"))
    await file_complaint(Chat(app.engine, user_key="702"))
    clock.advance(days=2, hours=-1)  # Thursday 12 March, 09:00
    assert await morning_digest.queue_digest(app) == 1
    assert await morning_digest.queue_digest(app) == 0
    [digest] = await rows(app, "deadline_digest")
    text = await rendered_text(app, digest)
    # both acknowledgements (due Fri 13) are within 2 working days; one is listed
    assert "2" in text and text.count("№ 26-0000") == 1
    assert "/overdue" in text
    clock.advance(days=2)  # Saturday: no digest
    assert await morning_digest.queue_digest(app) == 0


# ----- the follow-up -------------------------------------------------------------------------


async def answered(app, clock) -> int:
    assert (await app.complaints.apply(1, "answered", OPERATOR, "Лампы заменены.")).ok
    events = await app.store.complaints.events(complaint_id=1)
    [event] = [e for e in events if e.new_status == "answered"]
    return event.id


async def test_the_follow_up_is_asked_once_seven_days_after_the_answer(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    event_id = await answered(app, clock)
    assert await follow_ups.tick(app) == 0
    clock.advance(days=7)
    assert await follow_ups.tick(app) == 1
    assert await follow_ups.tick(app) == 0
    [question] = await rows(app, "follow_up")
    rendered = await app.outbox.render(question)
    assert [o.id for o in rendered.replies[0].options] == [
        f"fu:yes:{event_id}",
        f"fu:no:{event_id}",
        f"fu:dk:{event_id}",
    ]
    assert "26-00001" in rendered.replies[0].text


async def test_no_reopens_the_complaint_days_later_from_another_state_and_keeps_the_draft(
    make_app,
):
    app, clock = await make_app(bishkek(2026, 3, 10))
    chat = Chat(app.engine)
    await file_complaint(chat)
    event_id = await answered(app, clock)
    clock.advance(days=9)
    await follow_ups.tick(app)
    await chat.press("menu:complaint")  # writing a new complaint meanwhile
    await chat.press("cat:water")
    await chat.press(f"fu:no:{event_id}")
    await chat.text("Фонари опять не горят")
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.status == "reopened"
    found = await deadlines_of(app)
    assert found["answer"].met_at is None and found["acknowledgement"].met_at is None
    assert local_day(found["answer"].due_at) == date(2026, 4, 2)  # 14 days from 19 March
    assert chat.options == ["draft:continue", "draft:discard"]  # the new draft is kept
    notes = await rows(app, "change_note")
    assert "Фонари опять не горят" in await rendered_text(app, notes[-1])
    await chat.press(f"fu:yes:{event_id}")  # an older button: already answered
    assert "26-00001" in chat.said
    assert (await app.store.complaints.get(complaint_id=1)).status == "reopened"
    # and the reopened complaint is watched again
    clock.advance(days=30)
    assert await deadline_watch.tick(app) > 0


async def test_yes_resolves_and_dont_know_ends_politely(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))
    chat = Chat(app.engine)
    await file_complaint(chat)
    event_id = await answered(app, clock)
    clock.advance(days=7)
    await follow_ups.tick(app)
    await chat.press(f"fu:dk:{event_id}")
    assert (await app.store.deadlines.follow_up(event_id=event_id)).outcome == "dont_know"
    await chat.press(f"fu:yes:{event_id}")  # answered already: nothing changes
    assert (await app.store.complaints.get(complaint_id=1)).status == "answered"

    other = Chat(app.engine, user_key="777")
    await file_complaint(other)
    assert (await app.complaints.apply(2, "answered", OPERATOR, "Готово.")).ok
    events = await app.store.complaints.events(complaint_id=2)
    second = [e for e in events if e.new_status == "answered"]
    clock.advance(days=7)
    await follow_ups.tick(app)
    await other.press(f"fu:yes:{second[0].id}")
    assert (await app.store.complaints.get(complaint_id=2)).status == "resolved"
    await chat.press(f"fu:yes:{second[0].id}")  # not this citizen's
    assert (await app.store.complaints.get(complaint_id=2)).status == "resolved"


async def test_the_follow_up_is_answered_by_number_on_whatsapp(make_app):
    from bot.dialogs.pushed import remember_pushed_options

    app, clock = await make_app(bishkek(2026, 3, 10))
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await file_complaint(chat)
    await answered(app, clock)
    clock.advance(days=8)
    await follow_ups.tick(app)
    [question] = await rows(app, "follow_up")
    rendered = await app.outbox.render(question)
    await remember_pushed_options(app.store, question.citizen_id, rendered.replies[0].options)
    await chat.text("2")  # "2. No, not solved"
    await chat.text("Свет так и не появился")
    assert (await app.store.complaints.get(complaint_id=1)).status == "reopened"


# ----- additions and clarifying questions ----------------------------------------------------


async def test_additions_and_answers_reach_the_group_without_identity(make_app):
    app, clock = await make_app(bishkek(2026, 3, 10))
    chat = Chat(app.engine, user_key="555123")
    await file_complaint(chat, anonymous=True)
    await chat.press("menu:mine")
    await chat.press("cx:add:1")
    await chat.text("Ещё два фонаря не горят у остановки")
    await chat.photo()
    await chat.press("thread:done")
    additions = await rows(app, "complaint_addition")
    assert len(additions) == 2 and all(row.recipient == GROUP for row in additions)
    texts = [await rendered_text(app, row) for row in additions]
    assert "Ещё два фонаря" in texts[0]
    assert not any("555123" in text or "Aibek" in text for text in texts)
    assert (await app.outbox.render(additions[1])).replies[0].photos

    asked = await app.complaints.ask_citizen(1, "На какой остановке?", OPERATOR)
    assert asked.ok
    [question] = await rows(app, "clarification")
    rendered = await app.outbox.render(question)
    [option] = rendered.replies[0].options
    clock.advance(days=3)
    await start_in(chat)  # somewhere else entirely
    await chat.press(option.id)
    await chat.text("У остановки «Ала-Тоо»")
    [answer] = await rows(app, "clarification_answer")
    text = await rendered_text(app, answer)
    assert "Ала-Тоо" in text and "На какой остановке?" in text and "555123" not in text
    await chat.press(option.id)  # the question is answered already
    assert len(await rows(app, "clarification_answer")) == 1


async def test_a_complaint_checked_by_number_and_code_can_be_added_to_from_another_chat(
    make_app,
):
    app, _clock = await make_app(bishkek(2026, 3, 10))
    owner = Chat(app.engine, user_key="801")
    replies = await file_complaint(owner)
    receipt = "\n".join(reply.text for reply in replies)
    code = next(word for word in receipt.split() if len(word) == 9 and word[4] == "-")
    other = Chat(app.engine, user_key="802")
    await start_in(other)
    await other.press("cx:add:1")  # not theirs, not checked: refused
    assert (await app.store.complaint_messages.of_complaint(complaint_id=1)) == []
    await other.press("menu:check")
    await other.text("26-00001")
    await other.text(code)
    assert "cx:add:1" in all_options(other)
    await other.press("cx:add:1")
    await other.text("Дополнение с другого телефона")
    [added] = await app.store.complaint_messages.of_complaint(complaint_id=1)
    assert added.body == "Дополнение с другого телефона"
