"""The Kyrgyz working-day calendar and the legal deadlines counted on it.

Days off are Saturdays, Sundays and the public holidays of the `holidays` package for
Kyrgyzstan ("KG": the Labour Code of 23 January 2025 with its New Year and May holidays, the
Cabinet's day-off transfers, Orozo Ait and Kurman Ait). Weekend days the package knows were
worked in exchange for a day off (e.g. Saturday 11 January 2025) are working days. For years
after the package's confirmed ones, Orozo Ait and Kurman Ait are estimates (`estimated`).
`bot/content/calendar.json` adds what the government declares per year (extra days off, extra
working days) and wins over the package; `load_calendar` checks it at start-up.

Counting rules (Order No. 98 of 5 March 2014, seed 001 lines 5296-5318; Law No. 67 of
4 May 2007), for a registration at any time of day, on the local (Asia/Bishkek) date:
- a period never counts the day of registration: the first counted day is the next day;
- working days: the first counted day is the next working day, so a complaint registered on a
  weekend or holiday starts counting on the first working day after it;
- calendar days: counted from the day after the registration date whatever that day is (the bot
  registers at once, so the registration date is the real one even on a day off); a period whose
  last day is not a working day ends on the next working day (the general rule for computing
  periods in Kyrgyz civil law), so no deadline falls on a day nobody works;
- a deadline is the end (23:59:59 local) of its last day;
- an extension moves the answer deadline by at most 30 calendar days (Order No. 98, seed 001
  lines 5314-5318: "30 күндө ашык эмес узартылышы мүмкүн").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date, get_month_names

BISHKEK = ZoneInfo("Asia/Bishkek")
MAX_EXTENSION_DAYS = 30
CALENDAR_FILE = "calendar.json"
KINDS = ("off", "working")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[0-9]{4}")


class CalendarError(ValueError):
    """Broken calendar data; the message names the entry."""


@dataclass(frozen=True)
class DayChange:
    """One government-declared change: `day` is off (working=False) or working (True)."""

    day: date
    working: bool
    note: str
    source: str


class WorkCalendar:
    """Working days of Kyrgyzstan: the `holidays` package plus declared changes."""

    def __init__(self, changes: tuple[DayChange, ...] = ()) -> None:
        self.changes = {change.day: change for change in changes}
        self._public = holidays.country_holidays("KG", language="en_US")
        self._years: set[int] = set()

    def _ensure(self, year: int) -> None:
        """Load `year` and the next one (a transfer may reach back into the previous year)."""
        if year not in self._years:
            # A lookup loads the year into the package's calendar (expand=True).
            _ = date(year, 1, 1) in self._public, date(year + 1, 1, 1) in self._public
            self._years.add(year)

    def is_working_day(self, day: date) -> bool:
        """Whether `day` (a local date) is a working day."""
        day = _plain(day)
        if day in self.changes:
            return self.changes[day].working
        self._ensure(day.year)
        if day in self._public:
            return False
        if day.weekday() in self._public.weekend:
            return day in self._public.weekend_workdays
        return True

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (the first counted is the next working day);
        a negative n counts back, and 0 gives `start` itself."""
        day, step, left = _plain(start), (1 if n > 0 else -1), abs(n)
        while left:
            day += timedelta(days=step)
            if self.is_working_day(day):
                left -= 1
        return day

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        day = _plain(day)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_days(self, start: date, n: int, *, working: bool) -> date:
        """The last day of a period of n (>= 0) working or calendar days after `start`; a
        calendar period ending on a day off ends on the next working day."""
        if n < 0:
            raise ValueError("a period has at least 0 days")
        if working:
            return self.add_working_days(start, n)
        return self.next_working_day(_plain(start) + timedelta(days=n))

    def due(self, start: datetime, days: int, *, working: bool, tz: tzinfo = BISHKEK) -> datetime:
        """The end (23:59:59 in `tz`) of the last day of a period of `days` working or calendar
        days after `start`, a timezone-aware moment of registration at any time of day (only
        its local date counts). Registered on a weekend or holiday: a working-day period starts
        counting on the next working day; a calendar period on the next calendar day, and if
        its last day is a day off it ends on the next working day."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        last = self.add_days(start.astimezone(tz).date(), days, working=working)
        return datetime.combine(last, time(23, 59, 59), tzinfo=tz)

    def estimated(self, year: int) -> dict[date, str]:
        """The package's holidays in `year` whose date is only an estimate (Orozo Ait, Kurman
        Ait in years the Kyrgyz side has not confirmed): check them against the decree."""
        self._ensure(year)
        return {
            day: name
            for day, name in sorted(self._public.items())
            if day.year == year and "estimated" in name
        }


def extension_allowed(answer_due: datetime, new_due: datetime, *, tz: tzinfo = BISHKEK) -> bool:
    """Whether `new_due` extends the answer deadline `answer_due` by 1 to 30 calendar days
    (compared as local dates)."""
    extra = (new_due.astimezone(tz).date() - answer_due.astimezone(tz).date()).days
    return 0 < extra <= MAX_EXTENSION_DAYS


def kyrgyz_dative(word: str) -> str:
    """The dative (-га/-ге/-го/-гө, -ка/-ке/-ко/-кө) of a Kyrgyz word, loanwords in -ь included:
    "декабрь" → "декабрга", "март" → "мартка", "апрель" → "апрелге"."""
    stem = word.removesuffix("ь").removesuffix("Ь")
    consonant = "к" if stem[-1].lower() in "кпстфхцчшщ" else "г"
    vowels = [letter for letter in stem.lower() if letter in _SUFFIX_VOWEL]
    return stem + consonant + (_SUFFIX_VOWEL[vowels[-1]] if vowels else "а")


# The low suffix vowel after each stem vowel: after у/ю it is а, after ү it is ө.
_SUFFIX_VOWEL = {
    **dict.fromkeys("аыяую", "а"),
    **dict.fromkeys("еэи", "е"),
    **dict.fromkeys("оё", "о"),
    **dict.fromkeys("өү", "ө"),
}


def until_phrase(day: date, locale: str, *, tz: tzinfo = BISHKEK) -> str:
    """ "Until <day> <month>" in Kyrgyz ("16-декабрга чейин") or Russian ("до 16 декабря"),
    month names from Babel; a datetime is first turned into its local date in `tz`."""
    if isinstance(day, datetime):
        day = day.astimezone(tz).date()
    if locale == "ky":
        month = get_month_names("wide", "format", "ky")[day.month]
        return f"{day.day}-{kyrgyz_dative(month)} чейин"
    if locale == "ru":
        return "до " + format_date(day, "d MMMM", locale="ru")
    raise ValueError(f"no date phrase for locale {locale!r}")


def _plain(day: date) -> date:
    """A date, also when given a datetime (its own calendar date)."""
    return day.date() if isinstance(day, datetime) else day


def parse_calendar(data: object, name: str = CALENDAR_FILE) -> tuple[DayChange, ...]:
    """Validate calendar data (parsed JSON); CalendarError names the broken entry."""
    if not isinstance(data, dict):
        raise CalendarError(f"{name}: must be an object with one key per year")
    changes: dict[date, str] = {}
    result = []
    for year, body in data.items():
        if year == "_comment":
            continue
        if not _YEAR.fullmatch(year):
            raise CalendarError(f'{name}: key {year!r} is not a year like "2026"')
        if not isinstance(body, dict) or set(body) - set(KINDS):
            raise CalendarError(f"{name}: {year}: must be an object with only 'off' and 'working'")
        for kind in KINDS:
            entries = body.get(kind, [])
            if not isinstance(entries, list):
                raise CalendarError(f"{name}: {year}: {kind!r} must be a list")
            for index, entry in enumerate(entries):
                where = f"{name}: {year} {kind}[{index}]"
                change = _change(entry, where, int(year), kind == "working")
                if change.day in changes:
                    raise CalendarError(
                        f"{where}: {change.day} is already listed under {changes[change.day]!r}"
                    )
                changes[change.day] = kind
                result.append(change)
    return tuple(result)


def _change(entry: object, where: str, year: int, working: bool) -> DayChange:
    if not isinstance(entry, dict):
        raise CalendarError(f"{where}: must be an object with date, note and source")
    raw = entry.get("date")
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        raise CalendarError(f"{where}: date {raw!r} is not an ISO date like 2026-01-08")
    try:
        day = date.fromisoformat(raw)
    except ValueError as error:
        raise CalendarError(f"{where}: date {raw!r} does not exist") from error
    where = f"{where} ({raw})"
    if day.year != year:
        raise CalendarError(f"{where}: the date is not in {year}")
    texts = {}
    for field in ("note", "source"):
        text = entry.get(field)
        if not isinstance(text, str) or not text.strip():
            raise CalendarError(f"{where}: {field} is missing")
        texts[field] = text.strip()
    unknown = sorted(set(entry) - {"date", "note", "source"})
    if unknown:
        raise CalendarError(f"{where}: unknown fields {unknown}")
    return DayChange(day, working, texts["note"], texts["source"])


def load_calendar(path: Path | None = None) -> WorkCalendar:
    """Read and validate a calendar file (`path`, else the built-in `bot/content/calendar.json`)
    and build the calendar; broken data raises CalendarError at start-up."""
    name = str(path) if path is not None else CALENDAR_FILE
    try:
        if path is not None:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = (resources.files("bot.content") / CALENDAR_FILE).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        raise CalendarError(f"{name}: cannot be read: {error}") from error
    except json.JSONDecodeError as error:
        raise CalendarError(f"{name}: not valid JSON: {error}") from error
    return WorkCalendar(parse_calendar(data, name))
