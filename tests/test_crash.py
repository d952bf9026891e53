"""Tier 4: `kill -9` the whole process while citizens file complaints and an operator works.

`python -m bot` long-polls the fake Bot API; 10 citizens walk the complaint dialog, an operator
presses status buttons and answers prompts, and the bot is SIGKILLed about 10 times (seeded
random moments, some aimed right after a Send, a photo or an operator press), restarted on the
same database each time. Then the ledger (tests/crash_harness.py says exactly what it counts):
nothing lost, nothing stored twice, and duplicate sends within the at-least-once window of one
in-flight Telegram call per kill. `CRASH_SEED` picks another seed; bench/crash_test.py runs
the long version. The run's database, logs and calls.jsonl stay in pytest's tmp_path, or in
`CRASH_WORKDIR` when set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession

from tests.crash_harness import TOKEN, CrashConfig, RecordingFakeAPI, run_crash_test
from tests.fakes.telegram_api import message_update

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
MIN_KILLS = 4  # fewer means the machine was too slow for the run to prove anything


async def _update_ids(session: ClientSession, base_url: str, offset: int) -> list[int]:
    url = f"{base_url}/bot{TOKEN}/getUpdates"
    async with session.post(url, json={"offset": offset, "timeout": 0}) as response:
        body = await response.json()
    return [update["update_id"] for update in body["result"]]


async def test_the_fake_redelivers_an_update_until_a_higher_offset_confirms_it():
    async with RecordingFakeAPI() as api, ClientSession() as session:
        first = api.push_update(message_update(7, "one"))
        second = api.push_update(message_update(7, "two"))
        assert await _update_ids(session, api.base_url, 0) == [first, second]
        # fetched but not confirmed (the process died): delivered again
        assert await _update_ids(session, api.base_url, 0) == [first, second]
        assert await _update_ids(session, api.base_url, first + 1) == [second]
        # once confirmed, never again, even to a client that starts without an offset
        assert await _update_ids(session, api.base_url, 0) == [second]


def test_kill_9_loses_nothing_and_doubles_nothing(tmp_path):
    cfg = CrashConfig(seed=int(os.environ.get("CRASH_SEED", "8")))
    workdir = Path(os.environ.get("CRASH_WORKDIR") or tmp_path)  # to keep the artifacts
    ledger = run_crash_test(cfg, workdir)
    report = ledger.report()
    print(report)
    assert ledger.kills >= MIN_KILLS, report
    assert ledger.finished == ledger.citizens, report
    assert ledger.lost == 0, report
    assert ledger.stored_twice == 0, report
    assert ledger.doubled == 0, report  # complaints, additions, withdrawals
    assert ledger.losses == 0, report
    assert ledger.operator_gave_up == 0, report
    # at-least-once: at most one duplicated Telegram send per kill
    assert ledger.duplicate_sends <= ledger.bound, report
    assert sum(ledger.consecutive.values()) <= ledger.bound, report
    assert ledger.clean_exit, report
