"""Stored photos: the pipeline's JPEGs (bot/photo_pipeline.py) on disk, a `photo` row each."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.exc import IntegrityError

from bot.photo_files import LocalPhotoFiles, PhotoFiles
from bot.photo_pipeline import (
    MAX_BYTES,
    Gate,
    PhotoRefused,
    Processed,
    give_memory_back,
    map_big_allocations,
    process,
)
from bot.storage.database import Database
from bot.storage.models import Photo
from bot.storage.photos import RELEASED, lock_photo
from flows.messages import PhotoRef, RejectedPhoto

_SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger(__name__)


class MediaStore:
    """Stored photos on disk (MEDIA_DIR), content-addressed, with a `photo` row each.

    A file and its row are written, checked and removed under the photo's lock
    (`lock_photo`), so an erasure and someone sending the same photo again never cross.
    """

    def __init__(
        self, root: Path, db: Database, max_bytes: int = MAX_BYTES, concurrency: int = 2
    ) -> None:
        self.root = Path(root)
        self.files: PhotoFiles = LocalPhotoFiles(self.root)
        self.db = db
        self.max_bytes = max_bytes
        self.gate = Gate(concurrency, on_idle=give_memory_back)
        map_big_allocations()
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

    def open(self, sha256: str) -> BinaryIO | None:
        """A stored photo's JPEG bytes to read, or None when it is not (any more) stored."""
        return self.files.open(sha256) if _SHA256.fullmatch(sha256) else None

    def read(self, sha256: str) -> bytes | None:
        handle = self.open(sha256)
        if handle is None:
            return None
        with handle:
            return handle.read()

    def ingest(self, data: bytes) -> PhotoRef | RejectedPhoto:
        """Check and store one uploaded file; a refusal says why, in a catalog reason."""
        try:
            with self.gate.slot():
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
                # Even over the same photo: its file may be one an erasure is about to remove.
                self.files.put(photo.sha256, photo.temp_path)
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
            self.files.remove(sha256)
        return True

    def _delete_released(self, info: Mapping[Any, Any]) -> None:
        """After an erasure commits: remove the files of the photos whose rows it deleted."""
        for sha256 in sorted(info.get(RELEASED, ())):
            try:
                self.delete(sha256)
            except Exception:  # the others still go; this one is left as a file without a row
                log.exception("could not remove an erased photo's file")
