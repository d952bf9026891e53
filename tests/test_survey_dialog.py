"""The satisfaction survey dialog: full and quick, skipping, back, resuming, WhatsApp digits,
the unofficial-payment branch to an anonymous complaint, and the opt-out from the settings."""

from __future__ import annotations

from bot.dialogs.states import State
from tests.conftest import Chat, start_in

ASPECTS_FIVE = ("srv:r:4", "srv:r:5", "srv:r:3", "srv:r:2", "srv:r:1")


async def survey_row(app, survey_id: int | None = None):
    if survey_id is None:
        return await app.store.fetchone("SELECT * FROM surveys ORDER BY id DESC LIMIT 1")
    return await app.store.fetchone("SELECT * FROM surveys WHERE id = ?", (survey_id,))


async def state_of(app, chat: Chat) -> str:
    _, conv = await app.store.citizens.with_conversation(
        channel=chat.channel, user_key=chat.user_key
    )
    return conv.state


async def begin(chat: Chat, service: str = "certificates", mode: str = "srv:full") -> None:
    await start_in(chat)
    await chat.press("menu:survey")
    await chat.press(f"srv:s:{service}")
    await chat.press(mode)


async def test_the_full_survey_keeps_every_answer(app, chat):
    await begin(chat)
    for option in ASPECTS_FIVE:
        assert chat.options[:5] == [f"srv:r:{r}" for r in range(1, 6)]
        await chat.press(option)
    await chat.press("srv:result:yes")
    await chat.press("srv:m:yes")
    await chat.press("srv:m:no")  # unofficial: no, so no report is offered
    assert chat.options[0] == "srv:m:yes"  # incidental costs next
    await chat.press("srv:m:yes")
    await chat.text("Очередь слишком длинная, нужна электронная запись")
    for option in ("srv:p:female", "srv:p:36-60", "srv:p:higher", "srv:p:pensioner"):
        await chat.press(option)
    await chat.press("srv:p:village")
    row = await survey_row(app)
    assert row["status"] == "done" and row["service"] == "certificates"
    assert [row[c] for c in ("conditions", "staff", "information", "requirements")] == [4, 5, 3, 2]
    assert row["timeliness"] == 1 and row["overall"] is None and row["result_ok"] == 1
    assert (row["paid_official"], row["paid_unofficial"], row["paid_incidental"]) == (
        "yes", "no", "yes",
    )  # fmt: skip
    assert row["improvement"].startswith("Очередь") and row["report"] is None
    assert (row["sex"], row["age_band"], row["education"]) == ("female", "36-60", "higher")
    assert (row["occupation"], row["settlement"]) == ("pensioner", "village")
    assert chat.options[0] == "menu:complaint"  # back at the main menu
    assert await state_of(app, chat) == State.MENU


async def test_the_quick_survey_is_one_question_and_may_stop(app, chat):
    await begin(chat, "land", "srv:quick")
    assert "srv:skip" not in chat.options  # the one question is not skippable
    await chat.press("srv:r:4")
    assert chat.options[:2] == ["srv:more:yes", "srv:more:no"]
    await chat.press("srv:more:no")
    row = await survey_row(app)
    assert row["status"] == "done" and row["overall"] == 4 and row["conditions"] is None
    assert await state_of(app, chat) == State.MENU


async def test_quick_then_go_on_leads_to_the_aspects(app, chat):
    await begin(chat, "land", "srv:quick")
    await chat.press("srv:r:2")
    await chat.press("srv:more:yes")
    await chat.press("srv:r:5")
    row = await survey_row(app)
    assert (row["overall"], row["conditions"]) == (2, 5)


async def test_skipping_everything_and_skip_all(app, chat):
    await begin(chat)
    for _ in range(5):
        await chat.press("srv:skip")
    await chat.press("srv:skip")  # result
    for _ in range(3):
        await chat.press("srv:skip")  # money
    await chat.press("srv:skip")  # improvement
    await chat.press("srv:p:male")
    await chat.press("srv:skipall")
    row = await survey_row(app)
    assert row["status"] == "done" and row["sex"] == "male" and row["age_band"] is None
    assert all(row[c] is None for c in ("conditions", "timeliness", "result_ok", "improvement"))
    assert await state_of(app, chat) == State.MENU


async def test_back_returns_to_the_previous_question(app, chat):
    await begin(chat)
    await chat.press("srv:r:3")
    await chat.press("srv:back")
    assert await state_of(app, chat) == State.SURVEY_RATE
    await chat.press("srv:r:1")  # the first aspect again, now 1
    assert (await survey_row(app))["conditions"] == 1
    await chat.press("nav:menu")
    assert await state_of(app, chat) == State.MENU


async def test_an_abandoned_survey_counts_and_resumes_from_the_menu(app, chat, clock):
    await begin(chat)
    await chat.press("srv:r:4")
    await chat.press("srv:r:2")
    await chat.command("/menu")  # gone halfway
    row = await survey_row(app)
    assert row["status"] == "open" and (row["conditions"], row["staff"]) == (4, 2)
    week = {"since": clock.now().replace(year=2000), "until": clock.now().replace(year=2100)}
    assert await app.store.surveys.responses_count(**week) == 1
    clock.advance(days=3)
    await chat.press("menu:survey")
    assert chat.options[:2] == ["srv:resume", "srv:new"]
    await chat.press("srv:resume")
    assert "3" in chat.said and chat.options[0] == "srv:r:1"  # question 3 of 5
    await chat.press("srv:r:5")
    row = await survey_row(app, row["id"])
    assert (row["conditions"], row["staff"], row["information"]) == (4, 2, 5)


async def test_a_new_survey_instead_of_resuming(app, chat):
    await begin(chat)
    await chat.press("srv:r:4")
    await chat.command("/menu")
    await chat.press("menu:survey")
    await chat.press("srv:new")
    await chat.press("srv:s:social")
    rows = await app.store.fetchall("SELECT service, status FROM surveys ORDER BY id")
    assert [tuple(r) for r in rows] == [("certificates", "open"), ("social", "open")]


async def test_whatsapp_digits_answer_the_ratings(app):
    chat = Chat(app.engine, user_key="+996700111222", channel="whatsapp")
    await start_in(chat)
    await chat.press("menu:survey")
    await chat.text("2")  # the second service in the list
    await chat.text("2")  # full survey
    await chat.text("4")
    await chat.text("5")
    row = await survey_row(app)
    assert row["service"] == "land" and (row["conditions"], row["staff"]) == (4, 5)
    await chat.text("десять")  # not a rating
    assert await state_of(app, chat) == State.SURVEY_RATE
    assert (await survey_row(app))["information"] is None


async def to_unofficial(chat: Chat) -> None:
    await begin(chat, "construction")
    for option in ASPECTS_FIVE:
        await chat.press(option)
    await chat.press("srv:result:no")
    await chat.press("srv:m:yes")


async def test_an_unofficial_payment_leads_to_an_anonymous_complaint_once(app, chat):
    await to_unofficial(chat)
    await chat.press("srv:m:asked")
    assert chat.options[:2] == ["srv:report:yes", "srv:report:no"]
    await chat.press("srv:report:yes")
    await chat.text("Инспектор сказал, что без «благодарности» разрешение будет через год")
    assert chat.options[0] == "srv:m:yes"  # the survey goes on: incidental costs
    citizen = await app.store.citizens.find(channel="telegram", user_key=chat.user_key)
    (complaint,) = await app.store.complaints.of_citizen(citizen_id=citizen.id)
    assert complaint.is_anonymous and complaint.category == "corruption"
    assert complaint.full_name is None and complaint.phone is None
    assert "Разрешение на строительство" in complaint.description
    assert "благодарности" in complaint.description
    assert complaint.reg_number in chat.said  # the receipt, as for any complaint
    card = app.notices.complaints.operator_card(complaint).text
    assert chat.user_key not in card
    applicant = app.notices.complaints.operator_texts().gettext(
        "Applicant: {name}, phone {phone}, address {address}"
    )
    assert applicant.split(":")[0] not in card
    assert (
        app.notices.complaints.operator_texts().gettext(
            "Anonymous report: the sender's identity is protected."
        )
        in card
    )
    queued = await app.store.outbox.list(kind="operator_card")
    assert [row.payload["complaint_id"] for row in queued] == [complaint.id]
    # offered once: back to the question and the same answer again offers nothing
    await chat.press("srv:back")
    assert await state_of(app, chat) == State.SURVEY_MONEY
    await chat.press("srv:m:paid")
    assert chat.options[0] == "srv:m:yes"  # straight to incidental costs
    assert (await survey_row(app))["report"] == "filed"
    assert len(await app.store.complaints.of_citizen(citizen_id=citizen.id)) == 1


async def test_the_report_can_be_declined_and_sent_as_it_is(app, chat):
    await to_unofficial(chat)
    await chat.press("srv:m:paid")
    await chat.press("srv:report:no")
    assert (await survey_row(app))["report"] == "declined"
    assert chat.options[0] == "srv:m:yes"
    other = Chat(app.engine, user_key="701")
    await to_unofficial(other)
    await other.press("srv:m:paid")
    await other.press("srv:report:yes")
    await other.press("srv:report:send")
    (complaint,) = await app.store.fetchall("SELECT description FROM complaints")
    assert "Разрешение на строительство" in complaint["description"]


async def test_opting_out_of_surveys_from_the_settings(app, chat):
    await start_in(chat)
    await chat.press("menu:announcements")
    assert "surveyopt:off" in chat.options
    await chat.press("surveyopt:off")
    citizen = await app.store.citizens.find(channel="telegram", user_key=chat.user_key)
    assert citizen.surveys is False and await app.store.surveys.opted_out(citizen_id=citizen.id)
    assert "surveyopt:on" in chat.options  # the settings again, with the other choice
    assert await state_of(app, chat) == State.SUBSCRIBE
    await chat.press("surveyopt:on")
    assert not await app.store.surveys.opted_out(citizen_id=citizen.id)
