"""Opening the SQLite store: WAL, foreign keys, and numbered migrations applied at start-up."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def to_db(moment: datetime | None) -> str | None:
    """A UTC ISO string for storage."""
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def connect(path: Path | str) -> aiosqlite.Connection:
    """Open (creating if needed) the database and bring its schema up to date."""
    # aiosqlite logs every statement with its parameters at DEBUG: chat ids, phone numbers and
    # complaint texts. Those must never reach a log, whatever LOG_LEVEL says.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # The store also uses this connection from the event loop's thread (`Store.run`, inline),
    # always under its lock, never at the same time as the worker thread.
    db = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    await _migrate(db)
    return db


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
    async with db.execute("SELECT version FROM schema_migrations") as cursor:
        applied = {row[0] for row in await cursor.fetchall()}
    for version, sql in _migrations():
        if version in applied:
            continue
        log.info("applying migration %04d", version)
        await db.executescript(
            f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;"
        )
