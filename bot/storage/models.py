"""Plain records the repositories return; nothing here talks to the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Citizen:
    id: int
    channel: str
    user_key: str
    locale: str | None
    unreachable: bool
    last_inbound_at: datetime | None
    announcements: bool | None = None  # None: never asked
    surveys: bool | None = None  # survey invitations; None: never asked, False: opted out
    # outbox rows wait for them to write (held outside WhatsApp's window, or sent while they
    # had blocked the bot); known only when loaded with the conversation
    waiting: bool = False


@dataclass
class Conversation:
    state: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Photo:
    sha256: str
    path: str


@dataclass(frozen=True)
class MediaFile:
    """A cleaned recording of a complaint: a video (evidence) or a voice message (the
    description, told instead of typed). `path` is relative to MEDIA_DIR."""

    kind: str  # VIDEO or VOICE
    sha256: str
    path: str
    seconds: float


VIDEO, VOICE = "video", "voice"


@dataclass(frozen=True)
class Complaint:
    id: int
    reg_number: str
    citizen_id: int
    category: str
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    is_anonymous: bool
    full_name: str | None
    phone: str | None
    contact_address: str | None
    locale: str
    status: str
    created_at: datetime
    due_at: datetime
    updated_at: datetime
    photos: tuple[Photo, ...] = ()
    forwarded_to: str | None = None
    operator_group: str | None = None  # where its card went; None: the default group
    media: tuple[MediaFile, ...] = ()  # videos and the voice description, in order

    @property
    def videos(self) -> tuple[MediaFile, ...]:
        return tuple(m for m in self.media if m.kind == VIDEO)

    @property
    def voice(self) -> MediaFile | None:
        """The voice message that is the complaint's description, if it was told by voice."""
        return next((m for m in self.media if m.kind == VOICE), None)


@dataclass(frozen=True)
class NewComplaint:
    """A complaint to register; the store gives it a number and an id."""

    year: int
    citizen_id: int
    category: str
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    is_anonymous: bool
    full_name: str | None
    phone: str | None
    contact_address: str | None
    receipt_salt: bytes
    receipt_hash: bytes
    locale: str
    status: str
    due_at: datetime
    photos: list[Photo] = field(default_factory=list)
    draft_key: str | None = None
    media: list[MediaFile] = field(default_factory=list)
    operator_group: str | None = None


@dataclass(frozen=True)
class ComplaintEvent:
    complaint_id: int
    old_status: str | None
    new_status: str
    actor: str
    actor_name: str | None
    note: str | None
    created_at: datetime
    id: int = 0


# Lanes of the outbound port, first to last.
REPLY_LANE, NOTICE_LANE, BULK_LANE = 0, 1, 2
_LANE_OF_KIND = {
    # someone just wrote (a citizen, or an operator in the group) and waits for these
    "reply": REPLY_LANE,
    "receipt": REPLY_LANE,
    "group_note": REPLY_LANE,
    "change_note": REPLY_LANE,
    "question_note": REPLY_LANE,
    "complaint_addition": REPLY_LANE,
    "clarification_answer": REPLY_LANE,
    "operator_prompt": REPLY_LANE,
    "question_prompt": REPLY_LANE,
    # broadcasts to many
    "announcement": BULK_LANE,
    "hearing_announcement": BULK_LANE,
    "hearing_results": BULK_LANE,
}


def lane_of(kind: str) -> int:
    """The lane a kind of message travels in (individual notices unless named otherwise)."""
    return _LANE_OF_KIND.get(kind, NOTICE_LANE)


@dataclass(frozen=True)
class NewOutboxMessage:
    """A message to queue: who gets it, on which channel, and the neutral replies to send."""

    channel: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    citizen_id: int | None = None
    dedupe_key: str | None = None
    lane: int | None = None  # None: by kind (`lane_of`)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    channel: str
    recipient: str
    citizen_id: int | None
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    delivery_status: str | None = None
    parts_done: int = 0
    lane: int = NOTICE_LANE  # how many parts (single API calls) of the row went out already


@dataclass(frozen=True)
class InboundRef:
    """The journal entry an event came from: marked handled in the step's own transaction."""

    channel: str
    message_sid: str


@dataclass
class Step:
    """What one handled event leaves behind, written in one transaction: the conversation,
    the messages to send, and the journal entry marked handled."""

    citizen_id: int
    conversation: Conversation
    now: datetime
    messages: list[NewOutboxMessage] = field(default_factory=list)
    inbound: InboundRef | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A webhook message accepted once and kept until it has been handled."""

    channel: str
    message_sid: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Question:
    """A citizen's question for the operators (shown as `Q-<id>`)."""

    id: int
    citizen_id: int
    text: str
    locale: str
    status: str
    answer: str | None
    created_at: datetime

    @property
    def number(self) -> str:
        return f"Q-{self.id}"
