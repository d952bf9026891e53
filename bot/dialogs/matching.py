"""Matching typed text to an offered option: by its number, its label, or a short synonym.

Citizens on WhatsApp and the console see options as "1. …" lines and answer with the number or
the words; Telegram users may type a label too. Case, spaces, emoji and punctuation are ignored,
and Kyrgyz letters typed as their Russian look-alikes (ө/о, ү/у, ң/н) still match. Whole words
of one label ("вода" for "Питьевая вода") choose it when no other label has them. Short answers
people type ("да", "жок", "ok", "аноним", "russkiy") are synonyms of an option id (`ALIASES`):
they choose that option wherever it is offered, however short they are; so do the yes/no
words for any option whose id ends in ":yes" or ":no" (a pushed "followup:<id>:yes").
"""

from __future__ import annotations

from bot.dialogs.events import Option

_KYRGYZ_LOOKALIKES = str.maketrans({"ө": "о", "ү": "у", "ң": "н", "ё": "е"})
# Longer than any option label: a description or an address, never a choice.
MAX_CHOICE_LENGTH = 100
# A typed part of a label (whole words) chooses it when no other label has those words.
MIN_PARTIAL = 4

YES_WORDS = (
    "да", "ага", "конечно", "хорошо", "давай", "давайте", "согласен", "согласна",
    "ооба", "макул", "мейли", "болуптур", "туура",
    "yes", "y", "ok", "okay", "ок", "окей", "da", "ooba",
)  # fmt: skip
NO_WORDS = (
    "нет", "не", "неа", "не надо", "нет спасибо", "не хочу",
    "жок", "жок рахмат", "керек эмес", "кереги жок", "каалабайм",
    "no", "n", "net", "jok", "zhok",
)  # fmt: skip
ANONYMOUS_WORDS = (
    "аноним", "анонимно", "анонимное", "анонимдуу", "без имени",
    "атымды айтпайм", "anonim", "anonimno", "anonymous", "anon",
)  # fmt: skip
NAMED_WORDS = ("с именем", "именное", "атым менен", "аты менен", "named")
KYRGYZ_WORDS = (
    "кыргызча", "кыргыз", "кыргызский", "киргизский", "кыргыз тили",
    "kyrgyzcha", "kirgizcha", "kyrgyz", "kirgiz", "kyrgyzsha", "ky", "kg",
)  # fmt: skip
RUSSIAN_WORDS = (
    "русский", "рус", "русча", "орусча", "орус тили", "по русски",
    "russkiy", "russkij", "russki", "russian", "russ", "rus", "ru", "oruscha",
)  # fmt: skip

# Option id -> typed synonyms, matched whole (after folding) wherever that option is offered.
ALIASES: dict[str, tuple[str, ...]] = {
    "sub:yes": YES_WORDS,
    "sub:no": NO_WORDS,
    "confirm:yes": YES_WORDS,
    "faq:send": YES_WORDS,
    "draft:continue": YES_WORDS,
    "draft:discard": NO_WORDS,
    "id:anon": ANONYMOUS_WORDS,
    "id:named": NAMED_WORDS,
    "lang:ky": KYRGYZ_WORDS,
    "lang:ru": RUSSIAN_WORDS,
}


def fold(text: str) -> str:
    """Lower case, look-alike letters unified, only letters and digits kept, spaces collapsed."""
    lowered = text.casefold().translate(_KYRGYZ_LOOKALIKES)
    kept = "".join(ch if ch.isalnum() else " " for ch in lowered)
    return " ".join(kept.split())


_FOLDED_ALIASES = {option: {fold(word) for word in words} for option, words in ALIASES.items()}
# Ids of options pushed with an id per subject ("followup:<id>:yes") take the yes/no words too.
_FOLDED_ENDINGS = {":yes": _FOLDED_ALIASES["sub:yes"], ":no": _FOLDED_ALIASES["sub:no"]}


def _aliases(option_id: str) -> set[str]:
    found = _FOLDED_ALIASES.get(option_id)
    if found is not None:
        return found
    ending = option_id[option_id.rfind(":") :]
    return _FOLDED_ENDINGS.get(ending, set())


def match_option(text: str, options: list[Option], *, allow_numbers: bool) -> Option | None:
    """The option the text names, or None."""
    if not options or len(text) > MAX_CHOICE_LENGTH:
        return None
    typed = fold(text)
    if not typed:
        return None
    if allow_numbers and typed.isdecimal():  # "٣" is 3; "²", "①" are digits int() refuses
        index = int(typed) - 1
        return options[index] if 0 <= index < len(options) else None
    exact = next((option for option in options if fold(option.label) == typed), None)
    if exact:
        return exact
    aliased = [option for option in options if typed in _aliases(option.id)]
    if aliased:
        return aliased[0]
    if len(typed) < MIN_PARTIAL:
        return None
    # "освещение" for "Уличное освещение": words of one label only, never a guess between two
    padded = f" {typed} "
    partial = [option for option in options if padded in f" {fold(option.label)} "]
    return partial[0] if len(partial) == 1 else None
