"""The neutral language between channels and the dialog core.

A channel adapter turns what a messenger delivered into an `Incoming`, and renders the `Reply`
objects the core returns. Nothing here knows about Telegram, WhatsApp or the console.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

IncomingKind = Literal["text", "option", "command", "photo", "location", "contact", "file"]


@dataclass(frozen=True)
class Attachment:
    """A file the citizen sent. `fetch` downloads its bytes only when the core wants them."""

    kind: Literal["image", "document", "voice", "audio", "video", "sticker", "other"]
    fetch: Callable[[], Awaitable[bytes]]
    mime: str | None = None
    size: int | None = None
    seconds: float | None = None  # a recording's length as the messenger states it, if it does


@dataclass(frozen=True)
class Incoming:
    """One thing a citizen did: text, an option, a command, a photo, a pin or a contact."""

    channel: str
    user_key: str
    kind: IncomingKind
    text: str = ""
    option_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    contact_phone: str | None = None
    contact_is_own: bool = False
    language_hint: str | None = None


@dataclass(frozen=True)
class Option:
    """A choice offered to the citizen: a stable id (at most 64 bytes) and a label."""

    id: str
    label: str


@dataclass(frozen=True)
class Document:
    """A file to send (an .ics, a CSV report, a PNG chart): stored under MEDIA_DIR (`path`),
    or made at send time by a renderer (`data`, never written into the outbox)."""

    name: str
    mime: str
    path: str | None = None
    data: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.path is None:
            raise ValueError("a document queued in the outbox must be stored first (path)")
        return {"name": self.name, "mime": self.mime, "path": self.path}


@dataclass(frozen=True)
class Reply:
    """One message to show. Channels render `options` as buttons or numbered lines."""

    text: str = ""
    options: tuple[Option, ...] = ()
    photos: tuple[str, ...] = ()
    ask_contact: str | None = None
    ask_location: str | None = None
    location: tuple[float, float] | None = None
    reply_to: int | None = None  # the messenger's id of the message this one answers
    force_reply: bool = False  # ask the reader to reply to this message (operators' prompts)
    document: Document | None = None  # sent before the text
    videos: tuple[str, ...] = ()  # stored videos (paths under MEDIA_DIR), sent before the text
    voice: str | None = None  # a stored voice message, sent before the text

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.options:
            data["options"] = [[o.id, o.label] for o in self.options]
        if self.photos:
            data["photos"] = list(self.photos)
        if self.ask_contact:
            data["ask_contact"] = self.ask_contact
        if self.ask_location:
            data["ask_location"] = self.ask_location
        if self.location:
            data["location"] = list(self.location)
        if self.reply_to is not None:
            data["reply_to"] = self.reply_to
        if self.force_reply:
            data["force_reply"] = True
        if self.document is not None:
            data["document"] = self.document.to_dict()
        if self.videos:
            data["videos"] = list(self.videos)
        if self.voice:
            data["voice"] = self.voice
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data.get("text", ""),
            options=tuple(Option(i, label) for i, label in data.get("options", ())),
            photos=tuple(data.get("photos", ())),
            ask_contact=data.get("ask_contact"),
            ask_location=data.get("ask_location"),
            location=tuple(data["location"]) if data.get("location") else None,
            reply_to=data.get("reply_to"),
            force_reply=bool(data.get("force_reply")),
            document=Document(**data["document"]) if data.get("document") else None,
            videos=tuple(data.get("videos", ())),
            voice=data.get("voice"),
        )


@dataclass(frozen=True)
class Rendered:
    """An outbox row turned into what to send, at send time: the replies, and the variables of
    the approved template a messenger may need instead of free text (WhatsApp)."""

    replies: list[Reply]
    template_variables: dict[str, str] | None = None
