"""The built-in FAQ against a table of questions as citizens type them: the top hit must be right.

`tests/data/faq_queries.json` holds `{"ky": [[query, expected entry id], ...], "ru": [...]}`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.faq import FaqCatalog, load_faq
from tests.test_faq import SUBSTITUTIONS

QUERIES = Path(__file__).resolve().parent / "data" / "faq_queries.json"
LOCALES = ("ky", "ru")


def _table() -> dict[str, list[list[str]]]:
    try:
        return json.loads(QUERIES.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _rows() -> list:
    table = _table()
    return [
        pytest.param(query, expected, id=f"{locale}-{number}")
        for locale in LOCALES
        for number, (query, expected) in enumerate(table.get(locale, []), start=1)
    ]


@pytest.fixture(scope="module")
def catalog() -> FaqCatalog:
    return load_faq(substitutions=SUBSTITUTIONS)


def test_the_table_is_large_enough_and_names_real_entries(catalog):
    table = _table()
    for locale in LOCALES:
        rows = table.get(locale, [])
        assert len(rows) >= 20, f"{locale}: only {len(rows)} rows"
        unknown = [expected for _, expected in rows if catalog.entry(expected) is None]
        assert unknown == [], f"{locale}: unknown entry ids {unknown}"


@pytest.mark.parametrize(("query", "expected"), _rows())
def test_the_top_hit_is_the_expected_entry(catalog, query, expected):
    found = [entry.id for entry in catalog.search(query)]
    assert found and found[0] == expected, f"{query!r}: got {found}, expected {expected!r}"
