"""Survey and complaint figures: pure functions over the counts the store returns.

`/stats` in the operator group and `python -m bot report` show the same figures. Any breakdown by
respondent data hides a cell with fewer than `min_cell` responses (SURVEY_MIN_CELL), so a small
group of people cannot be picked out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.surveys import ASPECTS, OVERALL, PROFILE, RATINGS, SATISFIED

QUESTIONS = (OVERALL, *ASPECTS)
DEFAULT_DAYS = 30


def mean(counts: dict[int, int]) -> float | None:
    """The mean rating of a {rating: count} distribution; None when it is empty."""
    total = sum(counts.values())
    return sum(r * n for r, n in counts.items()) / total if total else None


def satisfied_share(counts: dict[int, int]) -> float | None:
    """The share of 4 and 5 ("satisfied") in a distribution; None when it is empty."""
    total = sum(counts.values())
    return sum(counts.get(r, 0) for r in SATISFIED) / total if total else None


def pooled(distributions: dict[str, dict[int, int]]) -> dict[int, int]:
    """All ratings of all questions together, 1 to 5."""
    return {r: sum(d.get(r, 0) for d in distributions.values()) for r in RATINGS}


def median_of_histogram(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: count} (the mean of the two middle ones when
    the count is even); None when empty."""
    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted(histogram.items())

    def nth(k: int) -> int:  # the k-th smallest value, from 0
        seen = 0
        for value, count in ordered:
            seen += count
            if k < seen:
                return value
        raise IndexError(k)

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


@dataclass(frozen=True)
class Cell:
    """One group of a breakdown: its responses and mean rating, or hidden (too few)."""

    value: str
    responses: int | None  # None: hidden
    mean: float | None

    @property
    def hidden(self) -> bool:
        return self.responses is None


def suppress(cells: list[tuple[str, int, int, int]], min_cell: int) -> list[Cell]:
    """(value, responses, sum of ratings, ratings) rows as cells; those with fewer than
    `min_cell` responses are hidden, figures and all."""
    result = []
    for value, responses, total, given in cells:
        if responses < min_cell:
            result.append(Cell(value, None, None))
        else:
            result.append(Cell(value, responses, total / given if given else None))
    return result


@dataclass(frozen=True)
class SurveyFigures:
    responses: int
    distributions: dict[str, dict[int, int]]  # question -> {rating: count}
    result: dict[str, int]  # '1' yes / '0' no -> count
    unofficial: dict[str, int]  # 'paid' / 'asked' / 'no' -> count
    breakdowns: dict[str, list[Cell]] = field(default_factory=dict)

    def mean(self, question: str) -> float | None:
        return mean(self.distributions.get(question, {}))

    def satisfied(self, question: str) -> float | None:
        return satisfied_share(self.distributions.get(question, {}))

    @property
    def all_ratings(self) -> dict[int, int]:
        return pooled(self.distributions)

    @property
    def satisfied_overall(self) -> float | None:
        return satisfied_share(self.all_ratings)

    @property
    def unofficial_reported(self) -> int:
        """Responses saying an unofficial payment was asked for or made."""
        return self.unofficial.get("paid", 0) + self.unofficial.get("asked", 0)


@dataclass(frozen=True)
class ComplaintFigures:
    by_status: dict[str, int]
    by_category: dict[str, int]
    overdue: int
    answer_days: list[tuple[int, bool, int]]  # (days, by the due date, complaints)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def answered(self) -> int:
        return sum(n for _, _, n in self.answer_days)

    @property
    def median_days(self) -> float | None:
        histogram: dict[int, int] = {}
        for days, _, n in self.answer_days:
            histogram[days] = histogram.get(days, 0) + n
        return median_of_histogram(histogram)

    @property
    def within_deadline(self) -> float | None:
        """The share of answered complaints answered by their due date."""
        answered = self.answered
        return sum(n for _, ok, n in self.answer_days if ok) / answered if answered else None


async def survey_figures(
    repo, *, since: datetime, until: datetime, service: str | None, min_cell: int
) -> SurveyFigures:
    """Read the counts from the store (`SurveyRepo`) and assemble the figures."""
    window = {"since": since, "until": until, "service": service}
    return SurveyFigures(
        responses=await repo.responses_count(**window),
        distributions=await repo.rating_counts(**window),
        result=await repo.value_counts(field="result_ok", **window),
        unofficial=await repo.value_counts(field="paid_unofficial", **window),
        breakdowns={
            name: suppress(await repo.profile_cells(field=name, **window), min_cell)
            for name in PROFILE
        },
    )


async def complaint_figures(
    repo, *, since: datetime, until: datetime, now: datetime, open_statuses, answered_statuses
) -> ComplaintFigures:
    window = {"since": since, "until": until}
    by_status: dict[str, int] = {}
    by_category: dict[str, int] = {}
    overdue = 0
    for status, category, count, late in await repo.complaint_tally(now=now, **window):
        by_status[status] = by_status.get(status, 0) + count
        by_category[category] = by_category.get(category, 0) + count
        overdue += late if status in open_statuses else 0
    return ComplaintFigures(
        by_status=by_status,
        by_category=by_category,
        overdue=overdue,
        answer_days=await repo.answer_days(answered=answered_statuses, **window),
    )


# ----- what /stats asks for ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    since: datetime  # inclusive, UTC-aware
    until: datetime  # exclusive
    label: str  # '2026-01', '2026-01-01 – 2026-01-30'


class StatsArgsError(ValueError):
    """The arguments of /stats could not be read."""


_DAYS = re.compile(r"^(\d{1,4})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def days_period(days: int, now: datetime, tz: ZoneInfo) -> Period:
    """The last `days` local days, today included."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    until = local_midnight(today + timedelta(days=1), tz)
    return Period(local_midnight(first, tz), until, f"{first.isoformat()} – {today.isoformat()}")


def month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    if not 1 <= month <= 12:
        raise StatsArgsError("month")
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(local_midnight(first, tz), local_midnight(following, tz), f"{year}-{month:02d}")


def dates_period(since: date, until: date, tz: ZoneInfo) -> Period:
    """From `since` to `until`, both days included."""
    if until < since:
        raise StatsArgsError("order")
    end = local_midnight(until + timedelta(days=1), tz)
    return Period(local_midnight(since, tz), end, f"{since.isoformat()} – {until.isoformat()}")


def parse_stats_args(words: list[str], now: datetime, tz: ZoneInfo) -> tuple[Period, str | None]:
    """`[]`, `['30d']`, `['2026-01']`, `['service', NAME...]` (also after a period):
    the period (default: the last 30 days) and the service name typed, if any."""
    period = days_period(DEFAULT_DAYS, now, tz)
    service = None
    rest = list(words)
    if rest and rest[0].casefold() != "service":
        word = rest.pop(0)
        if match := _DAYS.match(word):
            days = int(match.group(1))
            if not 1 <= days <= 3660:
                raise StatsArgsError("days")
            period = days_period(days, now, tz)
        elif match := _MONTH.match(word):
            period = month_period(int(match.group(1)), int(match.group(2)), tz)
        else:
            raise StatsArgsError(word)
    if rest:
        if rest[0].casefold() != "service" or len(rest) < 2:
            raise StatsArgsError(" ".join(rest))
        service = " ".join(rest[1:])
    return period, service
