"""The outbound port's WhatsApp channel: Twilio's official SDK with its async HTTP client.

Replies are rendered for WhatsApp: text with the options as numbered lines, short replies of
one turn joined into one message, long ones split under Twilio's 1600-character limit.

WhatsApp lets a business send free text only within 24 hours of the citizen's last message.
Outside that window a message must be an approved Content template (`content_sid` plus
`content_variables`), chosen here by the outbox row's kind and the citizen's language. With no
template configured for it, the row is held (operators see why) until the citizen writes again;
Twilio's error 63016 ("outside the window") turns the row into a template, or holds it.

Sending is paced (by the outbox, through `pacer`) to `TWILIO_MESSAGES_PER_SECOND` for the one
sender; no call blocks the loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.clock import Clock
from bot.dialogs.events import Document, Rendered, Reply
from bot.outbound import Hold, RecipientGone, RetryLater, TransientError
from bot.pacing import Limits, Pacer
from bot.storage.models import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
MAX_BODY = 1600  # Twilio's limit for one WhatsApp message body
WINDOW = timedelta(hours=24)
# `last_inbound_at` is refreshed at most once a minute; stay clear of the window's edge.
WINDOW_MARGIN = timedelta(minutes=10)
OUTSIDE_WINDOW = 63016
# Payload change that makes the next attempt of a row a template (after 63016).
FORCE_TEMPLATE = {"force_template": True}
# The recipient cannot be reached on WhatsApp at all (invalid number, not on WhatsApp,
# unsubscribed through Twilio's own STOP handling).
UNREACHABLE_CODES = {21211, 21610, 21614, 63003, 63024}
# Which template group serves which outbox kind outside the 24-hour window.
TEMPLATE_GROUP = {
    "status_update": "status",
    "question_answer": "status",
    "announcement": "hearing",
    "hearing_announcement": "hearing",
    "hearing_changed": "hearing",
    "hearing_cancelled": "hearing",
    "hearing_results": "hearing",
    "hearing_reminder": "reminder",
    "reminder": "reminder",
    "survey_invitation": "survey",
}

# Announcements and reminders go in the other language's template when the citizen's is missing
# (the broadcast's report counts them); a complaint's status waits for the citizen instead.
FALLBACK_GROUPS = frozenset({"hearing", "reminder"})


@dataclass(frozen=True)
class Media:
    """One WhatsApp message carrying a photo or a document, fetched by Twilio from `url`."""

    url: str
    caption: str = ""


class MediaLinks:
    """Unguessable, expiring addresses under PUBLIC_BASE_URL for the files Twilio fetches to
    send (Twilio takes media only by URL): the path, an expiry time and an HMAC of both."""

    def __init__(
        self, base_url: str, prefix: str, secret: str, clock: Clock, ttl=timedelta(hours=2)
    ):
        self.base = base_url.rstrip("/") + prefix.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self._key = hashlib.sha256(b"media-links:" + secret.encode()).digest()
        self.clock = clock
        self.ttl = ttl

    def url(self, path: str) -> str:
        expires = int((self.clock.now() + self.ttl).timestamp())
        query = urlencode({"exp": expires, "sig": self._sign(path, expires)})
        return f"{self.base}/{quote(path)}?{query}"

    def valid(self, path: str, expires: str, signature: str) -> bool:
        """The signature is ours and the link has not expired."""
        if not expires.isascii() or not expires.isdigit():
            return False
        fresh = int(expires) >= self.clock.now().timestamp()
        return fresh and hmac.compare_digest(self._sign(path, int(expires)), signature)

    def _sign(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Template:
    """An approved WhatsApp Content template and the values of its variables."""

    content_sid: str
    variables: dict[str, str]


def whatsapp_address(user_key: str) -> str:
    """The citizen's phone (how they are keyed) as a Twilio WhatsApp address."""
    return user_key if user_key.startswith("whatsapp:") else f"whatsapp:{user_key}"


def render_text(reply: Reply) -> str:
    """A reply as WhatsApp text: the text, a pin as a map link, options as numbered lines."""
    lines = []
    if reply.location:
        lat, lon = reply.location
        lines.append(f"📍 https://maps.google.com/?q={lat:.6f},{lon:.6f}")
    if reply.text:
        lines.append(reply.text)
    if reply.options:
        lines.append("\n".join(f"{n}. {o.label}" for n, o in enumerate(reply.options, 1)))
    if reply.ask_location:
        lines.append(f"({reply.ask_location}: 📎 → 📍)")
    if reply.ask_contact:
        lines.append(f"({reply.ask_contact})")
    return "\n\n".join(lines)


def split_body(text: str, limit: int = MAX_BODY) -> list[str]:
    """Cut text into messages of at most `limit` characters, at paragraph or line ends."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def render_messages(replies: list[Reply], limit: int = MAX_BODY) -> list[str]:
    """The bodies to send for one turn: short replies joined, long ones split."""
    bodies: list[str] = []
    for reply in replies:
        text = render_text(reply)
        if not text:
            continue
        if bodies and len(bodies[-1]) + 2 + len(text) <= limit:
            bodies[-1] += "\n\n" + text
        else:
            bodies.extend(split_body(text, limit))
    return bodies


def twilio_client(account_sid: str, auth_token: str, api_base: str | None) -> Client:
    """A Twilio client on the async HTTP client; `api_base` replaces https://api.twilio.com."""
    client = Client(account_sid, auth_token, http_client=AsyncTwilioHttpClient(timeout=30))
    if api_base:
        client.api.base_url = api_base.rstrip("/")
    return client


class WhatsAppChannel:
    """Sends outbox rows to WhatsApp citizens through Twilio."""

    name = CHANNEL
    # "sent" is only Twilio's acceptance: a receipt code is blanked on the delivery callback
    confirms_delivery_later = True

    def __init__(
        self,
        client: Client,
        sender: str,
        *,
        store,
        clock: Clock,
        templates: dict[tuple[str, str], str],
        status_callback: str | None,
        per_second: float = 10.0,
        default_locale: str = "ky",
        links: MediaLinks | None = None,
        media=None,
    ) -> None:
        self.client = client
        self.sender = whatsapp_address(sender)
        self.store = store
        self.clock = clock
        self.templates = templates
        self.status_callback = status_callback
        self.pacer = Pacer(Limits(per_second=per_second))
        self.links = links  # without them (no public address) photos go as text notes
        self.media = media
        self.default_locale = default_locale

    async def close(self) -> None:
        await self.client.http_client.close()

    # ----- the outbox's hooks ----------------------------------------------------------------

    async def prepare(
        self, row: OutboxMessage, rendered: Rendered, done: int
    ) -> tuple[list[Any], int]:
        """Free text inside the 24-hour window, else the row kind's template, else `Hold`."""
        citizen = None
        if row.citizen_id is not None:
            citizen = await self.store.citizens.get(citizen_id=row.citizen_id)
        if not row.payload.get("force_template") and self._in_window(citizen):
            return await self._free_form(rendered.replies), done
        locale = (citizen.locale if citizen else None) or self.default_locale
        group = TEMPLATE_GROUP.get(row.kind)
        content_sid = self.templates.get((group, locale)) if group else None
        if group in FALLBACK_GROUPS and not content_sid:  # the other language's (reported)
            others = (sid for (g, _), sid in self.templates.items() if g == group)
            content_sid = next(others, None)
        variables = rendered.template_variables
        if not content_sid or not variables:
            raise Hold(
                f"outside WhatsApp's 24-hour window; no template for {row.kind} ({locale}):"
                " waiting for the citizen to write"
            )
        return [Template(content_sid, {str(k): str(v) for k, v in variables.items()})], 0

    async def _free_form(self, replies: list[Reply]) -> list[str | Media]:
        """Text bodies (short replies joined), and each photo, video, voice message and
        document as a media message of its own, before the text of its reply."""
        parts: list[str | Media] = []
        texts: list[Reply] = []
        for reply in replies:
            media = await self._media_of(reply)
            if media:
                parts += render_messages(texts) + media
                texts = []
            texts.append(replace(reply, photos=(), document=None, videos=(), voice=None))
        return parts + render_messages(texts)

    async def _media_of(self, reply: Reply) -> list[Media]:
        if self.links is None:  # no public address: Twilio could not fetch them
            return []
        paths = list(reply.photos) + list(reply.videos)
        if reply.voice:
            paths.append(reply.voice)
        if reply.document is not None:
            paths.append(await self._stored(reply.document))
        return [Media(self.links.url(path)) for path in paths]

    async def _stored(self, document: Document) -> str:
        if document.path is not None:
            return document.path
        return await self.media.save_document(document.data or b"", document.name)

    async def deliver(self, recipient: str, part: str | Media | Template | Reply) -> str | None:
        """Send one message; returns Twilio's MessageSid."""
        if isinstance(part, Reply):  # not prepared (called directly): render it here
            part = "\n\n".join(render_messages([part]))
        fields: dict[str, Any] = {"to": whatsapp_address(recipient), "from_": self.sender}
        if isinstance(part, Template):
            fields["content_sid"] = part.content_sid
            fields["content_variables"] = json.dumps(part.variables, ensure_ascii=False)
        elif isinstance(part, Media):
            fields["media_url"] = [part.url]
            if part.caption:
                fields["body"] = part.caption
        else:
            fields["body"] = part
        if self.status_callback:
            fields["status_callback"] = self.status_callback
        try:
            message = await self.client.messages.create_async(**fields)
        except TwilioRestException as exc:
            raise _mapped(exc, isinstance(part, Template)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(type(exc).__name__) from exc
        return message.sid

    def _in_window(self, citizen) -> bool:
        if citizen is None or citizen.last_inbound_at is None:
            return False
        return self.clock.now() - citizen.last_inbound_at < WINDOW - WINDOW_MARGIN


def _mapped(exc: TwilioRestException, was_template: bool) -> Exception:
    """Twilio's error as the outbox's decision; the message never carries the phone number."""
    code = exc.code or 0
    if exc.status == 429 or code == 20429:
        return RetryLater(2.0)
    if code == OUTSIDE_WINDOW and not was_template:
        return Hold("Twilio 63016: outside the 24-hour window", payload_changes=FORCE_TEMPLATE)
    if code in UNREACHABLE_CODES:
        return RecipientGone(f"Twilio {code}")
    if exc.status >= 500:
        return TransientError(f"Twilio {exc.status} ({code})")
    return RuntimeError(f"Twilio {exc.status} ({code})")
