"""The legal deadlines of a complaint, on the Kyrgyz working-day calendar.

Law No. 67 "On the procedure of considering citizens' appeals" and Order No. 98 fix them
(`shared/DOMAIN.md`): registration within 1 day; acknowledgement, with number and date, within
3 working days; forwarding to the competent body within 5 days; an answer on the merits within
14 days (the number, and whether it counts calendar or working days, is configuration: a bill to
cut it to 10 working days passed parliament in 2026); an extension by at most 30 days beyond the
answer deadline, with a reason.

A calendar-day period whose last day is a day off ends on the next working day (`WorkCalendar`).
Each deadline ends at 23:59:59 local time of its last day. The group is reminded at 09:00 local
time a configurable number of working days before, and a supervisor is told once it has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from bot.domain.workdays import WorkCalendar, extension_allowed

REGISTRATION = "registration"
ACKNOWLEDGEMENT = "acknowledgement"
FORWARDING = "forwarding"
ANSWER = "answer"
KINDS = (REGISTRATION, ACKNOWLEDGEMENT, FORWARDING, ANSWER)

REGISTRATION_DAYS = 1  # calendar days
ACKNOWLEDGEMENT_WORKING_DAYS = 3
FORWARDING_DAYS = 5  # calendar days
REMINDER_HOUR = time(9, 0)


@dataclass(frozen=True)
class DeadlineRules:
    """What configuration decides: the answer period and how early the group is reminded."""

    answer_days: int = 14
    answer_in_working_days: bool = False
    remind_working_days_before: int = 2


@dataclass(frozen=True)
class Deadline:
    """One deadline as the store keeps it."""

    kind: str
    due_at: datetime
    remind_at: datetime
    original_due_at: datetime | None = None  # before an extension; None: same as due_at
    met_at: datetime | None = None

    @property
    def first_due_at(self) -> datetime:
        return self.original_due_at or self.due_at


@dataclass(frozen=True)
class Extension:
    """The outcome of asking for a new answer deadline."""

    ok: bool
    deadline: Deadline | None = None
    reason: str = ""  # "not_later", "too_long" when not ok


class DeadlinePlanner:
    """Computes due dates and reminder moments; pure, no storage."""

    def __init__(self, calendar: WorkCalendar, rules: DeadlineRules, tz: tzinfo) -> None:
        self.calendar = calendar
        self.rules = rules
        self.tz = tz

    def at_registration(self, created: datetime) -> list[Deadline]:
        """All four deadlines of a complaint registered at `created`; registration itself is
        met at once (the bot registers as it receives)."""
        registration = self._deadline(REGISTRATION, created, REGISTRATION_DAYS, working=False)
        return [
            Deadline(REGISTRATION, registration.due_at, registration.remind_at, met_at=created),
            self._deadline(ACKNOWLEDGEMENT, created, ACKNOWLEDGEMENT_WORKING_DAYS, working=True),
            self._deadline(FORWARDING, created, FORWARDING_DAYS, working=False),
            self.answer(created),
        ]

    def at_reopening(self, reopened: datetime) -> list[Deadline]:
        """A reopened complaint is acknowledged and answered again, counted from now."""
        return [
            self._deadline(ACKNOWLEDGEMENT, reopened, ACKNOWLEDGEMENT_WORKING_DAYS, working=True),
            self.answer(reopened),
        ]

    def answer(self, start: datetime) -> Deadline:
        return self._deadline(
            ANSWER, start, self.rules.answer_days, working=self.rules.answer_in_working_days
        )

    def extend(self, current: Deadline, new_day: datetime, now: datetime) -> Extension:
        """The answer deadline moved to the end of `new_day` (local): later than now and than
        the current deadline, and at most 30 days beyond the first answer deadline."""
        due = datetime.combine(new_day.astimezone(self.tz).date(), time(23, 59, 59), self.tz)
        if due <= max(current.due_at, now):
            return Extension(False, reason="not_later")
        if not extension_allowed(current.first_due_at, due, tz=self.tz):
            return Extension(False, reason="too_long")
        deadline = Deadline(ANSWER, due, self.remind_at(due), current.first_due_at)
        return Extension(True, deadline)

    def remind_at(self, due_at: datetime) -> datetime:
        """09:00 local on the working day `remind_working_days_before` working days before."""
        day = self.calendar.add_working_days(
            due_at.astimezone(self.tz).date(), -self.rules.remind_working_days_before
        )
        return datetime.combine(day, REMINDER_HOUR, tzinfo=self.tz)

    def working_days_until(self, now: datetime, days: int) -> datetime:
        """The end of the working day `days` working days after today (local)."""
        day = self.calendar.add_working_days(now.astimezone(self.tz).date(), days)
        return datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)

    def working_days_between(self, now: datetime, due_at: datetime) -> int:
        """Working days after today up to and including the due date's day (0: due today or
        past)."""
        day, last = now.astimezone(self.tz).date(), due_at.astimezone(self.tz).date()
        count = 0
        while day < last:
            day += timedelta(days=1)
            count += self.calendar.is_working_day(day)
        return count

    def is_working_day(self, moment: datetime) -> bool:
        return self.calendar.is_working_day(moment.astimezone(self.tz).date())

    def _deadline(self, kind: str, start: datetime, days: int, *, working: bool) -> Deadline:
        due = self.calendar.due(start, days, working=working, tz=self.tz)
        return Deadline(kind, due, self.remind_at(due))
