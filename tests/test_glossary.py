"""The glossary (`locales/GLOSSARY.md`) is followed by every text a citizen reads: both catalogs,
the FAQ (titles, questions, answers; keywords are exempt) and the category labels."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "bot" / "content"
GLOSSARY = ROOT / "locales" / "GLOSSARY.md"

# FAQ entries that restate the legal deadlines of Law No. 67 / Order No. 98 in its own words.
LEGAL_ENTRIES = frozenset({"appeal-deadlines", "appeal-extension", "appeal-overdue"})
# The legal notion "appeal", allowed everywhere (removed before the complaint rule is applied).
LEGAL_PHRASES = {
    "ky": (r"расмий\s+кайрылуу\w*", r"«Жарандардын кайрылууларын кароонун тартиби жөнүндө»"),
    "ru": (r"официальн\w*\s+обращени\w*", r"«О порядке рассмотрения обращений граждан»"),
}
MUNICIPALITY_ENTRY = "municipality-what"
MUNICIPALITY_LAW = {
    "ky": r"«Жергиликтүү өз алдынча башкаруу жөнүндө»",
    "ru": r"«О местном самоуправлении»",
}


@dataclass(frozen=True)
class Text:
    where: str  # "po:<msgid>", "faq:<entry id>", "topic:<id>", "category:<id>"
    locale: str
    text: str

    @property
    def entry(self) -> str:
        return self.where.removeprefix("faq:") if self.where.startswith("faq:") else ""


@dataclass(frozen=True)
class Rule:
    locale: str
    term: str  # as written in GLOSSARY.md
    pattern: str
    example: str  # a sentence the rule must catch
    allow: tuple[str, ...] = ()  # phrases removed before matching
    exempt: frozenset[str] = frozenset()  # FAQ entries where the term is allowed
    only_catalog: bool = False

    def finds(self, text: Text) -> list[str]:
        if text.locale != self.locale or text.entry in self.exempt:
            return []
        if self.only_catalog and not text.where.startswith("po:"):
            return []
        body = text.text
        for phrase in self.allow:
            body = re.sub(phrase, " ", body, flags=re.I)
        return [m.group(0) for m in re.finditer(self.pattern, body, flags=re.I)]


def _word(stem: str) -> str:
    """`stem` at the start of a word, with any ending."""
    return rf"(?<!\w){stem}\w*"


RULES = (
    # complaint: даттануу / жалоба; the legal notion keeps кайрылуу / обращение
    Rule(
        "ky",
        "кайрылуу",
        _word("кайрылуу"),
        "Кайрылууну жөнөтүңүз.",
        allow=LEGAL_PHRASES["ky"],
        exempt=LEGAL_ENTRIES,
    ),
    Rule(
        "ru",
        "обращение",
        _word("обращени"),
        "Ваше обращение принято.",
        allow=LEGAL_PHRASES["ru"],
        exempt=LEGAL_ENTRIES,
    ),
    Rule("ky", "сигнал", _word("сигнал"), "Бул сигнал катары каралат."),
    Rule("ru", "сигнал", _word("сигнал"), "Это рассматривают как сигнал."),
    Rule("ky", "арыз", _word("арыз"), "Арызыңыз катталды."),
    Rule("ru", "заявление", _word("заявлени"), "Ваше заявление принято."),
    # "report" is a complaint; билдирүү / сообщение is a chat message only
    Rule("ky", "аноним билдирүү", r"аноним\w*\s+билдирүү\w*", "«Аноним билдирүү» баскычы"),
    Rule(
        "ky", "билдирүү", r"(?<!\w)билдирүү\w*\s+(?:\w+\s+)?катта\w*", "Билдирүүңүз дароо катталат."
    ),
    Rule("ru", "анонимное сообщение", r"анонимн\w*\s+сообщени\w*", "Анонимное сообщение"),
    Rule(
        "ru",
        "сообщение",
        r"(?<!\w)сообщени\w*\s+(?:о\s+(?:коррупц|факт)|(?:\w+\s+)?"
        r"(?:регистрир|переда|рассматрива))\w*",
        "Сообщение передаётся в орган.",
    ),
    Rule("ru", "анонимка", _word("анонимк"), "Анонимку не рассмотрят."),
    # status: абал / статус
    Rule("ky", "статус", _word("статус"), "Даттануунун статусу өзгөрдү."),
    Rule("ru", "состояние", _word("состояни"), "Состояние жалобы изменилось."),
    Rule(
        "ru",
        "принято",
        r"(?<!\w)(?:принято\s+к\s+рассмотр|передано\s+в\s+компетентн)\w*",
        "этапы: принято к рассмотрению",
        exempt=LEGAL_ENTRIES,  # there it is the appeal (обращение), a neuter noun
    ),
    # summary
    Rule("ky", "жыйынтык", _word("жыйынтык"), "Жыйынтыкты текшериңиз.", only_catalog=True),
    Rule("ky", "жыйынтык", r"жыйынтык\w*\s+текшер\w*", "Жыйынтыкты текшерип, жөнөтүңүз."),
    Rule("ru", "сводка", _word("сводк"), "Проверьте сводку."),
    Rule("ru", "итог", _word("итог"), "Проверьте итог.", only_catalog=True),
    Rule("ru", "итог", r"проверьте\s+итог\w*", "Проверьте итог и нажмите."),
    Rule("ky", "Өзгөртүү киргизүү", r"өзгөртүү\s+киргиз\w*", "✏️ Өзгөртүү киргизүү"),
    # public hearings
    Rule("ky", "ачык угуу", r"ачык\s+угуу\w*", "Ачык угуу болот."),
    Rule("ru", "публичные слушания", r"публичн\w*\s+слушани\w*", "Публичные слушания пройдут."),
    # municipality: one name; the full name and abbreviations only where they are explained
    Rule("ky", "ЖӨБ", r"(?<!\w)ЖӨБ\w*", "ЖӨБ органы", exempt=frozenset({MUNICIPALITY_ENTRY})),
    Rule(
        "ky",
        "жергиликтүү өз алдынча башкаруу органы",
        r"жергиликтүү\s+өз\s+алдынча\s+башкаруу",
        "жергиликтүү өз алдынча башкаруу органына",
        allow=(MUNICIPALITY_LAW["ky"],),
        exempt=frozenset({MUNICIPALITY_ENTRY}),
    ),
    Rule("ky", "жергиликтүү бийлик", r"жергиликтүү\s+бийлик\w*", "жергиликтүү бийликке"),
    Rule("ru", "МСУ", r"(?<!\w)МСУ(?!\w)", "органы МСУ", exempt=frozenset({MUNICIPALITY_ENTRY})),
    Rule(
        "ru",
        "орган местного самоуправления",
        r"местн\w+\s+самоуправлени\w*",
        "органа местного самоуправления",
        allow=(MUNICIPALITY_LAW["ru"],),
        exempt=frozenset({MUNICIPALITY_ENTRY}),
    ),
    Rule("ru", "местная власть", r"местн\w+\s+власт\w*", "к местной власти"),
    # competent body
    Rule("ky", "ыйгарым укуктуу орган", r"ыйгарым\s+укуктуу\s+орган\w*", "ыйгарым укуктуу органга"),
    Rule("ky", "компетенттүү орган", r"компетенттүү\s+орган\w*", "компетенттүү органга"),
    Rule("ru", "уполномоченный орган", r"уполномоченн\w*\s+орган\w*", "в уполномоченный орган"),
    # due date and lengths: no suffix on a placeholder, no "белги" for characters
    Rule("ky", "{date} чейин", r"\{date\}\s+\w*\s*чейин", "Жооп {date} чейин берилет."),
    Rule(
        "ky",
        "мөөнөтү {date} өтүп кеткен",
        r"мөөнөтү\s+\{date\}\s+өт\w*",
        "№ 1: мөөнөтү {date} өтүп кеткен",
    ),
    Rule("ky", "белги", r"(?:\d|\})\s*белги\w*", "{min}–{max} белги."),
    Rule("ky", "көлөмү", _word("көлөм"), "Көлөмү: 10–4000."),
    # calques
    Rule("ky", "Азыр биз бул жердебиз", r"бул\s+жердебиз", "Азыр биз бул жердебиз:"),
    Rule("ky", "операторлордон суроо", r"операторлордон\s+суроо", "✉ Башка: операторлордон суроо"),
    Rule("ky", "чексиз акча", r"чексиз\s+акча", "Чексиз акча сурашса"),
    # WhatsApp with a suffix
    Rule("ky", "WhatsApp'та", r"WhatsApp['’ʼ`-]\w*", "WhatsApp'та гана"),
    Rule("ru", "WhatsApp'та", r"WhatsApp['’ʼ`-]\w*", "WhatsApp'е"),
)

# Kyrgyz "Сиз" is capitalised in every form (Сизге, Сиздин...), case-sensitive on purpose.
LOWER_SIZ = re.compile(r"(?<!\w)сиз\w*")


def _catalog_texts() -> list[Text]:
    texts = []
    for locale in ("ky", "ru"):
        path = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
        with open(path, "rb") as handle:
            texts += [
                Text("po:" + m.id, locale, m.string)
                for m in read_po(handle)
                if m.id and isinstance(m.string, str) and m.string
            ]
    return texts


def _content_texts() -> list[Text]:
    faq = json.loads((CONTENT / "faq.json").read_text(encoding="utf-8"))
    categories = json.loads((CONTENT / "categories.json").read_text(encoding="utf-8"))
    texts = []
    for locale in ("ky", "ru"):
        texts += [Text("topic:" + t["id"], locale, t["title"][locale]) for t in faq["topics"]]
        for entry in faq["entries"]:
            for field in ("question", "answer"):
                texts.append(Text("faq:" + entry["id"], locale, entry[field][locale]))
        texts += [Text("category:" + c["id"], locale, c[locale]) for c in categories["categories"]]
    return texts


ALL_TEXTS = _catalog_texts() + _content_texts()


def violations(texts: list[Text]) -> list[str]:
    found = []
    for text in texts:
        for rule in RULES:
            found += [f"{text.where} ({text.locale}): {hit!r}" for hit in rule.finds(text)]
        if text.locale == "ky":
            found += [f"{text.where} (ky): {hit!r}" for hit in LOWER_SIZ.findall(text.text)]
    return found


def test_texts_were_found():
    kinds = {(t.where.split(":")[0], t.locale) for t in ALL_TEXTS}
    assert kinds == {(k, loc) for k in ("po", "faq", "topic", "category") for loc in ("ky", "ru")}
    assert len([t for t in ALL_TEXTS if t.where.startswith("faq:")]) >= 160


@pytest.mark.parametrize("kind", ["po", "faq", "topic", "category"])
def test_no_banned_variant_appears(kind):
    texts = [t for t in ALL_TEXTS if t.where.startswith(kind + ":")]
    assert violations(texts) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.locale}-{r.term}")
def test_each_rule_catches_its_example_and_is_in_the_glossary(rule):
    sample = Text("po:sample" if rule.only_catalog else "faq:sample", rule.locale, rule.example)
    assert rule.finds(sample), rule.example
    assert rule.term.lower() in GLOSSARY.read_text(encoding="utf-8").lower()


def test_the_legal_notion_and_its_entries_are_allowed():
    ky = Text("faq:appeal-named-needs", "ky", "Бул расмий кайрылуу болуп эсептелет.")
    ru = Text(
        "faq:appeal-named-needs", "ru", "Анонимная жалоба не считается официальным обращением."
    )
    legal = Text("faq:appeal-deadlines", "ru", "Обращение регистрируется в течение 1 дня.")
    assert violations([ky, ru, legal]) == []
    plain = Text("faq:appeal-how", "ru", "Обращение регистрируется в течение 1 дня.")
    assert violations([plain]) != []


def test_lower_case_siz_is_caught_and_capitalised_is_not():
    assert violations([Text("po:x", "ky", "Сизге жооп келет, сиздин номериңиз.")]) == [
        "po:x (ky): 'сиздин'"
    ]
    assert violations([Text("po:x", "ky", "Сизге, Сиздин, Сизден.")]) == []


# --- facts and contacts (the seeds' reading in ../shared/DOMAIN.md) ---------------------------

SEEDS = ROOT.parent / "shared" / "seeds"
SOURCE = re.compile(r"^(?:DOMAIN\.md|(\d{3}):(\d+)(?:-(\d+))?)$")
TRUST_NUMBERS = ("62 41 40", "0800 800 55 10")
SERVICE = {"ky": "Мамлекеттик каттоо кызмат", "ru": "Государственной регистрационной служб"}


def _faq_entries() -> list[dict]:
    return json.loads((CONTENT / "faq.json").read_text(encoding="utf-8"))["entries"]


def test_every_source_names_seed_lines_that_exist():
    seeds = {p.name[:3]: p for p in SEEDS.glob("*.txt")} if SEEDS.is_dir() else {}
    for entry in _faq_entries():
        assert entry["sources"], entry["id"]
        for source in entry["sources"]:
            match = SOURCE.match(source)
            assert match, f"{entry['id']}: {source!r}"
            if match.group(1) and seeds:  # the seeds live next to the repository, not in it
                first, last = int(match.group(2)), int(match.group(3) or match.group(2))
                lines = seeds[match.group(1)].read_text(encoding="utf-8").count("\n") + 1
                assert 1 <= first <= last <= lines, f"{entry['id']}: {source!r}"


def test_an_extension_adds_at_most_30_days_it_is_not_30_in_total():
    # Order No. 98 (seed 001, lines 5314-5318): "30 күндө ашык эмес узартылышы мүмкүн".
    wrong = re.compile(r"жалпы\w*\s+(?:мөөнөт\w*\s+)?30|в\s+общей\s+сложности|общий\s+срок", re.I)
    for entry in _faq_entries():
        for locale in ("ky", "ru"):
            assert not wrong.search(entry["answer"][locale]), (entry["id"], locale)
    extension = next(e for e in _faq_entries() if e["id"] == "appeal-extension")
    assert all("44" in extension["answer"][locale] for locale in ("ky", "ru"))


def test_trust_phones_are_never_shown_without_whose_lines_they_are():
    # They head the State Registration Service's communication policy (seed 000, lines 1-8).
    for entry in _faq_entries():
        for locale in ("ky", "ru"):
            text = entry["answer"][locale]
            assert not any(number in text for number in TRUST_NUMBERS), (entry["id"], locale)
    for text in _catalog_texts():
        if any(number in text.text for number in TRUST_NUMBERS):
            assert SERVICE[text.locale] in text.text, text.where
    phones = next(e for e in _faq_entries() if e["id"] == "contacts-phones")
    assert all("{help_phones}" in phones["answer"][locale] for locale in ("ky", "ru"))


async def test_help_shows_the_configured_phone_lines_and_the_reception_schedule(tmp_path):
    from bot.app import build_app
    from bot.clock import FakeClock
    from tests.conftest import Chat, make_settings, start_in

    settings = make_settings(
        tmp_path,
        help_phones_ky="Ак-Суу айыл өкмөтүнүн ишеним телефону|0 3922 5 12 34",
        help_phones_ru="Телефон доверия айыл окмоту Ак-Суу|0 3922 5 12 34; Прокуратура|0 312 660",
        reception_schedule_ky="Шейшемби, саат 9:00–12:00",
        reception_schedule_ru="Вторник, с 9:00 до 12:00",
    )
    app = await build_app(settings, clock=FakeClock())
    try:
        for locale, label, schedule in (
            ("ky", "• Ак-Суу айыл өкмөтүнүн ишеним телефону: 0 3922 5 12 34", "Шейшемби"),
            ("ru", "• Прокуратура: 0 312 660", "Вторник, с 9:00 до 12:00"),
        ):
            chat = Chat(app.engine, user_key=f"help-{locale}")
            await start_in(chat, locale)
            await chat.command("/help")
            assert label in chat.said and schedule in chat.said and "112" in chat.said
            assert not any(number in chat.said for number in TRUST_NUMBERS)
            assert label in app.faq.catalog.entry("contacts-phones").answer(locale)
    finally:
        await app.close()


async def test_by_default_help_labels_the_phones_as_the_registration_service(app):
    from tests.conftest import Chat, start_in

    for locale in ("ky", "ru"):
        chat = Chat(app.engine, user_key=f"default-{locale}")
        await start_in(chat, locale)
        await chat.command("/help")
        line = next(x for x in chat.said.splitlines() if "62 41 40" in x)
        assert SERVICE[locale] in line and "0800 800 55 10" in line


def test_a_broken_phone_list_is_refused():
    from bot.config import Settings

    with pytest.raises(ValueError, match="label"):
        Settings(_env_file=None, help_phones_ru="Телефон доверия 0800 800 55 10")


async def test_the_question_card_names_the_language(app, chat):
    from tests.conftest import rendered_text, start_in

    await start_in(chat, "ky")
    await chat.press("menu:faq")
    await chat.text("Биздин айылда жаңы мектеп качан курулат, ким чечет ошону?")
    if "faq:ask" in chat.options:
        await chat.press("faq:ask")
    await chat.press("faq:send")
    [card] = await app.store.outbox.list(kind="question_card")
    heading = (await rendered_text(app, card)).splitlines()[0]
    assert "(Кыргызча)" in heading and "(ky)" not in heading
