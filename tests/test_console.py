"""Tier 1: the console chat's operator commands and `python -m bot MODE --help`."""

from __future__ import annotations

import io

import pytest

from bot.__main__ import main
from bot.handlers.console.chat import operator_command, run_console
from tests.conftest import Chat, file_complaint


@pytest.fixture
async def filed(app):
    for user in ("1", "2"):
        await file_complaint(Chat(app.engine, user_key=user))
    return app


async def test_unknown_action_is_named_with_the_valid_ones(filed):
    answer = await operator_command(filed, "/op 26-00001 frobnicate")
    assert "frobnicate" in answer and "not_found" not in answer
    for action in ("accept", "forward", "progress", "answer", "reject"):
        assert action in answer
    complaint = await filed.store.complaints.by_number(reg_number="26-00001")
    assert complaint.status == "registered"


async def test_a_number_alone_shows_the_card(filed):
    answer = await operator_command(filed, "/op 26-00002")
    complaint = await filed.store.complaints.by_number(reg_number="26-00002")
    assert answer.startswith(filed.notices.complaints.operator_card(complaint).text)
    assert "1. " in answer  # the actions, as numbered lines
    assert "26-00009" in await operator_command(filed, "/op 26-00009")  # not found, said so


async def test_actions_still_work(filed):
    assert await operator_command(filed, "/op 26-00001 Accept") == "26-00001: accepted"
    answer = await operator_command(filed, "/op 26-00001 answer Яма засыпана")
    assert answer == "26-00001: answered"


@pytest.mark.parametrize("line", ["/op 26-²", "/op 26-① accept", "/op Q-² answer да", "/op Q-3"])
async def test_odd_digits_in_op_do_not_crash(filed, line):
    answer = await operator_command(filed, line)
    assert answer and "Traceback" not in answer


async def test_console_shows_the_card_and_acts(app):
    lines = "1\n2\n/op 26-00001\n/op 26-00001 frobnicate\n/quit\n"
    out = io.StringIO()
    await file_complaint(Chat(app.engine, user_key="1"))
    await run_console(app, user="tester", stdin=io.StringIO(lines), out=out)
    complaint = await app.store.complaints.by_number(reg_number="26-00001")
    assert app.notices.complaints.operator_card(complaint).text in out.getvalue()
    assert "unknown action 'frobnicate'" in out.getvalue()


@pytest.mark.parametrize("mode", ["run", "chat", "check-content", "export-questions"])
def test_each_mode_has_its_own_help(mode, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([mode, "--help"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: python -m bot {mode}")
    if mode == "chat":
        assert "--user" in printed and "DATABASE_PATH" in printed


def test_unknown_mode_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


async def test_lifecycle_commands_in_the_console(filed, clock):
    answer = await operator_command(filed, "/op 26-00001 extend 01.06.2026 экспертиза")
    assert answer == "nothing changed (too_long)"
    answer = await operator_command(filed, "/op 26-00001 extend 01.04.2026 экспертиза")
    assert answer == "26-00001: extended"
    assert "question sent" in await operator_command(filed, "/op 26-00001 ask Какой дом?")
    history = await operator_command(filed, "/op 26-00001 history")
    assert "экспертиза" in history and "26-00001" in history
    clock.advance(days=1)
    assert "deadline watch: 1;" in await operator_command(filed, "/op jobs")  # 26-00002 only
    assert "26-00002" in await operator_command(filed, "/op due")
    clock.advance(days=3)
    assert "26-00002" in await operator_command(filed, "/op overdue")
