"""`/stats` at scale: the figures over many survey responses and complaints, the chart, and how
long the event loop is blocked meanwhile.

Run from the repository root: `.venv/bin/python bench/stats_bench.py [--sizes 10000:100000
100000:1000000]` (responses:complaints). For each size it fills a fresh SQLite store (through
the real migrations), then prints:
- the time to compute every figure (`gather`: the store's GROUP BY queries plus the pure
  functions of `bot.domain.survey_stats`) and to draw the PNG (`draw_chart`);
- the event loop's worst lateness (a 5 ms ticker) while the figures are computed and while the
  chart is drawn off the loop (`asyncio.to_thread`, as `/stats` does), side by side with the
  baseline of drawing it on the loop.
Aim (issue 13): under 2 s in all at 100,000 responses and 1,000,000 complaints, and the loop
never blocked for more than 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.survey_stats import Period  # noqa: E402
from bot.i18n import I18n  # noqa: E402
from bot.notices.survey_report import draw_chart, gather  # noqa: E402
from bot.storage.store import Store  # noqa: E402

TZ = ZoneInfo("Asia/Bishkek")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SERVICES = ("certificates", "land", "construction", "social", "utilities", "appeal", "other")
CATEGORIES = ("water", "roads", "lighting", "waste", "corruption", "service", "other")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def fill(path: Path, responses: int, complaints: int, seed: int = 13) -> None:
    """Bulk rows with the store's schema (plain sqlite3: set-up, not what is measured)."""
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute(
        "INSERT INTO citizens (id, channel, user_key, locale, created_at) "
        "VALUES (1, 'telegram', '1', 'ky', ?)",
        (iso(NOW),),
    )

    def rating():
        return rng.choice((None, 1, 2, 3, 3, 4, 4, 4, 5, 5))

    rows = []
    for _ in range(responses):
        created = NOW - timedelta(minutes=rng.randrange(0, 180 * 24 * 60))
        rows.append(
            (
                1, rng.choice(SERVICES), rng.choice(("open", "done")), rating(), rating(),
                rating(), rating(), rating(), rating(), rng.choice((None, 0, 1)),
                rng.choice((None, "no", "no", "no", "asked", "paid")),
                rng.choice((None, "female", "male")),
                rng.choice((None, "17-21", "22-35", "36-60", "61-75", "76+")),
                rng.choice((None, "town", "village")), iso(created), iso(created),
            )
        )  # fmt: skip
    db.executemany(
        "INSERT INTO surveys (citizen_id, service, status, overall, conditions, staff,"
        " information, requirements, timeliness, result_ok, paid_unofficial, sex, age_band,"
        " settlement, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    complaint_rows, events = [], []
    for n in range(1, complaints + 1):
        created = NOW - timedelta(minutes=rng.randrange(0, 180 * 24 * 60))
        due = created + timedelta(days=14)
        answered = rng.random() < 0.6
        status = "answered" if answered else rng.choice(("registered", "accepted", "in_progress"))
        at = created + timedelta(hours=rng.randrange(1, 30 * 24)) if answered else None
        complaint_rows.append(
            (n, f"{n:09d}", 1, rng.choice(CATEGORIES), "x", 1, b"", b"", "ky", status,
             iso(created), iso(due), iso(created), iso(at) if at else None)
        )  # fmt: skip
        events.append((n, None, "registered", "citizen", iso(created)))
        if answered:
            events.append((n, "registered", "answered", "operator:1", iso(at)))
    db.executemany(
        "INSERT INTO complaints (id, reg_number, citizen_id, category, description,"
        " is_anonymous, receipt_salt, receipt_hash, locale, status, created_at, due_at,"
        " updated_at, answered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        complaint_rows,
    )
    db.executemany(
        "INSERT INTO complaint_events (complaint_id, old_status, new_status, actor, created_at)"
        " VALUES (?,?,?,?,?)",
        events,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


class Ticker:
    """A coroutine that wakes every `step` seconds and notes how late it woke."""

    def __init__(self, step: float = 0.005) -> None:
        self.step = step
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.step)
            self.worst = max(self.worst, time.perf_counter() - before - self.step)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()


async def measure(responses: int, complaints: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        store = await Store.open(path)  # the real migrations
        await store.close()
        started = time.perf_counter()
        fill(path, responses, complaints)
        print(f"\n{responses:,} responses, {complaints:,} complaints "
              f"(filled in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        store = await Store.open(path)
        i18n = I18n(TZ)
        period = Period(NOW - timedelta(days=365), NOW + timedelta(days=1), "bench")
        try:
            async with Ticker() as ticker:
                started = time.perf_counter()
                stats = await gather(store, period=period, service=None, now=NOW, min_cell=5)
                computed = time.perf_counter() - started
            lag_compute = ticker.worst
            ky, ru = i18n.texts("ky"), i18n.texts("ru")
            draw_chart(stats, ky, ru)  # warm-up: fonts and caches, as after the first /stats
            async with Ticker() as ticker:
                started = time.perf_counter()
                await asyncio.to_thread(draw_chart, stats, ky, ru)
                drawn_off = time.perf_counter() - started
            lag_off = ticker.worst
            async with Ticker() as ticker:
                started = time.perf_counter()
                draw_chart(stats, ky, ru)  # the baseline: drawn on the loop
                await asyncio.sleep(0.02)  # let the ticker notice
                drawn_on = time.perf_counter() - started - 0.02
            lag_on = ticker.worst
        finally:
            await store.close()
        s, c = stats.surveys, stats.complaints
        print(f"  figures: responses {s.responses:,}, mean overall {s.mean('overall'):.2f}, "
              f"satisfied {s.satisfied_overall:.1%}, complaints {c.total:,}, "
              f"median days {c.median_days}, in time {c.within_deadline:.1%}")  # fmt: skip
        row = "  {:<17} {:8.0f} ms   loop worst lag {:6.1f} ms{}"
        print(row.format("compute figures", computed * 1000, lag_compute * 1000, ""))
        print(row.format("draw chart (off)", drawn_off * 1000, lag_off * 1000, ""))
        baseline = "   <- baseline, not what /stats does"
        print(row.format("draw chart (ON)", drawn_on * 1000, lag_on * 1000, baseline))
        total = (computed + drawn_off) * 1000
        print(f"  /stats in all     {total:8.0f} ms   (aim: < 2000 ms, loop lag < 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10000:100000", "100000:1000000"])
    args = parser.parse_args()
    for size in args.sizes:
        responses, complaints = (int(part) for part in size.split(":"))
        asyncio.run(measure(responses, complaints))


if __name__ == "__main__":
    main()
