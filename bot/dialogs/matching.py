"""Matching typed text to an offered option: by its number or by its label.

Citizens on WhatsApp and the console see options as "1. …" lines and answer with the number or
the words; Telegram users may type a label too. Case, spaces, emoji and punctuation are ignored,
and Kyrgyz letters typed as their Russian look-alikes (ө/о, ү/у, ң/н) still match. Whole words
of one label ("вода" for "Питьевая вода") choose it when no other label has them.
"""

from __future__ import annotations

from bot.dialogs.events import Option

_KYRGYZ_LOOKALIKES = str.maketrans({"ө": "о", "ү": "у", "ң": "н", "ё": "е"})
# Longer than any option label: a description or an address, never a choice.
MAX_CHOICE_LENGTH = 100
# A typed part of a label (whole words) chooses it when no other label has those words.
MIN_PARTIAL = 4


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
    exact = next((option for option in options if fold(option.label) == typed), None)
    if exact or len(typed) < MIN_PARTIAL:
        return exact
    # "освещение" for "Уличное освещение": words of one label only, never a guess between two
    padded = f" {typed} "
    partial = [option for option in options if padded in f" {fold(option.label)} "]
    return partial[0] if len(partial) == 1 else None
