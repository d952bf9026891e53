"""A fake server on its own event loop in a daemon thread, for synchronous tests (the bot under
test runs in a subprocess and talks to the fake over 127.0.0.1)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class ServerThread:
    """Starts `make_api()` (an object with async `start() -> base_url` and `stop()`) on a loop
    of its own; `_run` calls into that loop and waits for the result."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.api: Any = None
        self.base_url = ""

    def make_api(self) -> Any:
        raise NotImplementedError

    def start(self) -> str:
        self._thread.start()
        self.api = self._run(self.make_api)
        self.base_url = asyncio.run_coroutine_threadsafe(self.api.start(), self._loop).result(10)
        return self.base_url

    def stop(self) -> None:
        if self._thread.is_alive():
            if self.api is not None:
                asyncio.run_coroutine_threadsafe(self.api.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)
