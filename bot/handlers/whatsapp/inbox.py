"""WhatsApp adapter: Twilio's webhooks in, the same dialog core, replies out through the outbox.

Two aiohttp routes:
- the inbound-message webhook (`TWILIO_WEBHOOK_PATH`): the `X-Twilio-Signature` is checked with
  the SDK's `RequestValidator` against the public URL (`PUBLIC_BASE_URL` + path, so it works
  behind a proxy). A forged or missing signature gets 403 and nothing is stored. Each
  `MessageSid` is stored once (a replay is acknowledged and ignored), the route answers with
  empty TwiML at once, and the dialog work runs off the request;
- the status callback (`TWILIO_STATUS_PATH`), checked the same way: delivered, read, failed and
  undelivered are recorded on the outbox row.

A stored message is handled by `WhatsAppInbox`: it becomes a neutral `Incoming` (photos are
downloaded from Twilio with the account's credentials only when the core wants them), the core
answers, and the replies are queued in the outbox and sent at once, so the 24-hour window, the
rate limit and retries apply to them like to any push. Messages not handled when the process
stopped are handled at the next start. Nothing here logs a phone number or a message body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from html import escape

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.dialogs.events import Attachment, Incoming
from bot.domain.media import TOO_LARGE, ImageRejected
from bot.handlers.journal import JournalInbox
from bot.handlers.whatsapp.channel import CHANNEL, FORCE_TEMPLATE, OUTSIDE_WINDOW
from bot.i18n import N_
from bot.outbound import is_secret
from bot.storage.models import InboundMessage, InboundRef

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_WHATSAPP_FROM = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
MAX_MEDIA = 10  # Twilio's own limit per message; more is refused as malformed
MAX_BODY = 4096
# Delivery statuses after which a message's text is no longer needed.
FINAL_STATES = frozenset({"delivered", "read", "failed", "undelivered"})
SMS_ONLY = N_("This number works only in WhatsApp. Please write to it there.")


def _twiml(message: str | None = None) -> web.Response:
    body = EMPTY_TWIML
    if message:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
            f"{message}</Message></Response>"
        )
    return web.Response(text=body, content_type="text/xml")


def attachment_kind(content_type: str) -> str:
    """The neutral attachment kind of a Twilio media content type."""
    major = content_type.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major
    return "document" if major in ("application", "text") else "other"


class MediaFetcher:
    """Downloads Twilio media with the account's credentials, up to a size limit."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        max_bytes: int,
        max_recording_bytes: int | None = None,
    ) -> None:
        self._auth = aiohttp.helpers.encode_basic_auth(account_sid, auth_token)
        self.max_bytes = max_bytes
        # videos and voice messages may be larger than photos
        self.max_recording_bytes = max_recording_bytes or max_bytes
        self._session: aiohttp.ClientSession | None = None

    def attachment(self, url: str, content_type: str) -> Attachment:
        kind = attachment_kind(content_type)
        cap = self.max_recording_bytes if kind in ("audio", "video") else self.max_bytes

        async def fetch() -> bytes:
            return await self.download(url, cap)

        return Attachment(kind, fetch, content_type, None)

    async def download(self, url: str, max_bytes: int | None = None) -> bytes:
        """The media's bytes; raises for HTTP errors, `ImageRejected(TOO_LARGE)` when too big.

        Twilio answers with a redirect to its media store; aiohttp drops the Authorization
        header when the redirect leaves the host, so the credentials go to Twilio only.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        headers = {"Authorization": self._auth}
        cap = max_bytes or self.max_bytes
        async with self._session.get(url, headers=headers) as response:
            response.raise_for_status()
            if (response.content_length or 0) > cap:
                raise ImageRejected(TOO_LARGE)
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > cap:
                    raise ImageRejected(TOO_LARGE)
        return bytes(data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def to_incoming(params: Mapping[str, str], media: MediaFetcher) -> Incoming:
    """A Twilio inbound message as a neutral event (From must already be validated).

    The body is passed whole: the core refuses an over-long text naming its real length. A pin
    whose coordinates are not numbers stays a pin (NaN), for the core to refuse politely."""
    base = {"channel": CHANNEL, "user_key": params["From"].removeprefix("whatsapp:")}
    body = params.get("Body", "")
    count = _media_count(params)
    if count:
        attachments = tuple(
            media.attachment(params[f"MediaUrl{i}"], params.get(f"MediaContentType{i}", ""))
            for i in range(count)
            if params.get(f"MediaUrl{i}")
        )
        return Incoming(kind="photo", text=body, attachments=attachments, **base)
    if params.get("Latitude") and params.get("Longitude"):
        try:
            latitude, longitude = float(params["Latitude"]), float(params["Longitude"])
        except ValueError:
            latitude = longitude = float("nan")
        return Incoming(kind="location", latitude=latitude, longitude=longitude, **base)
    if body.strip().startswith("/"):
        return Incoming(kind="command", text=body.strip(), **base)
    return Incoming(kind="text", text=body, **base)


def _media_count(params: Mapping[str, str]) -> int:
    try:
        return max(0, min(int(params.get("NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        return 0


class WhatsAppInbox(JournalInbox):
    """Handles stored inbound messages off the request, one citizen's messages in order."""

    channel = CHANNEL

    def __init__(self, app, media: MediaFetcher) -> None:
        super().__init__(app)
        self.media = media

    async def process(self, message: InboundMessage) -> None:
        """Run the core on one message; never raises. The conversation, the queued replies and
        the journal entry marked handled are written in one transaction (by the core), so a
        crash in between neither loses the message nor applies it twice."""
        app = self.app
        inbound = InboundRef(CHANNEL, message.message_sid)
        user_key = message.params.get("From", "").removeprefix("whatsapp:")
        async with app.outbox.urgent():  # a broadcast waits meanwhile
            try:
                event = to_incoming(message.params, self.media)
                await app.engine.handle(event, inbound=inbound, queue=True)
            except Exception:
                log.exception("WhatsApp message could not be handled")
                await app.store.inbound.mark_done(channel=CHANNEL, message_sid=message.message_sid)
            await app.outbox.send_for(CHANNEL, user_key)


def public_url(base: str, request: web.Request) -> str:
    """The URL Twilio signed: the configured public base plus the path and query we got."""
    return base.rstrip("/") + request.path_qs


def build_whatsapp_routes(app, inbox: WhatsAppInbox, links=None) -> list[web.RouteDef]:
    """The inbound webhook and the status callback, both signature-checked, and the signed,
    expiring links to the files the bot sends (`links`: a `MediaLinks`)."""
    settings = app.settings
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())

    async def signed_form(request: web.Request) -> dict[str, str] | None:
        form = await request.post()
        params = {key: str(value) for key, value in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        url = public_url(settings.public_base_url, request)
        if not signature or not validator.validate(url, params, signature):
            log.warning("Twilio request with a missing or invalid signature refused")
            return None
        return params

    async def inbound(request: web.Request) -> web.Response:
        params = await signed_form(request)
        if params is None:
            return web.Response(status=403, text="invalid signature")
        sid, sender = params.get("MessageSid", ""), params.get("From", "")
        if not _SID.match(sid) or not sender:
            return web.Response(status=400, text="MessageSid and From are required")
        if params.get("AccountSid") not in (None, settings.twilio_account_sid):
            return web.Response(status=403, text="another account")
        if not _WHATSAPP_FROM.match(sender):
            log.info("inbound message from a non-WhatsApp address ignored")
            if not re.fullmatch(r"\+?\d{7,15}", sender):
                return _twiml()
            # a phone texting by SMS can only be told, in both languages, where to write
            notice = " / ".join(app.i18n.texts(loc).gettext(SMS_ONLY) for loc in ("ky", "ru"))
            return _twiml(escape(notice))
        message = InboundMessage(CHANNEL, sid, params)
        fresh = await app.store.inbound.accept(
            channel=CHANNEL, message_sid=sid, params=params, now=app.clock.now()
        )
        if fresh:
            inbox.schedule(message)
        else:
            log.info("replayed MessageSid ignored")
        return _twiml()

    async def status(request: web.Request) -> web.Response:
        params = await signed_form(request)
        if params is None:
            return web.Response(status=403, text="invalid signature")
        sid = params.get("MessageSid", "")
        state = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not _SID.match(sid) or not state:
            return web.Response(status=400, text="MessageSid and MessageStatus are required")
        error = params.get("ErrorCode") or None
        row = await app.store.outbox.record_delivery(
            provider_sid=sid, status=state, error_code=error, now=app.clock.now()
        )
        if row is None:
            return _twiml()
        if error == str(OUTSIDE_WINDOW) and row.status == "sent":
            # free text arrived after the window closed: send it again, as a template
            await app.store.outbox.requeue(
                message_id=row.id, payload=row.payload | FORCE_TEMPLATE, now=app.clock.now()
            )
        elif state in FINAL_STATES and is_secret(row):
            # all of it delivered, read, or lost for good: a receipt code is kept no longer
            await app.store.outbox.scrub_if_done(message_id=row.id)
        return _twiml()

    async def media(request: web.Request) -> web.StreamResponse:
        """A file the bot sends, for Twilio to fetch: only with a valid, fresh signature."""
        path = request.match_info["path"]
        query = request.query
        if links is None or not links.valid(path, query.get("exp", ""), query.get("sig", "")):
            return web.Response(status=403, text="invalid or expired link")
        try:
            file = app.media.open_path(path)
        except ValueError:
            return web.Response(status=404)
        if not file.is_file():
            return web.Response(status=404)
        return web.FileResponse(file)

    return [
        web.post(settings.twilio_webhook_path, inbound),
        web.post(settings.twilio_status_path, status),
        web.get(settings.twilio_media_path.rstrip("/") + "/{path:.+}", media),
    ]
