"""The fake Twilio API must satisfy the real twilio SDK (the bot's client)."""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    FakeTwilioAPI,
    FakeTwilioThread,
    inbound_params,
    sign,
    status_params,
)

USER = "whatsapp:+996700123456"
SENDER = "whatsapp:+14155238886"
CALLBACK = "https://public.example/twilio/status"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilioAPI]:
    async with FakeTwilioAPI() as api:
        yield api


def _client(fake: FakeTwilioAPI, http: AsyncTwilioHttpClient, token: str | None = None) -> Client:
    client = Client(fake.account_sid, token or fake.auth_token, http_client=http)
    client.api.base_url = fake.base_url
    return client


@pytest.fixture
async def client(fake: FakeTwilioAPI) -> AsyncIterator[Client]:
    http = AsyncTwilioHttpClient()
    try:
        yield _client(fake, http)
    finally:
        await http.close()


async def send(client: Client, **kwargs):
    kwargs.setdefault("to", USER)
    kwargs.setdefault("from_", SENDER)
    return await client.messages.create_async(**kwargs)


# -- messages ---------------------------------------------------------------------------------
async def test_create_with_body_is_recorded(fake: FakeTwilioAPI, client: Client) -> None:
    msg = await send(client, body="Салам! Ваша заявка принята", status_callback=CALLBACK)

    assert msg.sid.startswith("SM") and len(msg.sid) == 34
    assert msg.status == "queued" and msg.to == USER and msg.from_ == SENDER
    assert msg.account_sid == fake.account_sid and msg.date_created is not None
    assert msg.body == "Салам! Ваша заявка принята" and msg.num_segments == "1"
    [sent] = fake.sent
    assert sent.sid == msg.sid and sent.to == USER and sent.from_ == SENDER
    assert sent.body == "Салам! Ваша заявка принята" and sent.status_callback == CALLBACK
    assert sent.content_sid is None and sent.media_urls == []
    assert fake.calls_to_messages(USER) == [sent] and fake.calls_to_messages("x") == []
    assert await fake.wait_for_message(lambda m: m.to == USER) is sent


async def test_template_and_media_are_recorded(fake: FakeTwilioAPI, client: Client) -> None:
    media = ["https://public.example/a.jpg", "https://public.example/b.jpg"]
    msg = await send(
        client, content_sid="HX" + "1" * 32, content_variables='{"1": "26-00001"}', media_url=media
    )

    sent = await fake.wait_for_message(lambda m: m.sid == msg.sid)
    assert sent.content_sid == "HX" + "1" * 32
    assert sent.content_variables == {"1": "26-00001"}
    assert sent.media_urls == media and sent.body is None
    assert sent.params["MediaUrl"] == media and msg.num_media == "2"


async def test_wait_for_message_is_event_driven_and_times_out(
    fake: FakeTwilioAPI, client: Client
) -> None:
    waiter = asyncio.create_task(fake.wait_for_message(lambda m: m.body == "second"))
    await send(client, body="first")
    assert not waiter.done()
    await send(client, body="second")
    assert (await asyncio.wait_for(waiter, 2)).body == "second"
    with pytest.raises(TimeoutError, match="no matching message"):
        await fake.wait_for_message(lambda m: m.body == "never", timeout=0.05)
    fake.reset()
    assert fake.sent == [] and fake.attempts == []


async def test_wrong_auth_is_401(fake: FakeTwilioAPI) -> None:
    async with AsyncTwilioHttpClient() as http:
        with pytest.raises(TwilioRestException) as info:
            await send(_client(fake, http, token="wrong"), body="hi")
    assert info.value.status == 401 and info.value.code == 20003
    assert "Authenticate" in info.value.msg
    assert fake.sent == [] and fake.attempts == []


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 63016, "Failed to send freeform message because you are outside the allowed window"),
        (400, 21211, "Invalid 'To' Phone Number"),
        (500, 20500, "Internal Server Error"),
    ],
)
async def test_fail_next(fake: FakeTwilioAPI, client: Client, status, code, message) -> None:
    fake.fail_next(status, code, message)
    with pytest.raises(TwilioRestException) as info:
        await send(client, body="hi")
    err = info.value
    assert (err.status, err.code, err.method) == (status, code, "POST")
    assert err.msg == f"Unable to create record: {message}"
    assert fake.sent == [] and fake.attempts[-1].error_code == code
    assert (await send(client, body="again")).status == "queued"  # only the next one fails


async def test_rate_limit_with_retry_after(fake: FakeTwilioAPI, client: Client) -> None:
    fake.fail_next(429, 20429, "Too Many Requests", times=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as info:
            await send(client, body="hi")
        assert info.value.status == 429 and info.value.code == 20429
    await send(client, body="hi")
    assert len(fake.sent) == 1 and len(fake.attempts) == 3
    # the SDK hides headers in the exception; check the raw answer
    auth = aiohttp.encode_basic_auth(fake.account_sid, fake.auth_token)
    fake.fail_next(429, 20429, "Too Many Requests", retry_after=3)
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    data = {"To": USER, "From": SENDER, "Body": "x"}
    async with (
        aiohttp.ClientSession(headers={"Authorization": auth}) as session,
        session.post(url, data=data) as resp,
    ):
        assert resp.status == 429 and resp.headers["Retry-After"] == "3"
        assert await resp.json() == {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        }


async def test_missing_body_is_rejected_like_twilio(client: Client) -> None:
    with pytest.raises(TwilioRestException) as info:
        await send(client)
    assert (info.value.status, info.value.code) == (400, 21619)


# -- media ------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ["header", "basic_auth"])
async def test_media_download_follows_redirect(fake: FakeTwilioAPI, style: str) -> None:
    url = fake.add_media(b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert url.startswith(f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages/MM")
    assert "/Media/ME" in url
    if style == "header":
        kwargs = {"headers": {"Authorization": aiohttp.encode_basic_auth(*_creds(fake))}}
    else:
        kwargs = {"auth": aiohttp.BasicAuth(*_creds(fake))}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, **kwargs) as resp:
            assert resp.status == 200
            assert resp.content_type == "image/jpeg"
            assert await resp.read() == b"\xff\xd8jpeg-bytes"
            assert [r.status for r in resp.history] == [307]
            assert resp.url.path.startswith("/cdn/")
        async with session.get(resp.url) as cdn:  # the CDN url itself needs no auth
            assert cdn.status == 200
    assert fake.media_requests == [(urllib.parse.urlsplit(url).path, True)]


def _creds(fake: FakeTwilioAPI) -> tuple[str, str]:
    return fake.account_sid, fake.auth_token


async def test_media_without_auth_is_401_and_unknown_is_404(fake: FakeTwilioAPI) -> None:
    url = fake.add_media(b"data", "application/pdf")
    unknown = url.rsplit("/", 1)[0] + "/ME" + "0" * 32
    headers = {"Authorization": aiohttp.encode_basic_auth(*_creds(fake))}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, allow_redirects=False) as resp:
            assert resp.status == 401
            assert (await resp.json())["code"] == 20003
        async with session.get(unknown, headers=headers) as resp:
            assert resp.status == 404
            body = await resp.json()
            assert body["code"] == 20404 and body["status"] == 404
        async with session.get(f"{fake.base_url}/cdn/nope") as resp:
            assert resp.status == 403
    assert [ok for _, ok in fake.media_requests] == [False, True]


# -- webhook builders -------------------------------------------------------------------------
def test_sign_matches_request_validator() -> None:
    url = "https://public.example/twilio/inbound"
    params = inbound_params(body="Привет", media=[("https://x/y", "image/jpeg")])
    signature = sign(url, params, DEFAULT_AUTH_TOKEN)
    validator = RequestValidator(DEFAULT_AUTH_TOKEN)
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, {**params, "Body": "tampered"}, signature)
    assert not RequestValidator("other").validate(url, params, signature)


def test_inbound_params_shape() -> None:
    p = inbound_params(body="hi")
    assert p["MessageSid"] == p["SmsMessageSid"] == p["SmsSid"]
    assert p["MessageSid"].startswith("SM") and len(p["MessageSid"]) == 34
    assert p["From"] == USER and p["To"] == SENDER and p["WaId"] == "996700123456"
    assert p["NumMedia"] == "0" and p["MessageType"] == "text" and p["ProfileName"] == "Test"
    assert p["AccountSid"] == DEFAULT_ACCOUNT_SID and p["ApiVersion"] == "2010-04-01"
    assert "MessagingServiceSid" not in p and "Latitude" not in p

    p = inbound_params(media=[("u0", "image/jpeg"), ("u1", "image/png")], message_sid="MM1")
    assert p["NumMedia"] == "2" and p["MessageType"] == "image" and p["MessageSid"] == "MM1"
    assert (p["MediaUrl1"], p["MediaContentType1"]) == ("u1", "image/png")

    p = inbound_params(latitude=42.87, longitude=74.59)
    assert (p["Latitude"], p["Longitude"], p["MessageType"]) == ("42.87", "74.59", "location")

    s = status_params(message_sid="SM1", status="failed", error_code=63016)
    assert s["MessageStatus"] == s["SmsStatus"] == "failed" and s["ErrorCode"] == "63016"
    assert s["ChannelPrefix"] == "whatsapp" and s["MessageSid"] == "SM1"
    assert "ErrorCode" not in status_params(message_sid="SM1", status="delivered")


# -- thread variant ---------------------------------------------------------------------------
class _Webhook(BaseHTTPRequestHandler):
    public_url = "https://public.example/twilio/inbound"

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        signature = self.headers.get("X-Twilio-Signature", "")
        ok = RequestValidator(DEFAULT_AUTH_TOKEN).validate(self.public_url, params, signature)
        body = f"ok {params.get('Body')}" if ok else "forbidden"
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/twilio/inbound"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_thread_variant(webhook: str) -> None:
    with FakeTwilioThread() as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
        client = Client(fake.account_sid, fake.auth_token)  # the sync SDK client works too
        client.api.base_url = fake.base_url
        fake.fail_next(400, 63016, "outside the allowed window")
        with pytest.raises(TwilioRestException) as info:
            client.messages.create(to=USER, from_=SENDER, body="hi")
        assert info.value.code == 63016
        msg = client.messages.create(to=USER, from_=SENDER, body="hi")
        assert fake.wait_for_message(lambda m: m.body == "hi", timeout=2).sid == msg.sid
        assert [m.sid for m in fake.sent] == [msg.sid] and len(fake.attempts) == 2
        assert fake.calls_to_messages(USER)[0].sid == msg.sid
        url = fake.add_media(b"img", "image/png")
        assert url.startswith(fake.base_url) and fake.media_requests == []
        fake.reset()
        assert fake.sent == []

        params = inbound_params(body="салам")
        assert fake.post_signed(_Webhook.public_url, params, target_url=webhook) == (
            200,
            "ok салам",
        )
        assert fake.post_signed(webhook, params)[0] == 403  # signed for the wrong url
        bad = fake.post_signed(_Webhook.public_url, params, target_url=webhook, signature="x")
        assert bad == (403, "forbidden")
    assert not fake._thread.is_alive()
