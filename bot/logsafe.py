"""Logs that never show a secret: the bot token (it is part of every Bot API and file URL, so
an exception about a failed download would print it), Twilio's auth token, the webhook secret.

`redact_logs(secrets)` wraps the formatter of every handler of the root logger, so whatever a
library logs — messages, arguments, tracebacks — is cleaned after it is formatted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "[redacted]"


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then replaces every secret (and a token's part after ':')."""

    def __init__(self, inner: logging.Formatter | None, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets = sorted(_variants(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def _variants(secrets: Iterable[str]) -> set[str]:
    """The secrets, and a Telegram token's secret half on its own (`123:ABC` → `ABC`)."""
    found = set()
    for secret in secrets:
        if secret and len(secret) >= 8:
            found.add(secret)
            tail = secret.partition(":")[2]
            if len(tail) >= 8:
                found.add(tail)
    return found


def redact_logs(secrets: Iterable[str], logger: logging.Logger | None = None) -> None:
    """Make every handler of `logger` (the root logger by default) hide `secrets`."""
    secrets = [s for s in secrets if s]
    for handler in (logger or logging.getLogger()).handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            current = current.inner
        handler.setFormatter(RedactingFormatter(current, secrets))
