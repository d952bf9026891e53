"""Review: the citizen's side of the lifecycle (follow-up, withdrawal from another device)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.complaints import OperatorRef
from tests.conftest import Chat, file_complaint, start_in
from tests.test_lifecycle import make_app  # noqa: F401  (fixture)

OPERATOR = OperatorRef(42, "Operator Asel")


async def test_a_withdrawal_from_another_device_is_told_to_the_owners_chat(make_app):  # noqa: F811
    """Found in review.
    a complaint checked by number and receipt code can be withdrawn from any chat
    (bot/dialogs/thread.py), but `ComplaintService._notices` skips the citizen's notice for
    every step taken by `CITIZEN`, assuming the dialog answers the owner. When the step comes
    from another chat, the chat the complaint was filed from is never told that it was
    withdrawn (the issue: every transition reaches the citizen through the outbox). Anyone who
    learnt the number and code can close the complaint unnoticed. Correct: the owner's chat
    gets a `status_update` when the withdrawal did not come from it."""
    app, _clock = await make_app(datetime(2026, 3, 10, 4, 0, tzinfo=UTC))
    owner = Chat(app.engine, user_key="801")
    replies = await file_complaint(owner)
    receipt = "\n".join(reply.text for reply in replies)
    code = next(word for word in receipt.split() if len(word) == 9 and word[4] == "-")
    other = Chat(app.engine, user_key="802")
    await start_in(other)
    await other.press("menu:check")
    await other.text("26-00001")
    await other.text(code)
    await other.press("cx:withdraw:1")
    await other.press("withdraw:yes")
    assert (await app.store.complaints.get(complaint_id=1)).status == "withdrawn"
    notices = await app.store.outbox.list(kind="status_update")
    assert [row.recipient for row in notices] == ["801"]
