"""A console chat with the very same dialogs and store, for trying the bot without any token.

Type text, an option's number or label, or a command. Extra console commands:
  /photo PATH          attach an image file (any other file shows how refusals look)
  /video PATH          attach a video file (cleaned of metadata like any video)
  /voice PATH          send an audio file as a voice message (the description, by voice)
  /location LAT LON    send a location pin
  /contact PHONE       share a phone number
  /op                  list open complaints, as an operator sees them
  /op NUMBER           show one complaint's card, as the operator group gets it
  /op NUMBER ACTION [TEXT]   act as an operator: accept, forward, progress, answer TEXT,
                       reject TEXT, extend DD.MM.YYYY REASON, resolve, ask TEXT (a question)
  /op NUMBER history   the card with its history and its deadlines
  /op overdue | due    deadlines past, or due within the next working days
  /op jobs             run the scheduler's jobs now: deadline watch, follow-ups, digest
  /op Q-ID answer TEXT answer a citizen's question (Q-ID as shown on its card)
  /op queue            what waits to be sent, and why
  /op reload           reload the FAQ file
  /quit                leave
Messages pushed by the outbox (status changes, operator cards) are printed as they are sent.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.dialogs.events import Attachment, Document, Incoming, Reply
from bot.dialogs.inputs import clean_text
from bot.domain.complaints import OPEN_STATUSES, OPERATOR_ACTIONS, OperatorRef, normalize_reg_number
from bot.domain.media import MediaStore, sniff_image_type
from bot.domain.questions import parse_question_number
from bot.handlers.operator_tools import queue_report, reload_faq
from bot.storage.deadlines import GroupScope

CHANNEL = "console"
OPERATORS = "operators"
CONSOLE_OPERATOR = OperatorRef(id=0, name="console operator")
ACTIONS_USAGE = (
    "accept, forward, progress, answer TEXT, reject TEXT, extend DD.MM.YYYY REASON, resolve, "
    "ask TEXT, history"
)


def render(reply: Reply) -> str:
    """A reply as console text: photos and pins as notes, options as numbered lines."""
    lines = [f"[photo: {path}]" for path in reply.photos]
    lines += [f"[video: {path}]" for path in reply.videos]
    if reply.location:
        lines.append(f"[location: {reply.location[0]:.5f}, {reply.location[1]:.5f}]")
    if reply.voice:
        lines.append(f"[voice: {reply.voice}]")
    if reply.document is not None:
        lines.append(f"[document {reply.document.name}: {reply.document.path}]")
    if reply.text:
        lines.append(reply.text)
    lines += [f"  {number}. {option.label}" for number, option in enumerate(reply.options, 1)]
    if reply.ask_location:
        lines.append(f"  ({reply.ask_location}: /location LAT LON)")
    if reply.ask_contact:
        lines.append(f"  ({reply.ask_contact}: /contact PHONE)")
    return "\n".join(lines)


class ConsoleChannel:
    """The outbound port's console channel: prints pushes with who they are for."""

    name = CHANNEL

    def __init__(self, out: TextIO, media: MediaStore | None = None) -> None:
        self.out = out
        self.media = media

    async def deliver(self, recipient: str, reply: Reply) -> None:
        label = "operator group" if recipient == OPERATORS else f"message for {recipient}"
        if reply.document is not None and self.media is not None:
            reply = replace(reply, document=await self._saved(reply.document))
        self.out.write(f"\n--- {label} ---\n{render(reply)}\n")
        self.out.flush()

    async def _saved(self, document: Document) -> Document:
        """The document with the full path of its file (written first if it was made now)."""
        path = document.path or await self.media.save_document(document.data or b"", document.name)
        return replace(document, path=str(self.media.open_path(path)), data=None)


def _file_attachment(path_text: str, kind: str | None = None) -> Attachment:
    """The file as an attachment: `kind` as given (video, voice), else an image or a document
    by its first bytes."""
    path = Path(path_text).expanduser()

    async def fetch() -> bytes:
        return await asyncio.to_thread(path.read_bytes)

    head = path.read_bytes()[:64] if path.is_file() else b""
    kind = kind or ("image" if sniff_image_type(head) else "document")
    size = path.stat().st_size if path.is_file() else None
    return Attachment(kind, fetch, sniff_image_type(head), size)


def parse_line(line: str, user: str) -> Incoming | None:
    """Turn a typed line into a neutral event; None for console-only commands."""
    base = {"channel": CHANNEL, "user_key": user}
    words = line.split()
    head = words[0].casefold() if words else ""
    if head == "/photo" and len(words) > 1:
        path = line.split(maxsplit=1)[1].strip()
        if not Path(path).expanduser().is_file():
            return None
        return Incoming(kind="photo", attachments=(_file_attachment(path),), **base)
    if head in ("/video", "/voice") and len(words) > 1:
        path = line.split(maxsplit=1)[1].strip()
        if not Path(path).expanduser().is_file():
            return None
        attachment = _file_attachment(path, head.removeprefix("/"))
        return Incoming(kind="file", attachments=(attachment,), **base)
    if head == "/location" and len(words) == 3:
        try:
            lat, lon = float(words[1]), float(words[2])
        except ValueError:
            return None
        return Incoming(kind="location", latitude=lat, longitude=lon, **base)
    if head == "/contact" and len(words) > 1:
        return Incoming(
            kind="contact", contact_phone="".join(words[1:]), contact_is_own=True, **base
        )
    if line.startswith("/"):
        return Incoming(kind="command", text=line.strip(), **base)
    return Incoming(kind="text", text=line, **base)


async def operator_command(app, line: str) -> str:
    """`/op` lists open complaints; `/op NUMBER ACTION [TEXT]` acts on one; `/op Q-ID answer
    TEXT` answers a question; `/op queue` and `/op reload` as in the operator group."""
    words = line.split(maxsplit=3)
    if len(words) == 2 and words[1] in ("queue", "reload"):
        return await queue_report(app) if words[1] == "queue" else reload_faq(app)
    if len(words) == 2 and words[1] in ("overdue", "due", "jobs"):
        return await _deadline_command(app, words[1])
    if len(words) >= 2 and words[1].upper().startswith("Q"):
        return await _answer_question(app, words)
    if len(words) == 1:
        rows = await app.store.complaints.open_due_before(
            moment=app.clock.now().replace(year=9999), open_statuses=OPEN_STATUSES
        )
        if not rows:
            return "(no open complaints)"
        return "\n".join(f"{c.reg_number}  {c.status}  {c.category}" for c in rows)
    complaint = await app.store.complaints.by_number(reg_number=normalize_reg_number(words[1]))
    if complaint is None:
        return f"no complaint with the number {words[1]} (they look like 26-00042)"
    if len(words) == 2:
        return render(app.notices.complaints.operator_card(complaint))
    action = words[2].casefold()
    if action == "history":
        return await app.notices.deadlines.complaint_text(complaint.id)
    if action == "ask":
        asked = await app.complaints.ask_citizen(
            complaint.id, words[3] if len(words) > 3 else "", CONSOLE_OPERATOR
        )
        return (
            f"{complaint.reg_number}: question sent" if asked.ok else f"not sent ({asked.reason})"
        )
    if action not in OPERATOR_ACTIONS:
        return f"unknown action {words[2]!r}; use one of: {ACTIONS_USAGE}"
    note = words[3] if len(words) > 3 else None
    result = await app.complaints.act_by_number(
        complaint.reg_number, action, CONSOLE_OPERATOR, note
    )
    if result.ok:
        return f"{result.complaint.reg_number}: {result.complaint.status}"
    return f"nothing changed ({result.reason})"


async def _deadline_command(app, command: str) -> str:
    from bot.jobs import deadline_watch, follow_ups, morning_digest

    group = GroupScope(app.complaints.default_group() or "console", is_default=True)
    if command == "overdue":
        return await app.notices.deadlines.overdue_text(group)
    if command == "due":
        return await app.notices.deadlines.due_text(group)
    moved = await deadline_watch.tick(app)
    asked = await follow_ups.tick(app)
    digests = await morning_digest.queue_digest(app)
    return f"deadline watch: {moved}; follow-ups asked: {asked}; digests queued: {digests}"


async def _answer_question(app, words: list[str]) -> str:
    try:
        question_id = parse_question_number(words[1])
    except ValueError:  # "Q-²": a digit that is not a number
        question_id = None
    if question_id is None or len(words) < 4 or words[2] != "answer":
        return "usage: /op Q-ID answer TEXT"
    result = await app.questions.answer(question_id, words[3], CONSOLE_OPERATOR)
    return f"Q-{question_id}: answered" if result.ok else f"nothing changed ({result.reason})"


async def run_console(
    app, *, user: str = "local", stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    """Read lines until EOF or /quit; every line goes through the dialog core.

    A terminal can deliver bytes that are not UTF-8 (a letter cut in half): they are read as
    U+FFFD, and any lone surrogate left is replaced too, so nothing unstorable gets further."""
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(errors="replace")
    user = clean_text(user)
    app.outbox.add_channel(ConsoleChannel(out, app.media))
    out.write(__doc__.split("\n\n", 1)[1] + "\n")
    for reply in await app.engine.handle(
        Incoming(channel=CHANNEL, user_key=user, kind="command", text="/start")
    ):
        out.write(render(reply) + "\n\n")
    while True:
        out.write("> ")
        out.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line or line.strip() == "/quit":
            break
        line = clean_text(line.rstrip("\n"))
        if not line.strip():
            continue
        if line.split()[0] == "/op":
            out.write(await operator_command(app, line) + "\n")
        else:
            event = parse_line(line, user)
            if event is None:
                out.write("(could not read that console command; see the list at the top)\n")
                continue
            for reply in await app.engine.handle(event):
                out.write(render(reply) + "\n\n")
        await app.outbox.run_once()
    out.write("\n")
