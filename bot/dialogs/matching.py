"""Matching typed text to an offered option: by its number or by its label.

Citizens on WhatsApp and the console see options as "1. …" lines and answer with the number or
the words; Telegram users may type a label too. Case, spaces, emoji and punctuation are ignored,
and Kyrgyz letters typed as their Russian look-alikes (ө/о, ү/у, ң/н) still match.
"""

from __future__ import annotations

from bot.dialogs.events import Option

_KYRGYZ_LOOKALIKES = str.maketrans({"ө": "о", "ү": "у", "ң": "н", "ё": "е"})
# Longer than any option label: a description or an address, never a choice.
MAX_CHOICE_LENGTH = 100


def fold(text: str) -> str:
    """Lower case, look-alike letters unified, only letters and digits kept, spaces collapsed."""
    lowered = text.casefold().translate(_KYRGYZ_LOOKALIKES)
    kept = "".join(ch if ch.isalnum() else " " for ch in lowered)
    return " ".join(kept.split())


def match_option(text: str, options: list[Option], *, allow_numbers: bool) -> Option | None:
    """The option the text names, or None."""
    if not options or len(text) > MAX_CHOICE_LENGTH:
        return None
    typed = fold(text)
    if not typed:
        return None
    if allow_numbers and typed.isdigit():
        index = int(typed) - 1
        return options[index] if 0 <= index < len(options) else None
    return next((option for option in options if fold(option.label) == typed), None)
