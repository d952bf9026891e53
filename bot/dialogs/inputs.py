"""Checks of what a citizen typed or sent, shared by the dialog core and the channels.

Text is made safe to store (no lone surrogates from a terminal cut mid-letter), location pins
are checked for real coordinates, phone numbers are validated with `phonenumbers` and kept in
E.164, and registration numbers are recognised before anything is looked up with them.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import phonenumbers

from bot.dialogs.events import Incoming

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_REG_NUMBER = re.compile(r"^[0-9]{2}-[0-9]{5,7}$")
MAX_PHONE_LENGTH = 40


def clean_text(text: str) -> str:
    """The text with every lone surrogate replaced by U+FFFD, so json and sqlite accept it."""
    return _SURROGATE.sub("\ufffd", text)


def clean_incoming(event: Incoming) -> Incoming:
    """The event with its text fields safe to store."""
    changes = {
        name: clean_text(value)
        for name in ("text", "option_id", "contact_phone", "language_hint")
        if isinstance(value := getattr(event, name), str) and _SURROGATE.search(value)
    }
    return replace(event, **changes) if changes else event


def valid_pin(latitude: float | None, longitude: float | None) -> bool:
    """A point on Earth: finite, latitude within ±90, longitude within ±180."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def parse_phone(typed: str, region: str = "KG") -> str | None:
    """A valid phone number in E.164 ('+996555123456'), or None.

    '0555 12-34-56' is read in `region`; '996555123456' (a contact shared without '+') and
    '+7 701 123 4567' are read as international. Letters are refused, not read as a keypad.
    """
    text = typed.strip()
    if not text or len(text) > MAX_PHONE_LENGTH or any(ch.isalpha() for ch in text):
        return None
    candidates = [text] if text.startswith("+") else [text, "+" + text]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def is_reg_number(text: str) -> bool:
    """True for a registration number as `normalize_reg_number` writes it ('26-00042')."""
    return bool(_REG_NUMBER.fullmatch(text))


MAX_ROW_ID = 2**63 - 1  # the largest id the store can hold


def row_id(text: str) -> int | None:
    """The id an option carries ("…:42"), or None for anything that is not a plain ASCII
    number the store could hold ('²', '-1', twenty digits)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ROW_ID else None
