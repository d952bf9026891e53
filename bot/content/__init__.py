"""Content operators edit: complaint categories and their routing, bilingual, validated at start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.config import SUPPORTED_LOCALES

MAX_LABEL_LENGTH = 60


class ContentError(ValueError):
    """A data file is broken; the message names the entry."""


@dataclass(frozen=True)
class Category:
    id: str
    labels: dict[str, str]

    def label(self, locale: str) -> str:
        return self.labels[locale]


@dataclass(frozen=True)
class Content:
    categories: tuple[Category, ...]
    routes: dict[str, int | None]
    default_route: int | None

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def operator_chat_for(self, category_id: str, fallback: int | None) -> int | None:
        """The operator group for a category: its route, else the default route, else fallback."""
        return self.routes.get(category_id) or self.default_route or fallback

    def operator_chats(self, fallback: int | None) -> set[int]:
        chats = {chat for chat in self.routes.values() if chat}
        chats |= {chat for chat in (self.default_route, fallback) if chat}
        return chats


def _read(path: Path | None, name: str) -> dict:
    if path is not None:
        return json.loads((path / name).read_text(encoding="utf-8"))
    return json.loads((resources.files("bot.content") / name).read_text(encoding="utf-8"))


def load_content(folder: Path | None = None) -> Content:
    """Read and validate `categories.json` and `routing.json` (from `folder`, else built-in)."""
    categories = []
    seen = set()
    for entry in _read(folder, "categories.json")["categories"]:
        cid = entry.get("id", "")
        if not cid or not cid.isascii() or len(cid) > 30 or cid in seen:
            raise ContentError(f"category {cid!r}: id must be unique, ASCII, at most 30 characters")
        seen.add(cid)
        labels = {}
        for locale in SUPPORTED_LOCALES:
            label = (entry.get(locale) or "").strip()
            if not label or len(label) > MAX_LABEL_LENGTH:
                raise ContentError(f"category {cid!r}: label in {locale!r} is missing or too long")
            labels[locale] = label
        categories.append(Category(cid, labels))
    if not categories:
        raise ContentError("categories.json has no categories")
    routing = _read(folder, "routing.json")
    routes = {}
    for cid, chat in (routing.get("categories") or {}).items():
        if cid not in seen:
            raise ContentError(f"routing.json names unknown category {cid!r}")
        routes[cid] = int(chat) if chat is not None else None
    default = routing.get("default")
    return Content(tuple(categories), routes, int(default) if default is not None else None)
