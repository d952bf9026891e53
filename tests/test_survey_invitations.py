"""Survey invitations: one a day after a complaint's answer (never twice, never to someone who
opted out, idempotent across restarts), answerable days later in any state, on Telegram and
WhatsApp; closed or already answered ones get a polite answer."""

from __future__ import annotations

from bot.dialogs.states import State
from bot.domain.complaints import OperatorRef
from bot.jobs.survey_invitations import SurveyInviter, invite
from tests.conftest import Chat, file_complaint, start_in

OPERATOR = OperatorRef(id=1, name="Operator")
STALE = (
    "Thank you, but this is no longer open, so your answer was not recorded. "
    "Here is where we are now:"
)


async def answered_complaint(app, chat: Chat) -> int:
    await file_complaint(chat)
    citizen = await app.store.citizens.find(channel=chat.channel, user_key=chat.user_key)
    (complaint,) = await app.store.complaints.of_citizen(citizen_id=citizen.id)
    result = await app.complaints.apply(complaint.id, "answered", OPERATOR, "Фонари починили.")
    assert result.ok
    return complaint.id


async def invitations(app) -> list:
    return await app.store.outbox.list(kind="survey_invitation")


async def state_of(app, chat: Chat) -> str:
    _, conv = await app.store.citizens.with_conversation(
        channel=chat.channel, user_key=chat.user_key
    )
    return conv.state


async def test_one_invitation_a_day_after_the_answer_never_twice(app, chat, clock):
    complaint_id = await answered_complaint(app, chat)
    inviter = SurveyInviter.of(app)
    clock.advance(hours=23)
    assert await inviter.run_once() == 0
    clock.advance(hours=2)
    assert await inviter.run_once() == 1
    assert await inviter.run_once() == 0
    assert await SurveyInviter.of(app).run_once() == 0  # as after a restart
    assert (
        await invite(app, (await invitations(app))[0].citizen_id, "complaint", complaint_id)
        is False
    )
    (row,) = await invitations(app)
    rendered = await app.outbox.render(row)
    (reply,) = rendered.replies
    invitation_id = row.payload["invitation_id"]
    assert [o.id for o in reply.options] == [
        f"survey:{invitation_id}:go",
        f"survey:{invitation_id}:optout",
    ]
    complaint = await app.store.complaints.get(complaint_id=complaint_id)
    assert (
        complaint.reg_number in reply.text
        and complaint.reg_number in rendered.template_variables["1"]
    )


async def test_the_delay_is_a_setting(tmp_path, clock):
    from bot.app import build_app
    from tests.conftest import make_settings

    app = await build_app(make_settings(tmp_path, survey_invitation_delay_hours=2), clock=clock)
    try:
        await answered_complaint(app, Chat(app.engine))
        clock.advance(hours=2, minutes=1)
        assert await SurveyInviter.of(app).run_once() == 1
    finally:
        await app.close()


async def test_answerable_days_later_in_another_state_and_the_draft_is_kept(app, chat, clock):
    await answered_complaint(app, chat)
    clock.advance(days=1, hours=1)
    await SurveyInviter.of(app).run_once()
    invitation_id = (await invitations(app))[0].payload["invitation_id"]
    clock.advance(days=5)
    await chat.press("menu:complaint")
    await chat.press("cat:roads")
    await chat.text("На улице Токтогула яма глубиной полметра, машины ломаются")
    assert await state_of(app, chat) == State.PLACE
    await chat.press(f"survey:{invitation_id}:go")
    assert await state_of(app, chat) == State.SURVEY_MODE
    await chat.press("srv:quick")
    await chat.press("srv:r:5")
    await chat.press("srv:more:no")
    assert chat.options == ["draft:continue", "draft:discard"]
    await chat.press("draft:continue")
    assert await state_of(app, chat) == State.PLACE
    row = await app.store.fetchone("SELECT * FROM surveys")
    assert (row["service"], row["overall"], row["status"]) == ("appeal", 5, "done")
    assert row["invitation_id"] == invitation_id
    await chat.press(f"survey:{invitation_id}:go")  # pressed again: already answered
    already = app.i18n.texts("ru").gettext("You have already answered this survey. Thank you!")
    assert chat.replies[0].text == already
    assert await state_of(app, chat) == State.PLACE
    assert len(await app.store.fetchall("SELECT id FROM surveys")) == 1


async def test_a_closed_invitation_or_someone_elses_gets_a_polite_answer(app, chat, clock):
    await answered_complaint(app, chat)
    clock.advance(days=1, hours=1)
    await SurveyInviter.of(app).run_once()
    invitation_id = (await invitations(app))[0].payload["invitation_id"]
    polite = app.i18n.texts("ru").gettext(STALE)
    stranger = Chat(app.engine, user_key="999")
    await start_in(stranger)
    await stranger.press(f"survey:{invitation_id}:go")
    assert stranger.replies[0].text == polite
    for bad in ("survey:abc:go", "survey:77:go", f"survey:{invitation_id}:maybe"):
        await chat.press(bad)
        assert chat.replies[0].text == polite
    clock.advance(days=31)
    await chat.press(f"survey:{invitation_id}:go")
    assert chat.replies[0].text == polite
    assert await app.store.fetchall("SELECT id FROM surveys") == []


async def test_the_invitation_on_whatsapp_answered_by_a_typed_number(app, clock):
    chat = Chat(app.engine, user_key="+996700555001", channel="whatsapp")
    await answered_complaint(app, chat)
    clock.advance(days=1, hours=1)
    await SurveyInviter.of(app).run_once()

    class Delivered:
        name = "whatsapp"

        async def deliver(self, recipient, part):
            return None

    app.outbox.add_channel(Delivered())
    await app.outbox.run_once()
    assert (await invitations(app))[0].status == "sent"
    clock.advance(days=3)
    await chat.text("1")  # "1. Rate" of the invitation just delivered
    assert await state_of(app, chat) == State.SURVEY_MODE
    await chat.text("1")  # one question
    await chat.text("4")
    row = await app.store.fetchone("SELECT overall, service FROM surveys")
    assert tuple(row) == (4, "appeal")


async def test_opt_out_from_the_invitation_stops_further_invitations(app, chat, clock):
    await answered_complaint(app, chat)
    clock.advance(days=1, hours=1)
    await SurveyInviter.of(app).run_once()
    (row,) = await invitations(app)
    citizen = await app.store.citizens.get(citizen_id=row.citizen_id)
    await chat.press(f"survey:{row.payload['invitation_id']}:optout")
    assert await app.store.surveys.opted_out(citizen_id=citizen.id)
    await chat.command("/menu")
    await file_complaint(chat, description="Во дворе дома 7 не вывозят мусор вторую неделю")
    complaints = await app.store.complaints.of_citizen(citizen_id=citizen.id)
    await app.complaints.apply(complaints[0].id, "answered", OPERATOR, "Вывезли.")
    clock.advance(days=2)
    assert await SurveyInviter.of(app).run_once() == 0
    assert await invite(app, citizen.id, "hearing", 5) is False
    assert len(await invitations(app)) == 1


async def test_invite_for_a_hearing_is_idempotent(app, chat):
    await start_in(chat)
    citizen = await app.store.citizens.find(channel="telegram", user_key=chat.user_key)
    assert await invite(app, citizen.id, "hearing", 3) is True
    assert await invite(app, citizen.id, "hearing", 3) is False
    assert await invite(app, citizen.id, "hearing", 4) is True
    rows = await invitations(app)
    assert len(rows) == 2
    (reply,) = (await app.outbox.render(rows[0])).replies
    await chat.press(reply.options[0].id)
    await chat.press("srv:full")
    await chat.press("srv:r:3")
    row = await app.store.fetchone("SELECT service, conditions FROM surveys")
    assert tuple(row) == ("hearing", 3)
