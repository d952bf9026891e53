"""A fake Twilio REST API (Messages + Media) for tests and benchmarks.

It speaks plain HTTP on 127.0.0.1, so the real ``twilio`` SDK can talk to it::

    async with FakeTwilioAPI() as api:
        http = AsyncTwilioHttpClient()
        client = Client(api.account_sid, api.auth_token, http_client=http)
        client.api.base_url = api.base_url
        await client.messages.create_async(to="whatsapp:+996700123456",
                                           from_="whatsapp:+14155238886", body="hi")
        msg = await api.wait_for_message(lambda m: m.to == "whatsapp:+996700123456")
        await http.close()

Every successful message creation is recorded as a :class:`SentMessage` in ``sent`` (every
attempt, failed ones included, in ``attempts``); :meth:`FakeTwilioAPI.fail_next` injects
errors with Twilio's JSON error body. :meth:`FakeTwilioAPI.add_media` serves inbound media
the way Twilio does: Basic-auth protected URL -> 307 -> unauthenticated "CDN" URL.

The module-level :func:`inbound_params`, :func:`status_params` and :func:`sign` build what
Twilio POSTs to the bot's webhooks. :class:`FakeTwilioThread` runs the server in a
background thread for synchronous tests (e.g. when the bot runs in a subprocess).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.server_thread import ServerThread

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "test-auth-token"
DEFAULT_USER = "whatsapp:+996700123456"  # a citizen
DEFAULT_SENDER = "whatsapp:+14155238886"  # Twilio's WhatsApp sandbox number
SIGNATURE_HEADER = "X-Twilio-Signature"

_MESSAGES = f"/{API_VERSION}/Accounts/{{account}}/Messages.json"
_MEDIA = f"/{API_VERSION}/Accounts/{{account}}/Messages/{{message}}/Media/{{media}}"


def new_sid(prefix: str) -> str:
    """A fresh Twilio-style sid: two-letter prefix + 32 lowercase hex chars."""
    return prefix + secrets.token_hex(16)


def _rfc2822_now() -> str:
    return email.utils.formatdate(usegmt=False).replace("-0000", "+0000")


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's (legacy, non RFC-9457) JSON error body, which the SDK turns into
    ``TwilioRestException(status=..., code=..., msg="Unable to create record: <message>")``."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None):
    return web.json_response(error_body(status, code, message), status=status, headers=headers)


def _segments(body: str, to: str) -> int:
    if not body or to.startswith("whatsapp:"):
        return 1
    if all(ord(ch) < 128 for ch in body):  # close enough to GSM-7
        single, multi = 160, 153
    else:  # UCS-2, e.g. Cyrillic
        single, multi = 70, 67
    return 1 if len(body) <= single else -(-len(body) // multi)


@dataclass
class SentMessage:
    """One ``POST .../Messages.json`` request; failed ones have no ``sid`` but an ``error_code``."""

    sid: str
    to: str | None
    from_: str | None
    body: str | None
    content_sid: str | None = None
    content_variables: dict[str, Any] | None = None
    media_urls: list[str] = field(default_factory=list)
    status_callback: str | None = None
    messaging_service_sid: str | None = None
    params: dict[str, list[str]] = field(default_factory=dict)  # raw form, every value
    error_code: int | None = None


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    retry_after: int | None


@dataclass
class _Media:
    data: bytes
    content_type: str
    token: str


class FakeTwilioAPI:
    """In-process fake of the Twilio REST API; see the module docstring."""

    def __init__(
        self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.base_url = ""
        self.sent: list[SentMessage] = []
        self.attempts: list[SentMessage] = []
        self.media: dict[str, _Media] = {}  # ME sid -> media
        self.media_requests: list[tuple[str, bool]] = []  # (path, had_valid_auth)
        self._cdn: dict[str, _Media] = {}  # token -> media
        self._failures: list[_Failure] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Start listening on a free port; return the base url (``http://127.0.0.1:PORT``)."""
        app = web.Application()
        app.router.add_post(_MESSAGES.format(account="{account}"), self._handle_create)
        app.router.add_get(
            _MEDIA.format(account="{account}", message="{message}", media="{media}"),
            self._handle_media,
        )
        app.router.add_get("/cdn/{token}", self._handle_cdn)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTwilioAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- test controls ---------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        code: int,
        message: str = "Error",
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` message creations with this Twilio error.

        ``retry_after`` adds a ``Retry-After`` header (Twilio sends one with some 429s).
        """
        self._failures.extend(_Failure(status, code, message, retry_after) for _ in range(times))

    def add_media(self, data: bytes, content_type: str, *, message_sid: str | None = None) -> str:
        """Register inbound media; return its Twilio-shaped URL on this server.

        The URL needs Basic auth and redirects (307) to an unauthenticated ``/cdn/<token>``.
        """
        media_sid = new_sid("ME")
        message_sid = message_sid or new_sid("MM")
        item = _Media(data, content_type, secrets.token_urlsafe(16))
        self.media[media_sid] = item
        self._cdn[item.token] = item
        path = _MEDIA.format(account=self.account_sid, message=message_sid, media=media_sid)
        return self.base_url + path

    def calls_to_messages(self, to: str | None = None) -> list[SentMessage]:
        """Successfully created messages, optionally only those addressed ``to``."""
        return [m for m in self.sent if to is None or m.to == to]

    async def wait_for_message(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> SentMessage:
        """Return the first created message at index >= ``since`` in ``sent`` matching."""

        def find() -> SentMessage | None:
            for msg in self.sent[since:]:
                if predicate is None or predicate(msg):
                    return msg
            return None

        try:
            async with asyncio.timeout(timeout):
                while (msg := find()) is None:
                    await self._changed.wait()
                return msg
        except TimeoutError:
            seen = [(m.to, m.body or m.content_sid) for m in self.sent[since:]]
            raise TimeoutError(f"no matching message within {timeout}s; got {seen}") from None

    def reset(self) -> None:
        """Forget recorded messages, media requests and pending failures (media stays)."""
        self.sent.clear()
        self.attempts.clear()
        self.media_requests.clear()
        self._failures.clear()

    # -- HTTP plumbing ---------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("latin1")
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and user == self.account_sid and password == self.auth_token

    def _unauthorized(self) -> web.Response:
        return _error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    async def _handle_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if request.match_info["account"] != self.account_sid:
            return self._not_found(request)
        form = await request.post()
        params: dict[str, list[str]] = {}
        for key, value in form.items():
            params.setdefault(key, []).append(str(value))
        one = {key: values[-1] for key, values in params.items()}
        msg = SentMessage(
            sid="",
            to=one.get("To"),
            from_=one.get("From"),
            body=one.get("Body"),
            content_sid=one.get("ContentSid"),
            media_urls=params.get("MediaUrl", []),
            status_callback=one.get("StatusCallback"),
            messaging_service_sid=one.get("MessagingServiceSid"),
            params=params,
        )
        self.attempts.append(msg)
        if failure := self._validate(msg, one.get("ContentVariables")):
            msg.error_code = failure.code
            self._notify()
            headers = None
            if failure.retry_after is not None:
                headers = {"Retry-After": str(failure.retry_after)}
            return _error(failure.status, failure.code, failure.message, headers)
        msg.sid = new_sid("SM")
        self.sent.append(msg)
        self._notify()
        return web.json_response(self._message_json(msg), status=201)

    def _validate(self, msg: SentMessage, content_variables: str | None) -> _Failure | None:
        if self._failures:
            return self._failures.pop(0)
        if not msg.to:
            return _Failure(400, 21604, "A 'To' phone number is required.", None)
        if not msg.from_ and not msg.messaging_service_sid:
            return _Failure(400, 21603, "A 'From' phone number is required.", None)
        if not (msg.body or msg.media_urls or msg.content_sid):
            text = "A text message body or media urls must be specified."
            return _Failure(400, 21619, text, None)
        if msg.from_ and msg.to.startswith("whatsapp:") != msg.from_.startswith("whatsapp:"):
            return _Failure(400, 21910, "Invalid From and To pair.", None)
        if content_variables is not None:
            try:
                msg.content_variables = json.loads(content_variables)
            except ValueError:
                msg.content_variables = None
            if not isinstance(msg.content_variables, dict):
                return _Failure(400, 21656, "The ContentVariables Parameter is invalid.", None)
        return None

    def _message_json(self, msg: SentMessage) -> dict[str, Any]:
        now = _rfc2822_now()
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{msg.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": msg.body or "",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": msg.from_,
            "messaging_service_sid": msg.messaging_service_sid,
            "num_media": str(len(msg.media_urls)),
            "num_segments": str(_segments(msg.body or "", msg.to or "")),
            "price": None,
            "price_unit": "USD",
            "sid": msg.sid,
            "status": "queued" if msg.from_ else "accepted",
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": msg.to,
            "uri": f"{base}.json",
        }

    async def _handle_media(self, request: web.Request) -> web.Response:
        authorized = self._authorized(request)
        self.media_requests.append((request.path, authorized))
        self._notify()
        if not authorized:
            return self._unauthorized()
        item = self.media.get(request.match_info["media"])
        if item is None or request.match_info["account"] != self.account_sid:
            return self._not_found(request)
        location = f"{self.base_url}/cdn/{item.token}"
        return web.Response(status=307, headers={"Location": location})

    async def _handle_cdn(self, request: web.Request) -> web.Response:
        item = self._cdn.get(request.match_info["token"])
        if item is None:  # S3 answers 403 with XML for unknown keys
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        return web.Response(body=item.data, content_type=item.content_type)


class FakeTwilioThread(ServerThread):
    """Runs a :class:`FakeTwilioAPI` on its own event loop in a daemon thread.

    For synchronous tests. All methods are thread-safe and mirror the async API;
    ``wait_for_message`` blocks the calling thread.
    """

    def __init__(
        self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    def make_api(self) -> FakeTwilioAPI:
        return FakeTwilioAPI(self.account_sid, self.auth_token)

    @property
    def sent(self) -> list[SentMessage]:
        return self._run(lambda: list(self.api.sent))

    @property
    def attempts(self) -> list[SentMessage]:
        return self._run(lambda: list(self.api.attempts))

    @property
    def media_requests(self) -> list[tuple[str, bool]]:
        return self._run(lambda: list(self.api.media_requests))

    def calls_to_messages(self, to: str | None = None) -> list[SentMessage]:
        return self._run(self.api.calls_to_messages, to)

    def wait_for_message(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> SentMessage:
        coro = self.api.wait_for_message(predicate, timeout, since=since)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout + 5)

    def reset(self) -> None:
        self._run(self.api.reset)

    def add_media(self, data: bytes, content_type: str, *, message_sid: str | None = None) -> str:
        return self._run(self.api.add_media, data, content_type, message_sid=message_sid)

    def fail_next(self, status: int, code: int, message: str = "Error", **kwargs: Any) -> None:
        self._run(self.api.fail_next, status, code, message, **kwargs)

    def post_signed(
        self,
        sign_url: str,
        params: dict[str, str],
        *,
        target_url: str | None = None,
        signature: str | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, str]:
        """POST ``params`` form-encoded to the bot's webhook as Twilio would.

        The signature is computed over ``sign_url`` (the public URL configured in Twilio)
        while the request goes to ``target_url`` (default: ``sign_url``), e.g. the bot's
        local ``http://127.0.0.1:PORT/twilio/inbound``. ``signature`` overrides the header
        (to test rejection). Returns ``(status, body text)``; HTTP errors are not raised.
        """
        return post_form(
            target_url or sign_url,
            params,
            signature if signature is not None else sign(sign_url, params, self.auth_token),
            timeout=timeout,
        )


# -- webhook builders (what Twilio POSTs to the bot) -----------------------------------------
def sign(url: str, params: dict[str, str], auth_token: str = DEFAULT_AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a form POST of ``params`` to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def post_form(
    url: str, params: dict[str, str], signature: str | None, *, timeout: float = 10.0
) -> tuple[int, str]:
    """Blocking form POST (no proxies) with an optional X-Twilio-Signature header."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode("utf-8", "replace")


def _message_type(media: Iterable[tuple[str, str]], location: bool) -> str:
    if location:
        return "location"
    for _, content_type in media:
        major = content_type.split("/", 1)[0]
        if major in ("image", "video", "audio"):
            return major
        return "document"
    return "text"


def inbound_params(
    *,
    from_: str = DEFAULT_USER,
    to: str = DEFAULT_SENDER,
    body: str = "",
    media: Iterable[tuple[str, str]] = (),
    message_sid: str | None = None,
    profile_name: str | None = "Test",
    latitude: float | None = None,
    longitude: float | None = None,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    message_type: str | None = None,
) -> dict[str, str]:
    """Form fields of an incoming WhatsApp message webhook.

    ``media`` is a list of ``(url, content_type)`` pairs (e.g. from ``add_media``);
    ``latitude``/``longitude`` make it a WhatsApp location message.
    """
    media = list(media)
    sid = message_sid or new_sid("SM")
    params = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    if from_.startswith("whatsapp:"):
        params["WaId"] = re.sub(r"\D", "", from_)
        has_location = latitude is not None and longitude is not None
        params["MessageType"] = message_type or _message_type(media, has_location)
        if profile_name is not None:
            params["ProfileName"] = profile_name
    elif message_type is not None:
        params["MessageType"] = message_type
    for i, (url, content_type) in enumerate(media):
        params[f"MediaContentType{i}"] = content_type
        params[f"MediaUrl{i}"] = url
    if latitude is not None:
        params["Latitude"] = str(latitude)
    if longitude is not None:
        params["Longitude"] = str(longitude)
    return params


def status_params(
    *,
    message_sid: str,
    status: str,
    error_code: int | str | None = None,
    to: str = DEFAULT_USER,
    from_: str = DEFAULT_SENDER,
    account_sid: str = DEFAULT_ACCOUNT_SID,
) -> dict[str, str]:
    """Form fields of a message status callback (queued/sent/delivered/read/failed/...)."""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "ChannelToAddress": re.sub(r"^\w+:", "", to),
        "To": to,
        "ChannelPrefix": to.split(":", 1)[0] if ":" in to else "sms",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params
