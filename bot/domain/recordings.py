"""Cleaning videos and voice messages: a remux into a fresh container that carries no metadata.

A video straight from a phone can name its author as surely as a photo: an MP4 or QuickTime file
holds the time it was recorded (`creation_time` in the movie, track and media headers), the place
(`location`, `©xyz`, Apple's `com.apple.quicktime.location.ISO6709` key, or a whole timed
metadata track of GPS fixes), the device make, model and software, and the encoder. An Ogg voice
message carries tags too (artist, encoder, dates) in its comment header.

So no uploaded recording is kept as it came. The bytes are opened in memory with PyAV (FFmpeg's
libraries, shipped in its wheels) and only the audio and video *packets* are copied, without
re-encoding, into a new container:

- the new container's metadata and every new stream's metadata are empty; nothing is copied from
  the input's dictionaries, so a tag nobody thought of is dropped as well as the known ones;
- data streams (timed GPS metadata, timecode tracks), subtitles, attachments and cover pictures
  are not copied at all; only the first video stream and one audio stream are;
- the muxer runs with `fflags=+bitexact`, so it writes no `encoder` tag of its own, and with no
  `creation_time` in the metadata FFmpeg's MP4 muxer writes 0 in the movie, track and media
  headers (it takes that time from the metadata only);
- the input is read only by the demuxers of the formats phones and messengers send
  (`format_whitelist`): a playlist or concat file cannot make FFmpeg open other files or URLs.

The length is measured from the packets themselves, not from a header that could say anything,
and a recording longer than the limit is refused. The original bytes are never written to disk.

What remux does not touch is the coded picture and sound: an H.264 stream may carry its encoder's
settings in SEI messages. They hold no time, place or device identity in the files phones make;
a re-encode would remove them too but costs seconds of CPU per video on a shared server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av

__all__ = [
    "NOT_AUDIO",
    "NOT_A_VIDEO",
    "TOO_LONG",
    "VOICE_DESCRIPTION",
    "CleanRecording",
    "RecordingRejected",
    "clean_video",
    "clean_voice",
]

# Reasons given by RecordingRejected (TOO_LARGE, for bytes, is bot.domain.media's).
NOT_A_VIDEO = "not_a_video"
NOT_AUDIO = "not_audio"
TOO_LONG = "too_long"

# The text stored as the description of a complaint told by voice.
#
# `complaints.description` stays a required text column, so every reader of the store (cards,
# digests, exports, searches, code written later) finds a description it can show. The voice
# itself is a `complaint_media` row of kind 'voice', and that row is what says "this complaint was
# told by voice": a renderer that knows about voices (`bot.notices.complaints.description_text`)
# shows "🎤 voice message, 42 s" in the reader's language instead of this marker, and only when
# the row exists, so a citizen who typed these same characters sees their own text. A reader that
# does not know still shows something neutral and understandable in either language, rather than
# an empty line; no translated text is ever stored.
VOICE_DESCRIPTION = "[voice message]"

# The demuxers a recording may be read with: MP4/QuickTime/3GP, Matroska/WebM and Ogg.
INPUT_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg"
# Codecs an MP4 file can carry as they are, which phones and messengers produce.
_MP4_VIDEO = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9"})
_MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac"})
# A voice message: Opus or Vorbis go into Ogg, the rest into an M4A (MP4 audio) file.
_OGG_AUDIO = frozenset({"opus", "vorbis"})
# Timestamps are rounded; a recording this much over the limit still counts as within it.
_TOLERANCE_SECONDS = 0.5
_MUXER_OPTIONS = {"fflags": "+bitexact"}


class RecordingRejected(Exception):
    """The upload is not accepted; `reason` is one of the module's constants."""

    def __init__(self, reason: str, seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds


@dataclass(frozen=True)
class CleanRecording:
    """A cleaned recording in memory: its bytes, how to name and label it, and its length."""

    data: bytes
    extension: str  # ".mp4", ".ogg", ".m4a"
    mime: str
    seconds: float


def clean_video(data: bytes, max_seconds: float) -> CleanRecording:
    """`data` remuxed into a metadata-free MP4 (blocking: call it in a worker thread).

    Raises RecordingRejected(NOT_A_VIDEO) for anything that is not a video PyAV can copy into
    MP4, and RecordingRejected(TOO_LONG) beyond `max_seconds`."""
    with _open(data, NOT_A_VIDEO) as source:
        video = _first(source, "video", _MP4_VIDEO)
        if video is None:
            raise RecordingRejected(NOT_A_VIDEO)
        audio = _first(source, "audio", _MP4_AUDIO)
        streams = [video] + ([audio] if audio is not None else [])
        out, seconds = _remux(source, streams, "mp4", max_seconds, NOT_A_VIDEO)
    return CleanRecording(out, ".mp4", "video/mp4", seconds)


def clean_voice(data: bytes, max_seconds: float) -> CleanRecording:
    """`data`'s sound remuxed into a metadata-free Ogg (Opus, Vorbis) or M4A (AAC, MP3, ALAC)
    file (blocking). Raises RecordingRejected(NOT_AUDIO) or RecordingRejected(TOO_LONG)."""
    with _open(data, NOT_AUDIO) as source:
        audio = _first(source, "audio", _OGG_AUDIO | _MP4_AUDIO)
        if audio is None:
            raise RecordingRejected(NOT_AUDIO)
        if audio.codec_context.name in _OGG_AUDIO:
            out, seconds = _remux(source, [audio], "ogg", max_seconds, NOT_AUDIO)
            return CleanRecording(out, ".ogg", "audio/ogg", seconds)
        out, seconds = _remux(source, [audio], "mp4", max_seconds, NOT_AUDIO)
    return CleanRecording(out, ".m4a", "audio/mp4", seconds)


def _open(data: bytes, reason: str):
    if not data:
        raise RecordingRejected(reason)
    try:
        return av.open(io.BytesIO(data), "r", options={"format_whitelist": INPUT_FORMATS})
    except Exception as exc:  # FFmpeg's errors: unreadable, not on the whitelist, truncated
        raise RecordingRejected(reason) from exc


def _first(source, kind: str, codecs: frozenset[str]):
    """The first stream of `kind` with a codec in `codecs` that is not a cover picture."""
    for stream in source.streams:
        if stream.type != kind or _is_cover(stream):
            continue
        if stream.codec_context.name in codecs:
            return stream
    return None


def _is_cover(stream) -> bool:
    disposition = getattr(stream, "disposition", 0)
    flag = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    return bool(flag and disposition & flag)


def _remux(source, streams, fmt: str, max_seconds: float, reason: str) -> tuple[bytes, float]:
    """Copy the packets of `streams` into a new `fmt` container with empty metadata; returns
    its bytes and the length measured from the packets."""
    declared = source.duration  # microseconds, or None; only a shortcut, never trusted
    if declared is not None and declared / 1_000_000 > max_seconds + _TOLERANCE_SECONDS:
        raise RecordingRejected(TOO_LONG, declared / 1_000_000)
    buffer = io.BytesIO()
    try:
        with av.open(buffer, "w", format=fmt, options=dict(_MUXER_OPTIONS)) as target:
            target.metadata.clear()
            mapping = {}
            for stream in streams:
                copy = target.add_stream_from_template(stream)
                copy.metadata.clear()
                mapping[stream.index] = copy
            seconds = _copy_packets(source, streams, target, mapping, max_seconds)
    except RecordingRejected:
        raise
    except Exception as exc:
        raise RecordingRejected(reason) from exc
    if seconds <= 0:
        raise RecordingRejected(reason)
    return buffer.getvalue(), seconds


def _copy_packets(source, streams, target, mapping, max_seconds: float) -> float:
    start: dict[int, Fraction] = {}
    end = Fraction(0)
    count = 0
    for packet in source.demux(*streams):
        if packet.dts is None:  # the demuxer's empty packet at the end of a stream
            continue
        index = packet.stream.index
        base = packet.stream.time_base or Fraction(1, 1000)
        stamp = packet.pts if packet.pts is not None else packet.dts
        begin = start.setdefault(index, Fraction(stamp) * base)
        finish = Fraction(stamp + (packet.duration or 0)) * base - begin
        end = max(end, finish)
        if end > max_seconds + _TOLERANCE_SECONDS:
            raise RecordingRejected(TOO_LONG, float(end))
        packet.stream = mapping[index]
        target.mux(packet)
        count += 1
    return float(end) if count else 0.0
