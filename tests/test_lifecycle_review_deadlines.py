"""Review: the operators' deadline lists."""

from __future__ import annotations

from bot.storage.deadlines import GroupScope
from tests.conftest import Chat, file_complaint
from tests.test_lifecycle import bishkek, make_app  # noqa: F401  (fixture)

GROUP = "-100500"


async def _overdue_copies(app, n: int) -> None:
    """`n` more complaints of the group whose answer deadline passed a week ago."""
    columns = [row["name"] for row in await app.store.fetchall("PRAGMA table_info(complaints)")]
    copied = [c for c in columns if c not in ("id", "reg_number", "draft_key")]
    for i in range(n):
        await app.store.execute(
            f"INSERT INTO complaints (reg_number, {', '.join(copied)})"
            f" SELECT ?, {', '.join(copied)} FROM complaints WHERE id = 1",
            (f"26-9{i:04d}",),
        )
        await app.store.execute(
            "INSERT INTO complaint_deadlines (complaint_id, kind, due_at, original_due_at,"
            " remind_at, met_at, watch_at) SELECT MAX(id), 'answer', '2026-03-03T17:59:59+00:00',"
            " '2026-03-03T17:59:59+00:00', '2026-03-02T03:00:00+00:00', NULL, NULL"
            " FROM complaints"
        )


async def test_due_lists_what_is_due_soon_even_with_many_overdue(make_app):  # noqa: F811
    """Found in review.
    /due (notices/deadlines.py `due_text`) asks `running_before(moment=soon,
    limit=100)`, which returns the most urgent first, overdue ones included, and only then
    drops the overdue ones in Python. With 100 or more overdue deadlines in the group, the
    100 rows are all overdue and /due answers "Nothing is due within 2 working days" while a
    deadline is due the day after tomorrow: the exact group that is behind is told it has
    nothing coming. (/overdue, the digest's "/overdue and /due show the full lists", is cut at
    100 too, silently.) Correct: /due selects deadlines with now <= due_at <= soon."""
    app, clock = await make_app(bishkek(2026, 3, 10))
    await file_complaint(Chat(app.engine))
    await _overdue_copies(app, 100)
    clock.advance(days=1)  # Wed 11 March: the acknowledgement of 26-00001 is due Fri 13
    text = await app.notices.deadlines.due_text(GroupScope(GROUP, True))
    assert "26-00001" in text, text
