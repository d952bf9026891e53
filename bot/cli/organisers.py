"""The organisers' command line: hearings, announcements and broadcasts.

    python -m bot hearings add FILE          # store a hearing and announce it to its topic
    python -m bot hearings list
    python -m bot hearings show ID
    python -m bot hearings update ID FILE    # changed time or place: everyone concerned is told
    python -m bot hearings cancel ID
    python -m bot hearings results ID FILE
    python -m bot announce FILE              # a general announcement to a topic's subscribers
    python -m bot broadcast list|pause|resume|report [ID]

Files are YAML with both languages (see README, "Hearings and announcements"); a file missing a
translation, a hearing in the past or a deadline for proposals after the hearing is refused,
with the field named. A broadcast's rows are all written (a progress bar shows it) before any is
sent; the running bot sends them. `--wait` follows the sending with a progress bar.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import yaml

from bot.domain.hearings import (
    HearingError,
    load_topics,
    parse_announcement,
    parse_hearing,
    parse_results,
)

WAIT_POLL_SECONDS = 1.0


def add_parsers(modes) -> None:
    """The organisers' modes, added to `python -m bot`'s parser."""
    hearings = modes.add_parser(
        "hearings",
        help="public hearings: add, list, show, update, cancel, results",
        description="Manage public hearings from YAML files with both languages.",
    )
    actions = hearings.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="store a hearing from FILE and announce it")
    add.add_argument("file", type=Path)
    add.add_argument("--no-announce", action="store_true", help="store it without announcing")
    add.add_argument("--wait", action="store_true", help="follow the sending")
    actions.add_parser("list", help="every hearing, soonest first")
    show = actions.add_parser("show", help="one hearing, its RSVPs and proposals")
    show.add_argument("id", type=int)
    update = actions.add_parser("update", help="change a hearing (fields in FILE)")
    update.add_argument("id", type=int)
    update.add_argument("file", type=Path)
    update.add_argument("--wait", action="store_true")
    cancel = actions.add_parser("cancel", help="cancel a hearing and tell everyone concerned")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--wait", action="store_true")
    results = actions.add_parser("results", help="publish the results of a held hearing")
    results.add_argument("id", type=int)
    results.add_argument("file", type=Path)
    results.add_argument("--wait", action="store_true")

    announce = modes.add_parser(
        "announce",
        help="send a general announcement (YAML FILE) to the subscribers of a topic",
        description="Send FILE's text (ky and ru) to the subscribers of its topic, each in "
        "their language, with an optional photo or document. The same file again sends nothing "
        "twice (its content is the broadcast's key, unless --key is given).",
    )
    announce.add_argument("file", type=Path)
    announce.add_argument("--key", help="the broadcast's key (default: from the content)")
    announce.add_argument("--wait", action="store_true", help="follow the sending")

    broadcast = modes.add_parser(
        "broadcast",
        help="list, pause, resume or report a broadcast",
        description="Pause stops sending a broadcast's remaining messages; resume goes on. "
        "report prints the delivery report and posts it to the operator group.",
    )
    broadcast.add_argument("action", choices=("list", "pause", "resume", "report"))
    broadcast.add_argument("id", type=int, nargs="?")


MODES = ("hearings", "announce", "broadcast")


async def run_mode(app, args) -> int:
    """Run one organiser's mode on an app (the tests call it with theirs)."""
    try:
        if args.mode == "hearings":
            return await _hearings(app, args)
        if args.mode == "announce":
            return await _announce(app, args)
        return await _broadcast(app, args)
    except HearingError as error:
        print("refused:")
        for name, what in error.problems:
            print(f"  {name}: {what}")
        return 1
    except (OSError, yaml.YAMLError) as error:
        print(f"refused: cannot read the file: {error}")
        return 1


def main(settings, args) -> int:
    from bot.app import build_app

    async def go() -> int:
        app = await build_app(settings)
        try:
            return await run_mode(app, args)
        finally:
            await app.close()

    return asyncio.run(go())


def _read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _topics(app):
    return load_topics(app.settings.content_dir)


async def _hearing_or_none(app, hearing_id: int):
    hearing = await app.store.hearings.get(hearing_id=hearing_id)
    if hearing is None:
        print(f"no hearing {hearing_id}")
    return hearing


async def _hearings(app, args) -> int:
    settings = app.settings
    service = app.hearings
    now = app.clock.now()
    if args.action == "list":
        for hearing in await app.store.hearings.list():
            coming = await app.store.hearings.rsvp_count(hearing_id=hearing.id)
            when = hearing.starts_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            print(
                f"{hearing.id:>4}  {when}  {hearing.status:<9}  v{hearing.version}"
                f"  coming: {coming:<4} {hearing.text('title', settings.operator_locale)}"
            )
        return 0
    if args.action == "add":
        draft = parse_hearing(
            _read(args.file),
            now=now,
            tz=settings.tz,
            default_reminders=settings.hearing_reminders,
            topics=_topics(app),
        )
        with _Writing() as progress:
            outcome = await service.add(draft, announce=not args.no_announce, progress=progress)
        print(f"hearing {outcome.hearing.id} stored")
        return await _after_broadcast(app, outcome.broadcast, args)
    hearing = await _hearing_or_none(app, args.id)
    if hearing is None:
        return 1
    if args.action == "show":
        await _show(app, hearing)
        return 0
    if args.action == "update":
        draft = parse_hearing(
            _read(args.file),
            now=now,
            tz=settings.tz,
            default_reminders=settings.hearing_reminders,
            topics=_topics(app),
            base=hearing,
        )
        with _Writing() as progress:
            outcome = await service.update(hearing, draft, progress=progress)
        if outcome.hearing is None:
            print(f"hearing {hearing.id} is {hearing.status}: it cannot be changed")
            return 1
        if outcome.broadcast is None:
            print(f"hearing {hearing.id} updated (time and place unchanged: nobody is told)")
            return 0
        print(f"hearing {hearing.id} changed: version {outcome.hearing.version}")
        return await _after_broadcast(app, outcome.broadcast, args)
    if args.action == "cancel":
        with _Writing() as progress:
            outcome = await service.cancel(hearing, progress=progress)
        if outcome.hearing is None:
            print(f"hearing {hearing.id} is {hearing.status}: it cannot be cancelled")
            return 1
        print(f"hearing {hearing.id} cancelled")
        return await _after_broadcast(app, outcome.broadcast, args)
    results = parse_results(_read(args.file))
    with _Writing() as progress:
        outcome = await service.publish_results(hearing, results, progress=progress)
    if outcome.hearing is None:
        print(f"hearing {hearing.id} is {hearing.status}: no results for it")
        return 1
    print(f"results of hearing {hearing.id} published")
    return await _after_broadcast(app, outcome.broadcast, args)


async def _show(app, hearing) -> None:
    settings = app.settings
    coming = await app.store.hearings.rsvp_count(hearing_id=hearing.id)
    proposals = await app.store.hearings.proposal_count(hearing_id=hearing.id)
    print(
        f"hearing {hearing.id}: {hearing.status}, version {hearing.version}, topic {hearing.topic}"
    )
    print(f"will come: {coming}; proposals received: {proposals}")
    from bot.notices.hearings import HEADINGS, hearing_body

    for locale in ("ky", "ru"):
        print()
        print(hearing_body(hearing, app.i18n.texts(locale), HEADINGS["open"]))
    if hearing.results is not None:
        print()
        print(
            await app.hearing_notices.results_text(
                hearing, app.i18n.texts(settings.operator_locale)
            )
        )


async def _announce(app, args) -> int:
    draft = parse_announcement(_read(args.file), topics=_topics(app))
    with _Writing() as progress:
        broadcast = await app.hearings.announce(draft, key=args.key, progress=progress)
    return await _after_broadcast(app, broadcast, args)


async def _broadcast(app, args) -> int:
    store = app.store.broadcasts
    if args.action == "list":
        for broadcast in await store.list():
            print(
                f"{broadcast.id:>4}  {broadcast.status:<8} {broadcast.kind:<22}"
                f" topic {broadcast.topic:<9} {broadcast.total} recipients  {broadcast.key}"
            )
        return 0
    if args.id is None or await store.get(broadcast_id=args.id) is None:
        print("give the id of an existing broadcast (python -m bot broadcast list)")
        return 1
    if args.action == "pause":
        count = await app.hearings.pause(args.id)
        print(f"broadcast {args.id} paused; {count} messages wait")
    elif args.action == "resume":
        count = await app.hearings.resume(args.id)
        print(f"broadcast {args.id} resumed; {count} messages go on")
    else:
        await _print_report(app, args.id)
        if await app.hearings.post_report(args.id):
            print("(posted to the operator group)")
    return 0


async def _print_report(app, broadcast_id: int) -> None:
    broadcast = await app.store.broadcasts.get(broadcast_id=broadcast_id)
    report = await app.hearings.report(broadcast_id)
    print(app.hearing_notices.report_text(broadcast, report))


async def _after_broadcast(app, broadcast, args) -> int:
    if broadcast is None:
        return 0
    print(
        f"broadcast {broadcast.id} ({broadcast.kind}): {broadcast.total} messages written,"
        f" status {broadcast.status}"
    )
    if getattr(args, "wait", False):
        await _follow(app, broadcast)
    await _print_report(app, broadcast.id)
    return 0


async def _follow(app, broadcast) -> None:
    """A progress bar of the sending (by the running bot) until nothing is left to send today;
    Ctrl-C stops following, not the sending."""
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task(f"broadcast {broadcast.id}", total=broadcast.total or 1)
        while True:
            report = await app.hearings.report(broadcast.id)
            bar.update(task, completed=report.total - report.queued - report.paused)
            if report.finished:
                break
            await asyncio.sleep(WAIT_POLL_SECONDS)


class _Writing:
    """A progress bar of the rows being written; the callback the service calls per batch."""

    def __enter__(self):
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.__enter__()
        self._task = None
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task("writing the messages", total=total)
        self._bar.update(self._task, completed=done)

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)


def argparse_namespace(**values) -> argparse.Namespace:
    """Arguments as the parser would give them (for tests and scripts)."""
    return argparse.Namespace(**values)
