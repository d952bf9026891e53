"""Operator actions shared by the Telegram group and the console: the waiting-queue report and
the FAQ reload. Channel-neutral: each returns the text to show the operator."""

from __future__ import annotations

import logging

from bot.domain.faq import FaqError

log = logging.getLogger(__name__)


def reload_faq(app) -> str:
    """Reload the FAQ; the answer says what is in force now (the old content, on an error)."""
    _ = app.notices.complaints.operator_texts().gettext
    try:
        catalog = app.faq.reload()
    except FaqError as error:
        log.warning("FAQ reload refused: %s", error)
        return _("The FAQ was not reloaded, the previous version stays in force: {error}").format(
            error=error
        )
    log.info("FAQ reloaded: %d entries", len(catalog.entries))
    return _("The FAQ was reloaded: {count} entries.").format(count=len(catalog.entries))


async def queue_report(app) -> str:
    """What waits and why: held messages (e.g. WhatsApp outside the 24-hour window), unsent
    messages, open questions. Never who the messages are for."""
    _ = app.notices.complaints.operator_texts().gettext
    counts = await app.store.outbox.counts()
    lines = [_("Messages waiting to be sent: {count}.").format(count=counts.get("pending", 0))]
    if counts.get("unreachable"):
        lines.append(
            _("Waiting for citizens who blocked the bot to write again: {count}.").format(
                count=counts["unreachable"]
            )
        )
    if counts.get("failed"):
        lines.append(_("Given up after repeated errors: {count}.").format(count=counts["failed"]))
    held = await app.store.outbox.held_summary()
    if held:
        lines.append(_("Held until the citizen writes again:"))
        lines += [f"• {kind}: {count} — {reason}" for kind, reason, count in held]
    questions = await app.store.questions.open()
    if questions:
        lines.append(
            _("Open questions: {numbers}.").format(
                numbers=", ".join(q.number for q in questions[:30])
            )
        )
    return "\n".join(lines)


async def broadcast_report(app, words: list[str]) -> str:
    """`/report [N]`: the delivery report of broadcast N, or of the latest one."""
    _ = app.notices.complaints.operator_texts().gettext
    broadcasts = await app.store.broadcasts.list()
    wanted = words[0].lstrip("#") if words else None
    if wanted is not None:
        broadcasts = [b for b in broadcasts if str(b.id) == wanted]
    if not broadcasts:
        return _("No such broadcast.")
    broadcast = broadcasts[-1]
    report = await app.hearings.report(broadcast.id)
    return app.hearing_notices.report_text(broadcast, report)
