"""The built-in FAQ against a table of questions as citizens type them: the top hit must be right.

`tests/data/faq_queries.json` holds `{"ky": [[query, expected entry id], ...], "ru": [...]}`, the
rows every version of the search got right, and under `"fresh"` the same for rows written later
(issue 9): phone-typed paraphrases, Latin transliterations and small talk, where the expected
value `small-talk:KIND` means "no entry; the small-talk classifier says KIND". The fresh rows are
held to a hit rate (at least 19 of 20 right first), small talk to every row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain.faq import (
    FaqCatalog,
    classify_small_talk,
    latin_variants,
    load_faq,
    parse_search_words,
    same_word,
)
from tests.test_faq import SUBSTITUTIONS

QUERIES = Path(__file__).resolve().parent / "data" / "faq_queries.json"
LOCALES = ("ky", "ru")
SMALL_TALK = "small-talk:"
FRESH_HIT_RATE = 0.95  # at least 19 of 20 typed questions right first


def _table() -> dict:
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


def _fresh() -> list[tuple[str, str, str]]:
    fresh = _table().get("fresh", {})
    return [(locale, q, expected) for locale in LOCALES for q, expected in fresh.get(locale, [])]


@pytest.fixture(scope="module")
def catalog() -> FaqCatalog:
    return load_faq(substitutions=SUBSTITUTIONS)


def right_first(catalog: FaqCatalog, query: str, expected: str) -> bool:
    found = catalog.search(query)
    if expected.startswith(SMALL_TALK):
        return found == [] and catalog.small_talk(query) == expected.removeprefix(SMALL_TALK)
    return bool(found) and found[0].id == expected


def test_the_table_is_large_enough_and_names_real_entries(catalog):
    table = _table()
    for locale in LOCALES:
        rows = table.get(locale, [])
        fresh = table.get("fresh", {}).get(locale, [])
        assert len(rows) >= 20, f"{locale}: only {len(rows)} rows"
        assert len(fresh) >= 20, f"{locale}: only {len(fresh)} fresh rows"
        expected = [e for _, e in rows + fresh if not e.startswith(SMALL_TALK)]
        assert [e for e in expected if catalog.entry(e) is None] == [], locale
        kinds = {e.removeprefix(SMALL_TALK) for _, e in fresh if e.startswith(SMALL_TALK)}
        assert kinds == {"thanks", "greeting", "chat"}, f"{locale}: small talk of every kind"


@pytest.mark.parametrize(("query", "expected"), _rows())
def test_the_top_hit_is_the_expected_entry(catalog, query, expected):
    found = [entry.id for entry in catalog.search(query)]
    assert found and found[0] == expected, f"{query!r}: got {found}, expected {expected!r}"


def test_fresh_rows_are_right_first_at_least_19_times_in_20(catalog):
    rows = _fresh()
    misses = [(q, e) for _, q, e in rows if not right_first(catalog, q, e)]
    assert len(rows) - len(misses) >= FRESH_HIT_RATE * len(rows), misses


@pytest.mark.parametrize(
    ("locale", "query", "expected"),
    [pytest.param(*row, id=row[1]) for row in _fresh() if row[2].startswith(SMALL_TALK)],
)
def test_small_talk_finds_no_entry_and_is_named(catalog, locale, query, expected):
    assert catalog.search(query) == []
    assert catalog.small_talk(query) == expected.removeprefix(SMALL_TALK)
    assert classify_small_talk(query) == expected.removeprefix(SMALL_TALK)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # a problem stated plainly: what the municipality answers for, not water-tariff hearings
        ("айылда ичкенге суу жок кайда кайрылам", "municipality-duties"),
        ("нет питьевой воды в селе куда обращаться", "municipality-duties"),
        # "кабар" (news) is not "кабарлоо" (to report corruption)
        ("кабар келе бербесин кантип очурсом болот", "bot-announcements"),
        # Latin letters, Kyrgyz and Russian
        ("kantip aryz beremin", "appeal-how"),
        ("srok rassmotreniya zhaloby", "appeal-deadlines"),
        ("kuda zvonit esli pozhar", "contacts-emergency"),
    ],
)
def test_the_cases_of_the_issue(catalog, query, expected):
    found = [entry.id for entry in catalog.search(query)]
    assert found[:1] == [expected], f"{query!r}: got {found}"


def test_stems_do_not_join_different_words():
    assert not same_word("большое", "большинство")
    assert not same_word("аба", "абалы")
    assert not same_word("кабар", "кабарлоо")
    # while the same word with other endings is still one word
    assert same_word("кабар", "кабарлар")
    assert same_word("даттануу", "даттанууларымды")
    assert same_word("слушаниях", "слушания")
    assert same_word("салык", "салыгы")


def test_soft_signs_left_out_are_the_same_word(catalog):
    assert catalog.typed_words("Подать жалобу!") == catalog.typed_words("подат жалобу")


def test_latin_letters_are_spelled_in_cyrillic():
    assert latin_variants("kantip")[0] == "кантип"
    assert latin_variants("zhaloby")[0] == "жалобы"
    assert latin_variants("rassmotreniya")[0] == "рассмотрения"
    assert latin_variants("kaida")[0] == "кайда"
    assert latin_variants("aiyl")[0] == "айыл"
    assert "если" in latin_variants("esli")


def test_a_latin_word_that_an_entry_uses_stays_latin(catalog):
    assert catalog.search("whatsapp")[0].id == "bot-whatsapp"


def test_small_talk_with_a_question_is_a_question(catalog):
    assert catalog.small_talk("салам кантип арыз берем") is None
    assert catalog.search("салам кантип арыз берем")[0].id == "appeal-how"
    assert catalog.small_talk("спасибо, а где мои жалобы") is None


def test_stated_problems_are_told_from_questions(catalog):
    for text in ("суу жок", "жарык жок 3 күн", "свет не горит третий день", "яма возле дома"):
        assert catalog.states_problem(text), text
    for text in ("кантип арыз берем", "срок рассмотрения жалобы", "рахмат", "кто отвечает за воду"):
        assert not catalog.states_problem(text), text


def test_search_words_file_is_validated():
    with pytest.raises(ValueError, match="synonym"):
        parse_search_words({"synonyms": {"ky": {"кабар": []}, "ru": {}}})
    with pytest.raises(ValueError, match="small_talk"):
        parse_search_words({"small_talk": {"weather": {}}})
    words = parse_search_words({"synonyms": {"ky": {}, "ru": {"фотки": ["фото"]}}})
    assert words.expansions(["фотками"]) == [("фото",)]


def test_a_content_folder_may_bring_its_own_search_words(tmp_path):
    builtin = Path(__file__).resolve().parent.parent / "bot" / "content" / "faq.json"
    (tmp_path / "faq.json").write_text(builtin.read_text(encoding="utf-8"), encoding="utf-8")
    words = {"synonyms": {"ky": {}, "ru": {"курятник": ["пожар"]}}}
    (tmp_path / "faq_search.json").write_text(json.dumps(words), encoding="utf-8")
    own = load_faq(tmp_path / "faq.json", substitutions=SUBSTITUTIONS)
    assert own.search("курятник")[0].id == "contacts-emergency"
    assert own.small_talk("спасибо") is None  # this file names no small talk
    assert load_faq(substitutions=SUBSTITUTIONS).search("курятник") == []
