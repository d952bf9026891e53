"""Tests for bot.domain.media: metadata stripping, format/size checks, storage and sniffing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from bot.domain import media
from bot.domain.media import (
    NOT_AN_IMAGE,
    TOO_LARGE,
    TOO_MANY_PIXELS,
    ImageRejected,
    MediaStore,
    StoredPhoto,
    sniff_image_type,
)

MAKE = "SpyCam Industries"
MODEL = "Snitch-9000"
GPS_DATUM = "WGS-84-HOME-OF-REPORTER"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'photoshop:City="Bishkek" dc:creator="Reporter Name"/></rdf:RDF></x:xmpmeta>'
)
COMMENT = b"taken by Reporter Name at home"
ICC = b"FAKE-ICC-PROFILE-DEVICE-SERIAL-0042"

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# -- helpers -----------------------------------------------------------------------------


def make_tagged_jpeg(size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A JPEG whose left half is red and right half blue, with identifying metadata."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = MAKE  # Make
    exif[0x0110] = MODEL  # Model
    exif[0x0112] = orientation  # Orientation
    gps = exif.get_ifd(0x8825)
    gps[0x0001] = "N"  # GPSLatitudeRef
    gps[0x0002] = (42.0, 52.0, 30.5)  # GPSLatitude
    gps[0x0003] = "E"  # GPSLongitudeRef
    gps[0x0004] = (74.0, 35.0, 12.25)  # GPSLongitude
    gps[0x0012] = GPS_DATUM  # GPSMapDatum
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, xmp=XMP, comment=COMMENT, icc_profile=ICC)
    data = buf.getvalue()
    # The fixture itself must carry what we expect to be removed.
    for needle in (MAKE.encode(), MODEL.encode(), GPS_DATUM.encode(), COMMENT, ICC, b"xmpmeta"):
        assert needle in data
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif().get_ifd(0x8825)
    return data


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_with_dimensions(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim ``width`` x ``height``."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    ihdr = data[16:29]
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def stored_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def close_to(actual, expected, tol: int = 40) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


# -- cleaning ----------------------------------------------------------------------------


async def test_metadata_is_stripped(store: MediaStore) -> None:
    original = make_tagged_jpeg()
    photo = await store.save_photo(original)

    path = store.open_path(photo.path)
    content = path.read_bytes()
    with Image.open(path) as img:
        assert img.format == "JPEG"
        assert len(img.getexif()) == 0
        assert not img.getexif().get_ifd(0x8825)
        for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "mp"):
            assert key not in img.info

    for needle in (
        MAKE.encode(),
        MODEL.encode(),
        GPS_DATUM.encode(),
        COMMENT,
        ICC,
        b"xmpmeta",
        b"Exif\x00\x00",
        b"http://ns.adobe.com/xap",
        b"ICC_PROFILE",
    ):
        assert needle not in content


async def test_orientation_applied(store: MediaStore) -> None:
    photo = await store.save_photo(make_tagged_jpeg(size=(40, 20), orientation=6))
    assert (photo.width, photo.height) == (20, 40)
    with Image.open(store.open_path(photo.path)) as img:
        assert img.size == (20, 40)
        rgb = img.convert("RGB")
        # Orientation 6 means "rotate 90 degrees clockwise to display": left goes to top.
        assert close_to(rgb.getpixel((10, 5)), RED)
        assert close_to(rgb.getpixel((10, 35)), BLUE)


async def test_stored_photo_fields_and_hash(store: MediaStore) -> None:
    photo = await store.save_photo(make_tagged_jpeg())
    assert isinstance(photo, StoredPhoto)
    content = store.open_path(photo.path).read_bytes()
    assert photo.sha256 == hashlib.sha256(content).hexdigest()
    assert photo.path == f"{photo.sha256[:2]}/{photo.sha256}.jpg"
    assert photo.size == len(content)
    assert store.open_path(photo.path) == (store.media_dir / photo.path).resolve()
    with pytest.raises(AttributeError):
        photo.sha256 = "x"  # type: ignore[misc]


async def test_same_image_twice_is_one_file(store: MediaStore) -> None:
    data = make_tagged_jpeg()
    first = await store.save_photo(data)
    mtime = store.open_path(first.path).stat().st_mtime_ns
    second = await store.save_photo(data)
    assert first == second
    assert stored_files(store.media_dir) == [store.open_path(first.path)]
    assert store.open_path(first.path).stat().st_mtime_ns == mtime


async def test_original_bytes_never_stored(store: MediaStore) -> None:
    original = make_tagged_jpeg()
    await store.save_photo(original)
    files = stored_files(store.media_dir)
    assert len(files) == 1  # no temporary or original copies left behind
    assert not files[0].name.startswith(".")
    assert files[0].read_bytes() != original


async def test_png_with_alpha_is_flattened_onto_white(store: MediaStore) -> None:
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    img.paste((0, 128, 0, 255), (0, 0, 5, 10))
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "Reporter Name")
    photo = await store.save_photo(encode(img, "PNG", pnginfo=meta))

    content = store.open_path(photo.path).read_bytes()
    assert b"Reporter Name" not in content
    with Image.open(io.BytesIO(content)) as out:
        assert out.format == "JPEG"
        assert out.mode == "RGB"
        assert close_to(out.getpixel((1, 5)), (0, 128, 0))
        assert close_to(out.getpixel((8, 5)), (255, 255, 255), tol=10)


async def test_palette_png_with_transparency(store: MediaStore) -> None:
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 4, 8))
    photo = await store.save_photo(encode(img, "PNG", transparency=0))
    with Image.open(store.open_path(photo.path)) as out:
        assert close_to(out.getpixel((1, 4)), RED)
        assert close_to(out.getpixel((6, 4)), (255, 255, 255), tol=10)


async def test_16bit_greyscale_is_scaled_not_clipped(store: MediaStore) -> None:
    img = Image.new("I;16", (8, 8), 32768)
    photo = await store.save_photo(encode(img, "PNG"))
    with Image.open(store.open_path(photo.path)) as out:
        assert close_to(out.getpixel((4, 4)), (128, 128, 128), tol=5)


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("JPEG", "RGB"),
        ("JPEG", "L"),
        ("JPEG", "CMYK"),
        ("PNG", "RGB"),
        ("PNG", "LA"),
        ("WEBP", "RGB"),
        ("WEBP", "RGBA"),
        ("GIF", "P"),
        ("BMP", "RGB"),
        ("TIFF", "RGB"),
    ],
)
async def test_allowed_formats_are_accepted(store: MediaStore, fmt: str, mode: str) -> None:
    img = Image.new("RGB", (16, 12), (200, 100, 50)).convert(mode)
    photo = await store.save_photo(encode(img, fmt))
    assert (photo.width, photo.height) == (16, 12)
    with Image.open(store.open_path(photo.path)) as out:
        assert out.format == "JPEG"
        assert out.mode == "RGB"


async def test_animated_gif_keeps_first_frame(store: MediaStore) -> None:
    frames = [Image.new("RGB", (10, 10), RED), Image.new("RGB", (10, 10), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    photo = await store.save_photo(data)
    with Image.open(store.open_path(photo.path)) as out:
        assert getattr(out, "n_frames", 1) == 1
        assert close_to(out.getpixel((5, 5)), RED)


async def test_multi_picture_jpeg_is_accepted(store: MediaStore) -> None:
    # Many phones write JPEGs with an MPF index, which Pillow reports as "MPO".
    frames = [Image.new("RGB", (12, 10), RED), Image.new("RGB", (12, 10), BLUE)]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as check:
        assert check.format == "MPO"
    photo = await store.save_photo(data)
    with Image.open(store.open_path(photo.path)) as out:
        assert out.format == "JPEG"
        assert "mp" not in out.info
        assert close_to(out.getpixel((5, 5)), RED)


async def test_concurrent_saves(store: MediaStore) -> None:
    images = [encode(Image.new("RGB", (30, 30), (i * 40, 0, 0)), "PNG") for i in range(5)]
    photos = await asyncio.gather(*(store.save_photo(d) for d in images))
    assert len({p.sha256 for p in photos}) == 5
    assert len(stored_files(store.media_dir)) == 5


# -- rejection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(4096),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00" * 200,
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + os.urandom(1000),
        b"\xff\xfb\x90\x64" + os.urandom(1000),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,  # PNG magic with garbage after it
        b"\xff\xd8\xff\xe0" + os.urandom(200),  # JPEG magic with garbage after it
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(100),
        b"",
    ],
    ids=["random", "pdf", "mp3-id3", "mp3-frame", "bad-png", "bad-jpeg", "heic-stub", "empty"],
)
async def test_non_images_are_refused(store: MediaStore, data: bytes) -> None:
    with pytest.raises(ImageRejected) as exc_info:
        await store.save_photo(data)
    assert exc_info.value.reason == NOT_AN_IMAGE
    assert stored_files(store.media_dir) == []


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA", "PCX", "EPS", "AVIF"])
async def test_formats_outside_allow_list_are_refused(store: MediaStore, fmt: str) -> None:
    Image.init()
    if fmt not in Image.SAVE and fmt != "EPS":
        pytest.skip(f"this Pillow cannot write {fmt}")
    img = Image.new("RGB", (16, 16), (10, 20, 30))
    if fmt == "EPS":
        data = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n"
    else:
        data = encode(img, fmt)
    with pytest.raises(ImageRejected) as exc_info:
        await store.save_photo(data)
    assert exc_info.value.reason == NOT_AN_IMAGE


async def test_too_large_is_refused_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_tagged_jpeg()
    store = MediaStore(tmp_path / "media", max_bytes=len(data) - 1)

    def must_not_open(*args, **kwargs):
        raise AssertionError("Image.open called for an oversized upload")

    monkeypatch.setattr(media.Image, "open", must_not_open)
    with pytest.raises(ImageRejected) as exc_info:
        await store.save_photo(data)
    assert exc_info.value.reason == TOO_LARGE
    assert stored_files(store.media_dir) == []


async def test_exactly_max_bytes_is_allowed(tmp_path: Path) -> None:
    data = make_tagged_jpeg()
    store = MediaStore(tmp_path / "media", max_bytes=len(data))
    await store.save_photo(data)


async def test_too_many_pixels_by_store_limit(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media", max_pixels=20 * 20 - 1)
    with pytest.raises(ImageRejected) as exc_info:
        await store.save_photo(encode(Image.new("RGB", (20, 20)), "PNG"))
    assert exc_info.value.reason == TOO_MANY_PIXELS
    assert stored_files(store.media_dir) == []


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (7_000, 7_000),  # above our 40 MP default, below Pillow's own limit
        (10_000, 10_000),  # above Pillow's warning limit
        (30_000, 30_000),  # above Pillow's error limit
        (70_000, 1),  # too wide for JPEG
    ],
)
async def test_huge_header_is_refused_before_decoding(
    store: MediaStore, width: int, height: int
) -> None:
    data = png_with_dimensions(width, height)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageRejected) as exc_info:
            await store.save_photo(data)
    assert exc_info.value.reason == TOO_MANY_PIXELS
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert stored_files(store.media_dir) == []


async def test_warning_filters_are_restored(store: MediaStore) -> None:
    before = list(warnings.filters)
    with pytest.raises(ImageRejected):
        await store.save_photo(png_with_dimensions(10_000, 10_000))
    await store.save_photo(make_tagged_jpeg())
    assert warnings.filters == before


def test_image_rejected_carries_reason() -> None:
    exc = ImageRejected(TOO_LARGE)
    assert exc.reason == TOO_LARGE
    assert isinstance(exc, Exception)
    assert len({NOT_AN_IMAGE, TOO_LARGE, TOO_MANY_PIXELS}) == 3


# -- open_path ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["../x", "ab/../../x", "/etc/passwd", "", ".", "ab/..", "..\\x", "ab/\x00.jpg"],
)
def test_open_path_refuses_escapes(store: MediaStore, path: str) -> None:
    with pytest.raises(ValueError):
        store.open_path(path)


def test_open_path_refuses_symlink_escape(store: MediaStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.media_dir.mkdir(parents=True)
    (store.media_dir / "ab").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        store.open_path("ab/secret.jpg")


def test_open_path_resolves_inside(store: MediaStore) -> None:
    rel = "ab/" + "ab" * 32 + ".jpg"
    resolved = store.open_path(rel)
    assert resolved == (store.media_dir / rel).resolve()
    assert resolved.is_relative_to(store.media_dir.resolve())


# -- sniffing ----------------------------------------------------------------------------


def _heic_header(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 4) + body + b"\x00\x00\x00\x08meta"


@pytest.mark.parametrize(
    ("fmt", "mode", "params", "mime"),
    [
        ("JPEG", "RGB", {}, "image/jpeg"),
        ("PNG", "RGBA", {}, "image/png"),
        ("WEBP", "RGB", {}, "image/webp"),
        ("GIF", "P", {}, "image/gif"),
        ("BMP", "RGB", {}, "image/bmp"),
        ("TIFF", "RGB", {}, "image/tiff"),
        ("TIFF", "RGB", {"big_tiff": True}, "image/tiff"),
    ],
)
def test_sniff_real_images(fmt: str, mode: str, params: dict, mime: str) -> None:
    data = encode(Image.new("RGB", (4, 4)).convert(mode), fmt, **params)
    assert sniff_image_type(data) == mime


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"GIF87a" + b"\x00" * 10, "image/gif"),
        (b"GIF89a" + b"\x00" * 10, "image/gif"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (_heic_header(b"heic", b"mif1", b"heic"), "image/heic"),
        (_heic_header(b"heix", b"mif1"), "image/heic"),
        (_heic_header(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_heic_header(b"avif", b"mif1", b"avif"), None),
        (_heic_header(b"isom", b"isom", b"mp41"), None),
        (b"%PDF-1.4\n", None),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", None),
        (b"\xff\xfb\x90\x64\x00\x00", None),
        (b"BMW is a car, not a bitmap", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"PK\x03\x04", None),
        (b"", None),
        (b"\xff\xd8", None),
    ],
)
def test_sniff_magic_bytes(data: bytes, mime: str | None) -> None:
    assert sniff_image_type(data) == mime


def test_sniff_ignores_heic_brand_outside_ftyp_box() -> None:
    # The box claims 16 bytes, so "heic" after it is not a compatible brand.
    data = b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00heic"
    assert sniff_image_type(data) is None
