"""FAQ search speed and quality: the built-in catalogue, every query of the test table (old and
fresh rows) plus nonsense.

Run from the repository root: `.venv/bin/python bench/faq_bench.py [--rounds 200]`.
Prints the time to build the catalogue (parse, validate, index), how many rows of the table get
the expected entry first (small-talk rows: no entry and the right kind), and p50/p95/p99/max of
one `FaqCatalog.search` call in microseconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.faq import FaqCatalog, load_faq  # noqa: E402

QUERIES = ROOT / "tests" / "data" / "faq_queries.json"
SUBSTITUTIONS = {
    "reception_schedule": {
        "ky": "дүйшөмбү–жума, саат 9:00–17:00, түшкү тыныгуу 12:00–13:00",
        "ru": "понедельник–пятница, с 9:00 до 17:00, обед с 12:00 до 13:00",
    },
    "municipality": {"ky": "Ак-Суу айыл өкмөтү", "ru": "айыл окмоту Ак-Суу"},
    "help_phones": {
        "ky": "• ишеним телефону: 0 3922 5 12 34",
        "ru": "• телефон доверия: 0 3922 5 12 34",
    },
}
SMALL_TALK = "small-talk:"
NONSENSE = [
    "asdf qwerty",
    "погода в москве",
    "ыыыыы ааааа",
    "кто выиграл чемпионат мира по футболу",
    "бүгүн аба ырайы кандай болот",
    "1234567890",
    "lorem ipsum dolor sit amet consectetur adipiscing elit " * 10,
    "как где когда",
    "?",
]


def percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))
    return sorted_values[index]


def line(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"{label:<22} n={len(ordered):>6}  p50={percentile(ordered, 0.50):7.1f}  "
        f"p95={percentile(ordered, 0.95):7.1f}  p99={percentile(ordered, 0.99):7.1f}  "
        f"max={ordered[-1]:8.1f}  mean={statistics.fmean(ordered):7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over all queries")
    args = parser.parse_args()

    table = json.loads(QUERIES.read_text(encoding="utf-8"))
    fresh = table.get("fresh", {})
    old_rows = [(query, expected) for locale in ("ky", "ru") for query, expected in table[locale]]
    new_rows = [(q, expected) for locale in ("ky", "ru") for q, expected in fresh.get(locale, [])]
    rows = old_rows + new_rows

    builds, index_builds = [], []
    catalog = load_faq(substitutions=SUBSTITUTIONS)
    for _ in range(30):
        start = time.perf_counter()
        catalog = load_faq(substitutions=SUBSTITUTIONS)
        builds.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        FaqCatalog(catalog.topics, catalog.entries)
        index_builds.append((time.perf_counter() - start) * 1e3)
    print(
        f"catalogue: {len(catalog.topics)} topics, {len(catalog.entries)} entries, "
        f"{len(catalog._index.postings)} indexed words"
    )
    print(
        f"build (read + validate + index): median {statistics.median(builds):.2f} ms, "
        f"max {max(builds):.2f} ms; index alone: median {statistics.median(index_builds):.2f} ms"
    )

    def right(query: str, expected: str) -> bool:
        found = catalog.search(query)
        if expected.startswith(SMALL_TALK):
            return not found and catalog.small_talk(query) == expected.removeprefix(SMALL_TALK)
        return bool(found) and found[0].id == expected

    for name, part in (("old rows", old_rows), ("fresh rows", new_rows)):
        hits = sum(1 for query, expected in part if right(query, expected))
        print(f"table, {name}: {hits}/{len(part)} right first")

    table_times: list[float] = []
    nonsense_times: list[float] = []
    search = catalog.search
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(args.rounds):
            for query, _expected in rows:
                start = clock()
                search(query)
                table_times.append((clock() - start) / 1e3)
            for query in NONSENSE:
                start = clock()
                search(query)
                nonsense_times.append((clock() - start) / 1e3)
    finally:
        gc.enable()
    print(f"search, microseconds per call ({args.rounds} rounds):")
    print(line("table queries", table_times))
    print(line("nonsense queries", nonsense_times))
    print(line("all", table_times + nonsense_times))


if __name__ == "__main__":
    main()
