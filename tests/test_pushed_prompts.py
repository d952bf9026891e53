"""Options of a message the bot pushes are answerable, in any state, days later.

No pushed feature exists yet (follow-ups, hearings and surveys come later), so a small poll
dialog is registered here, backed by tables the test creates: "poll:<id>:yes|no" is its pushed
route. It records the answer, asks for a comment in its own state, and hands back: an unfinished
complaint is kept across it and offered again. On WhatsApp the outbox notes the pushed options
once delivered (`remember_pushed_options`), so a typed number or "да" right after answers them.
"""

from __future__ import annotations

import pytest

from bot.dialogs.dialog import Dialog, Route
from bot.dialogs.events import Option, Reply
from bot.dialogs.pushed import PUSHED_KEY, remember_pushed_options
from bot.dialogs.states import State
from tests.conftest import Chat, start_in

POLL_COMMENT = "poll.comment"
DESCRIPTION = "Третий день нет воды в колонке на улице Манаса, люди ходят к реке"
STALE = (
    "Thank you, but this is no longer open, so your answer was not recorded. "
    "Here is where we are now:"
)


class PollDialog(Dialog):
    """A stand-in for the pushed dialogs to come, checked against its own tables."""

    name = "poll"
    states = {POLL_COMMENT: "_in_comment"}
    prompts = {POLL_COMMENT: "_prompt_comment"}
    routes = (Route("poll:", "answer", pushed=True),)

    async def answer(self, turn) -> None:
        _, raw_id, choice = (turn.event.option_id.split(":") + ["", ""])[:3]
        poll = None
        if raw_id.isdigit() and choice in ("yes", "no"):
            poll = await self.store.fetchone("SELECT * FROM test_polls WHERE id = ?", (raw_id,))
        if poll is None or poll["closed"]:
            await self.nav.no_longer_open(turn)
            return
        await self.store.execute(
            "INSERT OR REPLACE INTO test_poll_answers (poll_id, citizen_id, answer)"
            " VALUES (?, ?, ?)",
            (poll["id"], turn.citizen.id, choice),
        )
        turn.conv.data["poll"] = poll["id"]
        turn.say("Thank you, noted.")
        turn.go(POLL_COMMENT)
        await self.nav.prompt(turn)

    def _prompt_comment(self, turn) -> Reply:
        return Reply("Anything to add? Type it, or skip.", options=(Option("pollc:skip", "Skip"),))

    async def _in_comment(self, turn) -> None:
        poll_id = turn.conv.data.pop("poll", None)
        if turn.event.kind == "text":
            await self.store.execute(
                "UPDATE test_poll_answers SET comment = ? WHERE poll_id = ? AND citizen_id = ?",
                (turn.event.text, poll_id, turn.citizen.id),
            )
            turn.say("Comment saved.")
        elif turn.event.option_id != "pollc:skip":
            turn.conv.data["poll"] = poll_id
            await self.nav.reprompt(turn, "Type a comment, or skip.")
            return
        await self.nav.finish(turn)


def poll_message(poll_id: int) -> Reply:
    """What the bot pushes: a question with the poll's own option ids."""
    return Reply(
        "Is the water back on your street?",
        options=(Option(f"poll:{poll_id}:yes", "Yes, it is"), Option(f"poll:{poll_id}:no", "No")),
    )


@pytest.fixture
async def polls(app):
    """Poll 1 is open, poll 2 closed; the poll dialog is registered with the engine."""
    await app.store.execute("CREATE TABLE test_polls (id INTEGER PRIMARY KEY, closed INTEGER)")
    await app.store.execute(
        "CREATE TABLE test_poll_answers (poll_id INTEGER, citizen_id INTEGER, answer TEXT,"
        " comment TEXT, PRIMARY KEY (poll_id, citizen_id))"
    )
    await app.store.execute("INSERT INTO test_polls (id, closed) VALUES (1, 0), (2, 1)")
    app.engine.add_dialog(PollDialog)
    return app


async def answers(app) -> list[tuple]:
    rows = await app.store.fetchall("SELECT poll_id, answer, comment FROM test_poll_answers")
    return [tuple(row) for row in rows]


async def conversation(app, chat: Chat):
    citizens = app.store.citizens
    return await citizens.with_conversation(channel=chat.channel, user_key=chat.user_key)


async def delivered(app, chat: Chat, message: Reply) -> bool:
    """What the outbox does once it has delivered a pushed message to the citizen."""
    citizen, _ = await conversation(app, chat)
    return await remember_pushed_options(app.store, citizen.id, message.options)


async def to_description(chat: Chat) -> None:
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press("cat:water")


async def test_a_pushed_button_pressed_days_later_opens_its_dialog_and_keeps_the_draft(
    polls, clock
):
    app = polls
    chat = Chat(app.engine, user_key="501")
    await to_description(chat)
    await chat.text(DESCRIPTION)  # now at the place step
    clock.advance(days=3)
    await chat.press("poll:1:yes")  # a button of a message pushed days ago
    assert chat.replies[0].text == "Thank you, noted."
    assert (await conversation(app, chat))[1].state == POLL_COMMENT
    await chat.text("Вода есть, но напор слабый")
    assert await answers(app) == [(1, "yes", "Вода есть, но напор слабый")]
    assert chat.options == ["draft:continue", "draft:discard"]  # the complaint is offered again
    await chat.press("draft:continue")
    assert chat.options[0] == "place:skip"
    for option in ("place:skip", "photos:done", "id:anon", "confirm:yes"):
        await chat.press(option)
    citizen, _ = await conversation(app, chat)
    (complaint,) = await app.store.complaints.of_citizen(citizen_id=citizen.id)
    assert complaint.description == DESCRIPTION and complaint.category == "water"


async def test_a_typed_number_right_after_a_push_answers_it_on_whatsapp(polls, clock):
    app = polls
    chat = Chat(app.engine, user_key="+996700000002", channel="whatsapp")
    await to_description(chat)
    clock.advance(days=2)
    assert await delivered(app, chat, poll_message(1))
    assert (await conversation(app, chat))[1].data[PUSHED_KEY][1] == ["poll:1:no", "No"]
    await chat.text("2")  # "2. No" of the push, not a description
    assert await answers(app) == [(1, "no", None)]
    assert PUSHED_KEY not in (await conversation(app, chat))[1].data
    await chat.text("1")  # "1. Skip" of the comment prompt
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.text("1")  # continue the complaint
    _, conv = await conversation(app, chat)
    assert conv.state == State.DESCRIPTION and conv.data["draft"]["category"] == "water"


async def test_a_yes_word_after_a_push_answers_it(polls):
    app = polls
    chat = Chat(app.engine, user_key="+996700000003", channel="whatsapp")
    await start_in(chat)
    await delivered(app, chat, poll_message(1))
    await chat.text("да")
    assert await answers(app) == [(1, "yes", None)]


async def test_numbers_mean_the_push_only_until_the_citizen_moves_on(polls):
    app = polls
    chat = Chat(app.engine, user_key="+996700000004", channel="whatsapp")
    await start_in(chat)
    await delivered(app, chat, poll_message(1))
    await chat.text("меню")  # the citizen went on: the menu is now the last thing seen
    await chat.text("2")  # "2. My complaints"
    assert chat.replies[0].text == app.i18n.texts("ru").gettext(
        "You have not filed any complaints yet."
    )
    assert await answers(app) == []


@pytest.mark.parametrize("option_id", ["poll:2:yes", "poll:999:no", "poll:x", "poll:1:maybe"])
async def test_a_stale_pushed_button_gets_a_polite_answer_and_the_step_again(polls, option_id):
    app = polls
    chat = Chat(app.engine, user_key="505")
    await start_in(chat)
    await chat.press("menu:complaint")
    await chat.press(option_id)
    polite = app.i18n.texts("ru").gettext(STALE)
    assert polite != STALE and chat.replies[0].text == polite
    assert chat.options[0].startswith("cat:")  # the category question again
    _, conv = await conversation(app, chat)
    assert conv.state == State.CATEGORY and "draft" in conv.data
    assert await answers(app) == []


async def test_a_stale_push_answered_by_number_on_whatsapp(polls):
    app = polls
    chat = Chat(app.engine, user_key="+996700000006", channel="whatsapp")
    await to_description(chat)
    await delivered(app, chat, poll_message(2))  # closed meanwhile
    await chat.text("1")
    assert chat.replies[0].text == app.i18n.texts("ru").gettext(STALE)
    assert (await conversation(app, chat))[1].state == State.DESCRIPTION
    assert await answers(app) == []


async def test_without_a_draft_the_pushed_dialog_ends_at_the_menu(polls):
    app = polls
    chat = Chat(app.engine, user_key="507")
    await start_in(chat)
    await chat.press("menu:faq")
    await chat.press("poll:1:no")
    await chat.press("pollc:skip")
    assert chat.options[0] == "menu:complaint"


async def test_menu_and_cancel_inside_a_pushed_dialog_ask_about_the_kept_draft(polls):
    app = polls
    chat = Chat(app.engine, user_key="508")
    await to_description(chat)
    await chat.press("poll:1:yes")
    await chat.command("/menu")
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.press("draft:continue")
    assert (await conversation(app, chat))[1].state == State.DESCRIPTION
    await chat.press("poll:1:no")
    await chat.command("/cancel")
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.press("draft:discard")
    _, conv = await conversation(app, chat)
    assert conv.state == State.MENU and "draft" not in conv.data


async def test_remember_pushed_options_keeps_only_pushed_ones(polls):
    app = polls
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await to_description(chat)
    citizen, before = await conversation(app, chat)
    other = (Option("menu:complaint", "File a complaint"),)
    assert not await remember_pushed_options(app.store, citizen.id, other)
    mixed = (*other, *poll_message(1).options)
    assert await remember_pushed_options(app.store, citizen.id, mixed)
    _, after = await conversation(app, chat)
    assert after.data[PUSHED_KEY] == [["poll:1:yes", "Yes, it is"], ["poll:1:no", "No"]]
    assert after.state == before.state and after.data["draft"] == before.data["draft"]
    # nobody to note it for: a citizen who never wrote has no conversation
    assert not await remember_pushed_options(app.store, citizen.id + 1000, mixed)


async def test_the_outbox_notes_a_pushed_messages_options_once_delivered(polls, clock):
    from bot.outbound import replies_message

    app = polls
    chat = Chat(app.engine, user_key="+996700000009", channel="whatsapp")
    await start_in(chat)

    class Delivered:
        name = "whatsapp"

        async def deliver(self, recipient, part):
            return None

    app.outbox.add_channel(Delivered())
    citizen, _ = await conversation(app, chat)
    row = replies_message(
        channel="whatsapp",
        recipient=chat.user_key,
        replies=[poll_message(1)],
        kind="poll",
        citizen_id=citizen.id,
    )
    await app.store.outbox.add(messages=[row], now=clock.now())
    assert await app.outbox.run_once() == 1
    await chat.text("2")  # "2. No" of the push that just went out
    assert await answers(app) == [(1, "no", None)]
