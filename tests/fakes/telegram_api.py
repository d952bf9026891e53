"""A fake Telegram Bot API server for tests and benchmarks.

It speaks plain HTTP on 127.0.0.1, so a real ``aiogram.Bot`` can talk to it::

    async with FakeTelegramAPI() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot("42:TEST", session=session)
        api.push_update(message_update(7, "/start"))
        ...
        call = await api.wait_for("sendMessage", lambda c: c.params["chat_id"] == 7)

Every request is recorded as a :class:`Call`; :meth:`FakeTelegramAPI.fail_next` injects errors.
:class:`FakeTelegramThread` runs the server in a background thread for synchronous tests
(e.g. when the bot itself runs in a subprocess and long-polls this server).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server_thread import ServerThread

BOT_USER = {"id": 1000, "is_bot": True, "first_name": "Citizen bot", "username": "citizen_test_bot"}
LONG_POLL_CAP = 1.0  # seconds; keeps shutdown of long-polling clients quick
_INT_PARAMS = {"chat_id", "from_chat_id", "message_id", "user_id", "offset", "limit", "timeout"}
_TEXT_PARAMS = {"text", "caption"}  # never JSON-decoded
# fmt: off
_ADMIN_RIGHTS = [
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories", "can_send_welcome_messages",
]
_RESTRICTED_RIGHTS = [
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
    "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages", "can_manage_topics",
]
# fmt: on
_ids = itertools.count(1)  # ids for builder-made messages and callback queries


@dataclass
class Call:
    """One recorded Bot API request."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None  # what the server answered (e.g. the sent Message)


class ApiError(Exception):
    """Raised by a method handler to answer ``{"ok": false, ...}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code, self.description, self.retry_after = error_code, description, retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code}
        body["description"] = self.description
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _decode(key: str, value: Any) -> Any:
    """Decode JSON objects/arrays sent as form strings; make numeric ids ints."""
    if isinstance(value, str):
        if value.startswith(("{", "[")) and key not in _TEXT_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                return value
        if key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
            return int(value)
    return value


def _chat(chat_id: Any) -> dict[str, Any]:
    cid = chat_id if isinstance(chat_id, int) else -1
    return {"id": cid, "type": "private" if cid > 0 else "supergroup"}


def _inline_markup(markup: Any) -> Any:
    """Message.reply_markup can only be an inline keyboard; drop anything else."""
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None


def _chat_member(status: str, user_id: int) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False}}
    member["user"]["first_name"] = f"User {user_id}"
    if status == "administrator":
        member |= {"can_be_edited": False, "is_anonymous": False}
        member |= dict.fromkeys(_ADMIN_RIGHTS, True)
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        member |= {"is_member": True, "until_date": 0, **dict.fromkeys(_RESTRICTED_RIGHTS, False)}
    return member


class FakeTelegramAPI:
    """In-process fake of the Bot API; see the module docstring."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.chat_members: dict[tuple[int, int], str] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # file_id -> (data, file_path)
        self.base_url = ""
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._message_ids = itertools.count(1)
        self._failures: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Start listening on a free port; return the base url."""
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- test controls ---------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; assigns ``update_id`` if missing and returns it."""
        update = dict(update)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self._updates.append(update)
        self._notify()
        return update["update_id"]

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> None:
        """Register a file for getFile and the download endpoint."""
        self.files[file_id] = (data, file_path or f"files/{file_id}")

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        self.chat_members[(chat_id, user_id)] = status

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with the given error."""
        errors = self._failures.setdefault(method.lower(), [])
        errors.extend(ApiError(error_code, description, retry_after) for _ in range(times))

    def calls_to(self, method: str, chat_id: int | str | None = None) -> list[Call]:
        """Recorded calls of ``method``, optionally only those for ``chat_id``."""
        chat_id = _decode("chat_id", chat_id)
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> Call:
        """Return the first call of ``method`` at index >= ``since`` matching ``predicate``."""

        def find() -> Call | None:
            for call in self.calls[since:]:
                if call.method == method and (predicate is None or predicate(call)):
                    return call
            return None

        try:
            async with asyncio.timeout(timeout):
                while (call := find()) is None:
                    await self._changed.wait()
                return call
        except TimeoutError:
            seen = [c.method for c in self.calls[since:]]
            raise TimeoutError(f"no matching {method} call within {timeout}s; got {seen}") from None

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- HTTP plumbing ---------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.content_type == "application/json" and request.can_read_body:
            raw.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    raw[key] = value
        params = {key: _decode(key, value) for key, value in raw.items()}
        for key, value in params.items():  # alias top-level uploads under the param name
            if isinstance(value, str) and value.startswith("attach://"):
                files.setdefault(key, files.get(value.removeprefix("attach://"), b""))
        call = Call(method, params, files)
        self.calls.append(call)
        self._notify()
        try:
            if pending := self._failures.get(method.lower()):
                raise pending.pop(0)
            handler = getattr(self, f"_m_{method.lower()}", None)
            result = True if handler is None else handler(call)
            if asyncio.iscoroutine(result):
                result = await result
            call.result = result
        except ApiError as e:
            return web.json_response(e.payload(), status=e.error_code)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["file_path"]
        for data, file_path in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(not_found, status=404)

    # -- Bot API methods (``_m_<lowercase method name>``) ----------------------------------
    def _message(self, call: Call, message_id: int | None = None, **extra: Any) -> dict[str, Any]:
        p = call.params
        msg: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(p.get("chat_id")),
            "from": BOT_USER,
            "text": p.get("text"),
            "caption": p.get("caption"),
            "reply_markup": _inline_markup(p.get("reply_markup")),
            **extra,
        }
        return {k: v for k, v in msg.items() if v is not None}

    def _store_upload(self, call: Call, ref: Any, kind: str) -> str:
        """Return a file_id for ``ref`` (existing file_id or attach://), registering uploads."""
        if isinstance(ref, str) and ref.startswith("attach://"):
            file_id = f"{kind}-{next(_ids)}"
            self.add_file(file_id, call.files.get(ref.removeprefix("attach://"), b""))
            return file_id
        return str(ref)

    def _media(self, call: Call, kind: str, ref: Any) -> dict[str, Any]:
        file_id = self._store_upload(call, ref, kind)
        base = {"file_id": file_id, "file_unique_id": f"u-{file_id}"}
        if kind == "photo":
            return {"photo": [base | {"width": 800, "height": 600}]}
        if kind == "video":
            return {"video": base | {"width": 640, "height": 480, "duration": 1}}
        if kind == "voice":
            return {"voice": base | {"duration": 1}}
        return {"document": base | {"file_name": "document"}}

    def _m_getme(self, call: Call) -> dict[str, Any]:
        return BOT_USER

    async def _m_getupdates(self, call: Call) -> list[dict[str, Any]]:
        offset = int(call.params.get("offset", 0))
        limit = int(call.params.get("limit", 100))
        if offset > 0:  # confirmed updates are forgotten, like the real API
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        try:
            async with asyncio.timeout(min(float(call.params.get("timeout", 0)), LONG_POLL_CAP)):
                while not self._closing:
                    if ready := [u for u in self._updates if u["update_id"] >= offset]:
                        return ready[:limit]
                    await self._changed.wait()
        except TimeoutError:
            pass
        return []

    def _m_sendmessage(self, call: Call) -> dict[str, Any]:
        return self._message(call)

    def _m_sendphoto(self, call: Call) -> dict[str, Any]:
        return self._message(call, **self._media(call, "photo", call.params.get("photo")))

    def _m_sendvideo(self, call: Call) -> dict[str, Any]:
        return self._message(call, **self._media(call, "video", call.params.get("video")))

    def _m_sendvoice(self, call: Call) -> dict[str, Any]:
        return self._message(call, **self._media(call, "voice", call.params.get("voice")))

    def _m_senddocument(self, call: Call) -> dict[str, Any]:
        return self._message(call, **self._media(call, "document", call.params.get("document")))

    def _m_sendlocation(self, call: Call) -> dict[str, Any]:
        p = call.params
        location = {"latitude": float(p["latitude"]), "longitude": float(p["longitude"])}
        return self._message(call, location=location)

    def _m_sendmediagroup(self, call: Call) -> list[dict[str, Any]]:
        group_id = f"group-{next(_ids)}"
        return [
            self._message(call, media_group_id=group_id, caption=item.get("caption"))
            | self._media(call, item.get("type", "document"), item.get("media"))
            for item in call.params.get("media", [])
        ]

    def _edit(self, call: Call) -> dict[str, Any] | bool:
        if "inline_message_id" in call.params:
            return True
        return self._message(
            call, message_id=call.params.get("message_id"), edit_date=int(time.time())
        )

    _m_editmessagetext = _m_editmessagereplymarkup = _m_editmessagecaption = _edit

    def _m_getchatmember(self, call: Call) -> dict[str, Any]:
        chat_id, user_id = call.params.get("chat_id"), int(call.params["user_id"])
        return _chat_member(self.chat_members.get((chat_id, user_id), "left"), user_id)

    def _m_getfile(self, call: Call) -> dict[str, Any]:
        file_id = call.params.get("file_id")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, path = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }


class FakeTelegramThread(ServerThread):
    """Runs a :class:`FakeTelegramAPI` on its own event loop in a daemon thread.

    For synchronous tests. All methods are thread-safe and mirror the async API;
    ``wait_for`` blocks the calling thread.
    """

    def make_api(self) -> FakeTelegramAPI:
        return FakeTelegramAPI()

    @property
    def calls(self) -> list[Call]:
        return self._run(lambda: list(self.api.calls))

    @property
    def chat_members(self) -> dict[tuple[int, int], str]:
        return self._run(lambda: dict(self.api.chat_members))

    def calls_to(self, method: str, chat_id: int | str | None = None) -> list[Call]:
        return self._run(self.api.calls_to, method, chat_id)

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Call:
        coro = self.api.wait_for(method, predicate, timeout, since=since)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout + 5)

    def reset_calls(self) -> None:
        self._run(self.api.reset_calls)

    def push_update(self, update: dict[str, Any]) -> int:
        return self._run(self.api.push_update, update)

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> None:
        self._run(self.api.add_file, file_id, data, file_path)

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        self._run(self.api.set_chat_member, chat_id, user_id, status)

    def fail_next(self, method: str, error_code: int, description: str, **kwargs: Any) -> None:
        self._run(self.api.fail_next, method, error_code, description, **kwargs)


# -- update builders -------------------------------------------------------------------------
def _user(user_id: int, first_name: str, username: str | None, language_code: str | None):
    user = {"id": user_id, "is_bot": False, "first_name": first_name}
    return user | {k: v for k, v in (("username", username), ("language_code", language_code)) if v}


def message_update(
    user_id: int,
    text: str | None = None,
    *,
    chat_id: int | None = None,
    photo_file_id: str | None = None,
    document: str | dict[str, Any] | None = None,
    media_group_id: str | None = None,
    location: tuple[float, float] | dict[str, float] | None = None,
    contact: str | dict[str, Any] | None = None,
    voice: bool = False,
    sticker: bool = False,
    video: bool = False,
    language_code: str | None = "ru",
    first_name: str = "Aibek",
    username: str | None = "aibek",
) -> dict[str, Any]:
    """An incoming ``message`` update (without ``update_id``; push_update assigns one).

    ``text`` becomes the caption when media is attached. ``document`` may be a file_id or a
    Document dict; ``location`` a ``(lat, lon)`` pair or dict; ``contact`` a phone or dict.
    """
    n = next(_ids)
    chat_id = user_id if chat_id is None else chat_id
    if chat_id > 0:
        chat = {"id": chat_id, "type": "private", "first_name": first_name}
        chat |= {"username": username} if username else {}
    else:
        chat = {"id": chat_id, "type": "supergroup", "title": "Test group"}
    msg: dict[str, Any] = {"message_id": n, "date": int(time.time()), "chat": chat}
    msg["from"] = _user(user_id, first_name, username, language_code)
    if photo_file_id:
        msg["photo"] = [
            {
                "file_id": photo_file_id,
                "file_unique_id": f"u-{photo_file_id}",
                "width": w,
                "height": w,
            }
            for w in (90, 800)
        ]
    if isinstance(document, str):
        document = {"file_id": document, "file_name": "doc.pdf", "mime_type": "application/pdf"}
    if document:
        msg["document"] = {"file_unique_id": f"u-{document['file_id']}", **document}
    if isinstance(location, tuple):
        location = {"latitude": location[0], "longitude": location[1]}
    if location:
        msg["location"] = location
    if isinstance(contact, str):
        contact = {"phone_number": contact}
    if contact:
        msg["contact"] = {"first_name": first_name, "user_id": user_id, **contact}
    file = {"file_id": f"file-{n}", "file_unique_id": f"u-file-{n}"}
    if voice:
        msg["voice"] = file | {"duration": 3, "mime_type": "audio/ogg"}
    if sticker:
        msg["sticker"] = file | {"type": "regular", "width": 512, "height": 512}
        msg["sticker"] |= {"is_animated": False, "is_video": False}
    if video:
        msg["video"] = file | {"width": 640, "height": 480, "duration": 5}
    if media_group_id:
        msg["media_group_id"] = media_group_id
    has_media = any(k in msg for k in ("photo", "document", "voice", "video"))
    if text is not None and has_media:
        msg["caption"] = text
    elif text is not None:
        msg["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"message": msg}


def callback_update(
    user_id: int,
    data: str,
    *,
    message_id: int,
    chat_id: int | None = None,
    message_text: str = "...",
    language_code: str | None = "ru",
    first_name: str = "Aibek",
    username: str | None = "aibek",
) -> dict[str, Any]:
    """A ``callback_query`` update for an inline button under bot message ``message_id``."""
    chat_id = user_id if chat_id is None else chat_id
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": _chat(chat_id),
        "from": BOT_USER,
        "text": message_text,
    }
    query = {"id": f"cb-{next(_ids)}", "chat_instance": f"ci-{chat_id}", "data": data}
    query |= {"from": _user(user_id, first_name, username, language_code), "message": message}
    return {"callback_query": query}
