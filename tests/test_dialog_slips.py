"""Tier 1: what a new user stumbled on, in both languages: leaving an unfinished complaint,
changing the language in the middle of one, coming back to the summary from a step, and short
typed answers."""

from __future__ import annotations

import pytest

from bot.dialogs.states import State
from tests.conftest import Chat, start_in

LOCALES = ["ky", "ru"]
UNFINISHED = "You have an unfinished complaint. Do you want to continue it?"


def said(chat: Chat, message: str, locale: str) -> bool:
    """Whether the last replies hold `message` as the citizen reads it in `locale`."""
    text = chat.engine.i18n.texts(locale).gettext(message)
    assert text != message, f"untranslated in {locale}: {message}"
    return text in chat.said


async def conversation(app, chat: Chat):
    citizen = await app.store.citizens.find(channel=chat.channel, user_key=chat.user_key)
    return await app.store.conversations.load(citizen_id=citizen.id)


async def at_summary(chat: Chat, locale: str) -> None:
    await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("Яма на дороге у моста, машины ломаются")
    await chat.text("ул. Ленина, 12")
    await chat.press("photos:done")
    await chat.press("id:anon")
    assert chat.options[0] == "confirm:yes"


async def at_description(chat: Chat, locale: str) -> None:
    await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:water")


# ----- leaving an unfinished complaint ------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("leave", ["/start", "/menu", "меню", "menu", "/check", "/complaint"])
async def test_leaving_the_summary_asks_first(app, chat, locale, leave):
    await at_summary(chat, locale)
    await (chat.command(leave) if leave.startswith("/") else chat.text(leave))
    assert said(chat, UNFINISHED, locale)
    assert chat.options == ["draft:continue", "draft:discard"]
    conv = await conversation(app, chat)
    assert conv.data["draft"]["description"] == "Яма на дороге у моста, машины ломаются"
    await chat.press("draft:continue")
    assert chat.options[0] == "confirm:yes"  # the same step's prompt, the draft whole
    await chat.press("confirm:yes")
    assert await app.store.complaints.by_number(reg_number="26-00001") is not None


@pytest.mark.parametrize("locale", LOCALES)
async def test_discard_goes_where_the_citizen_asked(app, chat, locale):
    await at_description(chat, locale)
    await chat.command("/check")
    await chat.press("draft:discard")
    assert said(chat, "The unfinished complaint was discarded.", locale)
    conv = await conversation(app, chat)
    assert conv.state == State.CHECK_NUMBER and "draft" not in conv.data
    await chat.text("меню")  # nothing unfinished now: straight to the menu
    assert chat.options[0] == "menu:complaint"


@pytest.mark.parametrize("locale", LOCALES)
async def test_unfinished_question_in_every_complaint_state(app, chat, locale):
    await at_description(chat, locale)
    await chat.text("Нет воды в доме уже третий день")
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.press("id:named")
    for step in (State.NAME, State.PHONE):
        assert (await conversation(app, chat)).state == step
        await chat.command("/start")
        assert chat.options == ["draft:continue", "draft:discard"]
        await chat.press("draft:continue")
        assert (await conversation(app, chat)).state == step
        await chat.text("Асанова Айгүл" if step == State.NAME else "0555 12-34-56")


@pytest.mark.parametrize("locale", LOCALES)
async def test_unfinished_question_takes_typed_and_numbered_answers(app, locale):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await at_description(chat, locale)
    await chat.text("menu")
    await chat.text("ооба" if locale == "ky" else "да")
    assert (await conversation(app, chat)).state == State.DESCRIPTION
    await chat.text("меню")
    await chat.text("2")  # "2. No, discard it"
    assert chat.options[0] == "menu:complaint"
    assert "draft" not in (await conversation(app, chat)).data


@pytest.mark.parametrize("locale", LOCALES)
async def test_help_and_unknown_commands_keep_the_draft(app, chat, locale):
    await at_description(chat, locale)
    await chat.command("/help")
    assert chat.options[-1] == "nav:cancel"  # back at the description prompt
    await chat.command("/weather")
    conv = await conversation(app, chat)
    assert conv.state == State.DESCRIPTION and conv.data["draft"]["category"] == "water"


async def test_cancel_still_discards_at_once(app, chat):
    await at_description(chat, "ru")
    await chat.text("отмена")
    assert chat.options[0] == "menu:complaint"
    assert "draft" not in (await conversation(app, chat)).data


# ----- the language in the middle of a complaint ---------------------------------------------


@pytest.mark.parametrize(("first", "then"), [("ru", "ky"), ("ky", "ru")])
async def test_changing_the_language_keeps_the_draft(app, chat, first, then):
    await at_summary(chat, first)
    await chat.command("/language")
    assert chat.options == ["lang:ky", "lang:ru"]
    await chat.press(f"lang:{then}")
    conv = await conversation(app, chat)
    assert conv.state == State.CONFIRM and conv.data["draft"]["category"] == "roads"
    summary = chat.engine.i18n.texts(then).gettext("Please check your complaint:")
    assert summary in chat.said  # the summary again, in the new language
    await chat.press("confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.description == "Яма на дороге у моста, машины ломаются"


async def test_menu_from_the_language_prompt_still_asks(app, chat):
    await at_description(chat, "ru")
    await chat.command("/language")
    await chat.command("/start")
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.press("draft:continue")
    assert (await conversation(app, chat)).state == State.DESCRIPTION


# ----- back to the summary from every edit step ------------------------------------------------


EDITS = {
    "edit:category": State.CATEGORY,
    "edit:description": State.DESCRIPTION,
    "edit:place": State.PLACE,
    "edit:photos": State.PHOTOS,
    "edit:identity": State.IDENTITY,
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("edit", sorted(EDITS))
async def test_every_edit_step_offers_back_to_the_summary(app, chat, locale, edit):
    await at_summary(chat, locale)
    await chat.press("confirm:edit")
    await chat.press(edit)
    assert (await conversation(app, chat)).state == EDITS[edit]
    assert chat.options[-2:] == ["nav:summary", "nav:cancel"]
    await chat.text("?")  # a wrong answer: the hint and the prompt keep the way back
    assert chat.options[-2:] == ["nav:summary", "nav:cancel"]
    await chat.press("nav:summary")
    conv = await conversation(app, chat)
    assert conv.state == State.CONFIRM and chat.options[0] == "confirm:yes"
    assert conv.data["draft"]["category"] == "roads" and conv.data["draft"]["anonymous"]


@pytest.mark.parametrize("locale", LOCALES)
async def test_back_from_a_half_entered_identity_restores_it(app, chat, locale):
    await at_summary(chat, locale)  # anonymous
    await chat.press("confirm:edit")
    await chat.press("edit:identity")
    await chat.press("id:named")
    for step in (State.NAME, State.PHONE):
        assert chat.options[-2:] == ["nav:summary", "nav:cancel"]
        assert (await conversation(app, chat)).state == step
        await chat.text("Асанова Айгүл" if step == State.NAME else "0555 12-34-56")
    assert chat.options[-2:] == ["nav:summary", "nav:cancel"]  # the postal address step
    await chat.press("nav:summary")
    draft = (await conversation(app, chat)).data["draft"]
    assert draft["anonymous"] is True and draft["full_name"] is None and draft["phone"] is None
    await chat.press("confirm:yes")
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert complaint.is_anonymous and complaint.phone is None


async def test_no_back_to_the_summary_on_the_first_pass(app, chat):
    await at_description(chat, "ru")
    assert "nav:summary" not in chat.options
    await chat.press("nav:summary")  # a stale button from an earlier edit
    conv = await conversation(app, chat)
    assert conv.state == State.DESCRIPTION and "description" not in conv.data["draft"]


# ----- short typed answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "typed", "wanted"),
    [
        ("ru", "да", True),
        ("ru", "Нет", False),
        ("ru", "ok", True),
        ("ky", "жок", False),
        ("ky", "ок", True),
        ("ky", "макул", True),
    ],
)
async def test_short_yes_and_no_at_the_announcements_question(app, locale, typed, wanted):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await chat.text("салам")
    await chat.press(f"lang:{locale}")
    assert chat.options == ["sub:yes", "sub:no"]
    await chat.text(typed)
    citizen = await app.store.citizens.find(channel="whatsapp", user_key="+996700000009")
    assert citizen.announcements is wanted
    assert chat.options[0] == "menu:complaint"


@pytest.mark.parametrize(("locale", "typed"), [("ky", "Ооба"), ("ru", "да")])
async def test_yes_at_the_summary_sends(app, locale, typed):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await at_summary(chat, locale)
    await chat.text(typed)
    assert await app.store.complaints.by_number(reg_number="26-00001") is not None


@pytest.mark.parametrize(
    ("locale", "typed"),
    [("ky", "анонимно"), ("ky", "anonim"), ("ru", "аноним"), ("ru", "Анонимно!")],
)
async def test_anonymous_typed_short(app, locale, typed):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("Яма на дороге у моста, машины ломаются")
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.text(typed)
    conv = await conversation(app, chat)
    assert conv.state == State.CONFIRM and conv.data["draft"]["anonymous"] is True


@pytest.mark.parametrize(
    ("typed", "locale"),
    [("kyrgyzcha", "ky"), ("Kirgizcha", "ky"), ("russkiy", "ru"), ("Russian", "ru")],
)
async def test_language_typed_in_latin_letters(app, typed, locale):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await chat.text("salam")
    assert chat.options == ["lang:ky", "lang:ru"]
    await chat.text(typed)
    citizen = await app.store.citizens.find(channel="whatsapp", user_key="+996700000009")
    assert citizen.locale == locale


async def test_short_words_do_not_choose_what_they_do_not_mean(app):
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await start_in(chat, "ru")
    await chat.text("да")  # the menu has no yes/no question
    assert (await conversation(app, chat)).state == State.MENU
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("Яма на дороге у моста, машины ломаются")
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.text("нет")  # neither named nor anonymous
    assert (await conversation(app, chat)).state == State.IDENTITY


async def test_main_menu_button_of_an_older_message_asks_too(app, chat):
    await start_in(chat, "ru")
    await chat.press("menu:faq")
    await chat.press("nav:menu")
    await chat.press("menu:complaint")
    await chat.press("cat:water")
    await chat.press("nav:menu")  # the FAQ's "Main menu" button, still in the chat
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.press("draft:continue")
    conv = await conversation(app, chat)
    assert conv.state == State.DESCRIPTION and conv.data["draft"]["category"] == "water"
