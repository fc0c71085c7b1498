"""Photo pipeline: check, orient, strip and resize owners' photos into marketplace JPEGs.

Every file is identified from its bytes (never its name or claimed type), refused when it
is too large, not an image, truncated or a decompression bomb, and stored as an sRGB JPEG
of at most 2,000 px and 5 MB, named by the SHA-256 of its bytes, without metadata.

Memory: what decoding a photo would take is worked out from its header before a pixel is
decoded. A JPEG decodes at 1/2..1/8 scale (libjpeg's DCT scaling), so even 64 MP costs a
few MB; a PNG, WebP or HEIC decodes whole, so it may take at most DECODE_BUDGET bytes, and
is reduced in strips so that no second full-size copy is made. At most `concurrency`
photos are worked on at once in the process (the `Gate`), and freed memory is handed back
to the system when the last one is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import io
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageFilter, ImageStat, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")  # HEIF: iPhones' default (HEIC)
# MPO: a JPEG carrying more pictures (Ultra HDR gain maps, depth): its first one is a JPEG.
JPEG_FORMATS = ("JPEG", "MPO")
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 64_000_000  # a 64 MP phone photo; anything larger is treated as a bomb
# What one decode may take. PNG/WebP/HEIC decode whole: RGBA PNG up to ~33 MP, HEIC (the
# codec's buffer, then Pillow's) ~16 MP, WebP (four copies) ~8 MP; a progressive JPEG
# holds all its coefficients: ~40 MP at 4:2:0. A baseline JPEG decodes scaled: always fits.
DECODE_BUDGET = 128 * 1024 * 1024
STRIP_BYTES = 8 * 1024 * 1024  # a reduce works on strips of about this many bytes
MAX_SIDE = 2000
MIN_SHORT_SIDE = 500
MAX_STORED_BYTES = 5 * 1024 * 1024
ANALYSIS_SIDE = 640
# Calibrated on images the tests generate (tests/test_media.py), measured after a whole-number
# reduce to at most 640 px: sharp product-like scenes ~1,750; Gaussian blur at 1,600 px of
# radius 2 ~340, radius 3 ~97, radius 4 ~43. Below 100 the owner is told it looks blurry.
BLUR_VARIANCE = 100.0
DARK_MEAN = 55.0
WASHED_MEAN, WASHED_STDDEV = 225.0, 30.0
_SRGB = ImageCms.createProfile("sRGB")
# Encoding into a real file releases the GIL in Pillow, so the quality analysis runs
# meanwhile on the calling thread; together they cost about what the encode alone does.
_ENCODER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="photo-encode")
pillow_heif.register_heif_opener()  # teaches Pillow to read HEIC; no other side effect
# A file that ends early is refused, never padded with grey (Pillow's default; made sure of).
ImageFile.LOAD_TRUNCATED_IMAGES = False
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Quality:
    sharpness: float
    brightness: float
    contrast: float

    @property
    def blurry(self) -> bool:
        return self.sharpness < BLUR_VARIANCE

    @property
    def dark(self) -> bool:
        return self.brightness < DARK_MEAN

    @property
    def washed_out(self) -> bool:
        return self.brightness > WASHED_MEAN and self.contrast < WASHED_STDDEV


def measure(image: Image.Image) -> Quality:
    """Sharpness (variance of the Laplacian), brightness and contrast of a photo."""
    factor = -(-max(image.size) // ANALYSIS_SIDE)  # a whole-number box reduce: cheap
    gray = (image.reduce(factor) if factor > 1 else image).convert("L")
    laplacian = gray.filter(
        ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)
    )
    stat = ImageStat.Stat(gray)
    return Quality(
        sharpness=ImageStat.Stat(laplacian).var[0],
        brightness=stat.mean[0],
        contrast=stat.stddev[0],
    )


class PhotoRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused("bomb") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PhotoRefused("not_image") from exc
    width, height = image.size
    if width * height > MAX_PIXELS or width <= 0 or height <= 0:
        raise PhotoRefused("bomb")
    return image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation, read without decoding a pixel."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # Pillow would decode the whole image looking for an eXIf chunk after it
    orientation = image.getexif().get(0x0112, 1)
    return orientation if isinstance(orientation, int) else 1


def _first_scan_components(data: bytes) -> int | None:
    """How many colour components a JPEG's first scan holds (None if no scan is found)."""
    at = 2
    while at + 4 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte
            at += 1
        elif marker == 0xDA:
            return data[at + 4]
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            at += 2
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _jpeg_coefficient_bytes(image: Image.Image, data: bytes, width: int, height: int) -> int:
    """What libjpeg holds for a JPEG of several scans (progressive, or one colour per scan):
    every DCT coefficient of the whole image at once, 2 bytes each, whatever the draft scale.
    A single-scan (baseline) JPEG decodes row by row: nothing of the kind."""
    layers = getattr(image, "layer", None) or [("1", 1, 1, 0)]
    several_scans = bool(image.info.get("progressive")) or (
        len(layers) > 1 and (_first_scan_components(data) or 0) < len(layers)
    )
    if not several_scans:
        return 0
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    blocks = sum(
        _ceil_div(_ceil_div(width * h, h_max), 8) * _ceil_div(_ceil_div(height * v, v_max), 8)
        for _, h, v, _ in layers
    )
    return blocks * 128


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _decode_cost(image: Image.Image, data: bytes, raw_size: tuple[int, int]) -> int:
    """Bytes a decode of `image` (at its draft size, for a JPEG) would hold at its peak."""
    width, height = image.size
    bytes_per_pixel = (
        1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    )
    if image.format in JPEG_FORMATS:
        return width * height * bytes_per_pixel + _jpeg_coefficient_bytes(image, data, *raw_size)
    # Copies at once: PNG decodes straight into ours; HEIC into libheif's buffer, then ours;
    # WebP (Pillow's animation decoder) into two canvases of libwebp's, a bytes, then ours.
    copies = {"PNG": 1, "HEIF": 2}.get(image.format or "", 4)
    return width * height * bytes_per_pixel * copies


def _ran_out(image: Image.Image) -> bool:
    """True when a JPEG's data ended before its frame did.

    libjpeg then only warns (Pillow cannot see it) and decodes what is missing as zero
    coefficients: exactly mid-grey. A last row of exactly that grey, all the way across, is
    what a file whose header claims more than its data holds looks like; no camera makes it.
    """
    if image.mode not in ("RGB", "L"):
        return False
    last_row = image.crop((0, image.height - 1, image.width, image.height)).getextrema()
    bands = [last_row] if image.mode == "L" else last_row
    return all(band == (128, 128) for band in bands)  # type: ignore[comparison-overlap]


def _normalized(image: Image.Image) -> Image.Image:
    """The pixels in a mode the rest works in: L, LA, RGB, RGBA or CMYK."""
    if image.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "PA":
        return image.convert("RGBA")
    return image.convert("L" if image.mode == "1" else "RGB")


def _shrunk(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` resized to `size` (Lanczos), a strip at a time: never a second full-size copy.

    Each strip is cut with a margin wider than Lanczos reaches, and resized from exactly the
    part of the source its output rows cover, so the strips join seamlessly. Alpha is
    premultiplied strip by strip (Pillow does it in `resize`): no dark fringes.
    """
    width, height = image.size
    out_width, out_height = size
    step = height / out_height
    margin = int(3 * step) + 2  # Lanczos reads 3 output pixels either side
    rows = max(1, int(STRIP_BYTES / (width * 4 * step)))
    shrunk: Image.Image | None = None
    for out_top in range(0, out_height, rows):
        out_bottom = min(out_height, out_top + rows)
        top, bottom = out_top * step, out_bottom * step
        y0, y1 = max(0, int(top) - margin), min(height, int(bottom) + 1 + margin)
        piece = _normalized(image.crop((0, y0, width, y1)))
        strip = piece.resize(
            (out_width, out_bottom - out_top),
            Image.Resampling.LANCZOS,
            box=(0, top - y0, width, bottom - y0),
        )
        if shrunk is None:
            shrunk = Image.new(strip.mode, size)
        shrunk.paste(strip, (0, out_top))
    assert shrunk is not None
    return shrunk


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Flatten transparency onto white and convert colour to sRGB."""
    if image.mode == "RGB" and not icc:
        return image
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB") or image
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to reading the pixels as sRGB
    return image.convert("RGB")


def _encode_into(image: Image.Image, handle: BinaryIO) -> int:
    """Write the JPEG into `handle` (lowering quality if it exceeds 5 MB); returns its size."""
    for quality in (85, 80, 72, 65, 55):
        handle.seek(0)
        handle.truncate()
        image.save(handle, "JPEG", quality=quality)
        if handle.tell() <= MAX_STORED_BYTES:
            return handle.tell()
    raise PhotoRefused("too_big")


@dataclass(frozen=True)
class Processed:
    """A photo ready to store: its JPEG in a temporary file next to where it belongs."""

    temp_path: Path
    sha256: str
    width: int
    height: int
    size_bytes: int
    quality: Quality

    def discard(self) -> None:
        self.temp_path.unlink(missing_ok=True)


def process(data: bytes, workdir: Path, max_bytes: int = MAX_BYTES) -> Processed:
    """Turn uploaded bytes into a stored-ready JPEG file under `workdir`, with its quality."""
    image = _decoded(data, max_bytes)
    workdir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=workdir, suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as handle:
            encoding = _ENCODER.submit(_encode_into, image, handle)
            quality = measure(image)
            size = encoding.result()
            handle.seek(0)
            sha = hashlib.file_digest(handle, "sha256").hexdigest()
    except BaseException:
        os.unlink(name)
        raise
    return Processed(Path(name), sha, image.width, image.height, size, quality)


def _decoded(data: bytes, max_bytes: int) -> Image.Image:
    """Checked, oriented, sRGB pixels of at most 2,000 px, decoded no larger than needed.

    Only pixels come out: no EXIF, XMP, ICC profile, comment or text chunk goes any further.
    """
    if len(data) > max_bytes:
        raise PhotoRefused("too_big")
    if not data:
        raise PhotoRefused("not_image")
    image = _open(data)
    orientation = _orientation(image)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if min(width, height) < MIN_SHORT_SIDE:
        raise PhotoRefused("too_small")
    raw_size = image.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    if image.format in JPEG_FORMATS and scale < 1.0:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: no bigger than needed for 2,000 px.
        image.draft("RGB", (int(raw_size[0] * scale), int(raw_size[1] * scale)))
    if _decode_cost(image, data, raw_size) > DECODE_BUDGET:
        raise PhotoRefused("too_large")
    icc = image.info.get("icc_profile")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, RuntimeError, EOFError) as exc:
        raise PhotoRefused("corrupt") from exc
    if image.format in JPEG_FORMATS and _ran_out(image):
        raise PhotoRefused("corrupt")
    decoded_width, decoded_height = image.size
    target = min(1.0, MAX_SIDE / max(decoded_width, decoded_height))
    if target < 1.0:
        size = (max(1, round(decoded_width * target)), max(1, round(decoded_height * target)))
        pixels = _shrunk(image, size)
        image.close()  # the full-size decode goes now, not when the caller is done
    else:
        pixels = _normalized(image)
    if orientation in _TRANSPOSE:
        pixels = pixels.transpose(_TRANSPOSE[orientation])
    pixels = _to_srgb(pixels, icc)
    pixels.info = {}  # pixels only: the JPEG encoder would write a comment it finds here
    return pixels


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if os.name == "posix" else None
_M_MMAP_THRESHOLD = -3


def map_big_allocations() -> None:
    """Have glibc give every allocation of 1 MB or more (decoded pixels, codec buffers) its
    own mapping, returned to the system the moment it is freed.

    By default glibc raises that threshold after the first big free (up to 32 MB), and from
    then on serves Pillow's 16 MB blocks from per-thread arenas, where another thread cannot
    reuse them and from which they are rarely returned: eight big photos at once left about
    a gigabyte behind. Setting the threshold also stops it moving."""
    if _LIBC is not None:
        with contextlib.suppress(AttributeError):
            _LIBC.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)


def give_memory_back() -> None:
    """Hand what is left free in glibc's heaps back to the system."""
    if _LIBC is not None:
        with contextlib.suppress(AttributeError):
            _LIBC.malloc_trim(0)


class Gate:
    """At most `limit` photos are worked on at once in this process; the others wait.

    Its counts (`running`, `waiting`, `peak`) can be watched with `wait_for`. When the last
    photo in is done, `on_idle` runs (the store gives memory back to the system then).
    """

    def __init__(self, limit: int, on_idle: Callable[[], None] | None = None) -> None:
        if limit < 1:
            raise ValueError("at least one photo at a time")
        self.limit = limit
        self.running = self.waiting = self.peak = 0
        self._on_idle = on_idle
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.running < self.limit)
            self.waiting -= 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self.running -= 1
                idle = self.running == 0
                self._changed.notify_all()
            if idle and self._on_idle is not None:
                self._on_idle()

    def wait_for(self, predicate: Callable[[Gate], bool], timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)
