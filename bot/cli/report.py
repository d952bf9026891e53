"""`python -m bot report --since DATE --until DATE --format csv|xlsx [--out DIR]`: the survey
and complaint figures of `/stats`, and the raw anonymised survey responses (no chat ids, phone
numbers or names; the day only, not the time), written to files. Breakdowns by respondent data
hide cells with fewer than SURVEY_MIN_CELL responses.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from pathlib import Path

from bot.domain.survey_stats import QUESTIONS, dates_period
from bot.domain.surveys import RATINGS, load_services, use_services
from bot.notices.survey_report import Stats, gather

RESPONSE_COLUMNS = (
    "date", "service", "invited", "status", *QUESTIONS, "result_ok", "paid_official",
    "paid_unofficial", "paid_incidental", "report", "improvement", "sex", "age_band",
    "education", "occupation", "settlement",
)  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--since", required=True, type=date.fromisoformat, help="first day")
    parser.add_argument("--until", required=True, type=date.fromisoformat, help="last day")
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")


def figure_rows(stats: Stats, min_cell: int) -> list[list]:
    """The figures as (section, item, value) rows; hidden cells say so."""
    s, c = stats.surveys, stats.complaints
    rows: list[list] = [
        ["period", "from-to", stats.period.label],
        ["surveys", "responses", s.responses],
    ]
    for q in QUESTIONS:
        dist = s.distributions.get(q, {})
        mean = s.mean(q)
        rows.append(["mean", q, None if mean is None else round(mean, 3)])
        share = s.satisfied(q)
        rows.append(["satisfied_4_5", q, None if share is None else round(share, 4)])
        rows += [[f"ratings_{q}", str(r), dist.get(r, 0)] for r in RATINGS]
    pooled = s.all_ratings
    rows += [["ratings_all", str(r), pooled[r]] for r in RATINGS]
    rows.append(["result", "yes", s.result.get("1", 0)])
    rows.append(["result", "no", s.result.get("0", 0)])
    rows += [["unofficial", k, s.unofficial.get(k, 0)] for k in ("paid", "asked", "no")]
    for field, cells in s.breakdowns.items():
        for cell in cells:
            if cell.hidden:
                rows.append([f"by_{field}", cell.value, f"hidden (<{min_cell})"])
            else:
                mean = None if cell.mean is None else round(cell.mean, 3)
                rows.append([f"by_{field}", cell.value, f"{cell.responses} responses, mean {mean}"])
    rows += [["complaints_status", k, n] for k, n in sorted(c.by_status.items())]
    rows += [["complaints_category", k, n] for k, n in sorted(c.by_category.items())]
    rows.append(["complaints", "overdue", c.overdue])
    rows.append(["complaints", "answered", c.answered])
    rows.append(["complaints", "median_days_to_answer", c.median_days])
    share = c.within_deadline
    rows.append(
        ["complaints", "answered_within_deadline", None if share is None else round(share, 4)]
    )
    return rows


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


async def write_report(store, settings, *, since: date, until: date, fmt: str, out: Path,
                       now) -> list[Path]:  # fmt: skip
    """Write the files; returns their paths."""
    use_services(load_services(settings.content_dir))
    period = dates_period(since, until, settings.tz)
    stats = await gather(store, period=period, service=None, now=now,
                         min_cell=settings.survey_min_cell)  # fmt: skip
    figures = [["section", "item", "value"], *figure_rows(stats, settings.survey_min_cell)]
    answers = await store.surveys.responses(since=period.since, until=period.until)
    responses = [list(RESPONSE_COLUMNS)] + [[r.get(k) for k in RESPONSE_COLUMNS] for r in answers]
    stem = f"survey-report-{since.isoformat()}-{until.isoformat()}"
    return await asyncio.to_thread(_write_files, out, stem, fmt, figures, responses)


def _write_files(out: Path, stem: str, fmt: str, figures, responses) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        paths = [out / f"{stem}-figures.csv", out / f"{stem}-responses.csv"]
        for path, rows in zip(paths, (figures, responses), strict=True):
            path.write_text(_csv(rows), encoding="utf-8")
        return paths
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "figures"
    for row in figures:
        sheet.append(row)
    raw = book.create_sheet("responses")
    for row in responses:
        raw.append(row)
    path = out / f"{stem}.xlsx"
    book.save(path)
    return [path]


async def run(settings, args) -> int:
    from bot.clock import SystemClock
    from bot.storage.store import Store

    if args.until < args.since:
        print("--until must not be before --since")
        return 2
    store = await Store.open(settings.database_path)
    try:
        paths = await write_report(
            store, settings, since=args.since, until=args.until, fmt=args.format,
            out=args.out, now=SystemClock().now(),
        )  # fmt: skip
    finally:
        await store.close()
    for path in paths:
        print(path)
    return 0
