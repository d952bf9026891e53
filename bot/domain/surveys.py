"""The satisfaction survey (the handbook's questionnaire, seed 001: 9901-9982): its questions as
ids, the services it rates (`bot/content/services.json`), and the respondent data it may ask.

No message text here: the dialog turns these ids into questions in the citizen's language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.config import SUPPORTED_LOCALES

# The five aspects rated from 1 (not at all satisfied) to 5 (fully satisfied), in order; each is a
# column of `surveys`. `overall` is the one question of the quick survey.
ASPECTS = ("conditions", "staff", "information", "requirements", "timeliness")
OVERALL = "overall"
RATINGS = (1, 2, 3, 4, 5)
SATISFIED = (4, 5)

# Money spent on the service: official (with a receipt), unofficial, incidental.
MONEY = ("paid_official", "paid_unofficial", "paid_incidental")
MONEY_VALUES = {
    "paid_official": ("yes", "no"),
    "paid_unofficial": ("paid", "asked", "no"),  # 'asked': asked for, not paid
    "paid_incidental": ("yes", "no"),
}
UNOFFICIAL_REPORTABLE = frozenset({"paid", "asked"})

# Respondent data, each optional, in the order asked; the values are the handbook's.
PROFILE = ("sex", "age_band", "education", "occupation", "settlement")
PROFILE_VALUES = {
    "sex": ("male", "female"),
    "age_band": ("17-21", "22-35", "36-60", "61-75", "76+"),
    "education": ("higher", "incomplete_higher", "secondary", "vocational", "primary"),
    "occupation": (
        "employee",
        "self_employed",
        "farmer",
        "student",
        "pensioner",
        "unemployed",
        "other",
    ),  # fmt: skip
    "settlement": ("town", "village"),
}

# What an invitation rates, by the kind of its subject.
SUBJECT_SERVICE = {"complaint": "appeal", "hearing": "hearing"}
OTHER_SERVICE = "other"
MAX_LABEL_LENGTH = 60


class ServicesError(ValueError):
    """services.json is broken; the message names the entry."""


@dataclass(frozen=True)
class Service:
    id: str
    labels: dict[str, str]

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or next(iter(self.labels.values()))


@dataclass(frozen=True)
class Services:
    items: tuple[Service, ...]

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.items if s.id == service_id), None)

    def label(self, service_id: str, locale: str) -> str:
        found = self.get(service_id)
        return found.label(locale) if found else service_id

    def find(self, typed: str) -> Service | None:
        """A service named by its id or by (the start of) its label in either language."""
        wanted = " ".join(typed.split()).casefold()
        if not wanted:
            return None
        for service in self.items:
            if wanted == service.id or any(
                wanted == label.casefold() for label in service.labels.values()
            ):
                return service
        starts = [
            s
            for s in self.items
            if any(label.casefold().startswith(wanted) for label in s.labels.values())
        ]
        return starts[0] if len(starts) == 1 else None


def load_services(folder: Path | None = None) -> Services:
    """Read and validate `services.json` (from `folder` when it has one, else the built-in)."""
    if folder is not None and (folder / "services.json").is_file():
        text = (folder / "services.json").read_text(encoding="utf-8")
    else:
        text = (resources.files("bot.content") / "services.json").read_text(encoding="utf-8")
    items, seen = [], set()
    for entry in json.loads(text)["services"]:
        sid = entry.get("id", "")
        if not sid or not sid.isascii() or len(sid) > 30 or ":" in sid or sid in seen:
            raise ServicesError(f"service {sid!r}: id must be unique, ASCII, at most 30 chars")
        seen.add(sid)
        labels = {}
        for locale in SUPPORTED_LOCALES:
            label = (entry.get(locale) or "").strip()
            if not label or len(label) > MAX_LABEL_LENGTH:
                raise ServicesError(f"service {sid!r}: label in {locale!r} missing or too long")
            labels[locale] = label
        items.append(Service(sid, labels))
    missing = {OTHER_SERVICE, *SUBJECT_SERVICE.values()} - seen
    if missing:
        raise ServicesError(f"services.json lacks {sorted(missing)}")
    return Services(tuple(items))


_in_force: Services | None = None


def use_services(services: Services) -> None:
    """The catalogue the dialogs show (the app loads it at start-up from CONTENT_DIR)."""
    global _in_force
    _in_force = services


def services_in_force() -> Services:
    global _in_force
    if _in_force is None:
        _in_force = load_services()
    return _in_force
