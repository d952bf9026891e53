"""The FAQ in the dialog core: browsing and paging, search, questions handed to operators,
their answers coming back through the outbox, and reloading the content."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.app import build_app
from bot.dialogs.faq_flow import PAGE_SIZE
from bot.domain.complaints import OperatorRef
from bot.handlers.console.chat import operator_command
from bot.handlers.operator_tools import reload_faq
from tests.conftest import Chat, make_settings, rendered_text, start_in

TELEGRAM_LIMIT = 4096
BUILTIN = Path(__file__).resolve().parent.parent / "bot" / "content"


async def test_topics_then_a_page_of_questions_then_an_answer(app, chat):
    await start_in(chat, "ru")
    await chat.press("menu:faq")
    topics = [o for o in chat.options if o.startswith("faq:topic:")]
    assert topics[0] == "faq:topic:corruption" and len(topics) == len(app.faq.catalog.topics)
    await chat.press("faq:topic:appeals")
    entries = [o for o in chat.options if o.startswith("faq:entry:")]
    assert len(entries) == PAGE_SIZE and "faq:page:1" in chat.options
    assert "(страница 1 из 2)" in chat.said
    await chat.press("faq:page:1")
    second = [o for o in chat.options if o.startswith("faq:entry:")]
    assert second and not set(second) & set(entries) and "faq:page:0" in chat.options
    await chat.press(second[0])
    entry = app.faq.catalog.entry(second[0].removeprefix("faq:entry:"))
    assert entry.answer("ru") in chat.said
    await chat.press("faq:back")
    assert [o for o in chat.options if o.startswith("faq:entry:")] == second


async def test_every_page_and_answer_fits_one_telegram_message(app, chat):
    await start_in(chat, "ky")
    await chat.press("menu:faq")
    seen = set()
    for topic in app.faq.catalog.topics:
        await chat.press(f"faq:topic:{topic.id}")
        pages = -(-len(app.faq.catalog.entries_in(topic.id)) // PAGE_SIZE)
        for page in range(pages):
            await chat.press(f"faq:page:{page}") if page else None
            assert all(len(r.text) <= TELEGRAM_LIMIT for r in chat.replies)
            for entry_id in [o for o in chat.options if o.startswith("faq:entry:")]:
                await chat.press(entry_id)
                assert all(len(r.text) <= TELEGRAM_LIMIT for r in chat.replies)
                seen.add(entry_id)
                await chat.press("faq:back")
        await chat.press("faq:topics")
    assert len(seen) == len(app.faq.catalog.entries)  # every entry is reachable by browsing


async def test_a_typed_question_finds_entries_in_either_language(app, chat):
    await start_in(chat, "ky")
    await chat.press("menu:faq")
    await chat.text("пара берүү деген эмне")  # Kyrgyz, as typed
    assert chat.options[0] == "faq:entry:corruption-what"
    await chat.text("что такое взятка")  # Russian, from a Kyrgyz-speaking citizen
    assert chat.options[0] == "faq:entry:corruption-what"
    assert "faq:ask" in chat.options


async def test_a_question_typed_at_the_menu_is_searched(app, chat):
    await start_in(chat, "ru")
    await chat.text("куда звонить если пожар")
    assert any(o.startswith("faq:entry:") for o in chat.options)


async def test_small_talk_at_the_menu_is_not_sent_to_the_faq(app, chat):
    await start_in(chat, "ru")
    await chat.text("спасибо")
    assert chat.options[0] == "menu:complaint"


@pytest.mark.parametrize(
    ("locale", "typed", "answer"),
    [
        ("ky", "рахмат", "Эч нерсе эмес!"),
        ("ru", "спасибо большое", "Рады помочь"),
        ("ru", "spasibo bolshoe", "Рады помочь"),
        ("ky", "салам", "Саламатсызбы!"),
        ("ru", "привет как дела", "Здравствуйте!"),
        ("ky", "аба ырайы кандай", "муниципалитеттин иштери боюнча гана"),
        ("ru", "какая погода завтра", "только с делами муниципалитета"),
    ],
)
async def test_small_talk_at_the_menu_gets_a_kind_answer_and_the_menu(
    app, chat, locale, typed, answer
):
    await start_in(chat, locale)
    await chat.text(typed)
    assert answer in chat.said
    assert chat.options[0] == "menu:complaint"
    assert not [o for o in chat.options if o.startswith("faq:")]


@pytest.mark.parametrize(
    ("locale", "typed", "answer"),
    [("ky", "чоң рахмат сизге", "Эч нерсе эмес!"), ("ru", "добрый вечер", "Здравствуйте!")],
)
async def test_small_talk_in_the_faq_search_gets_a_kind_answer_and_the_menu(
    app, chat, locale, typed, answer
):
    await start_in(chat, locale)
    await chat.press("menu:faq")
    await chat.text(typed)
    assert answer in chat.said and chat.options[0] == "menu:complaint"
    assert not [o for o in chat.options if o.startswith("faq:entry:")]
    assert await app.store.questions.open() == []


@pytest.mark.parametrize(
    ("locale", "typed", "offer"),
    [
        ("ky", "суу жок", "даттануу бере аласыз"),
        ("ky", "жарык жок 3 күн", "даттануу бере аласыз"),
        ("ru", "свет не горит третий день", "подать о ней жалобу"),
        ("ru", "мусор не вывозят", "подать о ней жалобу"),
    ],
)
async def test_a_problem_stated_at_the_menu_is_offered_as_a_complaint(
    app, chat, locale, typed, offer
):
    await start_in(chat, locale)
    await chat.text(typed)
    assert offer in chat.said and chat.options[0] == "faq:complain"
    await chat.press("faq:complain")
    assert chat.options and all(o.startswith("cat:") or o.startswith("nav:") for o in chat.options)
    assert any(o.startswith("cat:") for o in chat.options)  # the complaint dialog has begun


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_a_problem_typed_at_the_menu_can_become_the_description(app, chat, locale):
    typed = "свет не горит третий день на улице Ленина"
    await start_in(chat, locale)
    await chat.text(typed)
    await chat.press("faq:complain")
    await chat.press("cat:lighting")
    assert typed in chat.said and chat.options[0] == "desc:use"
    await chat.press("desc:use")
    assert (await app.store.conversations.load(citizen_id=1)).data["draft"]["description"] == typed
    assert chat.options[0] == "place:skip"  # on to the place


async def test_a_short_problem_is_not_offered_as_the_description(app, chat):
    await start_in(chat, "ky")
    await chat.text("суу жок")  # 7 characters: shorter than a description may be
    await chat.press("faq:complain")
    await chat.press("cat:water")
    assert "desc:use" not in chat.options and "суу жок" not in chat.said


@pytest.mark.parametrize(
    ("locale", "typed", "more"),
    [
        ("ru", "нет питьевой воды в селе куда обращаться", "помогут и эти ответы"),
        ("ky", "айылда ичкенге суу жок кайда кайрылам", "жардам бериши мүмкүн"),
    ],
)
async def test_a_problem_with_entries_offers_the_complaint_first_then_the_entries(
    app, chat, locale, typed, more
):
    await start_in(chat, locale)
    await chat.text(typed)
    assert more in chat.said
    assert chat.options[:2] == ["faq:complain", "faq:entry:municipality-duties"]
    await chat.press("faq:entry:municipality-duties")
    await chat.press("faq:back")
    assert chat.options[0] == "faq:complain"  # back to the same offer


async def test_a_question_at_the_menu_is_not_offered_as_a_complaint(app, chat):
    await start_in(chat, "ky")
    await chat.text("kantip aryz beremin")
    assert chat.options[0] == "faq:entry:appeal-how" and "faq:complain" not in chat.options


async def test_an_unanswered_question_goes_to_operators_and_the_answer_comes_back(app, chat):
    await start_in(chat, "ru")
    await chat.press("menu:faq")
    question = "Когда в нашем селе починят мост через арык на улице Садовой?"
    await chat.text(question)
    await chat.press("faq:ask") if "faq:ask" in chat.options else None
    assert chat.options[0] == "faq:send" and question in chat.said
    await chat.press("faq:send")
    assert "Q-1" in chat.said and chat.options[0] == "menu:complaint"
    [card] = await app.store.outbox.list(kind="question_card")
    card_text = await rendered_text(app, card)
    assert card.recipient == "-100500" and question in card_text
    assert "700" not in card_text  # never who asked

    result = await app.questions.answer(
        1, "Ремонт моста запланирован на май.", OperatorRef(42, "Op")
    )
    assert result.ok
    again = await app.questions.answer(1, "Второй ответ", OperatorRef(43, "Op2"))
    assert not again.ok and again.reason == "answered"
    [notice] = await app.store.outbox.list(kind="question_answer")
    text = await rendered_text(app, notice)
    assert notice.recipient == "700" and "Q-1" in text and "май" in text
    assert (await app.outbox.render(notice)).template_variables["1"] == "Q-1"


async def test_console_operator_answers_a_question(app, chat):
    await start_in(chat, "ky")
    await chat.press("menu:faq")
    await chat.text("Биздин айылда жаңы мектеп качан курулат, ким чечет ошону?")
    if "faq:ask" in chat.options:
        await chat.press("faq:ask")
    await chat.press("faq:send")
    assert "Q-1" in await operator_command(app, "/op queue")
    assert await operator_command(app, "/op Q-1 answer Быйыл күзүндө.") == "Q-1: answered"
    [notice] = await app.store.outbox.list(kind="question_answer")
    assert "Быйыл күзүндө." in await rendered_text(app, notice)


async def test_too_short_and_too_long_questions_are_explained(app, chat):
    await start_in(chat, "ru")
    await chat.press("menu:faq")
    await chat.text("?!")
    assert "в нескольких словах" in chat.said
    await chat.text("вопрос " * 200)
    assert "1000" in chat.said
    assert await app.store.questions.open() == []


async def test_stale_faq_button_is_harmless(app, chat):
    await start_in(chat, "ru")
    await chat.press("menu:faq")
    await chat.press("faq:topic:hearings")
    await chat.press("faq:topic:corruption")  # from the message before
    assert "ранее" in chat.said.lower() or "старого" in chat.said.lower()


def broken_content(tmp_path: Path, change) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(BUILTIN, folder, ignore=shutil.ignore_patterns("__*"))
    data = json.loads((folder / "faq.json").read_text(encoding="utf-8"))
    change(data)
    (folder / "faq.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


async def test_reload_refuses_broken_content_and_keeps_the_old(tmp_path, clock):
    folder = broken_content(tmp_path, lambda data: None)
    app = await build_app(make_settings(tmp_path, content_dir=folder), clock=clock)
    try:
        before = app.faq.catalog
        data = json.loads((folder / "faq.json").read_text(encoding="utf-8"))
        data["entries"][0]["answer"]["ru"] = ""
        (folder / "faq.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        answer = reload_faq(app)
        assert data["entries"][0]["id"] in answer and "не" in answer
        assert app.faq.catalog is before
        data["entries"][0]["answer"]["ru"] = "Новый ответ."
        (folder / "faq.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        assert str(len(data["entries"])) in reload_faq(app)
        assert app.faq.catalog.entries[0].answer("ru") == "Новый ответ."
        chat = Chat(app.engine)
        await start_in(chat, "ru")
        await chat.press("menu:faq")
        await chat.press(f"faq:topic:{data['entries'][0]['topic']}")
        await chat.press(f"faq:entry:{data['entries'][0]['id']}")
        assert "Новый ответ." in chat.said
    finally:
        await app.close()


def test_broken_content_is_refused_at_start_and_by_check_content(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    def break_entry(data):
        data["entries"][2]["answer"]["ky"] = "  "

    folder = broken_content(tmp_path, break_entry)
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("CONTENT_DIR", str(folder))
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "never.sqlite3"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    entry_id = json.loads((folder / "faq.json").read_text(encoding="utf-8"))["entries"][2]["id"]
    assert main(["check-content"]) == 1
    assert entry_id in capsys.readouterr().out
    assert main(["chat"]) == 2
    assert not (tmp_path / "never.sqlite3").exists()  # refused before anything was opened


async def test_answered_questions_export_as_draft_entries(app, chat):
    from bot.domain.questions import faq_drafts

    await start_in(chat, "ru")
    await chat.press("menu:faq")
    await chat.text("Можно ли поставить киоск возле остановки и куда подать заявление на это?")
    if "faq:ask" in chat.options:
        await chat.press("faq:ask")
    await chat.press("faq:send")
    assert await faq_drafts(app.store) == []  # not answered yet
    await app.questions.answer(1, "Заявление подают в отдел архитектуры.", OperatorRef(1, "Op"))
    [draft] = await faq_drafts(app.store)
    assert draft["id"] == "question-1" and "киоск" in draft["question"]["ru"]
    assert draft["answer"] == {"ru": "Заявление подают в отдел архитектуры."}
    assert "700" not in json.dumps(draft)
