"""The FAQ catalogue: validation of broken content, reloading, substitution, and search basics."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bot.domain.faq import MAX_ANSWER, FaqCatalog, FaqError, FaqLibrary, load_faq, parse_faq

SUBSTITUTIONS = {
    "reception_schedule": {
        "ky": "дүйшөмбү–жума, саат 9:00–17:00",
        "ru": "понедельник–пятница, с 9:00 до 17:00",
    },
    "municipality": {"ky": "Ак-Суу айыл өкмөтү", "ru": "айыл окмоту Ак-Суу"},
    "help_phones": {
        "ky": "• Ак-Суу айыл өкмөтүнүн ишеним телефону: 0 3922 5 12 34",
        "ru": "• Телефон доверия айыл окмоту Ак-Суу: 0 3922 5 12 34",
    },
}


def _entry(eid, topic, question, answer, keywords=None, sources=("DOMAIN.md",)):
    entry = {
        "id": eid,
        "topic": topic,
        "question": dict(zip(("ky", "ru"), question, strict=True)),
        "answer": dict(zip(("ky", "ru"), answer, strict=True)),
        "sources": list(sources),
    }
    if keywords is not None:
        entry["keywords"] = dict(zip(("ky", "ru"), keywords, strict=True))
    return entry


SMALL = {
    "topics": [
        {"id": "taxes", "title": {"ky": "Салыктар", "ru": "Налоги"}},
        {"id": "documents", "title": {"ky": "Документтер", "ru": "Документы"}},
        {"id": "office", "title": {"ky": "Айыл өкмөтү", "ru": "Айыл окмоту"}},
    ],
    "entries": [
        _entry(
            "land-tax",
            "taxes",
            ("Жер салыгын кантип төлөйм?", "Как оплатить земельный налог?"),
            (
                "Жер салыгын {municipality} кассасында же банк аркылуу төлөсөңүз болот.",
                "Земельный налог платят в кассе: {municipality}, или через банк.",
            ),
            keywords=(["салык", "жер салыгы"], ["налог", "земельный налог"]),
        ),
        _entry(
            "family-certificate",
            "documents",
            (
                "Үй-бүлө курамы жөнүндө маалымкатты кантип алам?",
                "Как получить справку о составе семьи?",
            ),
            (
                "Паспортуңуз менен катчыга кайрылыңыз, маалымкат ошол эле күнү берилет.",
                "Обратитесь к секретарю с паспортом, справку выдают в тот же день.",
            ),
            keywords=(["маалымкат"], ["справка", "состав семьи"]),
        ),
        _entry(
            "pension",
            "documents",
            ("Пенсияны кайдан алам?", "Где оформить пенсию?"),
            (
                "Пенсия Социалдык фонддун райондук бөлүмүндө дайындалат.",
                "Пенсию назначает районное отделение Социального фонда.",
            ),
            keywords=(["пенсия"], ["пенсия", "пенсионный"]),
        ),
        _entry(
            "corruption-report",
            "office",
            ("Коррупция жөнүндө кайда кабарлоо керек?", "Куда сообщить о коррупции?"),
            (
                "Прокуратурага же ишеним телефонуна кайрылыңыз.",
                "Обратитесь в прокуратуру или по телефону доверия.",
            ),
            keywords=(["пара", "коррупция"], ["взятка", "коррупция", "вымогательство"]),
        ),
        _entry(
            "reception",
            "office",
            ("Кабыл алуу качан болот?", "Когда приём граждан?"),
            ("Кабыл алуу: {reception_schedule}.", "Приём граждан: {reception_schedule}."),
            keywords=(["кабыл алуу", "иш убактысы"], ["приём", "часы работы", "график"]),
        ),
    ],
}


def small() -> dict:
    """A deep copy of the small catalogue's data, for breaking one thing in it."""
    return copy.deepcopy(SMALL)


@pytest.fixture
def catalog() -> FaqCatalog:
    return parse_faq(SMALL, substitutions=SUBSTITUTIONS)


def ids(entries) -> list[str]:
    return [entry.id for entry in entries]


# --- validation --------------------------------------------------------------------------------


def test_the_small_catalogue_is_valid(catalog):
    assert [t.id for t in catalog.topics] == ["taxes", "documents", "office"]
    assert len(catalog.entries) == 5
    assert catalog.topic("taxes").title("ru") == "Налоги"
    assert catalog.entry("pension").question("ky") == "Пенсияны кайдан алам?"
    assert catalog.entry("nope") is None and catalog.topic("nope") is None
    assert ids(catalog.entries_in("office")) == ["corruption-report", "reception"]
    assert catalog.entries_in("nope") == []
    assert catalog.entry("pension").sources == ("DOMAIN.md",)
    assert catalog.entry("corruption-report").keywords["ru"] == (
        "взятка",
        "коррупция",
        "вымогательство",
    )


def test_missing_translation_names_the_entry():
    data = small()
    del data["entries"][2]["answer"]["ru"]
    with pytest.raises(FaqError, match=r"entry 'pension': answer in 'ru'.*missing translation"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_missing_question_translation_names_the_entry():
    data = small()
    del data["entries"][1]["question"]["ky"]
    with pytest.raises(FaqError, match=r"entry 'family-certificate': question in 'ky'"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_empty_answer_names_the_entry():
    data = small()
    data["entries"][0]["answer"]["ky"] = "   "
    with pytest.raises(FaqError, match=r"entry 'land-tax': answer in 'ky' is empty"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_missing_topic_title_names_the_topic():
    data = small()
    data["topics"][1]["title"]["ru"] = ""
    with pytest.raises(FaqError, match=r"topic 'documents': title in 'ru'"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_over_long_answer_names_the_entry():
    data = small()
    data["entries"][2]["answer"]["ru"] = "а" * (MAX_ANSWER + 1)
    with pytest.raises(FaqError, match=r"entry 'pension': answer in 'ru' is over-long"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_answer_length_is_counted_after_substitution():
    data = small()
    data["entries"][4]["answer"]["ru"] = "а" * (MAX_ANSWER - 60) + " {reception_schedule}"
    long_schedule = copy.deepcopy(SUBSTITUTIONS)
    assert parse_faq(data, substitutions=long_schedule)
    long_schedule["reception_schedule"]["ru"] = "б" * 100
    with pytest.raises(FaqError, match=r"entry 'reception': answer in 'ru' is over-long"):
        parse_faq(data, substitutions=long_schedule)


def test_over_long_question_names_the_entry():
    data = small()
    data["entries"][3]["question"]["ky"] = "Коррупция? " * 30
    with pytest.raises(FaqError, match=r"entry 'corruption-report': question in 'ky' is over-long"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_duplicate_id_is_named():
    data = small()
    data["entries"][3]["id"] = "pension"
    with pytest.raises(FaqError, match=r"entry 'pension': duplicate id"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_non_ascii_or_empty_id_is_refused():
    data = small()
    data["entries"][0]["id"] = "жер-салыгы"
    with pytest.raises(FaqError, match=r"entry 'жер-салыгы': id must be"):
        parse_faq(data, substitutions=SUBSTITUTIONS)
    data["entries"][0]["id"] = ""
    with pytest.raises(FaqError, match=r"entry '': id must be"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_unknown_topic_names_the_entry():
    data = small()
    data["entries"][1]["topic"] = "health"
    with pytest.raises(FaqError, match=r"entry 'family-certificate': unknown topic 'health'"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_unknown_placeholder_names_the_entry():
    data = small()
    data["entries"][2]["answer"]["ky"] += " Телефон: {phone}"
    with pytest.raises(FaqError, match=r"entry 'pension': unknown placeholder \{phone\} in 'ky'"):
        parse_faq(data, substitutions=SUBSTITUTIONS)
    # without substitutions the known placeholders stay for the caller, unknown ones are refused
    with pytest.raises(FaqError, match=r"entry 'pension': unknown placeholder \{phone\}"):
        parse_faq(data)


def test_known_placeholder_without_a_value_is_refused():
    partial = {"municipality": SUBSTITUTIONS["municipality"]}
    with pytest.raises(FaqError, match=r"entry 'reception': placeholder \{reception_schedule\}"):
        parse_faq(SMALL, substitutions=partial)


def test_entry_needs_a_source():
    data = small()
    data["entries"][4]["sources"] = []
    with pytest.raises(FaqError, match=r"entry 'reception': needs at least one source"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_keywords_are_optional_but_must_be_lists_of_strings():
    data = small()
    del data["entries"][2]["keywords"]
    assert parse_faq(data, substitutions=SUBSTITUTIONS).entry("pension").keywords == {
        "ky": (),
        "ru": (),
    }
    data["entries"][2]["keywords"] = {"ru": "пенсия"}
    with pytest.raises(FaqError, match=r"entry 'pension': keywords in 'ru'"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_content_needs_an_entry():
    data = small()
    data["entries"] = []
    with pytest.raises(FaqError, match="no entries"):
        parse_faq(data, substitutions=SUBSTITUTIONS)


def test_bad_json_is_a_faq_error(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text('{"topics": [], "entries": [', encoding="utf-8")
    with pytest.raises(FaqError, match="not valid JSON"):
        load_faq(path, substitutions=SUBSTITUTIONS)
    with pytest.raises(FaqError, match="cannot be read"):
        load_faq(tmp_path / "missing.json", substitutions=SUBSTITUTIONS)


# --- substitution and reloading ----------------------------------------------------------------


def test_placeholders_are_filled_per_locale(catalog):
    assert catalog.entry("reception").answer("ky") == "Кабыл алуу: дүйшөмбү–жума, саат 9:00–17:00."
    assert (
        catalog.entry("reception").answer("ru")
        == "Приём граждан: понедельник–пятница, с 9:00 до 17:00."
    )
    assert "Ак-Суу айыл өкмөтү кассасында" in catalog.entry("land-tax").answer("ky")
    assert "{" not in catalog.entry("land-tax").answer("ru")


def test_without_substitutions_known_placeholders_are_kept():
    catalog = parse_faq(SMALL)
    assert catalog.entry("reception").answer("ru") == "Приём граждан: {reception_schedule}."


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_library_reload_swaps_only_valid_content(tmp_path):
    path = tmp_path / "faq.json"
    _write(path, SMALL)
    library = FaqLibrary(path, substitutions=SUBSTITUTIONS)
    first = library.catalog
    assert first.entry("pension") is not None

    broken = small()
    broken["entries"][2]["answer"]["ru"] = ""
    _write(path, broken)
    with pytest.raises(FaqError, match="entry 'pension'"):
        library.reload()
    assert library.catalog is first

    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(FaqError):
        library.reload()
    assert library.catalog is first

    changed = small()
    changed["entries"][2]["answer"]["ru"] = "Пенсию назначает Социальный фонд."
    _write(path, changed)
    new = library.reload()
    assert library.catalog is new and new is not first
    assert new.entry("pension").answer("ru") == "Пенсию назначает Социальный фонд."
    assert new.search("пенсия")[0].id == "pension"


def test_library_refuses_broken_content_at_start(tmp_path):
    path = tmp_path / "faq.json"
    broken = small()
    broken["entries"][0]["topic"] = "nope"
    _write(path, broken)
    with pytest.raises(FaqError, match="entry 'land-tax': unknown topic"):
        FaqLibrary(path, substitutions=SUBSTITUTIONS)


# --- search ------------------------------------------------------------------------------------


def test_search_finds_by_words_of_the_question(catalog):
    assert ids(catalog.search("Как оплатить земельный налог?"))[0] == "land-tax"
    assert ids(catalog.search("Жер салыгын кантип төлөйм?"))[0] == "land-tax"


def test_search_tolerates_russian_lookalike_letters(catalog):
    # ү typed as у, ө as о
    assert ids(catalog.search("уй-було курамы тууралуу маалымкат"))[0] == "family-certificate"
    assert ids(catalog.search("жер салыгын толоо"))[0] == "land-tax"


def test_search_ignores_case_and_punctuation(catalog):
    assert ids(catalog.search("ПЕНСИЯ???"))[0] == "pension"
    assert ids(catalog.search("...взятка!!!"))[0] == "corruption-report"


def test_search_forgives_one_typo(catalog):
    assert ids(catalog.search("пенсея"))[0] == "pension"
    assert ids(catalog.search("коррупцыя"))[0] == "corruption-report"
    assert ids(catalog.search("спарвка о составе семьи"))[0] == "family-certificate"


def test_search_matches_other_word_endings(catalog):
    assert ids(catalog.search("нужна справочка для семьи"))[0] == "family-certificate"
    assert ids(catalog.search("справки"))[0] == "family-certificate"
    assert ids(catalog.search("пенсиямды кантип алам"))[0] == "pension"
    assert ids(catalog.search("салыктарды каерде толойбуз"))[0] == "land-tax"


def test_search_crosses_languages_through_keywords(catalog):
    # "вымогательство" occurs only in the Russian keywords of the entry
    assert ids(catalog.search("вымогательство со стороны чиновника")) == ["corruption-report"]
    # a Russian query finds the entry while the citizen's language is Kyrgyz
    assert ids(catalog.search("график"))[0] == "reception"


def test_search_finds_substituted_text(catalog):
    assert ids(catalog.search("работаете ли в пятница"))[0] == "reception"


def test_stop_words_only_break_ties():
    data = small()
    # an entry just like "corruption-report" but for "куда", placed before it
    data["entries"].insert(
        3,
        _entry(
            "corruption-anonymous",
            "office",
            (
                "Коррупция тууралуу атымды айтпай кабарласам болобу?",
                "Сообщить о коррупции анонимно?",
            ),
            ("Ооба, болот.", "Да, можно."),
            keywords=(["пара", "коррупция"], ["взятка", "коррупция", "вымогательство"]),
        ),
    )
    catalog = parse_faq(data, substitutions=SUBSTITUTIONS)
    assert ids(catalog.search("куда сообщить о коррупции"))[:2] == [
        "corruption-report",
        "corruption-anonymous",
    ]
    assert ids(catalog.search("анонимно сообщить о коррупции"))[0] == "corruption-anonymous"
    # stop words alone find nothing
    assert catalog.search("куда как где") == []


def test_search_returns_nothing_for_nonsense(catalog):
    for query in ("asdf qwerty", "погода в москве", "ыыыыы", "как где когда", "эмне кантип"):
        assert catalog.search(query) == [], query


def test_search_returns_nothing_for_empty_or_short_queries(catalog):
    for query in ("", "   ", "?!", "а", "ок"):
        assert catalog.search(query) == [], query


def test_search_respects_the_limit(catalog):
    query = "налог пенсия справка коррупция приём"
    assert len(catalog.search(query)) == 3
    assert len(catalog.search(query, limit=5)) == 5
    assert len(catalog.search(query, limit=1)) == 1
    assert catalog.search(query, limit=0) == []


def test_search_reads_only_the_start_of_a_long_query(catalog):
    assert catalog.search("ы " * 400 + "пенсия") == []
    assert ids(catalog.search("пенсия " + "ы " * 400))[0] == "pension"


# --- the built-in catalogue --------------------------------------------------------------------


def test_builtin_catalogue_loads_with_substitutions():
    library = FaqLibrary(substitutions=SUBSTITUTIONS)
    assert library.reload() is library.catalog
    catalog = library.catalog
    assert len(catalog.entries) >= 30
    for topic in catalog.topics:
        assert catalog.entries_in(topic.id), f"topic {topic.id!r} has no entries"
    for entry in catalog.entries:
        for locale in ("ky", "ru"):
            assert "{" not in entry.answer(locale), entry.id
