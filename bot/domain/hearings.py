"""Public hearings: what a hearing holds, the organisers' YAML files, topics, and the .ics file.

A notice must carry, in Kyrgyz and Russian (handbook 001: 2848-2858): the topic and nature of
the question; who takes part and roughly how many; date, time and place; where and when the
materials can be read beforehand; how and until when proposals can be submitted. After the
hearing: the decisions, the number of participants and of proposals received and taken into
account, and a link to the protocol (001: 2907-2948, 8027-8049).

Organisers write a hearing as a YAML file (see README, "Hearings and announcements");
`parse_hearing` refuses it with every wrong field named. Times in the file are local
(Asia/Bishkek unless configured otherwise) and stored in UTC. No message text lives here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import SUPPORTED_LOCALES

ANNOUNCED, CHANGED, CANCELLED, HELD = "announced", "changed", "cancelled", "held"
STANDING = frozenset({ANNOUNCED, CHANGED})
# bilingual fields of a hearing, each {ky: ..., ru: ...}
TEXT_FIELDS = ("title", "question", "participants", "place", "materials", "proposals")
RESULT_TEXT_FIELDS = ("summary",)
DEFAULT_REMINDERS = "2d,2h"
MAX_TEXT = 1500
_OFFSET = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNIT_MINUTES = {"d": 1440, "h": 60, "m": 1}


class HearingError(ValueError):
    """A hearing file is refused; `problems` lists (field, what is wrong)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {what}" for name, what in problems))


@dataclass(frozen=True)
class Topic:
    id: str
    labels: dict[str, str]

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels[SUPPORTED_LOCALES[0]]


ALL_TOPICS = "all"


def load_topics(folder: Path | None = None) -> tuple[Topic, ...]:
    """`topics.json` (from `folder`, else the built-in one); both languages, "all" first."""
    if folder is not None and (folder / "topics.json").is_file():
        raw = json.loads((folder / "topics.json").read_text(encoding="utf-8"))
    else:
        text = (resources.files("bot.content") / "topics.json").read_text(encoding="utf-8")
        raw = json.loads(text)
    topics = []
    for entry in raw["topics"]:
        labels = {locale: (entry.get(locale) or "").strip() for locale in SUPPORTED_LOCALES}
        if not entry.get("id") or not all(labels.values()):
            raise ValueError(f"topics.json: topic {entry.get('id')!r} needs an id and both labels")
        topics.append(Topic(entry["id"], labels))
    if not topics or topics[0].id != ALL_TOPICS:
        raise ValueError("topics.json: the first topic must be 'all'")
    return tuple(topics)


def parse_offsets(text: str | list | tuple) -> tuple[int, ...]:
    """ "2d,2h" (or a list of such items) as minutes before the start, largest first."""
    items = text.split(",") if isinstance(text, str) else [str(item) for item in text]
    minutes = []
    for item in items:
        match = _OFFSET.match(item)
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"{item.strip()!r} is not a time before the hearing like 2d, 2h, 30m")
        minutes.append(int(match.group(1)) * _UNIT_MINUTES[match.group(2)])
    return tuple(sorted(set(minutes), reverse=True))


@dataclass(frozen=True)
class HearingResults:
    summary: dict[str, str]
    participants: int
    proposals_accepted: int
    protocol_url: str | None = None


@dataclass(frozen=True)
class Hearing:
    id: int
    topic: str
    status: str
    version: int
    starts_at: datetime
    duration_minutes: int
    latitude: float | None
    longitude: float | None
    materials_url: str | None
    proposals_until: datetime
    expected_participants: int | None
    reminder_minutes: tuple[int, ...]
    texts: dict[str, dict[str, str]]
    results: HearingResults | None
    created_at: datetime
    updated_at: datetime

    def text(self, name: str, locale: str) -> str:
        return self.texts.get(locale, {}).get(name) or self.texts[SUPPORTED_LOCALES[0]][name]

    @property
    def stands(self) -> bool:
        """Announced or changed: not cancelled, not held."""
        return self.status in STANDING

    @property
    def location(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)

    def open_for_proposals(self, now: datetime) -> bool:
        return self.stands and now <= self.proposals_until


@dataclass(frozen=True)
class HearingDraft:
    """A hearing as read from an organiser's file, checked, times in UTC."""

    topic: str
    starts_at: datetime
    duration_minutes: int
    latitude: float | None
    longitude: float | None
    materials_url: str | None
    proposals_until: datetime
    expected_participants: int | None
    reminder_minutes: tuple[int, ...]
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    def place_key(self) -> tuple:
        """What a change of which makes the hearing 'changed' (time or place)."""
        places = tuple(self.texts[locale]["place"] for locale in SUPPORTED_LOCALES)
        return (self.starts_at, self.latitude, self.longitude, places)


def hearing_place_key(hearing: Hearing) -> tuple:
    places = tuple(hearing.texts[locale]["place"] for locale in SUPPORTED_LOCALES)
    return (hearing.starts_at, hearing.latitude, hearing.longitude, places)


def _local_time(value: Any, name: str, tz: ZoneInfo, problems: list) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    else:
        moment = None
    if moment is None:
        if isinstance(value, date):
            problems.append((name, "give the time too, like 2026-04-02 10:00"))
        else:
            problems.append((name, "expected a date and time like 2026-04-02 10:00"))
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _bilingual(data: dict, name: str, problems: list, *, required: bool = True) -> dict | None:
    value = data.get(name)
    if value is None:
        if required:
            problems.append((name, "missing (needs ky and ru)"))
        return None
    if not isinstance(value, dict):
        problems.append((name, "expected both languages: ky: ... and ru: ..."))
        return None
    found = {}
    for locale in SUPPORTED_LOCALES:
        text = value.get(locale)
        if not isinstance(text, str) or not text.strip():
            problems.append((f"{name}.{locale}", "missing translation"))
        elif len(text) > MAX_TEXT:
            problems.append((f"{name}.{locale}", f"longer than {MAX_TEXT} characters"))
        else:
            found[locale] = text.strip()
    return found


def _number(data: dict, name: str, problems: list, lo: float, hi: float, kind=float):
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        problems.append((name, f"expected a number from {lo:g} to {hi:g}"))
        return None
    if kind is int and value != int(value):
        problems.append((name, "expected a whole number"))
        return None
    return kind(value)


def _url(data: dict, name: str, problems: list) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        problems.append((name, "expected a link starting with https://"))
        return None
    return value.strip()


def parse_hearing(
    data: Any,
    *,
    now: datetime,
    tz: ZoneInfo,
    default_reminders: str = DEFAULT_REMINDERS,
    topics: tuple[Topic, ...] = (),
    base: Hearing | None = None,
) -> HearingDraft:
    """Check an organiser's hearing (a YAML mapping); `base`: the hearing being updated, whose
    values stand for the fields the file leaves out. Raises HearingError naming each field."""
    if not isinstance(data, dict):
        raise HearingError([("file", "expected a mapping of fields (topic:, starts_at:, ...)")])
    if base is not None:
        data = _merged(base, data, tz)
    problems: list[tuple[str, str]] = []
    known = {topic.id for topic in topics} - {ALL_TOPICS}
    topic = data.get("topic")
    if not isinstance(topic, str) or (known and topic not in known):
        choices = ", ".join(sorted(known)) or "a topic id"
        problems.append(("topic", f"expected one of: {choices}"))
    texts_by_field = {name: _bilingual(data, name, problems) for name in TEXT_FIELDS}
    starts_at = _local_time(data.get("starts_at"), "starts_at", tz, problems)
    until = _local_time(data.get("proposals_until"), "proposals_until", tz, problems)
    if starts_at is not None and starts_at <= now:
        problems.append(("starts_at", "the date is in the past"))
    if starts_at is not None and until is not None and until > starts_at:
        problems.append(("proposals_until", "the deadline for proposals is after the hearing"))
    duration = _number(data, "duration_minutes", problems, 15, 24 * 60, int) or 120
    latitude = _number(data, "latitude", problems, -90, 90)
    longitude = _number(data, "longitude", problems, -180, 180)
    if (latitude is None) != (longitude is None) and not any(
        name in ("latitude", "longitude") for name, _ in problems
    ):
        problems.append(("latitude", "give both latitude and longitude, or neither"))
    expected = _number(data, "expected_participants", problems, 1, 1_000_000, int)
    try:
        reminders = parse_offsets(data.get("reminders") or default_reminders)
    except ValueError as error:
        problems.append(("reminders", str(error)))
        reminders = ()
    materials_url = _url(data, "materials_url", problems)
    unknown = set(data) - {
        *TEXT_FIELDS,
        "topic",
        "starts_at",
        "proposals_until",
        "duration_minutes",
        "latitude",
        "longitude",
        "expected_participants",
        "reminders",
        "materials_url",
    }
    problems += [(name, "unknown field") for name in sorted(unknown, key=str)]
    if problems:
        raise HearingError(problems)
    texts = {
        locale: {name: texts_by_field[name][locale] for name in TEXT_FIELDS}
        for locale in SUPPORTED_LOCALES
    }
    return HearingDraft(
        topic=topic,
        starts_at=starts_at,
        duration_minutes=duration,
        latitude=latitude,
        longitude=longitude,
        materials_url=materials_url,
        proposals_until=until,
        expected_participants=expected,
        reminder_minutes=reminders,
        texts=texts,
    )


def _merged(base: Hearing, data: dict, tz: ZoneInfo) -> dict:
    """The hearing's current values as a file, with the new file's fields on top."""
    current: dict[str, Any] = {
        "topic": base.topic,
        "starts_at": base.starts_at.astimezone(tz).replace(tzinfo=None).isoformat(),
        "proposals_until": base.proposals_until.astimezone(tz).replace(tzinfo=None).isoformat(),
        "duration_minutes": base.duration_minutes,
        "reminders": [f"{minutes}m" for minutes in base.reminder_minutes],
    }
    for name, value in (
        ("latitude", base.latitude),
        ("longitude", base.longitude),
        ("materials_url", base.materials_url),
        ("expected_participants", base.expected_participants),
    ):
        if value is not None:
            current[name] = value
    for name in TEXT_FIELDS:
        current[name] = {locale: base.texts[locale][name] for locale in SUPPORTED_LOCALES}
    for name, value in data.items():
        if name in TEXT_FIELDS and isinstance(value, dict) and isinstance(current.get(name), dict):
            current[name] = current[name] | value
        else:
            current[name] = value
    return current


def parse_results(data: Any) -> HearingResults:
    """The outcome of a held hearing: summary (ky, ru), participants, proposals taken into
    account, and the protocol's link. Raises HearingError naming each wrong field."""
    if not isinstance(data, dict):
        raise HearingError([("file", "expected a mapping of fields (summary:, participants:)")])
    problems: list[tuple[str, str]] = []
    summary = _bilingual(data, "summary", problems)
    participants = _number(data, "participants", problems, 0, 1_000_000, int)
    if "participants" not in data:
        problems.append(("participants", "missing"))
    accepted = _number(data, "proposals_accepted", problems, 0, 1_000_000, int)
    protocol = _url(data, "protocol_url", problems)
    unknown = set(data) - {"summary", "participants", "proposals_accepted", "protocol_url"}
    problems += [(name, "unknown field") for name in sorted(unknown, key=str)]
    if problems:
        raise HearingError(problems)
    return HearingResults(summary, participants or 0, accepted or 0, protocol)


@dataclass(frozen=True)
class AnnouncementDraft:
    """A general announcement: the text in both languages, a topic, an optional file."""

    topic: str
    texts: dict[str, str]
    photo: str | None = None  # a file to attach, path on disk
    document: str | None = None


def parse_announcement(data: Any, *, topics: tuple[Topic, ...] = ()) -> AnnouncementDraft:
    if not isinstance(data, dict):
        raise HearingError([("file", "expected a mapping of fields (topic:, text:)")])
    problems: list[tuple[str, str]] = []
    known = {topic.id for topic in topics}
    topic = data.get("topic", ALL_TOPICS)
    if not isinstance(topic, str) or (known and topic not in known):
        problems.append(("topic", f"expected one of: {', '.join(sorted(known))}"))
    texts = _bilingual(data, "text", problems)
    files = {}
    for name in ("photo", "document"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or not Path(value).is_file()):
            problems.append((name, "no such file"))
        files[name] = value
    unknown = set(data) - {"topic", "text", "photo", "document"}
    problems += [(name, "unknown field") for name in sorted(unknown, key=str)]
    if problems:
        raise HearingError(problems)
    return AnnouncementDraft(topic, texts, files["photo"], files["document"])


def hearing_ics(hearing: Hearing, locale: str, tz: ZoneInfo, alarm_minutes: int) -> bytes:
    """An iCalendar file of the hearing in `locale`: the event in `tz` with its VTIMEZONE, the
    place (and map point), the materials link in the description, and a reminder alarm."""
    from icalendar import Alarm, Calendar, Event, vGeo

    calendar = Calendar()
    calendar.add("prodid", "-//citizen-bot//hearings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"hearing-{hearing.id}@citizen-bot")
    event.add("sequence", hearing.version - 1)
    event.add("dtstamp", hearing.updated_at.astimezone(UTC))
    start = hearing.starts_at.astimezone(tz)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=hearing.duration_minutes))
    event.add("summary", hearing.text("title", locale))
    event.add("location", hearing.text("place", locale))
    if hearing.location:
        event.add("geo", vGeo(hearing.location))
    lines = [
        hearing.text("question", locale),
        hearing.text("materials", locale),
        hearing.text("proposals", locale),
    ]
    if hearing.materials_url:
        lines.append(hearing.materials_url)
        event.add("url", hearing.materials_url)
    event.add("description", "\n\n".join(lines))
    if hearing.status == CANCELLED:
        event.add("status", "CANCELLED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", hearing.text("title", locale))
    alarm.add("trigger", timedelta(minutes=-alarm_minutes))
    event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
