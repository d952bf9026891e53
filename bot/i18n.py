"""Kyrgyz and Russian texts: gettext catalogs compiled by Babel, plus locale-aware dates.

Every user-visible sentence is a msgid in English wrapped in `_()`; the catalogs in
`locales/{ky,ru}/LC_MESSAGES/messages.po` carry the translations. Use `_("... {x}").format(x=...)`,
never an f-string inside `_()`.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from bot.config import SUPPORTED_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
# CLDR's long Kyrgyz date puts the year first; people write "22-ноябрь, 2026-ж.".
DATE_PATTERNS = {"ky": "d-MMMM, y-'ж'.", "ru": "d MMMM y 'г'."}
DATETIME_PATTERNS = {"ky": "d-MMMM, y-'ж'., HH:mm", "ru": "d MMMM y 'г'., HH:mm"}
LANGUAGE_NAMES = {"ky": "Кыргызча", "ru": "Русский"}


class CatalogsMissing(RuntimeError):
    """The compiled `.mo` files are absent: run `pybabel compile -d locales`."""


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it here (translated where shown)."""
    return message


@dataclass(frozen=True)
class Texts:
    """Translations and date formatting for one locale."""

    locale: str
    _translations: gettext.NullTranslations
    tz: ZoneInfo

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def date(self, moment: datetime) -> str:
        """A calendar date in the local time zone, e.g. '10-март, 2026-ж.' / '10 марта 2026 г.'."""
        pattern = DATE_PATTERNS.get(self.locale, "long")
        return format_date(moment.astimezone(self.tz), format=pattern, locale=self.locale)

    def until(self, moment: datetime) -> str:
        """ "Until <day> <month>" in grammatical Kyrgyz or Russian: '16-декабрга чейин',
        'до 16 декабря' (local date)."""
        from bot.domain.workdays import until_phrase

        return until_phrase(moment, self.locale, tz=self.tz)

    def datetime(self, moment: datetime) -> str:
        """Date and time in the local time zone."""
        pattern = DATETIME_PATTERNS.get(self.locale, "medium")
        return format_datetime(moment.astimezone(self.tz), format=pattern, locale=self.locale)


class I18n:
    """Loads both catalogs once; `texts(locale)` hands out per-locale helpers."""

    def __init__(self, tz: ZoneInfo, locales_dir: Path = LOCALES_DIR, strict: bool = True):
        self._texts: dict[str, Texts] = {}
        for locale in SUPPORTED_LOCALES:
            try:
                translations = gettext.translation(DOMAIN, locales_dir, languages=[locale])
            except FileNotFoundError as exc:
                if strict:
                    raise CatalogsMissing(
                        f"compiled catalog for {locale!r} not found in {locales_dir}; "
                        "run: pybabel compile -d locales -D messages"
                    ) from exc
                translations = gettext.NullTranslations()
            self._texts[locale] = Texts(locale, translations, tz)

    def texts(self, locale: str) -> Texts:
        return self._texts.get(locale) or self._texts[SUPPORTED_LOCALES[0]]
