"""The photo pipeline on real images: what is refused, what is stored, and how."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.app import App
from bot.photo_pipeline import BLUR_VARIANCE, measure, process
from flows.messages import PhotoRef, RejectedPhoto
from tests import images


def stored_files(media_dir: Path) -> list[Path]:
    """Every file under MEDIA_DIR, temporary ones included."""
    return sorted(f for f in media_dir.rglob("*") if f.is_file()) if media_dir.exists() else []


@pytest.mark.any_backend
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (images.tiny, "too_small"),
        (images.bomb, "bomb"),
        (images.truncated, "corrupt"),
        (images.text_named_jpg, "not_image"),
        (images.huge_file, "too_big"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(app: App, data, reason: str) -> None:  # type: ignore[no-untyped-def]
    result = app.media.ingest(data())
    assert result == RejectedPhoto(reason)
    assert stored_files(app.settings.media_dir) == []


def test_good_photo_is_stored_once_as_clean_jpeg(app: App) -> None:
    first = app.media.ingest(images.sharp())
    again = app.media.ingest(images.sharp())
    assert isinstance(first, PhotoRef) and first == again
    [path] = stored_files(app.settings.media_dir)
    data = path.read_bytes()
    assert path.name == f"{hashlib.sha256(data).hexdigest()}.jpg" == f"{first.sha256}.jpg"
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (first.width, first.height) == (1600, 1200)
    assert not (first.blurry or first.dark or first.washed_out)


@pytest.mark.any_backend
def test_exif_orientation_applied_and_all_metadata_stripped(app: App) -> None:
    ref = app.media.ingest(images.rotated_with_gps())
    assert isinstance(ref, PhotoRef)
    with Image.open(app.media.files.path_for(ref.sha256)) as image:
        assert image.size == (1200, 1600)  # turned upright
        assert len(image.getexif()) == 0 and "exif" not in image.info
        assert image.getpixel((1100, 50))[0] > 200  # the red corner is now top-right
        assert image.getpixel((50, 50))[0] < 255 or image.getpixel((50, 50))[1] > 50


@pytest.mark.any_backend
def test_twelve_megapixels_are_reduced_to_2000px(app: App) -> None:
    ref = app.media.ingest(images.twelve_megapixel())
    assert isinstance(ref, PhotoRef)
    assert max(ref.width, ref.height) == 2000
    assert app.media.files.path_for(ref.sha256).stat().st_size <= 5 * 1024 * 1024


@pytest.mark.any_backend
def test_iphone_heic_is_stored_as_jpeg(app: App) -> None:
    ref = app.media.ingest(images.heic())
    assert isinstance(ref, PhotoRef) and (ref.width, ref.height) == (1200, 900)
    with Image.open(app.media.files.path_for(ref.sha256)) as image:
        assert image.format == "JPEG"


@pytest.mark.any_backend
def test_png_transparency_becomes_white(app: App) -> None:
    ref = app.media.ingest(images.transparent_png())
    assert isinstance(ref, PhotoRef)
    with Image.open(app.media.files.path_for(ref.sha256)) as image:
        assert image.getpixel((5, 5)) >= (250, 250, 250)


def test_blur_threshold_separates_sharp_from_blurred() -> None:
    """Calibration: sharp scenes sit well above the threshold, blurred ones well below."""
    for seed in range(1, 6):
        sharp = measure(Image.open(io.BytesIO(images.sharp(seed))))
        blurred = measure(Image.open(io.BytesIO(images.blurred(seed))))
        assert sharp.sharpness > 5 * BLUR_VARIANCE
        assert blurred.sharpness < BLUR_VARIANCE / 2


def test_quality_report_flags_blurry_and_dark(tmp_path: Path) -> None:
    blurry = process(images.blurred(), tmp_path).quality
    dark = process(images.dark(), tmp_path).quality
    assert blurry.blurry and not blurry.dark
    assert dark.dark


@pytest.mark.any_backend
def test_half_written_files_from_a_crash_are_swept(app: App, tmp_path: Path) -> None:
    import os

    from bot.media import MediaStore

    root = app.settings.media_dir
    root.mkdir(parents=True, exist_ok=True)
    old, fresh = root / "tmpold.part", root / "tmpnew.part"
    old.write_bytes(b"half a jpeg")
    fresh.write_bytes(b"being written right now")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    MediaStore(root, app.db)
    assert not old.exists() and fresh.exists()
