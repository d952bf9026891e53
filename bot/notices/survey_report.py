"""What `/stats` shows operators: a PNG chart with Kyrgyz and Russian labels, and a short text in
the operators' language. The figures come from `bot.domain.survey_stats`.

The chart is drawn with matplotlib's object-oriented `Figure` and the Agg canvas (no pyplot, no
global state, safe in a worker thread) and always off the event loop (`asyncio.to_thread`).
DejaVu Sans, shipped with matplotlib, has ө, ү and ң.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime

from bot.dialogs.events import Document, Reply
from bot.domain.complaints import ANSWERED, OPEN_STATUSES, REJECTED
from bot.domain.survey_stats import (
    QUESTIONS,
    ComplaintFigures,
    Period,
    StatsArgsError,
    SurveyFigures,
    complaint_figures,
    parse_stats_args,
    survey_figures,
)
from bot.domain.surveys import RATINGS, services_in_force
from bot.i18n import N_, I18n, Texts
from bot.notices.complaints import STATUS_LABELS

CHART_SIZE = (10.0, 6.0)  # inches
CHART_DPI = 100  # so the PNG is 1000 x 600 pixels
ANSWER_STATUSES = (ANSWERED, REJECTED, "resolved")  # an answer on the merits, or a refusal
CHART_TITLE = N_("Satisfaction and complaints")
SHORT_NAMES = {
    "overall": N_("Overall"),
    "conditions": N_("Conditions"),
    "staff": N_("Staff attitude"),
    "information": N_("Information"),
    "requirements": N_("Requirements"),
    "timeliness": N_("Time taken"),
}


@dataclass(frozen=True)
class Stats:
    period: Period
    service: str | None  # a service id
    surveys: SurveyFigures
    complaints: ComplaintFigures


async def gather(
    store, *, period: Period, service: str | None, now: datetime, min_cell: int
) -> Stats:
    """All the figures of one period (and service, for the surveys)."""
    window = {"since": period.since, "until": period.until}
    surveys = await survey_figures(store.surveys, service=service, min_cell=min_cell, **window)
    complaints = await complaint_figures(
        store.surveys,
        now=now,
        open_statuses=OPEN_STATUSES,
        answered_statuses=ANSWER_STATUSES,
        **window,
    )
    return Stats(period, service, surveys, complaints)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def stats_text(t: Texts, stats: Stats, content, min_cell: int) -> str:
    """The short text under the chart, in the operators' language."""
    _ = t.gettext
    s, c = stats.surveys, stats.complaints
    lines = [_("Statistics for {period}").format(period=stats.period.label)]
    if stats.service:
        lines.append(
            _("Service: {service}").format(
                service=services_in_force().label(stats.service, t.locale)
            )
        )
    lines += ["", _("Surveys: {count} responses.").format(count=s.responses)]
    for q in QUESTIONS:
        dist = s.distributions.get(q, {})
        if dist:
            lines.append(
                _("{question}: mean {mean}, satisfied (4–5) {share}, answers {count}").format(
                    question=_(SHORT_NAMES[q]),
                    mean=_num(s.mean(q)),
                    share=_pct(s.satisfied(q)),
                    count=sum(dist.values()),
                )
            )
    pooled = s.all_ratings
    lines.append(
        _("All ratings 1–5: {distribution}; satisfied (4–5) {share}.").format(
            distribution=" · ".join(f"{r}: {pooled[r]}" for r in RATINGS),
            share=_pct(s.satisfied_overall),
        )
    )
    lines.append(
        _("Satisfied with the final result: yes {yes}, no {no}.").format(
            yes=s.result.get("1", 0), no=s.result.get("0", 0)
        )
    )
    lines.append(
        _("Unofficial payments reported: {count} (paid {paid}, asked for {asked}).").format(
            count=s.unofficial_reported,
            paid=s.unofficial.get("paid", 0),
            asked=s.unofficial.get("asked", 0),
        )
    )
    lines += ["", _("Complaints registered: {count}.").format(count=c.total)]
    if c.by_status:
        lines.append(
            _("By status: {items}.").format(
                items=", ".join(
                    f"{_(STATUS_LABELS[k]) if k in STATUS_LABELS else k} {n}"
                    for k, n in sorted(c.by_status.items(), key=lambda kv: -kv[1])
                )
            )
        )
    if c.by_category:
        lines.append(
            _("By category: {items}.").format(
                items=", ".join(
                    f"{_category(content, k, t.locale)} {n}"
                    for k, n in sorted(c.by_category.items(), key=lambda kv: -kv[1])
                )
            )
        )
    lines.append(_("Overdue now: {count}.").format(count=c.overdue))
    median = c.median_days
    lines.append(
        _("Median days to an answer: {days}; answered within the deadline: {share}.").format(
            days="—" if median is None else f"{median:g}", share=_pct(c.within_deadline)
        )
    )
    hidden = sum(cell.hidden for cells in s.breakdowns.values() for cell in cells)
    if hidden:
        lines.append(
            _("Groups of fewer than {min} respondents are not shown ({count} hidden).").format(
                min=min_cell, count=hidden
            )
        )
    return "\n".join(lines)


def _category(content, category_id: str, locale: str) -> str:
    category = content.category(category_id) if content else None
    return category.label(locale) if category else category_id


def draw_chart(stats: Stats, ky: Texts, ru: Texts) -> bytes:
    """The PNG: mean rating per question (left), ratings 1–5 and complaints by status (right).
    Labels in Kyrgyz and Russian. Blocking: call it in a worker thread (`chart_png`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def both(msgid: str) -> str:
        return f"{ky.gettext(msgid)} / {ru.gettext(msgid)}"

    s = stats.surveys
    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(
        f"{both(CHART_TITLE)}: {stats.period.label}",
        fontsize=12,
        fontfamily="DejaVu Sans",
    )
    left, right_top, right_bottom = (
        figure.add_subplot(1, 2, 1),
        figure.add_subplot(2, 2, 2),
        figure.add_subplot(2, 2, 4),
    )
    names = [both(SHORT_NAMES[q]) for q in QUESTIONS]
    means = [s.mean(q) or 0.0 for q in QUESTIONS]
    bars = left.barh(range(len(QUESTIONS)), means, color="#3b7dd8")
    left.set_yticks(range(len(QUESTIONS)), names, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 5)
    left.set_xlabel(both(N_("Mean rating, 1 to 5")), fontsize=8)
    for bar, q in zip(bars, QUESTIONS, strict=True):
        count = sum(s.distributions.get(q, {}).values())
        left.text(5 * 0.98, bar.get_y() + bar.get_height() / 2, f"n={count}", ha="right",
                  va="center", fontsize=7)  # fmt: skip
    responses = N_("Responses: {count}")
    left.set_title(
        " / ".join(t.gettext(responses).format(count=s.responses) for t in (ky, ru)), fontsize=9
    )
    pooled = s.all_ratings
    right_top.bar([str(r) for r in RATINGS], [pooled[r] for r in RATINGS], color="#6aa84f")
    right_top.set_title(both(N_("All ratings 1–5")), fontsize=9)
    statuses = sorted(stats.complaints.by_status.items(), key=lambda kv: -kv[1])
    labels = [ky.gettext(STATUS_LABELS.get(k, k)) for k, _ in statuses]
    right_bottom.barh(range(len(statuses)), [n for _, n in statuses], color="#e69138")
    right_bottom.set_yticks(range(len(statuses)), labels, fontsize=7)
    right_bottom.invert_yaxis()
    right_bottom.set_title(both(N_("Complaints by status")), fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()


async def chart_png(stats: Stats, i18n: I18n) -> bytes:
    """The chart, drawn in a worker thread so the event loop keeps serving citizens."""
    return await asyncio.to_thread(draw_chart, stats, i18n.texts("ky"), i18n.texts("ru"))


async def stats_reply(app, words: list[str]) -> Reply:
    """The answer to `/stats [30d | YYYY-MM] [service NAME]`: the chart and the text, or a
    polite explanation of the arguments."""
    t = app.notices.complaints.operator_texts()
    _ = t.gettext
    now = app.clock.now()
    try:
        period, service_name = parse_stats_args(words, now, app.settings.tz)
    except StatsArgsError:
        return Reply(
            _(
                "Usage: /stats (the last 30 days), /stats 30d, /stats 2026-01, "
                "/stats service NAME (also after a period)."
            )
        )
    service = None
    if service_name is not None:
        found = services_in_force().find(service_name)
        if found is None:
            names = ", ".join(s.label(t.locale) for s in services_in_force().items)
            return Reply(_("No such service. Known services: {names}.").format(names=names))
        service = found.id
    stats = await gather(
        app.store, period=period, service=service, now=now,
        min_cell=app.settings.survey_min_cell,
    )  # fmt: skip
    png = await chart_png(stats, app.i18n)
    path = await app.media.save_document(png, "stats.png")
    document = Document("stats.png", "image/png", path)
    text = stats_text(t, stats, app.content, app.settings.survey_min_cell)
    return Reply(text, document=document)
