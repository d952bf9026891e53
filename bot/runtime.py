"""Process settings that keep a long-running bot's latency flat, applied once after start-up.

- The garbage collector: after start-up the heap holds tens of thousands of long-lived objects
  (aiogram's and pydantic's models, the FAQ index, translations). Every full collection walks all
  of them again: 160-390 ms pauses every few seconds under load, which set the p99 of every
  reply. `gc.freeze()` moves what exists now out of the collector's sight, and a higher first
  threshold makes the young-generation passes rarer (each one is cheap).
- aiogram parses every Bot API answer as `Response[<result type>]`; pydantic keeps such
  parametrised classes only in a weak cache, so a collection drops them and the next call builds
  the class again (3-4 ms each). Building them once here and keeping them referenced ends that.
"""

from __future__ import annotations

import gc
import inspect

GC_THRESHOLD = (50_000, 20, 100)  # default (700, 10, 10)

_kept: list[type] = []


def keep_response_models() -> int:
    """Build aiogram's `Response[...]` class of every Bot API method once and keep it."""
    if _kept:
        return len(_kept)
    try:
        import aiogram.methods as methods
        from aiogram.methods.base import Response, TelegramMethod
    except ImportError:  # no Telegram in this install
        return 0
    returning = set()
    for name in dir(methods):
        cls = getattr(methods, name)
        if inspect.isclass(cls) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod:
            returning.add(cls.__returning__)
    for result_type in returning:
        try:
            _kept.append(Response[result_type])
        except TypeError:  # not a type pydantic can parametrise with; aiogram builds it itself
            continue
    return len(_kept)


def settle_after_startup() -> None:
    """Call once the app is built and connected, before serving traffic."""
    keep_response_models()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
