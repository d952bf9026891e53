"""Thousands of random conversations on the dialog core, Telegram and WhatsApp; what broke.

Run from the repository root::

    .venv/bin/python bench/fuzz_dialogs.py                       # 1000 per channel, seed 1
    .venv/bin/python bench/fuzz_dialogs.py --conversations 3000 --seed 7 --channel telegram
    .venv/bin/python bench/fuzz_dialogs.py --channel core --replay '[["text", "²"]]'

The conversations, the checks and the fake messengers are those of `tests/fuzz_driver.py` (its
docstring says what is checked). Everything runs in this process against fake servers on
127.0.0.1 and a temporary SQLite store; nothing is sent anywhere.

The output, per channel: conversations, steps, way-back probes and the states the steps ended
in; then each distinct failure (exceptions deduplicated by type and the innermost line of the
bot's code, refusals by the messenger, empty or missing replies, states with no way back to the
menu) with how often it happened, and for the first example of each kind a reproduction line:
the steps cut down by delta debugging to a shortest sequence that still shows it on a fresh
app (`--no-minimize` keeps the original prefix). Advisory kinds (an ERROR logged on purpose
for a simulated outage) are listed but do not count; the exit code is 1 when anything else
failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fuzz_driver import (  # noqa: E402
    ADVISORY,
    CHANNELS,
    Report,
    describe,
    fuzz,
    loads_steps,
    replay,
    repro_line,
    reproduce,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000, help="per channel")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--channel", choices=("all", *CHANNELS), default="all")
    parser.add_argument("--steps", type=int, default=15, help="steps per conversation")
    parser.add_argument("--first", type=int, default=0, help="number of the first conversation")
    parser.add_argument("--probe-all", action="store_true", help="probe after every step")
    parser.add_argument("--no-minimize", action="store_true")
    parser.add_argument("--replay", metavar="JSON", help="run these steps (see the repro lines)")
    parser.add_argument("--user", type=int, default=0, help="with --replay: the citizen's number")
    return parser.parse_args(argv)


async def show(report: Report, seconds: float, minimized: bool) -> None:
    print(f"\n== {report.channel}: {seconds:.1f} s ==")
    print(
        f"conversations {report.conversations}, steps {report.steps}, "
        f"way-back probes {report.probes}, failures {report.total} "
        f"of {len(report.failures)} kinds"
    )
    states = ", ".join(f"{s} {n}" for s, n in report.states.most_common())
    print(f"steps ended in: {states}")
    for example in report.examples():
        print(describe(example, steps=False))
        if example.failure.kind in ADVISORY:
            print("          (advisory: logged on purpose for a simulated outage)")
        steps, user = example.steps, example.user()
        if minimized:
            found = await reproduce(example)
            if found is None:
                print("          (not shown on a fresh app: it needs the conversations before)")
                steps, user = example.first, example.user(example.first_conversation)
            else:
                steps, user = found
        shown = " -> ".join(s.short() for s in steps)
        print(f"          shortest ({len(steps)} steps): {shown[:800]}")
        print(f"          repro: {repro_line(report.channel, steps, user)}")


async def run_replay(channel: str, text: str, user: int) -> int:
    if channel == "all":
        raise SystemExit("--replay needs --channel core, telegram or whatsapp")
    keys = await replay(channel, loads_steps(text), user)
    for key in sorted(keys):
        print(" | ".join(key))
    print("no failure" if not keys else f"{len(keys)} distinct failures")
    return 1 if keys else 0


async def main(args: argparse.Namespace) -> int:
    # the fuzzer's trap on the root logger takes ERROR records; nothing else is printed
    logging.getLogger().setLevel(logging.WARNING)
    if args.replay:
        return await run_replay(args.channel, args.replay, args.user)
    channels = CHANNELS if args.channel == "all" else (args.channel,)
    failed = False
    for channel in channels:
        started = time.perf_counter()
        report = await fuzz(
            channel,
            args.conversations,
            seed=args.seed,
            steps=args.steps,
            first=args.first,
            probe_all=args.probe_all,
        )
        await show(report, time.perf_counter() - started, not args.no_minimize)
        failed = failed or bool(report.broken)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
