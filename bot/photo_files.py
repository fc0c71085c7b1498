"""Where stored photos' bytes live, behind one small interface.

`LocalPhotoFiles` keeps them in a directory (MEDIA_DIR): with several processes, put it on a
volume every process mounts. An object store (S3, GCS) can be added by implementing the same
methods; files are content-addressed (named by SHA-256) and written once, so no store needs
locking beyond what the `photo` rows already do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Protocol


class PhotoFiles(Protocol):
    def put(self, sha256: str, finished: Path) -> None:
        """Take a finished JPEG (a temporary file, moved or copied in) as photo `sha256`."""

    def open(self, sha256: str) -> BinaryIO | None:
        """The photo's bytes to read, or None when it is not stored."""

    def remove(self, sha256: str) -> None:
        """Forget the photo's bytes (no error when they are already gone)."""

    def local_path(self, sha256: str) -> Path | None:
        """A path on this machine, when there is one (served with sendfile)."""


class LocalPhotoFiles:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        """Where the photo's file is (or would be)."""
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, sha256: str, finished: Path) -> None:
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(finished, target)  # even over the same photo: an erasure may be removing it

    def open(self, sha256: str) -> BinaryIO | None:
        try:
            return self.path_for(sha256).open("rb")
        except FileNotFoundError:
            return None

    def remove(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def local_path(self, sha256: str) -> Path | None:
        path = self.path_for(sha256)
        return path if path.exists() else None
