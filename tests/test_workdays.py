"""The Kyrgyz working-day calendar: due dates, the data file's overrides, extensions, phrases."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.workdays import (
    BISHKEK,
    CalendarError,
    WorkCalendar,
    extension_allowed,
    kyrgyz_dative,
    load_calendar,
    parse_calendar,
    until_phrase,
)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar()


def local(y, m, d, hh=12, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BISHKEK)


def end_of(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=BISHKEK)


def dues(cal, start):
    """The four deadlines of a complaint registered at `start`."""
    return (
        cal.due(start, 3, working=True),
        cal.due(start, 5, working=False),
        cal.due(start, 14, working=False),
        cal.due(start, 10, working=True),
    )


def test_friday_before_a_holiday(cal):
    # Friday 28 August 2026; Monday 31 August is Independence Day.
    assert not cal.is_working_day(date(2026, 8, 31))
    expected = (end_of(2026, 9, 3), end_of(2026, 9, 2), end_of(2026, 9, 11), end_of(2026, 9, 14))
    assert dues(cal, local(2026, 8, 28, 9, 0)) == expected
    # Late evening in Bishkek is still Friday: the time of day does not matter.
    assert dues(cal, datetime(2026, 8, 28, 17, 30, tzinfo=UTC)) == expected


def test_the_local_date_counts_not_the_utc_one(cal):
    # 20:00 UTC on Friday is 02:00 on Saturday in Bishkek: calendar days start a day later.
    start = datetime(2026, 8, 28, 20, 0, tzinfo=UTC)
    assert cal.due(start, 5, working=False) == end_of(2026, 9, 3)
    assert cal.due(start, 3, working=True) == end_of(2026, 9, 3)
    assert cal.due(start, 5, working=False).utcoffset() == timedelta(hours=6)


def test_a_calendar_period_ending_in_the_may_holidays_ends_on_the_next_working_day(cal):
    # Friday 24 April 2026: 14 days end on Friday 8 May (May holidays) -> Monday 11 May.
    expected = (end_of(2026, 4, 29), end_of(2026, 4, 29), end_of(2026, 5, 11), end_of(2026, 5, 18))
    assert dues(cal, local(2026, 4, 24)) == expected


def test_registered_on_a_holiday_counts_from_the_next_working_day(cal):
    # Saturday 2 May 2026, in the May holidays (1-9 May).
    start = local(2026, 5, 2, 22, 15)
    assert cal.due(start, 1, working=True) == end_of(2026, 5, 11)
    assert cal.due(start, 3, working=True) == end_of(2026, 5, 13)
    # 14 calendar days end on Saturday 16 May -> Monday 18 May.
    assert cal.due(start, 14, working=False) == end_of(2026, 5, 18)


def test_8_and_9_january_2026_are_days_off(cal):
    for day in (date(2026, 1, 8), date(2026, 1, 9)):
        assert not cal.is_working_day(day)
        assert WorkCalendar().is_working_day(day)  # the package alone does not know them
        assert "835" in cal.changes[day].source
    assert cal.is_working_day(date(2026, 1, 12))
    # Registered on Tuesday 30 December 2025: 31 December, then 12 and 13 January.
    start = local(2025, 12, 30)
    assert cal.due(start, 3, working=True) == end_of(2026, 1, 13)
    assert WorkCalendar().due(start, 3, working=True) == end_of(2026, 1, 9)


def test_a_working_saturday_from_the_data_file(tmp_path):
    data = {
        "2026": {
            "working": [{"date": "2026-02-07", "note": "Saturday worked", "source": "Decree X"}],
            "off": [{"date": "2026-02-09", "note": "Monday off", "source": "Decree X"}],
        }
    }
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    cal = load_calendar(path)
    assert cal.is_working_day(date(2026, 2, 7))
    assert not cal.is_working_day(date(2026, 2, 9))
    # From Friday 6 February the next working day is Saturday 7, then Tuesday 10.
    assert cal.add_working_days(date(2026, 2, 6), 1) == date(2026, 2, 7)
    assert cal.add_working_days(date(2026, 2, 6), 2) == date(2026, 2, 10)
    assert WorkCalendar().add_working_days(date(2026, 2, 6), 1) == date(2026, 2, 9)


def test_the_package_transfer_of_january_2025(cal):
    # Thursday 2 January 2025 was off in exchange for Saturday 11 January.
    assert not cal.is_working_day(date(2025, 1, 2))
    assert cal.is_working_day(date(2025, 1, 11))
    assert not cal.is_working_day(date(2025, 1, 18))


@pytest.mark.parametrize(
    "day",
    [date(2024, 4, 10), date(2024, 6, 17), date(2025, 6, 6), date(2026, 3, 20), date(2026, 5, 27)],
    ids=["orozo-2024", "kurman-2024", "kurman-2025", "orozo-2026", "kurman-2026"],
)
def test_orozo_ait_and_kurman_ait_are_days_off(cal, day):
    assert day.weekday() < 5
    assert not cal.is_working_day(day)


def test_future_eid_dates_are_marked_estimated(cal):
    assert cal.estimated(2025) == {}
    assert sorted(cal.estimated(2027)) == [date(2027, 3, 9), date(2027, 5, 16)]


@pytest.mark.parametrize(
    "day", [date(2026, 2, 23), date(2026, 4, 7), date(2025, 11, 7), date(2026, 3, 19)]
)
def test_commemorative_days_and_plain_weekdays_are_working_days(cal, day):
    assert cal.is_working_day(day)


def test_working_day_arithmetic(cal):
    assert cal.add_working_days(date(2026, 1, 12), 0) == date(2026, 1, 12)
    # Back from Monday 12 January 2026 over the New Year break to Tuesday 30 December 2025.
    assert cal.add_working_days(date(2026, 1, 12), -2) == date(2025, 12, 30)
    assert cal.add_days(date(2026, 8, 28), 0, working=False) == date(2026, 8, 28)
    assert cal.add_days(date(2026, 8, 29), 0, working=False) == date(2026, 9, 1)
    with pytest.raises(ValueError):
        cal.add_days(date(2026, 8, 28), -1, working=False)
    with pytest.raises(ValueError):
        cal.due(datetime(2026, 8, 28, 12, 0), 3, working=True)


def test_extension_of_at_most_30_days(cal):
    answer_due = cal.due(local(2026, 8, 28), 14, working=False)
    assert extension_allowed(answer_due, answer_due + timedelta(days=30))
    assert not extension_allowed(answer_due, answer_due + timedelta(days=31))
    assert not extension_allowed(answer_due, answer_due)
    assert not extension_allowed(answer_due, answer_due - timedelta(days=1))
    # Compared as Bishkek dates: 30 days later at 23:59:59 local is a UTC moment on that day.
    assert extension_allowed(answer_due, (answer_due + timedelta(days=30)).astimezone(UTC))
    assert not extension_allowed(answer_due, end_of(2026, 10, 12))


GOOD = {
    "_comment": "test",
    "2026": {
        "off": [{"date": "2026-01-08", "note": "New Year", "source": "Resolution No. 835"}],
        "working": [{"date": "2026-02-07", "note": "Saturday", "source": "Decree X"}],
    },
}


def _bad(change):
    data = copy.deepcopy(GOOD)
    change(data)
    return data


def _set(kind, field, value):
    def change(data):
        data["2026"][kind][0][field] = value

    return change


def _drop(kind, field):
    def change(data):
        del data["2026"][kind][0][field]

    return change


def _also_working(data):
    data["2026"]["working"].append(dict(data["2026"]["off"][0]))


def _twice_off(data):
    data["2026"]["off"].append(dict(data["2026"]["off"][0]))


def _other_year(data):
    data["2025"] = {"off": [{"date": "2026-01-09", "note": "x", "source": "y"}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("off", "date", "2026-1-8"), "2026 off[0]: date '2026-1-8' is not an ISO date"),
        (_set("off", "date", "08.01.2026"), "2026 off[0]: date '08.01.2026' is not an ISO"),
        (_set("off", "date", 20260108), "2026 off[0]: date 20260108 is not an ISO"),
        (_set("off", "date", "2026-02-30"), "2026 off[0]: date '2026-02-30' does not exist"),
        (_set("off", "date", "2027-01-08"), "2026 off[0] (2027-01-08): the date is not in 2026"),
        (_other_year, "2025 off[0] (2026-01-09): the date is not in 2025"),
        (_drop("off", "note"), "2026 off[0] (2026-01-08): note is missing"),
        (_set("working", "note", "  "), "2026 working[0] (2026-02-07): note is missing"),
        (_drop("working", "source"), "2026 working[0] (2026-02-07): source is missing"),
        (_set("off", "extra", 1), "2026 off[0] (2026-01-08): unknown fields ['extra']"),
        (_also_working, "2026 working[1]: 2026-01-08 is already listed under 'off'"),
        (_twice_off, "2026 off[1]: 2026-01-08 is already listed under 'off'"),
        (lambda d: d.update({"26": {}}), "key '26' is not a year"),
        (lambda d: d["2026"].update({"holidays": []}), "2026: must be an object with only"),
        (lambda d: d["2026"].update({"off": {}}), "2026: 'off' must be a list"),
        (lambda d: d["2026"]["off"].append("2026-01-09"), "2026 off[1]: must be an object"),
    ],
    ids=[
        "short-date",
        "dotted-date",
        "number-date",
        "no-such-day",
        "wrong-year",
        "wrong-year-key",
        "no-note",
        "blank-note",
        "no-source",
        "unknown-field",
        "off-and-working",
        "duplicate",
        "bad-year-key",
        "unknown-list",
        "list-not-list",
        "entry-not-object",
    ],
)
def test_bad_entries_are_refused_by_name(change, message):
    assert parse_calendar(GOOD)  # the base is valid
    with pytest.raises(CalendarError) as error:
        parse_calendar(_bad(change))
    assert message in str(error.value)
    assert str(error.value).startswith("calendar.json: ")


def test_broken_files_are_refused(tmp_path):
    with pytest.raises(CalendarError, match="not valid JSON"):
        (tmp_path / "a.json").write_text("{", encoding="utf-8")
        load_calendar(tmp_path / "a.json")
    with pytest.raises(CalendarError, match="cannot be read"):
        load_calendar(tmp_path / "missing.json")
    with pytest.raises(CalendarError, match="must be an object"):
        (tmp_path / "b.json").write_text("[]", encoding="utf-8")
        load_calendar(tmp_path / "b.json")


def test_the_built_in_file_is_valid():
    changes = load_calendar().changes
    assert sorted(changes) == [date(2026, 1, 8), date(2026, 1, 9)]
    assert all(change.note and change.source and not change.working for change in changes.values())


KY_DATIVE = [
    "январга",
    "февралга",
    "мартка",
    "апрелге",
    "майга",
    "июнга",
    "июлга",
    "августка",
    "сентябрга",
    "октябрга",
    "ноябрга",
    "декабрга",
]
RU_GENITIVE = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]


@pytest.mark.parametrize("month", range(1, 13))
def test_until_phrases_for_every_month(month):
    day = date(2026, month, 16)
    assert until_phrase(day, "ky") == f"16-{KY_DATIVE[month - 1]} чейин"
    assert until_phrase(day, "ru") == f"до 16 {RU_GENITIVE[month - 1]}"


def test_until_phrase_uses_the_bishkek_date():
    moment = datetime(2026, 12, 15, 20, 0, tzinfo=UTC)  # 02:00 on 16 December in Bishkek
    assert until_phrase(moment, "ky") == "16-декабрга чейин"
    assert until_phrase(moment, "ru") == "до 16 декабря"
    assert until_phrase(date(2027, 1, 1), "ky") == "1-январга чейин"
    with pytest.raises(ValueError):
        until_phrase(date(2026, 1, 1), "en")


@pytest.mark.parametrize(
    ("word", "dative"),
    [
        ("суу", "сууга"),
        ("тоо", "тоого"),
        ("үй", "үйгө"),
        ("көл", "көлгө"),
        ("китеп", "китепке"),
        ("бут", "бутка"),
        ("шаар", "шаарга"),
        ("мектеп", "мектепке"),
    ],
)
def test_kyrgyz_dative_follows_vowel_harmony(word, dative):
    assert kyrgyz_dative(word) == dative
