"""Video evidence and voice descriptions: cleaned of every piece of metadata, limited in size and
length, a warning before an anonymous voice goes out, and operators get them with the card.

Every recording here is made in the test with PyAV, carrying the metadata a phone writes
(recording time, GPS position, device make and model, encoder), so each assertion could fail.
"""

from __future__ import annotations

import asyncio
import io
import struct
from pathlib import Path

import av
import pytest

from bot.dialogs.events import Attachment, Reply
from bot.dialogs.states import State
from bot.domain.media import TOO_LARGE, ImageRejected, MediaStore
from bot.domain.recordings import (
    NOT_A_VIDEO,
    NOT_AUDIO,
    TOO_LONG,
    VOICE_DESCRIPTION,
    RecordingRejected,
    clean_video,
    clean_voice,
)
from tests.conftest import Chat, jpeg_bytes, start_in
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, message_update
from tests.telegram_harness import OPERATOR_CHAT, TelegramHarness
from tests.test_whatsapp import rig_factory, twilio  # noqa: F401  (fixtures)

GPS = "+42.8746+074.5698/"
RECORDED = "2024-05-01T10:20:30.000000Z"
MAKE, MODEL, ENCODER = "SpyPhone Industries", "Snitch-9000", "SpyEncoder 7.1"
ARTIST = "Aibek Asanov"
PHONE_TAGS = {
    "creation_time": RECORDED,
    "location": GPS,
    "com.apple.quicktime.location.ISO6709": GPS,
    "make": MAKE,
    "model": MODEL,
    "encoder": ENCODER,  # FFmpeg puts its own name here, as phones' encoders put theirs
    "com.apple.quicktime.software": ENCODER,
}
NEEDLES = (GPS.encode(), b"2024-05-01", MAKE.encode(), MODEL.encode(), ENCODER.encode())
# MOV and Matroska store the recording time as a number, not as text
IN_EVERY_FORMAT = (GPS.encode(), MAKE.encode(), MODEL.encode(), ENCODER.encode())
# What FFmpeg's MP4 muxer writes of its own accord: names the format, never the author.
MUXER_CONTAINER_KEYS = {"major_brand", "minor_version", "compatible_brands"}
MUXER_STREAM_TAGS = {
    "language": {"und"},
    "handler_name": {"VideoHandler", "SoundHandler"},
    "vendor_id": {"[0][0][0][0]"},
}
CITIZEN = 7001


# ----- recordings made in the test -------------------------------------------------------------


def phone_video(seconds: float = 1.0, fmt: str = "mp4", tags: bool = True) -> bytes:
    """A short MPEG-4 video with AAC sound, tagged like a phone tags its videos."""
    buffer = io.BytesIO()
    options = {"movflags": "use_metadata_tags"} if fmt in ("mp4", "mov") else {}
    with av.open(buffer, "w", format=fmt, options=options) as out:
        if tags:
            out.metadata.update(PHONE_TAGS)
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=8000, layout="mono")
        if tags:
            video.metadata.update({"creation_time": RECORDED, "handler_name": MODEL})
            audio.metadata.update({"creation_time": RECORDED, "handler_name": MAKE})
        for i in range(int(seconds * 10)):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 25) % 256]) * plane.buffer_size)
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        _silence(out, audio, 8000, int(seconds * 8000), 1024, "fltp")
    data = buffer.getvalue()
    if tags:  # the fixture itself carries what must be removed
        assert all(needle in data for needle in IN_EVERY_FORMAT), "fixture lacks its metadata"
        with av.open(io.BytesIO(data)) as check:
            assert check.metadata.get("creation_time", "").startswith("2024-05-01")
    return data


def phone_voice(seconds: float = 1.0) -> bytes:
    """An Ogg Opus voice message with tags (author, place, time, recorder)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        out.metadata.update({"artist": ARTIST, "location": GPS, "creation_time": RECORDED})
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        audio.metadata.update({"artist": ARTIST, "encoder": ENCODER, "location": GPS})
        _silence(out, audio, 48000, int(seconds * 48000), 960, "s16")
    data = buffer.getvalue()
    assert ARTIST.encode() in data and GPS.encode() in data
    return data


def _silence(out, stream, rate: int, samples: int, chunk: int, fmt: str) -> None:
    done = 0
    while done < samples:
        frame = av.AudioFrame(format=fmt, layout="mono", samples=min(chunk, samples - done))
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate, frame.pts = rate, done
        done += frame.samples
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def mvhd_creation_time(data: bytes) -> int:
    """The creation time in the MP4 movie header (seconds since 1904; 0 means none)."""
    at = data.index(b"mvhd")
    version = data[at + 4]
    if version == 1:
        return struct.unpack(">Q", data[at + 8 : at + 16])[0]
    return struct.unpack(">I", data[at + 8 : at + 12])[0]


def assert_nothing_identifying(data: bytes) -> None:
    for needle in (*NEEDLES, ARTIST.encode(), b"Lavf"):
        assert needle not in data, needle
    with av.open(io.BytesIO(data)) as clean:
        assert set(clean.metadata) <= MUXER_CONTAINER_KEYS, clean.metadata
        for stream in clean.streams:
            assert stream.type in ("video", "audio")
            for key, value in stream.metadata.items():
                assert value in MUXER_STREAM_TAGS.get(key, set()), (key, value)


def attachment(kind: str, data: bytes, mime: str, seconds: float | None = None) -> Attachment:
    async def fetch() -> bytes:
        return data

    return Attachment(kind, fetch, mime, len(data), seconds)


# ----- cleaning ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp4", "mov", "matroska"])
def test_no_metadata_survives_a_video_remux(fmt):
    original = phone_video(2.0, fmt=fmt)
    clean = clean_video(original, max_seconds=60)
    assert clean.mime == "video/mp4" and clean.extension == ".mp4"
    assert 1.5 <= clean.seconds <= 2.5
    assert_nothing_identifying(clean.data)
    assert mvhd_creation_time(clean.data) == 0
    with av.open(io.BytesIO(clean.data)) as reopened:
        assert "creation_time" not in reopened.metadata
        assert all("creation_time" not in s.metadata for s in reopened.streams)
        assert sorted(s.type for s in reopened.streams) == ["audio", "video"]
        frames = sum(1 for _ in reopened.decode(video=0))
    assert frames == 20  # the pictures themselves are all there


def test_voice_is_remuxed_without_its_tags():
    clean = clean_voice(phone_voice(1.0), max_seconds=60)
    assert clean.mime == "audio/ogg" and clean.extension == ".ogg"
    assert_nothing_identifying(clean.data)
    with av.open(io.BytesIO(clean.data)) as reopened:
        assert [s.codec_context.name for s in reopened.streams] == ["opus"]
        assert reopened.metadata == {} and reopened.streams[0].metadata == {}


def test_too_long_recordings_are_refused_with_their_reason():
    with pytest.raises(RecordingRejected) as refused:
        clean_video(phone_video(3.0), max_seconds=1)
    assert refused.value.reason == TOO_LONG
    with pytest.raises(RecordingRejected) as refused:
        clean_voice(phone_voice(2.0), max_seconds=1)
    assert refused.value.reason == TOO_LONG


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 60,
        b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n",
        jpeg_bytes(),
    ],
    ids=["empty", "broken-mp4", "hls-playlist", "jpeg"],
)
def test_what_is_not_a_recording_is_refused(data):
    with pytest.raises(RecordingRejected) as refused:
        clean_video(data, max_seconds=60)
    assert refused.value.reason == NOT_A_VIDEO
    with pytest.raises(RecordingRejected) as refused:
        clean_voice(data, max_seconds=60)
    assert refused.value.reason == NOT_AUDIO


def test_a_voice_message_is_not_a_video():
    with pytest.raises(RecordingRejected) as refused:
        clean_video(phone_voice(), max_seconds=60)
    assert refused.value.reason == NOT_A_VIDEO


async def test_media_store_keeps_only_the_clean_file_named_by_its_hash(tmp_path):
    store = MediaStore(tmp_path / "media", max_recording_bytes=5 * 1024 * 1024)
    original = phone_video(1.0)
    stored = await store.save_video(original, max_seconds=60)
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path / "media").as_posix() for p in files] == [stored.path]
    assert stored.path == f"video/{stored.sha256[:2]}/{stored.sha256}.mp4"
    assert all(p.read_bytes() != original for p in files)
    assert_nothing_identifying(files[0].read_bytes())
    again = await store.save_video(original, max_seconds=60)
    assert again.path == stored.path  # the same video is one file
    voice = await store.save_voice(phone_voice(), max_seconds=60)
    assert voice.path.startswith("voice/") and voice.path.endswith(".ogg")
    with pytest.raises(ImageRejected) as refused:
        await MediaStore(tmp_path / "m2", max_recording_bytes=1024).save_video(
            original, max_seconds=60
        )
    assert refused.value.reason == TOO_LARGE


def test_reply_carries_videos_and_a_voice_through_the_outbox_payload():
    reply = Reply(text="card", videos=("video/ab/1.mp4", "video/cd/2.mp4"), voice="voice/ef/3.ogg")
    assert Reply.from_dict(reply.to_dict()) == reply
    assert "videos" not in Reply(text="x").to_dict()


# ----- the complaint dialog -------------------------------------------------------------------


def said(app, locale: str, message: str) -> str:
    text = app.i18n.texts(locale).gettext(message)
    assert text != message, f"untranslated in {locale}: {message}"
    return text


async def at_description(chat: Chat, locale: str) -> None:
    await start_in(chat, locale)
    await chat.press("menu:complaint")
    await chat.press("cat:water")


async def at_photos(chat: Chat, locale: str) -> None:
    await at_description(chat, locale)
    await chat.text("Нет воды в доме уже третий день подряд")
    await chat.press("place:skip")


async def draft_of(app, user_key: str = "700") -> tuple[str, dict]:
    citizen = await app.store.citizens.find(channel="telegram", user_key=user_key)
    conv = await app.store.conversations.load(citizen_id=citizen.id)
    return conv.state, conv.data.get("draft", {})


async def send(chat: Chat, *attachments: Attachment):
    return await chat._send(kind="file", attachments=attachments)


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_a_video_is_attached_as_evidence(app, chat, locale):
    await at_photos(chat, locale)
    await send(chat, attachment("video", phone_video(1.0), "video/mp4", 1))
    expected = said(app, locale, "Video {count} of {max} attached.").format(count=1, max=3)
    assert expected in chat.said
    await chat.press("photos:done")
    await chat.press("id:anon")
    await chat.press("confirm:yes")
    complaint = await app.store.complaints.get(complaint_id=1)
    [video] = complaint.videos
    assert complaint.photos == () and complaint.voice is None and 0.5 < video.seconds < 1.5
    assert_nothing_identifying(app.media.open_path(video.path).read_bytes())


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_too_long_and_too_big_videos_are_refused_politely(app, chat, locale):
    await at_photos(chat, locale)
    too_long = said(
        app,
        locale,
        "This video is longer than {seconds} seconds. Please send a shorter one, or cut it.",
    ).format(seconds=60)

    async def never() -> bytes:
        raise AssertionError("a video known to be too long or too big is not downloaded")

    await send(chat, Attachment("video", never, "video/mp4", 1000, 61))  # as Telegram states
    assert too_long in chat.said
    await send(chat, Attachment("video", never, "video/mp4", 25 * 1024 * 1024, 5))
    too_big = said(app, locale, "This video is larger than {mb} MB. Please send a shorter one.")
    assert too_big.format(mb=20) in chat.said
    # a file that does not say how long it is: measured while it is cleaned
    await send(chat, attachment("video", phone_video(62.0), "video/mp4"))
    assert too_long in chat.said
    state, draft = await draft_of(app)
    assert state == State.PHOTOS and draft.get("videos", []) == []
    assert list((app.media.media_dir).rglob("*.mp4")) == []


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_a_voice_message_is_the_description(app, chat, locale):
    await at_description(chat, locale)
    await send(chat, attachment("voice", phone_voice(2.0), "audio/ogg", 2))
    saved = said(app, locale, "Your voice message is saved as the description of the complaint.")
    assert saved in chat.said
    state, draft = await draft_of(app)
    assert state == State.PLACE and draft["voice"]["path"].endswith(".ogg")
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.press("id:named")
    await chat.text("Асанова Айгүл")
    await chat.contact("+996555123456")
    await chat.text("с. Кара-Суу, ул. Токтогула, 5")
    label = said(app, locale, "🎤 voice message, {seconds} s").format(seconds=2)
    assert label in chat.said  # the summary
    await chat.press("confirm:yes")  # named: no warning
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.description == VOICE_DESCRIPTION and complaint.voice is not None
    card = app.notices.complaints.operator_card(complaint).text
    assert VOICE_DESCRIPTION not in card
    assert (
        said(app, "ru", "🎤 The description is a voice message ({seconds} s), sent above.")[:10]
        in card
    )


async def test_typed_text_replaces_a_voice_description(app, chat):
    await at_description(chat, "ru")
    await send(chat, attachment("voice", phone_voice(), "audio/ogg"))
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.press("id:anon")
    await chat.press("confirm:edit")
    await chat.press("edit:description")
    await chat.text("Нет воды в доме уже третий день подряд")
    _, draft = await draft_of(app)
    assert "voice" not in draft and draft["description"].startswith("Нет воды")


async def voice_and_anonymous(chat: Chat, locale: str) -> None:
    await at_description(chat, locale)
    await send(chat, attachment("voice", phone_voice(), "audio/ogg"))
    await chat.press("place:skip")
    await chat.press("photos:done")
    await chat.press("id:anon")
    await chat.press("confirm:yes")


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_anonymous_voice_is_warned_about_and_kept_on_request(app, chat, locale):
    await voice_and_anonymous(chat, locale)
    warning = said(
        app,
        locale,
        "Your report is anonymous, but its description is a voice message. A voice can be "
        "recognised: whoever listens to it may know who is speaking.\n\n"
        "Send the voice message as it is, replace it with a typed text, or cancel the report?",
    )
    assert warning in chat.said
    assert chat.options == ["voice:keep", "voice:text", "nav:cancel"]
    assert await app.store.complaints.get(complaint_id=1) is None  # nothing sent yet
    await chat.text("ok")  # not a choice: asked again
    assert chat.options == ["voice:keep", "voice:text", "nav:cancel"]
    await chat.press("voice:keep")
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.is_anonymous and complaint.voice is not None
    assert complaint.reg_number in chat.said


@pytest.mark.parametrize("locale", ["ky", "ru"])
async def test_anonymous_voice_can_be_replaced_with_text(app, chat, locale):
    await voice_and_anonymous(chat, locale)
    await chat.press("voice:text")
    state, _ = await draft_of(app)
    assert state == State.DESCRIPTION and "nav:summary" in chat.options
    await chat.text("Во дворе дома 5 третью неделю не горит фонарь")
    state, draft = await draft_of(app)
    assert state == State.CONFIRM and "voice" not in draft
    await chat.press("confirm:yes")  # no voice now: no warning
    complaint = await app.store.complaints.get(complaint_id=1)
    assert complaint.voice is None and complaint.description.startswith("Во дворе")


async def test_anonymous_voice_warning_can_cancel_the_report(app, chat):
    await voice_and_anonymous(chat, "ru")
    await chat.press("nav:cancel")
    assert "menu:complaint" in chat.options
    assert await app.store.complaints.get(complaint_id=1) is None


async def test_going_back_from_type_instead_keeps_the_voice_and_warns_again(app, chat):
    await voice_and_anonymous(chat, "ru")
    await chat.press("voice:text")
    await chat.press("nav:summary")
    await chat.press("confirm:yes")
    assert chat.options == ["voice:keep", "voice:text", "nav:cancel"]


async def test_a_voice_at_the_photo_step_points_to_the_description(app, chat):
    await at_photos(chat, "ru")

    async def never() -> bytes:
        raise AssertionError("not downloaded")

    await send(chat, Attachment("voice", never, "audio/ogg"))
    assert "описанием жалобы" in chat.said
    state, draft = await draft_of(app)
    assert state == State.PHOTOS and "voice" not in draft


async def test_an_unplayable_voice_is_explained(app, chat):
    await at_description(chat, "ky")
    await send(chat, attachment("voice", b"OggS" + b"\x00" * 60, "audio/ogg"))
    text = said(
        app,
        "ky",
        "I could not play this voice message. Please record it again, or type the description.",
    )
    assert text in chat.said
    state, _ = await draft_of(app)
    assert state == State.DESCRIPTION


# ----- Telegram: in through the Bot API, out to the operators ---------------------------------


@pytest.fixture
async def tg(app):
    async with FakeTelegramAPI() as api:
        harness = TelegramHarness(app, api)
        yield harness
        await harness.close()


async def tg_press(tg, data: str) -> None:
    await tg.feed(callback_update(CITIZEN, data, message_id=1))


async def test_operators_get_the_video_and_the_voice_with_the_card(tg, app):
    await tg.feed(message_update(CITIZEN, "/start"))
    await tg_press(tg, "lang:ru")
    await tg_press(tg, "sub:no")
    await tg_press(tg, "menu:complaint")
    await tg_press(tg, "cat:water")
    voice = message_update(CITIZEN, voice=True)
    tg.api.add_file(voice["message"]["voice"]["file_id"], phone_voice(3.0), "voice/file_1.oga")
    await tg.feed(voice)
    await tg_press(tg, "place:skip")
    video = message_update(CITIZEN, video=True)
    tg.api.add_file(video["message"]["video"]["file_id"], phone_video(1.0), "videos/file_2.mp4")
    await tg.feed(video)
    clip = {"file_id": "clip-doc", "file_name": "clip.mp4", "mime_type": "video/mp4"}
    tg.api.add_file("clip-doc", phone_video(2.0, fmt="mov"), "documents/clip.mp4")
    await tg.feed(message_update(CITIZEN, document=clip))  # a video sent as a file
    await tg_press(tg, "photos:done")
    await tg_press(tg, "id:anon")
    await tg_press(tg, "confirm:yes")
    await tg_press(tg, "voice:keep")
    complaint = await app.store.complaints.get(complaint_id=1)
    assert len(complaint.videos) == 2 and complaint.voice is not None
    assert await app.outbox.run_once() == 1  # the operator card
    videos = tg.api.calls_to("sendVideo", chat_id=OPERATOR_CHAT)
    voices = tg.api.calls_to("sendVoice", chat_id=OPERATOR_CHAT)
    assert len(videos) == 2 and len(voices) == 1
    for call, key in [(c, "video") for c in videos] + [(voices[0], "voice")]:
        uploaded = call.files[key]
        assert uploaded and all(n not in uploaded for n in NEEDLES + (ARTIST.encode(),))
    card = tg.api.calls_to("sendMessage", chat_id=OPERATOR_CHAT)[-1]
    assert "26-00001" in card.params["text"] and "Видео: 2" in card.params["text"]
    assert "голосовое сообщение" in card.params["text"]
    order = [c.method for c in tg.api.calls if c.params.get("chat_id") == OPERATOR_CHAT]
    assert order.index("sendVoice") < len(order) - 1 and order[-1] == "sendMessage"


# ----- WhatsApp: Twilio media in, media URLs out -----------------------------------------------


async def test_whatsapp_video_and_voice_come_from_twilio_media(rig_factory):  # noqa: F811
    wa = await rig_factory()
    await wa.send("салам")
    await wa.send("2")  # Русский
    await wa.send("2")  # no announcements
    await wa.send("1")  # file a complaint
    await wa.send("Освещение")
    voice_url = wa.twilio.add_media(phone_voice(2.0), "audio/ogg")
    [saved] = await wa.send("", media=[(voice_url, "audio/ogg")])
    assert "голосовое сообщение сохранено" in saved.casefold()
    await wa.send("ул. Ленина, 12")
    video_url = wa.twilio.add_media(phone_video(1.0), "video/mp4")
    [attached] = await wa.send("", media=[(video_url, "video/mp4")])
    assert "видео 1 из 3" in attached.casefold()
    await wa.send("1")  # done
    await wa.send("2")  # anonymous
    [warning] = await wa.send("1")  # send: the warning first
    assert "голос можно узнать" in warning.casefold() and "1. " in warning
    await wa.send("1")  # keep the voice and send
    citizen = await wa.citizen()
    [listed] = await wa.app.store.complaints.of_citizen(citizen_id=citizen.id)
    complaint = await wa.app.store.complaints.get(complaint_id=listed.id)
    assert len(complaint.videos) == 1 and complaint.voice is not None
    assert all(ok for _, ok in wa.twilio.media_requests)
    # the operator card's replies, sent on WhatsApp, become media messages by signed URL
    replies = wa.app.notices.complaints.operator_card_replies(complaint)
    parts = await wa.app.whatsapp.channel._free_form(replies)
    urls = [p.url for p in parts if hasattr(p, "url")]
    assert len(urls) == 2
    assert any(complaint.videos[0].path in u for u in urls)
    assert any(complaint.voice.path in u for u in urls)


async def test_console_prints_where_videos_and_voices_are(tmp_path):
    from bot.handlers.console.chat import parse_line, render

    shown = render(Reply(text="card", videos=("video/ab/x.mp4",), voice="voice/cd/y.ogg"))
    assert "[video: video/ab/x.mp4]" in shown and "[voice: voice/cd/y.ogg]" in shown
    clip = Path(tmp_path / "clip.mp4")
    data = phone_video(1.0)
    await asyncio.to_thread(clip.write_bytes, data)
    event = parse_line(f"/video {clip}", "me")
    assert event.attachments[0].kind == "video"
    assert await event.attachments[0].fetch() == data
