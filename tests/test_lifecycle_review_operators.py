"""Review: the lifecycle from the operator group, through the real dispatcher and the fake Bot
API."""

from __future__ import annotations

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram_harness import OPERATOR, OPERATOR_CHAT, TelegramHarness
from tests.test_lifecycle_operators import file, say


@pytest.fixture
async def api():
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def tg(app, api):
    harness = TelegramHarness(app, api)
    api.set_chat_member(OPERATOR_CHAT, OPERATOR, "administrator")
    yield harness
    await harness.close()


SUPERVISORS = -100900
SUPERVISOR = 77


@pytest.fixture
async def sup_tg(tmp_path, api, clock):
    from bot.app import build_app
    from tests.conftest import make_settings

    app = await build_app(make_settings(tmp_path, supervisor_chat_id=SUPERVISORS), clock=clock)
    harness = TelegramHarness(app, api)
    api.set_chat_member(OPERATOR_CHAT, OPERATOR, "administrator")
    api.set_chat_member(SUPERVISORS, SUPERVISOR, "administrator")
    yield harness
    await harness.close()
    await app.close()


async def test_the_escalations_complaint_command_works_in_the_supervisors_chat(sup_tg, clock):
    """Found in review.
    the escalation sent to the supervisors' chat says "/complaint 26-00001 shows its
    history" (notices/deadlines.py `render_escalation`), but the operator router only listens
    to messages in the operator groups (`router.message.filter(in_operator_chat)`, and
    `OperatorAuth` knows only those chats): in the supervisors' chat the command is ignored and
    the supervisor gets no answer at all. Correct: the supervisors' chat answers /complaint
    (and /overdue) for its members, or the escalation does not point to a command that does
    not work there."""
    from bot.jobs import deadline_watch

    tg, app = sup_tg, sup_tg.app
    await file(tg)
    clock.advance(days=4)  # Saturday 14 March: the acknowledgement (due Fri 13) is overdue
    assert await deadline_watch.tick(app) >= 1
    await app.outbox.run_once()
    escalation = [t for t in tg.texts_to(SUPERVISORS) if "26-00001" in t]
    assert escalation and "/complaint" in escalation[0]
    since = len(tg.api.calls)
    await say(tg, "/complaint 26-00001", user=SUPERVISOR, chat_id=SUPERVISORS)
    await app.outbox.run_once()
    assert tg.texts_to(SUPERVISORS, since), "the supervisor got no answer"
