"""Survey and complaint figures on a known data set (computed by hand here), small-cell
suppression, `/stats` in the operator group (a valid PNG), and `python -m bot report`."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.cli.report import write_report
from bot.domain.complaints import OperatorRef
from bot.domain.survey_stats import (
    Period,
    StatsArgsError,
    median_of_histogram,
    parse_stats_args,
    suppress,
)
from bot.notices.survey_report import CHART_DPI, CHART_SIZE, draw_chart, gather
from tests.conftest import Chat, file_complaint
from tests.fakes.telegram_api import FakeTelegramAPI, message_update
from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness

TZ = ZoneInfo("Asia/Bishkek")
ALWAYS = Period(datetime(2000, 1, 1, tzinfo=TZ), datetime(2100, 1, 1, tzinfo=TZ), "all")
OP = OperatorRef(id=1, name="Operator")
# (answers) of each survey; the sex of the first five is female, the sixth male
DATA = [
    {"overall": 5},
    {"overall": 4},
    {"overall": 2},
    {"conditions": 1, "staff": 3, "result_ok": 1, "paid_unofficial": "paid"},
    {"conditions": 5, "staff": 5, "result_ok": 0, "paid_unofficial": "asked"},
    {"conditions": 4, "result_ok": 1, "paid_unofficial": "no"},
    {"improvement": "Only a suggestion, no rating"},  # not a response: nothing rated
]


async def load(app) -> None:
    citizen = await app.store.citizens.touch(
        channel="telegram", user_key="555", now=app.clock.now()
    )
    for n, answers in enumerate(DATA):
        survey = await app.store.surveys.create(
            citizen_id=citizen.id, service="certificates", now=app.clock.now()
        )
        sex = "female" if n < 5 else "male"
        for field, value in {**answers, "sex": sex}.items():
            await app.store.surveys.answer(
                survey_id=survey.id, field=field, value=value, now=app.clock.now()
            )


async def test_survey_figures_on_a_known_data_set(app):
    await load(app)
    stats = await gather(app.store, period=ALWAYS, service=None, now=app.clock.now(), min_cell=5)
    s = stats.surveys
    assert s.responses == 6
    assert s.distributions["overall"] == {5: 1, 4: 1, 2: 1}
    assert s.mean("overall") == pytest.approx(11 / 3)
    assert s.satisfied("overall") == pytest.approx(2 / 3)
    assert s.mean("conditions") == pytest.approx(10 / 3)
    assert s.mean("staff") == pytest.approx(4.0) and s.satisfied("staff") == 0.5
    assert s.mean("timeliness") is None
    assert s.all_ratings == {1: 1, 2: 1, 3: 1, 4: 2, 5: 3}
    assert s.satisfied_overall == pytest.approx(5 / 8)
    assert s.result == {"1": 2, "0": 1}
    assert s.unofficial_reported == 2
    # by sex: five women (ratings 5, 4, 2, 1+3, 5+5: 25 over 7), one man: hidden
    female, male = sorted(s.breakdowns["sex"], key=lambda cell: cell.value)
    assert female.value == "female" and female.responses == 5
    assert female.mean == pytest.approx(25 / 7)
    assert male.value == "male" and male.hidden and male.mean is None
    other = await gather(app.store, period=ALWAYS, service="land", now=app.clock.now(), min_cell=5)
    assert other.surveys.responses == 0 and other.surveys.mean("overall") is None


def test_small_cells_are_hidden_at_the_configured_size():
    cells = [("town", 4, 12, 4), ("village", 5, 20, 5), ("x", 3, 6, 3)]
    assert [c.hidden for c in suppress(cells, 5)] == [True, False, True]
    assert [c.hidden for c in suppress(cells, 3)] == [False, False, False]
    assert suppress(cells, 5)[1].mean == 4.0


def test_median_of_a_histogram():
    assert median_of_histogram({}) is None
    assert median_of_histogram({3: 1}) == 3
    assert median_of_histogram({2: 1, 20: 1}) == 11
    assert median_of_histogram({1: 2, 5: 1, 9: 1}) == 3  # 1 1 5 9


def test_stats_arguments():
    now = datetime(2026, 3, 10, 12, tzinfo=TZ)
    period, service = parse_stats_args([], now, TZ)
    assert period.since == datetime(2026, 2, 9, tzinfo=TZ) and service is None
    period, _ = parse_stats_args(["7d"], now, TZ)
    assert (period.since, period.until) == (
        datetime(2026, 3, 4, tzinfo=TZ), datetime(2026, 3, 11, tzinfo=TZ),
    )  # fmt: skip
    period, _ = parse_stats_args(["2025-12"], now, TZ)
    assert (period.since, period.until) == (
        datetime(2025, 12, 1, tzinfo=TZ), datetime(2026, 1, 1, tzinfo=TZ),
    )  # fmt: skip
    assert parse_stats_args(["service", "Земельные", "вопросы"], now, TZ)[1] == "Земельные вопросы"
    assert parse_stats_args(["2026-01", "service", "land"], now, TZ)[1] == "land"
    for bad in (["2026-13"], ["soon"], ["30d", "extra"], ["service"], ["0d"]):
        with pytest.raises(StatsArgsError):
            parse_stats_args(bad, now, TZ)


async def test_complaint_figures(app, clock):
    chat = Chat(app.engine)
    for text in (
        "Не горят фонари возле школы №5",
        "Нет воды третий день на Манаса",
        "Яма на дороге",
    ):
        await file_complaint(chat, description=text + " уже давно")
    citizen = await app.store.citizens.find(channel="telegram", user_key=chat.user_key)
    a, b, c = sorted(
        await app.store.complaints.of_citizen(citizen_id=citizen.id), key=lambda x: x.id
    )
    clock.advance(days=2)
    assert (await app.complaints.apply(a.id, "answered", OP, "Починили")).ok
    clock.advance(days=18)
    assert (await app.complaints.apply(b.id, "rejected", OP, "Не наш вопрос")).ok
    stats = await gather(app.store, period=ALWAYS, service=None, now=clock.now(), min_cell=5)
    figures = stats.complaints
    assert figures.by_status == {"answered": 1, "rejected": 1, "registered": 1}
    assert figures.by_category == {"lighting": 3}
    assert figures.overdue == 1  # c: open and past its due date
    assert figures.answered == 2 and figures.median_days == 11  # 2 and 20 days
    assert figures.within_deadline == 0.5


async def test_the_chart_renders_kyrgyz_letters(app):
    await load(app)
    stats = await gather(app.store, period=ALWAYS, service=None, now=app.clock.now(), min_cell=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph (ө, ү, ң) would warn
        png = draw_chart(stats, app.i18n.texts("ky"), app.i18n.texts("ru"))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (int(CHART_SIZE[0] * CHART_DPI), int(CHART_SIZE[1] * CHART_DPI))


async def test_stats_in_the_operator_group_sends_a_png_and_the_figures(app):
    await load(app)
    async with FakeTelegramAPI() as api:
        tg = TelegramHarness(app, api)
        try:
            await tg.feed(message_update(12345, "/stats", chat_id=OPERATOR_CHAT))
            assert api.calls_to("sendDocument") == []  # not an operator: refused
            api.set_chat_member(OPERATOR_CHAT, OPERATOR, "member")
            await tg.feed(message_update(OPERATOR, "/stats 30d", chat_id=OPERATOR_CHAT))
            (sent,) = api.calls_to("sendDocument", chat_id=OPERATOR_CHAT)
            image = Image.open(io.BytesIO(sent.files["document"]))
            image.verify()
            assert image.format == "PNG" and image.size == (1000, 600)
            text = tg.texts_to(OPERATOR_CHAT)[-1]
            _ = app.notices.complaints.operator_texts().gettext
            assert _("Surveys: {count} responses.").format(count=6) in text
            assert (
                _("Unofficial payments reported: {count} (paid {paid}, asked for {asked}).").format(
                    count=2, paid=1, asked=1
                )
                in text
            )
            await tg.feed(message_update(OPERATOR, "/stats someday", chat_id=OPERATOR_CHAT))
            assert "/stats 2026-01" in tg.texts_to(OPERATOR_CHAT)[-1]
            await tg.feed(
                message_update(OPERATOR, "/stats service Земельные", chat_id=OPERATOR_CHAT)
            )
            assert len(api.calls_to("sendDocument", chat_id=OPERATOR_CHAT)) == 2
            assert (
                _("Surveys: {count} responses.").format(count=0) in tg.texts_to(OPERATOR_CHAT)[-1]
            )
        finally:
            await tg.close()


async def test_the_report_writes_anonymised_csv_and_xlsx(app, tmp_path):
    await load(app)
    today = app.clock.now().date()
    paths = await write_report(
        app.store, app.settings, since=date(2026, 1, 1), until=today, fmt="csv",
        out=tmp_path / "out", now=app.clock.now(),
    )  # fmt: skip
    figures_csv, responses_csv = (p.read_text(encoding="utf-8") for p in paths)
    rows = list(csv.reader(io.StringIO(responses_csv)))
    assert rows[0][:3] == ["date", "service", "invited"] and len(rows) == 7
    assert "555" not in responses_csv and "citizen" not in responses_csv
    figures = list(csv.reader(io.StringIO(figures_csv)))
    assert ["surveys", "responses", "6"] in figures
    assert ["by_sex", "male", "hidden (<5)"] in figures
    assert ["unofficial", "paid", "1"] in figures
    (xlsx,) = await write_report(
        app.store, app.settings, since=date(2026, 1, 1), until=today, fmt="xlsx",
        out=tmp_path / "out", now=app.clock.now(),
    )  # fmt: skip
    from openpyxl import load_workbook

    book = load_workbook(xlsx)
    assert book.sheetnames == ["figures", "responses"]
    assert book["responses"].max_row == 7
