"""Public hearings: the organisers' YAML files and command line, the notices, the citizen's
dialog (list, open, "I will come", calendar file, proposal), and the topics of announcements."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from icalendar import Calendar

from bot.cli.organisers import argparse_namespace, run_mode
from bot.dialogs.states import State
from bot.domain.hearings import HearingError, load_topics, parse_hearing
from tests.conftest import Chat, image_attachment, rendered_text, start_in

BISHKEK = ZoneInfo("Asia/Bishkek")
MATERIALS = "https://example.kg/budget-2027.pdf"


def hearing_data(**changes) -> dict:
    """A hearing file as an organiser writes it (the fake clock is 10 March 2026, 10:00)."""
    data = {
        "topic": "budget",
        "starts_at": "2026-03-25 10:00",
        "proposals_until": "2026-03-23 18:00",
        "duration_minutes": 120,
        "latitude": 42.8746,
        "longitude": 74.5698,
        "expected_participants": 80,
        "materials_url": MATERIALS,
        "title": {"ky": "2027-жылдын бюджети", "ru": "Бюджет на 2027 год"},
        "question": {
            "ky": "Айыл аймагынын 2027-жылга бюджетинин долбоору талкууланат.",
            "ru": "Обсуждается проект бюджета айылного аймака на 2027 год.",
        },
        "participants": {
            "ky": "Тургундар, депутаттар жана айыл өкмөтүнүн кызматкерлери",
            "ru": "Жители, депутаты и сотрудники айыл окмоту",
        },
        "place": {
            "ky": "Айыл өкмөтүнүн чоң залы, Ленин көчөсү, 12",
            "ru": "Большой зал айыл окмоту, ул. Ленина, 12",
        },
        "materials": {
            "ky": "Материалдар 15-марттан баштап айыл өкмөтүнүн 3-бөлмөсүндө, 9:00–17:00",
            "ru": "Материалы с 15 марта в кабинете № 3 айыл окмоту, 9:00–17:00",
        },
        "proposals": {
            "ky": "Сунуштарды ботко, почта аркылуу же 3-бөлмөгө жазуу түрүндө берсеңиз болот",
            "ru": "Предложения — через бота, письмом или письменно в кабинет № 3",
        },
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def write(tmp_path, data, name="hearing.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def cli(app, mode, **values) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = await run_mode(app, argparse_namespace(mode=mode, **values))
    return code, out.getvalue()


async def add_hearing(app, tmp_path, **changes) -> int:
    path = write(tmp_path, hearing_data(**changes))
    code, out = await cli(app, "hearings", action="add", file=path, no_announce=False, wait=False)
    assert code == 0, out
    return (await app.store.hearings.list())[-1].id


async def subscriber(app, user_key: str, locale: str = "ru", channel: str = "telegram") -> Chat:
    chat = Chat(app.engine, user_key=user_key, channel=channel)
    await start_in(chat, locale, announcements=True)
    return chat


async def citizen_id(app, chat: Chat) -> int:
    citizen = await app.store.citizens.find(channel=chat.channel, user_key=chat.user_key)
    return citizen.id


# ----- the organisers' files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": {"ky": "2027-жылдын бюджети"}}, "title.ru"),
        ({"place": {"ky": "", "ru": "Зал"}}, "place.ky"),
        ({"proposals": None}, "proposals"),
        ({"starts_at": "2026-03-01 10:00", "proposals_until": "2026-02-28 10:00"}, "starts_at"),
        ({"proposals_until": "2026-03-26 10:00"}, "proposals_until"),
        ({"topic": "weather"}, "topic"),
        ({"latitude": 142.0}, "latitude"),
        ({"reminders": ["2 weeks"]}, "reminders"),
    ],
)
async def test_a_wrong_hearing_file_is_refused_with_the_field_named(app, tmp_path, changes, field):
    path = write(tmp_path, hearing_data(**changes))
    code, out = await cli(app, "hearings", action="add", file=path, no_announce=False, wait=False)
    assert code == 1
    assert f"  {field}: " in out
    assert await app.store.hearings.list() == []


def test_parse_keeps_local_times_in_utc_and_the_default_reminders():
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    draft = parse_hearing(hearing_data(), now=now, tz=BISHKEK, topics=load_topics())
    assert draft.starts_at == datetime(2026, 3, 25, 4, 0, tzinfo=UTC)
    assert draft.reminder_minutes == (2880, 120)
    custom = parse_hearing(hearing_data(reminders="3d, 90m"), now=now, tz=BISHKEK)
    assert custom.reminder_minutes == (4320, 90)
    with pytest.raises(HearingError) as refused:
        parse_hearing(hearing_data(title=None, place={"ru": "x"}), now=now, tz=BISHKEK)
    assert [name for name, _ in refused.value.problems] == ["title", "place.ky"]


# ----- announcing ------------------------------------------------------------------------------


async def test_add_announces_to_the_topic_subscribers_with_date_time_and_place_in_the_body(
    app, tmp_path
):
    budget = await subscriber(app, "801", "ru")  # no topic chosen: everything
    await budget.command("/topics")
    await budget.press("topic:budget")
    await budget.press("topics:save")
    tariffs = await subscriber(app, "802", "ky")
    await tariffs.command("/topics")
    await tariffs.press("topic:tariffs")
    await tariffs.press("topics:save")
    await subscriber(app, "803", "ky")  # no topic chosen: everything
    declined = Chat(app.engine, user_key="804")
    await start_in(declined, "ru", announcements=False)
    await add_hearing(app, tmp_path)
    rows = await app.store.outbox.list(kind="hearing_announcement")
    assert sorted(row.recipient for row in rows) == ["801", "803"]
    assert {row.lane for row in rows} == {2}  # the bulk lane
    by_recipient = {row.recipient: row for row in rows}
    ru = await rendered_text(app, by_recipient["801"])
    assert "25 марта 2026 г., 10:00" in ru and "ул. Ленина, 12" in ru and MATERIALS in ru
    assert "Ожидается около 80 участников." in ru and "23 марта 2026 г., 18:00" in ru
    ky = await rendered_text(app, by_recipient["803"])
    assert "25-март, 2026-ж., 10:00" in ky and "Ленин көчөсү, 12" in ky
    rendered = await app.outbox.render(by_recipient["801"])
    assert [o.id for o in rendered.replies[0].options] == [
        "hearing:1:rsvp",
        "hearing:1:ics",
        "hearing:1:propose",
    ]
    assert rendered.replies[0].location == (42.8746, 74.5698)


async def test_stop_still_ends_every_announcement(app, tmp_path):
    chat = await subscriber(app, "811")
    await chat.text("STOP")
    await add_hearing(app, tmp_path)
    assert await app.store.outbox.list(kind="hearing_announcement") == []


# ----- the citizen's dialog --------------------------------------------------------------------


async def test_the_list_opens_a_hearing_and_rsvp_can_be_taken_back(app, tmp_path):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "821")
    await chat.press("menu:hearings")
    assert "Бюджет на 2027 год" in chat.said
    assert chat.options == ["hearing:1:open", "nav:menu"]
    await chat.press("hearing:1:open")
    assert "25 марта 2026 г., 10:00" in chat.said and "ул. Ленина, 12" in chat.said
    await chat.press("hearing:1:rsvp")
    assert await app.store.hearings.rsvp_count(hearing_id=1) == 1
    assert "hearing:1:unrsvp" in chat.options and "Записано: вы придёте." in chat.said
    await chat.press("hearing:1:unrsvp")
    assert await app.store.hearings.rsvp_count(hearing_id=1) == 0
    assert "hearing:1:rsvp" in chat.options


async def test_rsvp_on_a_cancelled_hearing_gets_a_polite_answer(app, tmp_path, clock):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "831")
    await chat.press("menu:complaint")  # writing a complaint meanwhile
    code, _ = await cli(app, "hearings", action="cancel", id=1, wait=False)
    assert code == 0
    clock.advance(days=2)
    await chat.press("hearing:1:rsvp")
    assert "отменены, поэтому ничего не записано" in chat.replies[0].text
    assert chat.options[0].startswith("cat:")  # the complaint's step again
    assert await app.store.hearings.rsvp_count(hearing_id=1) == 0
    [notice] = await app.store.outbox.list(kind="hearing_cancelled")
    text = await rendered_text(app, notice)
    assert "отменены" in text and "25 марта 2026 г., 10:00" in text and "ул. Ленина" in text
    code, out = await cli(app, "hearings", action="cancel", id=1, wait=False)
    assert code == 1 and "cannot be cancelled" in out


async def test_the_calendar_file_parses_with_timezone_alarm_place_and_materials(app, tmp_path):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "841", "ky")
    await chat.press("hearing:1:ics")
    [reply] = [r for r in chat.replies if r.document]
    assert reply.document.name == "hearing-1.ics" and reply.document.mime == "text/calendar"
    assert "2027-жылдын бюджети" in reply.text
    data = app.media.open_path(reply.document.path).read_bytes()
    calendar = Calendar.from_ical(data)
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Asia/Bishkek"
    [event] = calendar.walk("VEVENT")
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None and start.utcoffset().total_seconds() == 6 * 3600
    assert (start.hour, start.minute) == (10, 0)
    assert start.astimezone(UTC) == datetime(2026, 3, 25, 4, 0, tzinfo=UTC)
    assert event["DTSTART"].params["TZID"] == "Asia/Bishkek"
    assert "Ленин көчөсү, 12" in str(event["LOCATION"])
    assert MATERIALS in str(event["DESCRIPTION"])
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER").total_seconds() == -120 * 60


async def test_a_proposal_is_numbered_stored_forwarded_and_counted(app, tmp_path):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "851")
    await chat.press("hearing:1:propose")
    await chat.photo(image_attachment())
    assert "Фото прикреплено" in chat.said
    await chat.text("Предлагаю выделить средства на освещение улицы Манаса")
    assert "предложение № 1" in chat.said
    other = await subscriber(app, "852", "ky")
    await other.press("hearing:1:propose")
    await other.text("Мектептин жанына жол белгисин коюу керек")
    assert "Сунуштун номери: 2" in other.said
    [first, second] = await app.store.outbox.list(kind="hearing_proposal")
    assert first.recipient == "-100500" and first.citizen_id is None
    card = await app.outbox.render(first)
    assert "освещение улицы Манаса" in card.replies[0].text
    assert "№ 1" in card.replies[0].text and len(card.replies[0].photos) == 1
    assert "851" not in card.replies[0].text
    proposal = await app.store.hearings.proposal(proposal_id=1)
    assert proposal.photo_path and proposal.citizen_id == await citizen_id(app, chat)
    results = write(
        tmp_path,
        {
            "summary": {"ky": "Бюджет жактырылды.", "ru": "Бюджет одобрен."},
            "participants": 64,
            "proposals_accepted": 1,
            "protocol_url": "https://example.kg/protocol-1.pdf",
        },
        "results.yaml",
    )
    code, out = await cli(app, "hearings", action="results", id=1, file=results, wait=False)
    assert code == 0, out
    rows = await app.store.outbox.list(kind="hearing_results")
    text = await rendered_text(app, next(r for r in rows if r.recipient == "851"))
    assert "Получено предложений: 2; учтено: 1" in text and "Участников: 64" in text
    assert "protocol-1.pdf" in text and "25 марта 2026 г., 10:00" in text


async def test_proposals_after_the_deadline_are_refused_politely(app, tmp_path, clock):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "861")
    clock.advance(days=14)  # 24 March: past the 23 March deadline, before the hearing
    await chat.press("hearing:1:propose")
    assert "больше не принимаются" in chat.said
    assert (await app.store.citizens.with_conversation(channel="telegram", user_key="861"))[
        1
    ].state == State.MENU


async def test_update_without_moving_tells_nobody_and_a_move_tells_everyone(app, tmp_path):
    await add_hearing(app, tmp_path)
    chat = await subscriber(app, "871")
    await chat.press("hearing:1:rsvp")
    wording = write(tmp_path, {"materials_url": "https://example.kg/v2.pdf"}, "u1.yaml")
    code, out = await cli(app, "hearings", action="update", id=1, file=wording, wait=False)
    assert code == 0 and "nobody is told" in out
    moved = write(tmp_path, {"starts_at": "2026-03-26 15:00"}, "u2.yaml")
    code, out = await cli(app, "hearings", action="update", id=1, file=moved, wait=False)
    assert code == 0, out
    hearing = await app.store.hearings.get(hearing_id=1)
    assert (hearing.status, hearing.version) == ("changed", 2)
    [row] = await app.store.outbox.list(kind="hearing_changed")
    text = await rendered_text(app, row)
    assert "Изменились время или место" in text and "26 марта 2026 г., 15:00" in text
    assert "https://example.kg/v2.pdf" in text
    code, out = await cli(app, "hearings", action="show", id=1)
    assert code == 0 and "will come: 1" in out


async def test_topics_can_be_changed_later_and_all_clears_the_others(app):
    chat = await subscriber(app, "881")
    await chat.press("menu:announcements")
    await chat.press("sub:topics")
    assert chat.options[0] == "topic:all"
    await chat.press("topic:land")
    await chat.press("topic:tariffs")
    await chat.press("topics:save")
    cid = await citizen_id(app, chat)
    assert await app.store.hearings.topics_of(citizen_id=cid) == {"land", "tariffs"}
    await chat.command("/topics")
    await chat.press("topic:all")
    await chat.press("topics:save")
    assert await app.store.hearings.topics_of(citizen_id=cid) == {"all"}


async def test_those_who_said_they_would_come_are_invited_to_rate_the_held_hearing(
    app, tmp_path, clock
):
    from bot.jobs.survey_invitations import SurveyInviter

    await add_hearing(app, tmp_path)
    coming = await subscriber(app, "861")
    await coming.press("hearing:1:rsvp")
    not_coming = await subscriber(app, "862")
    inviter = SurveyInviter.of(app)
    assert await inviter.run_once() == 0  # not held yet
    results = write(
        tmp_path,
        {"summary": {"ky": "Бюджет жактырылды.", "ru": "Бюджет одобрен."}, "participants": 40},
        "results.yaml",
    )
    code, out = await cli(app, "hearings", action="results", id=1, file=results, wait=False)
    assert code == 0, out
    assert await inviter.run_once() == 1
    assert await inviter.run_once() == 0  # once
    [invitation] = await app.store.outbox.list(kind="survey_invitation")
    assert invitation.recipient == "861"
    assert invitation.recipient != not_coming.user_key
    assert "слушани" in await rendered_text(app, invitation)
