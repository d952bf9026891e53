"""Photo cleaning and storage, independent of the messaging channel.

Reporters must stay anonymous. A photo straight from a phone can name them: EXIF holds GPS
coordinates (often their home), the time it was taken, the device make, model and serial
number, and the owner's name. XMP packets, IPTC blocks, JPEG comments, ICC profiles and
embedded thumbnails can carry the same data, and so can chunks in PNG, WebP and TIFF files.

So no uploaded file is kept as it came. :class:`MediaStore` decodes the picture, keeps only
its pixels (turned upright according to the EXIF orientation), and writes them as a new
baseline JPEG with no metadata at all. The original bytes are kept in memory only while the
photo is processed and are never written to disk. Files are named by the SHA-256 of the
cleaned JPEG, so storing the same photo twice writes one file.

Videos and voice messages are cleaned by remuxing them without metadata
(:mod:`bot.domain.recordings`, off the event loop) and stored the same way, by the SHA-256 of
the clean file, under ``video/`` and ``voice/``.

Only a small set of photo formats is decoded (Pillow is never asked to try its other
plugins, some of which run external programs), and oversized uploads are refused before
their pixel data is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from PIL import Image, ImageOps

from bot.domain.recordings import clean_video, clean_voice

__all__ = [
    "NOT_AN_IMAGE",
    "TOO_LARGE",
    "TOO_MANY_PIXELS",
    "ImageRejected",
    "MediaStore",
    "StoredPhoto",
    "StoredRecording",
    "sniff_image_type",
]

# Reasons given by ImageRejected; callers map them to localized messages.
NOT_AN_IMAGE = "not_an_image"
TOO_LARGE = "too_large"
TOO_MANY_PIXELS = "too_many_pixels"

JPEG_QUALITY = 85
# The JPEG format cannot store a side longer than this.
_MAX_JPEG_SIDE = 65_500

# Formats given to Image.open. Pillow reports JPEGs carrying an MPF index (many phones)
# as "MPO", so that name is accepted as a result too.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_RESULT_FORMATS = frozenset({*_OPEN_FORMATS, "MPO"})

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_BMP_INFO_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_GREY_16BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# warnings.catch_warnings changes process-wide state; decoding holds this lock so that
# two worker threads never interleave their save/restore of the warning filters.
_DECODE_LOCK = threading.Lock()


class ImageRejected(Exception):
    """The upload is not accepted as a photo; ``reason`` is one of the module constants."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StoredPhoto:
    """A cleaned photo on disk; ``path`` is relative to the media directory."""

    sha256: str
    path: str
    width: int
    height: int
    size: int


@dataclass(frozen=True)
class StoredRecording:
    """A cleaned video or voice message on disk (see `bot.domain.recordings`); ``path`` is
    relative to the media directory."""

    sha256: str
    path: str
    seconds: float
    size: int
    mime: str


def sniff_image_type(data: bytes) -> str | None:
    """Return the MIME type of a supported photo format from its magic bytes, else None.

    Looks at content only, never at a declared file name or MIME type.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if (
        len(data) >= 18
        and data[:2] == b"BM"
        and int.from_bytes(data[14:18], "little") in _BMP_INFO_HEADER_SIZES
    ):
        return "image/bmp"
    if _is_heic(data):
        return "image/heic"
    return None


def _is_heic(data: bytes) -> bool:
    # ISO base media file: [box size][b"ftyp"][major brand][minor version][compatible brands]
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    box_end = min(int.from_bytes(data[:4], "big"), len(data))
    brands = [data[8:12]]
    brands += [data[i : i + 4] for i in range(16, box_end - 3, 4)]
    return any(brand in _HEIC_BRANDS for brand in brands)


@lru_cache(maxsize=1)
def _heif_available() -> bool:
    """Register the optional pillow-heif opener if it is installed (it is not a dependency)."""
    try:
        from pillow_heif import register_heif_opener  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        register_heif_opener()
    except Exception:
        return False
    return "HEIF" in Image.OPEN


class MediaStore:
    """Cleans uploaded photos and stores them under ``media_dir/<ab>/<sha256>.jpg``."""

    def __init__(
        self,
        media_dir: Path,
        max_bytes: int = 10 * 1024 * 1024,
        max_pixels: int = 40_000_000,
        max_recording_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.media_dir = Path(media_dir)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.max_recording_bytes = max_recording_bytes

    async def save_photo(self, data: bytes) -> StoredPhoto:
        """Clean ``data`` and store it as a metadata-free JPEG.

        Raises ImageRejected (TOO_LARGE, NOT_AN_IMAGE or TOO_MANY_PIXELS).
        """
        if len(data) > self.max_bytes:
            raise ImageRejected(TOO_LARGE)
        if not data:
            raise ImageRejected(NOT_AN_IMAGE)
        return await asyncio.to_thread(self._save_sync, bytes(data))

    async def save_video(self, data: bytes, *, max_seconds: float) -> StoredRecording:
        """Remux ``data`` into a metadata-free MP4 (off the event loop) and store it under
        ``video/``. Raises ImageRejected(TOO_LARGE) or RecordingRejected."""
        return await self._save_recording(data, "video", clean_video, max_seconds)

    async def save_voice(self, data: bytes, *, max_seconds: float) -> StoredRecording:
        """Remux a voice message's sound into a metadata-free Ogg or M4A file (off the event
        loop) and store it under ``voice/``. Raises ImageRejected(TOO_LARGE) or
        RecordingRejected."""
        return await self._save_recording(data, "voice", clean_voice, max_seconds)

    async def _save_recording(self, data, folder, clean, max_seconds) -> StoredRecording:
        if len(data) > self.max_recording_bytes:
            raise ImageRejected(TOO_LARGE)

        def work() -> StoredRecording:
            recording = clean(bytes(data), max_seconds)
            sha = hashlib.sha256(recording.data).hexdigest()
            rel = f"{folder}/{sha[:2]}/{sha}{recording.extension}"
            self._write_once(self.media_dir / rel, recording.data)
            return StoredRecording(sha, rel, recording.seconds, len(recording.data), recording.mime)

        return await asyncio.to_thread(work)

    async def save_document(self, data: bytes, name: str) -> str:
        """Store a file the bot sends (not one a citizen sent: those are photos, cleaned);
        returns its path relative to the media folder, named by its content."""
        sha = hashlib.sha256(data).hexdigest()
        suffix = PurePosixPath(name).suffix.lower()
        suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
        rel = f"documents/{sha[:2]}/{sha}{suffix}"
        await asyncio.to_thread(self._write_once, self.media_dir / rel, data)
        return rel

    def open_path(self, path: str) -> Path:
        """Return the absolute location of a stored relative ``path``.

        Raises ValueError if the path is absolute or would lead outside the media directory.
        """
        if not path or "\x00" in path or "\\" in path:
            raise ValueError(f"invalid media path: {path!r}")
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"invalid media path: {path!r}")
        root = self.media_dir.resolve()
        full = (root / rel).resolve()
        if full == root or not full.is_relative_to(root):
            raise ValueError(f"media path escapes the media directory: {path!r}")
        return full

    # -- worker thread ---------------------------------------------------------------

    def _save_sync(self, data: bytes) -> StoredPhoto:
        img = self._decode(data)
        del data
        try:
            jpeg, width, height = _clean_to_jpeg(img)
        finally:
            img.close()
        sha = hashlib.sha256(jpeg).hexdigest()
        rel = f"{sha[:2]}/{sha}.jpg"
        self._write_once(self.media_dir / sha[:2] / f"{sha}.jpg", jpeg)
        return StoredPhoto(sha256=sha, path=rel, width=width, height=height, size=len(jpeg))

    def _decode(self, data: bytes) -> Image.Image:
        """Open and fully decode ``data``, checking format and dimensions first."""
        formats = _OPEN_FORMATS + (("HEIF",) if _heif_available() else ())
        allowed = _RESULT_FORMATS | ({"HEIF"} if "HEIF" in formats else set())
        with _DECODE_LOCK, warnings.catch_warnings():
            # Pillow warns (rather than raises) for images above its own pixel limit;
            # such an image is refused here, and the warning must not reach the log.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                img = Image.open(io.BytesIO(data), formats=formats)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ImageRejected(TOO_MANY_PIXELS) from exc
            except Exception as exc:
                raise ImageRejected(NOT_AN_IMAGE) from exc
            try:
                if img.format not in allowed:
                    raise ImageRejected(NOT_AN_IMAGE)
                width, height = img.size
                if (
                    width * height > self.max_pixels
                    or width > _MAX_JPEG_SIDE
                    or height > _MAX_JPEG_SIDE
                ):
                    raise ImageRejected(TOO_MANY_PIXELS)
                if width < 1 or height < 1:
                    raise ImageRejected(NOT_AN_IMAGE)
                img.load()
            except ImageRejected:
                img.close()
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                img.close()
                raise ImageRejected(TOO_MANY_PIXELS) from exc
            except Exception as exc:
                img.close()
                raise ImageRejected(NOT_AN_IMAGE) from exc
        return img

    @staticmethod
    def _write_once(final: Path, content: bytes) -> None:
        """Write ``content`` to ``final`` atomically, unless that file already exists."""
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(final.parent)


def _clean_to_jpeg(img: Image.Image) -> tuple[bytes, int, int]:
    """Return (JPEG bytes, width, height) made from the pixels of ``img`` alone."""
    try:
        upright = ImageOps.exif_transpose(img)
    except Exception:
        # Unreadable EXIF must not cost the reporter their photo; keep it as stored.
        upright = img
    try:
        canvas = _flatten_onto_white(upright)
        out = io.BytesIO()
        # ``canvas`` is a fresh image with an empty info dict, and nothing is passed to
        # save() but the quality: no EXIF, XMP, ICC profile, comment or thumbnail.
        canvas.save(out, format="JPEG", quality=JPEG_QUALITY)
    except Exception as exc:
        raise ImageRejected(NOT_AN_IMAGE) from exc
    finally:
        if upright is not img:
            upright.close()
    return out.getvalue(), canvas.width, canvas.height


def _flatten_onto_white(img: Image.Image) -> Image.Image:
    """Copy the pixels of ``img`` into a new RGB image, compositing any alpha onto white."""
    src = img
    if src.mode in _GREY_16BIT_MODES:
        # Plain convert() would clip 16-bit grey to white; scale it to 8 bits instead.
        src = src.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = src.mode in _ALPHA_MODES or "transparency" in src.info
    canvas = Image.new("RGB", src.size, (255, 255, 255))
    if has_alpha:
        rgba = src.convert("RGBA")
        canvas.paste(rgba, (0, 0), rgba)
    else:
        canvas.paste(src if src.mode == "RGB" else src.convert("RGB"), (0, 0))
    return canvas


def _fsync_dir(directory: Path) -> None:
    """Best effort: make a rename in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
