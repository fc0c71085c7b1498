"""Issue 12 on real images: memory per photo is bounded, lies and metadata do not get through.

Memory is measured in a fresh Python per image (its peak resident size, which only grows),
so one test's images do not hide another's; the figures per format are in `make bench`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from bot.app import App
from bot.media import MediaStore
from bot.photo_pipeline import MAX_SIDE
from flows.messages import PhotoRef, RejectedPhoto
from tests import images

pytestmark = pytest.mark.any_backend  # images, not rows

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def stored_files(media_dir: Path) -> list[Path]:
    return sorted(f for f in media_dir.rglob("*") if f.is_file()) if media_dir.exists() else []


# ru_maxrss will not do: Linux carries the parent's high-water mark over into the child.
PEAK = """
import json, sys, tempfile
from pathlib import Path
from bot.photo_pipeline import PhotoRefused, process

def status(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))

data = Path(sys.argv[1]).read_bytes()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the high-water mark starts again from here
before = status("VmRSS:")
try:
    photo = process(data, Path(tempfile.mkdtemp()))
    outcome = [photo.width, photo.height]
except PhotoRefused as refused:
    outcome = refused.reason
print(json.dumps({"outcome": outcome, "extra_kb": status("VmHWM:") - before}))
"""


def peak_while_processing(path: Path) -> tuple[object, float]:
    """(what came of the photo, MB of peak resident memory beyond loading the file)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    return result["outcome"], result["extra_kb"] / 1024


BIG_IMAGES = {  # name: (the file, made when the test runs; what processing it comes to)
    "jpeg_8000": (lambda: images.gradient_jpeg(), [MAX_SIDE, MAX_SIDE]),
    "multi_picture_jpeg_12mp": (images.multi_picture_jpeg, [2000, 1500]),
    "progressive_jpeg_8000": (lambda: images.gradient_jpeg(progressive=True), "too_large"),
    "png_rgba_8000": (lambda: images.flat_rgba_png(), "too_large"),
    "webp_8000": (lambda: images.flat_webp(), "too_large"),
    "png_rgba_5700": (lambda: images.flat_rgba_png(5700, 5700), [MAX_SIDE, MAX_SIDE]),
    "progressive_jpeg_5000": (
        lambda: images.gradient_jpeg(5000, 5000, progressive=True),
        [2000, 2000],
    ),
    "webp_2800": (lambda: images.flat_webp(2800, 2800), [MAX_SIDE, MAX_SIDE]),
    "webp_4000": (lambda: images.flat_webp(4000, 4000), "too_large"),
}


@pytest.mark.slow
@pytest.mark.timeout(300)  # a fresh Python decoding a big image on a busy machine
@pytest.mark.parametrize("name", list(BIG_IMAGES))
def test_one_big_image_costs_a_bounded_amount_of_memory(tmp_path: Path, name: str) -> None:
    """An 8000 x 8000 image of any format, or the largest we decode whole, stays under 200 MB."""
    make, expected = BIG_IMAGES[name]
    path = tmp_path / name
    path.write_bytes(make())
    outcome, extra_mb = peak_while_processing(path)
    assert outcome == expected, name
    assert extra_mb < 200, f"{name}: {extra_mb:.0f} MB"


def test_strips_join_into_what_one_whole_resize_gives() -> None:
    from PIL import ImageChops

    from bot.photo_pipeline import _shrunk

    for size, out in [((5000, 3750), (2000, 1500)), ((3001, 2999), (2000, 1999))]:
        image = images.scene(*size)
        stripped, whole = _shrunk(image, out), image.resize(out, Image.Resampling.LANCZOS)
        assert all(high <= 1 for _, high in ImageChops.difference(stripped, whole).getextrema())


def test_transparent_cut_out_is_reduced_without_dark_fringes(app: App) -> None:
    """16 MP RGBA is reduced in strips, alpha premultiplied: the disc's edge stays white."""
    ref = app.media.ingest(images.transparent_png_4000())
    assert isinstance(ref, PhotoRef) and (ref.width, ref.height) == (MAX_SIDE, MAX_SIDE)
    with Image.open(app.media.files.path_for(ref.sha256)) as image:
        darkest = min(image.convert("L").getextrema())
    assert darkest >= 240  # transparent black must not bleed grey into the edge


@pytest.mark.parametrize(
    ("width", "height", "progressive"),
    [(8000, 8000, False), (4000, 3000, True), (2000, 1500, False), (2000, 1500, True)],
)
def test_jpeg_whose_data_runs_out_is_refused_as_not_whole(
    app: App, width: int, height: int, progressive: bool
) -> None:
    result = app.media.ingest(images.lying_jpeg(width, height, progressive))
    assert result == RejectedPhoto("corrupt")
    assert stored_files(app.settings.media_dir) == []


def test_truncated_images_are_never_padded() -> None:
    import bot.app  # noqa: F401  everything the bot imports is imported

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.slow
def test_the_owner_is_told_what_went_wrong_and_what_to_send(app: App, tmp_path: Path) -> None:
    from tests.conftest import Chat
    from tests.test_console_jsonl import PHONE, run_lines
    from tests.test_registration import register

    register(Chat(app.runner, PHONE, phone=PHONE))
    lying, huge_png = tmp_path / "foto.jpg", tmp_path / "besar.png"
    lying.write_bytes(images.lying_jpeg(8000, 8000))
    huge_png.write_bytes(images.flat_rgba_png())
    lines = [json.dumps({"photo": str(path)}).encode() for path in (lying, huge_png)]
    outputs, stderr = run_lines(app, lines)
    assert "tidak terkirim penuh" in outputs[0]["replies"][-1]["text"]
    assert "bukan sebagai file" in outputs[1]["replies"][-1]["text"]
    assert "Traceback" not in stderr
    assert stored_files(app.settings.media_dir) == []


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's segments, from SOI to the first scan."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while True:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")


@pytest.mark.parametrize(
    "make",
    [
        images.jpeg_with_private_metadata,
        lambda: images.jpeg_with_private_metadata(icc=True),
        images.png_with_private_text,
        images.webp_with_private_metadata,
    ],
    ids=["jpeg", "jpeg_icc", "png", "webp"],
)
def test_stored_photo_carries_no_metadata_at_all(app: App, make) -> None:  # type: ignore[no-untyped-def]
    original = make()
    assert images.NAME.encode() in original  # the metadata is really there to begin with
    ref = app.media.ingest(original)
    assert isinstance(ref, PhotoRef)
    data = app.media.files.path_for(ref.sha256).read_bytes()
    for secret in (images.NAME, images.PHONE, "7.45,112.71", images.SCRIPT, "PhoneMaker"):
        assert secret.encode() not in data, secret
    for marker in (b"Exif", b"ICC_PROFILE", b"http://ns.adobe.com", b"xmpmeta"):
        assert marker not in data, marker
    # only the JFIF header, tables and the frame: no APP1..15, no comment (COM = 0xFE)
    allowed = {0xE0, 0xDB, 0xC4, 0xC0, 0xDD, 0xDA}
    assert set(jpeg_segments(data)) <= allowed
    with Image.open(app.media.files.path_for(ref.sha256)) as image:
        assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
        assert len(image.getexif()) == 0


def test_media_route_forbids_sniffing_and_scripts(app: App) -> None:
    from bot.web import create_web_app
    from tests.served import Served, free_port

    ref = app.media.ingest(images.sharp())
    assert isinstance(ref, PhotoRef)
    served = Served(create_web_app(app), free_port())
    try:
        photo = served.http.get(f"{served.base}/media/{ref.sha256}.jpg")
        missing = served.http.get(f"{served.base}/media/{'0' * 64}.jpg")
    finally:
        served.stop()
    assert (
        photo.status_code == 200
        and photo.content == app.media.files.path_for(ref.sha256).read_bytes()
    )
    assert missing.status_code == 404
    for answer in (photo, missing):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert photo.headers["content-type"] == "image/jpeg"


def test_at_most_the_configured_number_of_photos_are_worked_on_at_once(app: App) -> None:
    store = MediaStore(app.settings.media_dir, app.db, concurrency=2)
    results: list[object] = []
    with store.gate.slot(), store.gate.slot():  # both places taken
        worker = threading.Thread(target=lambda: results.append(store.ingest(images.sharp())))
        worker.start()
        assert store.gate.wait_for(lambda g: g.waiting == 1, timeout=30)
        assert results == [] and stored_files(app.settings.media_dir) == []
    worker.join(timeout=60)
    assert isinstance(results[0], PhotoRef)
    # many at once: all stored, never more than two decoding together
    threads = [
        threading.Thread(target=lambda s=seed: results.append(store.ingest(images.sharp(s))))
        for seed in range(2, 8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, PhotoRef) for r in results) and len(results) == 7
    assert store.gate.peak == 2 and store.gate.running == 0


def test_photo_concurrency_comes_from_the_settings(app: App) -> None:
    assert app.settings.photo_concurrency == 2
    assert app.media.gate.limit == app.settings.photo_concurrency


def test_files_are_read_up_to_the_limit_and_only_regular_ones(app: App, tmp_path: Path) -> None:
    store = MediaStore(app.settings.media_dir, app.db, max_bytes=1000)
    disguised = tmp_path / "foto.jpg"
    disguised.symlink_to("/dev/zero")
    over = tmp_path / "besar.jpg"
    over.write_bytes(b"\xff\xd8" + b"\0" * 999)  # limit + 1
    at_limit = tmp_path / "pas.jpg"
    at_limit.write_bytes(b"\xff\xd8" + b"\0" * 998)
    fifo = tmp_path / "pipa.jpg"
    os.mkfifo(fifo)
    assert store.ingest_file(disguised) == RejectedPhoto("not_image")
    assert store.ingest_file(fifo) == RejectedPhoto("not_image")
    assert store.ingest_file(over) == RejectedPhoto("too_big")
    assert store.ingest_file(at_limit) == RejectedPhoto("not_image")
    assert store.ingest_file(tmp_path / "tidak_ada.jpg") == RejectedPhoto("not_image")
    assert stored_files(app.settings.media_dir) == []
