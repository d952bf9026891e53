"""Tier 4: random conversations on the dialog core, Telegram and WhatsApp (issue 8).

A fixed seed, a few hundred conversations of 15 steps per channel: no unhandled exception, no
error logged, every reply shown and accepted by the messenger, and from every state reached a
way back to the main menu. `tests/fuzz_driver.py` says what is checked and how;
`bench/fuzz_dialogs.py` runs thousands and cuts each failure down to a short reproduction.
"""

from __future__ import annotations

import pytest

from bot.dialogs.engine import DialogEngine
from tests import fuzz_driver
from tests.fuzz_driver import Report, Step, fuzz, replay, repro_line

SEED = 20260310
CONVERSATIONS = {"core": 300, "telegram": 150, "whatsapp": 150}


def verdict(report: Report) -> str:
    """Every distinct failure with its shortest example, and how to replay it."""
    lines = [report.summary()]
    for example in report.broken:
        line = repro_line(report.channel, example.steps, example.user())
        if len(line) < 2000:
            lines.append(f"replay {example.failure.title()}:\n  {line}")
    return "\n".join(lines)


@pytest.mark.parametrize("channel", list(CONVERSATIONS))
async def test_random_conversations_break_nothing(channel):
    report = await fuzz(channel, CONVERSATIONS[channel], seed=SEED, steps=15)
    assert report.conversations == CONVERSATIONS[channel]
    assert report.steps == 15 * CONVERSATIONS[channel]
    assert report.probes >= report.conversations  # every conversation was probed
    # the walks reach the end of each dialog, where a crash would cost the most
    assert all(report.states[s] for s in ("complaint.confirm", "check.code", "faq.answer"))
    if report.broken:
        pytest.fail(verdict(report), pytrace=False)


@pytest.mark.parametrize("channel", list(CONVERSATIONS))
async def test_the_fuzzer_sees_a_crash_a_silence_and_a_dead_end(channel, monkeypatch):
    """The checks can fail: a core that crashes on one text and answers nothing to another, and
    a main menu that never shows, are each reported, on the channel that saw them."""
    original = DialogEngine.handle

    async def planted(self, event, *args, **kwargs):
        if event.text == "plant: crash":
            raise RuntimeError("planted")
        if event.text == "plant: silence":
            return []
        return await original(self, event, *args, **kwargs)

    monkeypatch.setattr(DialogEngine, "handle", planted)
    monkeypatch.setattr(fuzz_driver, "MENU_ID", "menu:nowhere")
    steps = [Step("text", "salam"), Step("text", "plant: crash"), Step("text", "plant: silence")]
    found = await replay(channel, steps)
    kinds = {(kind, what) for _, kind, what, _ in found}
    crashed = "logged error" if channel == "whatsapp" else "exception"
    assert {(crashed, "RuntimeError"), ("no reply", "text")} <= kinds
    assert "stuck" in {kind for kind, _ in kinds}
    assert all(key[0] == channel for key in found)
