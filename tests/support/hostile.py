"""A hostile corpus, made in code: files built to break an image service, each with what
Sightline must make of it.

Every file is either refused with a documented 4xx and a stable code (`Refused`), or accepted
and analysed without a failed feature (`ACCEPTED`); a few may go either way (a cut that leaves a
decodable picture), and say so. Nothing is read from disk and the whole corpus takes about a
second to build: bombs are a few KB that declare a huge canvas, not a huge canvas.

`corpus(max_pixels)` gives the files for a server with that pixel limit (the near-bombs sit
just under and just over it); `HOSTILE_METADATA` and `HOSTILE_FILENAMES` are the client-side
fields that travel with an upload.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pillow_heif
from PIL import Image

from support.imagegen import encode, noise

pillow_heif.register_heif_opener()  # HEIF and AVIF, as sightline.vision.decode registers them


@dataclass(frozen=True)
class Refused:
    status: int
    code: str


@dataclass(frozen=True)
class Accepted:
    """Stored (or analysed inline) with every feature `done` or `skipped`."""


ACCEPTED = Accepted()
Outcome = Refused | Accepted
EMPTY = Refused(400, "EmptyImage")
NOT_AN_IMAGE = Refused(400, "InvalidImageFormat")
TOO_MANY_PIXELS = Refused(413, "ImageDimensionsTooLarge")


@dataclass(frozen=True)
class HostileFile:
    name: str
    data: bytes = field(repr=False)
    expect: frozenset[Outcome]
    # What the client says it sends: the bytes decide, never the claim.
    content_type: str = "application/octet-stream"

    @property
    def accepted(self) -> bool:
        return self.expect == {ACCEPTED}


def _file(name: str, data: bytes, *expect: Outcome, content_type: str = "") -> HostileFile:
    return HostileFile(name, data, frozenset(expect), content_type or "application/octet-stream")


# -- building blocks ---------------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = png_chunk(b"IEND", b"")


def png_header(width: int, height: int, bit_depth: int = 8, color_type: int = 0) -> bytes:
    return PNG_SIGNATURE + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    )


def zeros_compressed(size: int) -> bytes:
    """`size` zero bytes as a zlib stream (about 1000:1), in milliseconds: one megabyte is
    deflated once with the history reset after it, so its output stands alone and repeats."""
    block = bytes(1 << 20)
    whole, rest = divmod(size, len(block))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(bytes(rest)) + last.flush()
    checksum = 1
    for _ in range(whole):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(bytes(rest), checksum)
    return b"\x78\xda" + segment * whole + tail + struct.pack(">I", checksum)


def bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros: every row is a filter byte and width/8 bytes."""
    row = 1 + (width + 7) // 8
    return (
        png_header(width, height, bit_depth=1)
        + png_chunk(b"IDAT", zeros_compressed(row * height))
        + PNG_END
    )


def declared_only_png(width: int, height: int) -> bytes:
    """A PNG header declaring a canvas, with a token of pixel data: the classic bomb's shape."""
    return png_header(width, height) + png_chunk(b"IDAT", zlib.compress(bytes(64))) + PNG_END


def idat_bomb(side: int, extra: int) -> bytes:
    """A small greyscale PNG whose pixel stream inflates to `extra` bytes more than it needs."""
    return (
        png_header(side, side)
        + png_chunk(b"IDAT", zeros_compressed((side + 1) * side + extra))
        + PNG_END
    )


def with_png_chunk(png: bytes, chunk: bytes) -> bytes:
    """`chunk` inserted right after IHDR (8 bytes of signature, 25 of IHDR)."""
    return png[:33] + chunk + png[33:]


def jpeg_with_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """`segments` (complete APPn markers) inserted right after SOI."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def icc_segments(profile: bytes) -> list[bytes]:
    """An ICC profile split into APP2 ICC_PROFILE segments, as JPEG carries one."""
    step = 65_000
    parts = [profile[i : i + step] for i in range(0, len(profile), step)]
    return [
        app_segment(0xE2, b"ICC_PROFILE\x00" + bytes([index + 1, len(parts)]) + part)
        for index, part in enumerate(parts)
    ]


def tiff_ifd(entries: list[tuple[int, int, int, int]], next_ifd: int = 0) -> bytes:
    """A little-endian IFD: (tag, type, count, value or offset) entries, sorted by tag."""
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        body += struct.pack("<HHII", tag, kind, count, value)
    return body + struct.pack("<I", next_ifd)


SHORT, LONG, ASCII = 3, 4, 2


def tiled_tiff(width: int, height: int, tile: int) -> bytes:
    """An uncompressed greyscale TIFF in tiles (Pillow writes strips only, so by hand)."""
    across, down = -(-width // tile), -(-height // tile)
    tiles = across * down
    tile_bytes = tile * tile
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=tiles * tile_bytes, dtype=np.uint8).tobytes()
    header = 8
    ifd_size = 2 + 12 * 11 + 4
    offsets_at = header + ifd_size
    counts_at = offsets_at + 4 * tiles
    data_at = counts_at + 4 * tiles
    entries = [
        (256, LONG, 1, width),
        (257, LONG, 1, height),
        (258, SHORT, 1, 8),
        (259, SHORT, 1, 1),
        (262, SHORT, 1, 1),
        (277, SHORT, 1, 1),
        (284, SHORT, 1, 1),
        (322, LONG, 1, tile),
        (323, LONG, 1, tile),
        (324, LONG, tiles, offsets_at),
        (325, LONG, tiles, counts_at),
    ]
    offsets = struct.pack(f"<{tiles}I", *(data_at + i * tile_bytes for i in range(tiles)))
    counts = struct.pack(f"<{tiles}I", *([tile_bytes] * tiles))
    return b"II*\x00" + struct.pack("<I", header) + tiff_ifd(entries) + offsets + counts + pixels


def strip_tiff(
    width: int,
    height: int,
    *,
    compression: int = 1,
    samples: int = 1,
    bits: int = 8,
    photometric: int = 1,
    next_ifd_loop: bool = False,
    strip_offset: int | None = None,
) -> bytes:
    """A one-strip TIFF whose tags say what the caller wants, true or not; a strip of more than
    64 KB is left short, as a bomb's would be."""
    strip = bytes(min(width * height * samples * bits // 8, 1 << 16))
    entries = [
        (256, LONG, 1, width),
        (257, LONG, 1, height),
        (258, SHORT, 1, bits),
        (259, SHORT, 1, compression),
        (262, SHORT, 1, photometric),
        (273, LONG, 1, strip_offset if strip_offset is not None else 8 + 2 + 12 * 9 + 4),
        (277, SHORT, 1, samples),
        (278, LONG, 1, height),
        (279, LONG, 1, len(strip)),
    ]
    ifd = tiff_ifd(entries, next_ifd=8 if next_ifd_loop else 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + strip


def exif_block(entries: list[tuple[int, int, int, int]], tail: bytes = b"") -> bytes:
    """A TIFF-structured EXIF block (little-endian, IFD0 at 8) with `tail` after the IFD."""
    return b"II*\x00" + struct.pack("<I", 8) + tiff_ifd(entries) + tail


def jpeg_exif(jpeg: bytes, exif: bytes) -> bytes:
    return jpeg_with_segments(jpeg, [app_segment(0xE1, b"Exif\x00\x00" + exif)])


def gif_frames(
    count: int, width: int = 1, height: int = 1, screen: tuple[int, int] = (0, 0)
) -> bytes:
    """A GIF of `count` tiny frames, written block by block (Pillow takes seconds for many)."""
    screen_width, screen_height = screen if screen != (0, 0) else (width, height)
    head = b"GIF89a" + struct.pack("<HHBBB", screen_width, screen_height, 0x80, 0, 0)
    palette = b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    # One frame: a graphic control extension (10 ms), a descriptor, LZW data for a 1x1 pixel.
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x44\x01\x00"
    )
    return head + palette + loop + frame * count + b"\x3b"


def multi_frame(fmt: str, count: int, size: tuple[int, int] = (4, 4), **options: object) -> bytes:
    frames = [Image.new("RGB", size, (i % 256, 255 - i % 256, 128)) for i in range(count)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], **options)
    return buffer.getvalue()


def tiff_pages(count: int, side: int = 4) -> bytes:
    """A TIFF of `count` greyscale pages, each IFD followed by its strip and pointing at the
    next (Pillow takes a second to write a few hundred)."""
    pixels = side * side
    page_size = 2 + 12 * 9 + 4 + pixels
    out = b"II*\x00" + struct.pack("<I", 8)
    for page in range(count):
        start = 8 + page * page_size
        next_ifd = start + page_size if page < count - 1 else 0
        entries = [
            (256, LONG, 1, side),
            (257, LONG, 1, side),
            (258, SHORT, 1, 8),
            (259, SHORT, 1, 1),
            (262, SHORT, 1, 1),
            (273, LONG, 1, start + page_size - pixels),
            (277, SHORT, 1, 1),
            (278, LONG, 1, side),
            (279, LONG, 1, pixels),
        ]
        out += tiff_ifd(entries, next_ifd) + bytes([page % 256]) * pixels
    return out


def apng_declaring(frames: int) -> bytes:
    """A one-frame APNG whose animation control chunk claims `frames` frames."""
    png = encode(Image.new("RGB", (8, 8), "blue"), "PNG")
    return with_png_chunk(png, png_chunk(b"acTL", struct.pack(">II", frames, 0)))


# -- the corpus --------------------------------------------------------------------------------

BASES: dict[str, Callable[[], bytes]] = {
    "jpeg": lambda: noise(11, (160, 120), "JPEG"),
    "png": lambda: noise(12, (160, 120), "PNG"),
    "gif": lambda: noise(13, (160, 120), "GIF"),
    "webp": lambda: noise(14, (160, 120), "WEBP"),
    "tiff": lambda: encode(Image.open(io.BytesIO(noise(15, (160, 120), "PNG"))), "TIFF"),
    "heic": lambda: noise(16, (160, 120), "HEIF"),
    "avif": lambda: noise(17, (160, 120), "AVIF"),
}


def truncations() -> list[HostileFile]:
    """Each format cut after its signature, at a quarter, at half and just before its end. The
    last cut may leave every pixel (a JPEG without its end marker, a PNG without IEND): that
    file may be accepted, as long as it is analysed without a failure."""
    files = []
    for fmt, make in BASES.items():
        data = make()
        cuts = {"at 12 bytes": 12, "at a quarter": len(data) // 4, "at half": len(data) // 2}
        for label, cut in cuts.items():
            files.append(_file(f"{fmt} cut {label}", data[:cut], NOT_AN_IMAGE))
        files.append(_file(f"{fmt} cut short of its end", data[:-12], NOT_AN_IMAGE, ACCEPTED))
    return files


def bombs(max_pixels: int) -> list[HostileFile]:
    """Huge declared canvases in tiny files, and the pixel limit approached from both sides."""
    width = 4_000
    under = max_pixels // width
    over = under + 1
    return [
        _file(
            f"1-bit png {width}x{under}, just under the limit", bilevel_png(width, under), ACCEPTED
        ),
        _file(
            f"1-bit png {width}x{over}, just over the limit",
            bilevel_png(width, over),
            TOO_MANY_PIXELS,
        ),
        _file("1-bit png 20000x20000", bilevel_png(20_000, 20_000), TOO_MANY_PIXELS),
        _file(
            "png declaring 2^31-1 square",
            declared_only_png(2**31 - 1, 2**31 - 1),
            NOT_AN_IMAGE,
            TOO_MANY_PIXELS,
        ),
        _file("png declaring 0x0", declared_only_png(0, 0), NOT_AN_IMAGE),
        _file(
            "png declaring 1x2^31-1", declared_only_png(1, 2**31 - 1), NOT_AN_IMAGE, TOO_MANY_PIXELS
        ),
        _file(
            "png whose pixel stream inflates 64 MB past its end", idat_bomb(256, 64 << 20), ACCEPTED
        ),
        _file(
            "png with a 64 MB zTXt bomb",
            with_png_chunk(
                encode(Image.new("L", (16, 16)), "PNG"),
                png_chunk(b"zTXt", b"Comment\x00\x00" + zeros_compressed(64 << 20)),
            ),
            NOT_AN_IMAGE,
            ACCEPTED,
        ),
        _file(
            "png with a 64 MB iCCP bomb",
            with_png_chunk(
                encode(Image.new("RGB", (16, 16)), "PNG"),
                png_chunk(b"iCCP", b"bomb\x00\x00" + zeros_compressed(64 << 20)),
            ),
            NOT_AN_IMAGE,
            ACCEPTED,
        ),
        _file(
            "gif with a 65535x65535 screen and a 1x1 frame",
            gif_frames(1, screen=(65535, 65535)),
            TOO_MANY_PIXELS,
        ),
        _file(
            "tiff declaring 100000x100000",
            strip_tiff(100_000, 100_000),
            TOO_MANY_PIXELS,
            NOT_AN_IMAGE,
        ),
        _file(
            "jpeg declaring 65500x65500",
            _jpeg_declaring(65_500, 65_500),
            TOO_MANY_PIXELS,
        ),
        _file(
            "bmp declaring 30000x30000",
            b"BM"
            + struct.pack("<IHHI", 0, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, 30_000, 30_000, 1, 24, 0, 0, 0, 0, 0, 0),
            TOO_MANY_PIXELS,
        ),
    ]


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG with its frame header's dimensions rewritten: nothing behind them."""
    data = bytearray(encode(Image.new("RGB", (16, 16), "green"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def polyglots() -> list[HostileFile]:
    jpeg, png = BASES["jpeg"](), BASES["png"]()
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.txt", "I ride along inside a picture")
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    return [
        _file("jpeg followed by a zip", jpeg + archive.getvalue(), ACCEPTED),
        _file("png followed by html", png + html, ACCEPTED),
        _file("html followed by a png", html + png, NOT_AN_IMAGE),
        _file("zip named as a jpeg", archive.getvalue(), NOT_AN_IMAGE, content_type="image/jpeg"),
        _file("gif header then html", b"GIF89a" + html, NOT_AN_IMAGE, content_type="image/gif"),
    ]


def metadata_blocks() -> list[HostileFile]:
    jpeg = encode(Image.new("RGB", (48, 32), "red"), "JPEG")
    png = encode(Image.new("RGB", (48, 32), "red"), "PNG")
    big_text = b"x" * 60_000 + b"\x00"
    many_tags = [(0x9000 + i, ASCII, 4, 0x41414141) for i in range(2_000)]
    return [
        _file(
            "jpeg with a 64 KB EXIF text",
            jpeg_exif(jpeg, exif_block([(0x010E, ASCII, len(big_text), 26)], big_text)),
            ACCEPTED,
        ),
        _file(
            "png with an 8 MB eXIf of 2000 tags",
            with_png_chunk(png, png_chunk(b"eXIf", exif_block(many_tags, bytes(8 << 20)))),
            ACCEPTED,
        ),
        _file(
            "jpeg with an EXIF IFD pointing at itself",
            jpeg_exif(jpeg, exif_block([(0x8769, LONG, 1, 8), (0x010F, ASCII, 4, 0x6E6F6E43)])),
            ACCEPTED,
        ),
        _file(
            "jpeg with EXIF values past the block's end",
            jpeg_exif(
                jpeg, exif_block([(0x010E, ASCII, 0xFFFFFFF0, 0x7FFFFFF0), (0x0112, SHORT, 1, 99)])
            ),
            ACCEPTED,
        ),
        _file(
            "jpeg with a 4 MB garbage ICC profile",
            jpeg_with_segments(jpeg, icc_segments(random.Random(3).randbytes(4 << 20))),
            ACCEPTED,
        ),
        _file(
            "png with a garbage iCCP",
            with_png_chunk(
                png, png_chunk(b"iCCP", b"junk\x00\x00" + zlib.compress(b"\x07" * 5000))
            ),
            ACCEPTED,
        ),
    ]


def animations() -> list[HostileFile]:
    return [
        _file("gif of 20000 frames", gif_frames(20_000), ACCEPTED),
        _file("apng of 300 frames", multi_frame("PNG", 300, duration=10), ACCEPTED),
        _file("apng claiming 2^31-1 frames", apng_declaring(2**31 - 1), ACCEPTED),
        _file("webp of 300 frames", multi_frame("WEBP", 300, duration=10), ACCEPTED),
        _file("tiff of 3000 pages", tiff_pages(3000), ACCEPTED),
    ]


def odd_tiffs() -> list[HostileFile]:
    grey = Image.open(io.BytesIO(noise(21, (64, 48), "PNG"))).convert("L")
    rgb = Image.open(io.BytesIO(noise(22, (64, 48), "PNG")))
    sixteen = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
    floats = Image.fromarray(np.linspace(-5, 5, 64 * 48, dtype=np.float32).reshape(48, 64))
    compressions = ("packbits", "tiff_lzw", "tiff_adobe_deflate", "jpeg")
    files = [
        _file(f"tiff compressed {name}", encode(rgb, "TIFF", compression=name), ACCEPTED)
        for name in compressions
    ]
    return files + [
        _file(
            "tiff group4 bilevel", encode(grey.convert("1"), "TIFF", compression="group4"), ACCEPTED
        ),
        _file("tiff tiled", tiled_tiff(100, 70, 16), ACCEPTED),
        _file("tiff 16-bit grey", encode(sixteen, "TIFF"), ACCEPTED),
        _file("tiff 32-bit float", encode(floats, "TIFF"), ACCEPTED),
        _file("tiff CMYK", encode(rgb.convert("CMYK"), "TIFF"), ACCEPTED),
        _file(
            "tiff 16-bit RGB",
            strip_tiff(32, 24, samples=3, bits=16, photometric=2),
            ACCEPTED,
            NOT_AN_IMAGE,
        ),
        _file(
            "tiff of 7 samples per pixel",
            strip_tiff(32, 24, samples=7, photometric=2),
            NOT_AN_IMAGE,
        ),
        _file(
            "tiff with an unknown compression", strip_tiff(32, 24, compression=50_000), NOT_AN_IMAGE
        ),
        _file(
            "tiff whose strip lies past the end",
            strip_tiff(32, 24, strip_offset=1 << 30),
            NOT_AN_IMAGE,
        ),
        _file(
            "tiff whose next page is itself",
            strip_tiff(32, 24, next_ifd_loop=True),
            ACCEPTED,
            NOT_AN_IMAGE,
        ),
    ]


def impostors() -> list[HostileFile]:
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<script>alert(1)</script><rect width="64" height="64" fill="red"/></svg>'
    )
    html = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
    return [
        _file("svg", svg, NOT_AN_IMAGE, content_type="image/svg+xml"),
        _file("html claiming to be a png", html, NOT_AN_IMAGE, content_type="image/png"),
        _file(
            "pdf claiming to be a jpeg",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            NOT_AN_IMAGE,
            content_type="image/jpeg",
        ),
        _file("png claiming to be a jpeg", BASES["png"](), ACCEPTED, content_type="image/jpeg"),
        _file("jpeg claiming to be svg", BASES["jpeg"](), ACCEPTED, content_type="image/svg+xml"),
    ]


def shapes() -> list[HostileFile]:
    return [
        _file("png 20000x1", encode(Image.new("RGB", (20_000, 1), "gray"), "PNG"), ACCEPTED),
        _file("png 1x20000", encode(Image.new("RGB", (1, 20_000), "gray"), "PNG"), ACCEPTED),
        _file("jpeg 20000x1", encode(Image.new("RGB", (20_000, 1), "gray"), "JPEG"), ACCEPTED),
        _file("gif 1x20000", encode(Image.new("P", (1, 20_000)), "GIF"), ACCEPTED),
        _file("png 1x1", encode(Image.new("RGBA", (1, 1)), "PNG"), ACCEPTED),
    ]


def noise_files() -> list[HostileFile]:
    rng = random.Random(5)
    return [
        _file("zero bytes", b"", EMPTY),
        _file("one byte", b"\xff", NOT_AN_IMAGE),
        _file("4 KB of random bytes", rng.randbytes(4096), NOT_AN_IMAGE),
        _file(
            "jpeg signature then random bytes",
            b"\xff\xd8\xff\xe0" + rng.randbytes(4096),
            NOT_AN_IMAGE,
        ),
        _file("png signature then random bytes", PNG_SIGNATURE + rng.randbytes(4096), NOT_AN_IMAGE),
    ]


@cache
def corpus(max_pixels: int) -> tuple[HostileFile, ...]:
    files = [
        *truncations(),
        *bombs(max_pixels),
        *polyglots(),
        *metadata_blocks(),
        *animations(),
        *odd_tiffs(),
        *impostors(),
        *shapes(),
        *noise_files(),
    ]
    names = [file.name for file in files]
    assert len(set(names)) == len(names), "corpus names must be unique"
    return tuple(files)


# -- what travels with a file --------------------------------------------------------------------

# Client metadata: each refused as InvalidMetadata. The large ones stay under the 1 MB that a
# multipart form allows a field (past that, the form itself is refused as InvalidParameter).
HOSTILE_METADATA = {
    "nested 1000 deep": '{"a": ' * 1000 + "1" + "}" * 1000,
    "NaN": '{"score": NaN}',
    "Infinity": '{"score": Infinity}',
    "a 512 KB string": '{"note": "' + "x" * (512 << 10) + '"}',
    "a lone surrogate": '{"note": "\\udc80"}',
    "a lone surrogate in a key": '{"\\ud800": 1}',
    "50000 keys": "{" + ",".join(f'"k{i}": {i}' for i in range(50_000)) + "}",
    "not an object": "[1, 2, 3]",
    "invalid UTF-8 escapes": '{"note": "\\x80"}',
}

# File names, as sent in a multipart part or an X-Filename header: stored as a clean base name.
HOSTILE_FILENAMES: dict[str, bytes] = {
    "very long": b"a" * 1000 + b".jpg",
    "path traversal": b"../../../../etc/passwd",
    "windows path traversal": b"..\\..\\boot.ini",
    "NUL in the name": b"photo\x00.php.jpg",
    "right-to-left override": "photo\u202egpj.exe".encode(),
    "not UTF-8": b"caf\xe9\xff.jpg",
    "only dots": b"..",
    "control characters": b"a\r\nContent-Type: text/html\r\n\r\n.jpg",
}
