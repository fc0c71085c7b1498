"""Photo pipeline: check, orient, strip, resize and store owners' photos as marketplace JPEGs.

Every file is identified from its bytes (never its name or claimed type), refused when it
is too large, not an image, truncated or a decompression bomb, and stored as an sRGB JPEG
of at most 2,000 px and 5 MB, named by the SHA-256 of the stored bytes, without metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import stat
import tempfile
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError
from sqlalchemy.exc import IntegrityError

from bot.storage.database import Database
from bot.storage.models import Photo
from bot.storage.photos import RELEASED, lock_photo
from flows.messages import PhotoRef, RejectedPhoto

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")  # HEIF: iPhones' default (HEIC)
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 64_000_000  # a 64 MP phone photo; anything larger is treated as a bomb
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
_SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger(__name__)

_SRGB = ImageCms.createProfile("sRGB")
# Encoding into a real file releases the GIL in Pillow, so the quality analysis runs
# meanwhile on the calling thread; together they cost about what the encode alone does.
_ENCODER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="photo-encode")
pillow_heif.register_heif_opener()  # teaches Pillow to read HEIC; no other side effect


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


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _to_srgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert colour to sRGB."""
    icc = image.info.get("icc_profile")
    if image.mode == "RGB" and not icc:
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
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
    """Checked, oriented, sRGB pixels of at most 2,000 px, decoded no larger than needed."""
    if len(data) > max_bytes:
        raise PhotoRefused("too_big")
    if not data:
        raise PhotoRefused("not_image")
    image = _open(data)
    width, height = _oriented_size(image)
    if min(width, height) < MIN_SHORT_SIDE:
        raise PhotoRefused("too_small")
    scale = min(1.0, MAX_SIDE / max(width, height))
    if image.format == "JPEG" and scale < 1.0:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: no bigger than needed for 2,000 px.
        raw_w, raw_h = image.size
        image.draft("RGB", (int(raw_w * scale), int(raw_h * scale)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise PhotoRefused("corrupt") from exc
    if image.getexif().get(0x0112, 1) != 1:
        image = ImageOps.exif_transpose(image) or image
    image = _to_srgb(image)
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


class MediaStore:
    """Stored photos on disk (MEDIA_DIR), content-addressed, with a `photo` row each.

    A file and its row are written, checked and removed under the photo's lock
    (`lock_photo`), so an erasure and someone sending the same photo again never cross.
    """

    def __init__(self, root: Path, db: Database, max_bytes: int = MAX_BYTES) -> None:
        self.root = Path(root)
        self.db = db
        self.max_bytes = max_bytes
        self._sweep_partial()
        db.after_commit(self._delete_released)

    def _sweep_partial(self, older_than: float = 3600.0) -> None:
        """Remove temporary files a crash left half-written (an hour old: nobody is on them)."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than
        for leftover in self.root.glob("*.part"):
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def ingest(self, data: bytes) -> PhotoRef | RejectedPhoto:
        """Check and store one uploaded file; a refusal says why, in a catalog reason."""
        try:
            photo = process(data, self.root, self.max_bytes)
        except PhotoRefused as refused:
            return RejectedPhoto(refused.reason)
        try:
            self._store(photo)
        finally:
            photo.discard()  # nothing left behind when storing failed
        return PhotoRef(
            sha256=photo.sha256,
            width=photo.width,
            height=photo.height,
            blurry=photo.quality.blurry,
            dark=photo.quality.dark,
            washed_out=photo.quality.washed_out,
        )

    def ingest_file(self, path: Path) -> PhotoRef | RejectedPhoto:
        """Like `ingest`, from a file: only a regular file, and never more than the limit read.

        A device (/dev/zero), pipe or directory is refused before it is opened: opening some
        devices does something, and reading others never ends.
        """
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                return RejectedPhoto("not_image")
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
            with os.fdopen(fd, "rb") as handle:
                status = os.fstat(handle.fileno())  # the file opened, not what the path was
                if not stat.S_ISREG(status.st_mode):
                    return RejectedPhoto("not_image")
                if status.st_size > self.max_bytes:
                    return RejectedPhoto("too_big")
                data = handle.read(self.max_bytes + 1)  # it may have grown since
        except OSError:
            return RejectedPhoto("not_image")
        return self.ingest(data)

    def _store(self, photo: Processed) -> None:
        """Give the photo its row and move its file to its content address, under its lock."""
        try:
            with self.db.session() as session:
                lock_photo(session, photo.sha256)
                if session.get(Photo, photo.sha256) is None:
                    session.add(
                        Photo(
                            sha256=photo.sha256,
                            width=photo.width,
                            height=photo.height,
                            size_bytes=photo.size_bytes,
                        )
                    )
                    session.flush()
                target = self.path(photo.sha256)
                target.parent.mkdir(parents=True, exist_ok=True)
                # Even over the same photo: its file may be one an erasure is about to remove.
                os.replace(photo.temp_path, target)
        except IntegrityError:
            pass  # stored by a concurrent upload of the same photo

    def delete(self, sha256: str) -> bool:
        """Remove a photo's file if no `photo` row names it (any more); True if it went."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a photo's sha256")
        with self.db.session() as session:
            lock_photo(session, sha256)
            if session.get(Photo, sha256) is not None:
                return False
            self.path(sha256).unlink(missing_ok=True)
        return True

    def _delete_released(self, info: Mapping[Any, Any]) -> None:
        """After an erasure commits: remove the files of the photos whose rows it deleted."""
        for sha256 in sorted(info.get(RELEASED, ())):
            try:
                self.delete(sha256)
            except Exception:  # the others still go; this one is left as a file without a row
                log.exception("could not remove an erased photo's file")
