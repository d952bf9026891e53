"""`complaint_media`: the videos and the voice description of complaints (see migration 0009).

The rows of a new complaint are written by `insert_media` inside the registration's own
transaction; `ComplaintMediaRepo` reads them back for the complaint being loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import aiosqlite

from bot.storage.models import MediaFile

if TYPE_CHECKING:
    from bot.storage.store import Store


async def insert_media(
    db: aiosqlite.Connection, complaint_id: int, media: Iterable[MediaFile]
) -> None:
    """Store a new complaint's recordings, in order (inside the caller's transaction)."""
    await db.executemany(
        "INSERT INTO complaint_media (complaint_id, position, kind, sha256, path, seconds)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(complaint_id, i, m.kind, m.sha256, m.path, m.seconds) for i, m in enumerate(media)],
    )


class ComplaintMediaRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def of_complaint(self, *, complaint_id: int) -> tuple[MediaFile, ...]:
        rows = await self.store.fetchall(
            "SELECT kind, sha256, path, seconds FROM complaint_media WHERE complaint_id = ?"
            " ORDER BY position",
            (complaint_id,),
        )
        return tuple(MediaFile(r["kind"], r["sha256"], r["path"], r["seconds"]) for r in rows)
