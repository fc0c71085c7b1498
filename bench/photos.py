"""The photo pipeline: time per 12 MP JPEG against a bare full Pillow decode; memory per image.

Run: `make bench` (or `.venv/bin/python bench/photos.py`). Goals: the pipeline is no slower
than a bare full decode of the same file, thanks to JPEG draft (DCT-scaled) decoding and to
the quality analysis running while the JPEG is encoded into its file; one 8000 x 8000 image
of any format costs under 200 MB at its peak, and the memory goes back afterwards.

Memory is measured in a fresh Python per image, through MediaStore.ingest (its gate, its
SQLite row, its file): "peak" is the resident size at its highest beyond what the process
held with the file read, "after" is what it still holds once the photo is stored.

The pipeline's time includes everything up to a stored-ready file: checks, decode,
orientation, sRGB, resize, quality analysis, encode, write and SHA-256. Runs alternate
between the two so that machine noise hits both alike.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import ImageFilter

from bot.photo_pipeline import process
from tests import images
from tests.images import jpeg, scene, twelve_megapixel

ROUNDS = 11
ROOT = Path(__file__).resolve().parent.parent


def bare_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def timed(fn, data: bytes) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(data)
    return time.perf_counter() - start


def smooth_twelve_megapixel(seed: int) -> bytes:
    """A clean studio-like shot: little sensor noise, so entropy decoding is cheap."""
    return jpeg(scene(4000, 3000, seed=seed).filter(ImageFilter.SMOOTH), quality=92)


def run(label: str, files: list[bytes]) -> None:
    decode, pipeline = [], []
    with tempfile.TemporaryDirectory() as workdir:

        def pipeline_once(data: bytes) -> None:
            process(data, Path(workdir)).discard()

        for data in files:  # warm up both
            bare_decode(data)
            pipeline_once(data)
        for _ in range(ROUNDS):
            for data in files:
                decode.append(timed(bare_decode, data))
                pipeline.append(timed(pipeline_once, data))
    d, p = statistics.median(decode), statistics.median(pipeline)
    size = sum(len(f) for f in files) / len(files) / 1e6
    print(f"{label}: 12 MP JPEG ({size:.1f} MB), median of {len(decode)} runs")
    print(f"  bare full decode : {d * 1000:7.1f} ms")
    print(f"  pelapak pipeline : {p * 1000:7.1f} ms  (checks to a stored-ready file)")
    print(f"  pipeline / decode: {p / d:5.2f}x  -> {'OK' if p <= d else 'SLOWER than decode'}")


# ru_maxrss will not do: Linux carries the parent's high-water mark over into the child.
CHILD = """
import json, sys, tempfile, threading
from pathlib import Path
from bot.media import MediaStore
from bot.storage.database import Database

def status_mb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field)) / 1024

work = Path(tempfile.mkdtemp())
db = Database(f"sqlite:///{work}/bench.db")
db.migrate()
store = MediaStore(work / "media", db, concurrency=int(sys.argv[1]))
files = [Path(p).read_bytes() for p in sys.argv[2:]]
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the high-water mark starts again from here
held = status_mb("VmRSS:")
results = []
threads = [threading.Thread(target=lambda d=d: results.append(store.ingest(d))) for d in files]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
peak = status_mb("VmHWM:") - held
outcomes = sorted({getattr(r, "reason", None) or f"{r.width}x{r.height}" for r in results})
print(json.dumps({"outcome": outcomes, "held": held, "peak": peak,
                  "after": status_mb("VmRSS:") - held}))
"""


def measured(paths: list[Path], concurrency: int = 2) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(concurrency), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def heif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buffer, "HEIF", quality=50)
    return buffer.getvalue()


def memory() -> None:
    cases = {
        "JPEG 8000x8000 (baseline)": images.gradient_jpeg(),
        "JPEG 8000x8000 (progressive)": images.gradient_jpeg(progressive=True),
        "PNG 8000x8000 RGBA (265 KB)": images.flat_rgba_png(),
        "WebP 8000x8000 (2.5 KB)": images.flat_webp(),
        "HEIC 8000x8000": heif(8000, 8000),
        "JPEG 5000x5000 (progressive)": images.gradient_jpeg(5000, 5000, progressive=True),
        "PNG 5700x5700 RGBA": images.flat_rgba_png(5700, 5700),
        "WebP 2800x2800": images.flat_webp(2800, 2800),
        "HEIC 4000x4000": heif(4000, 4000),
        "JPEG 4000x3000 (12 MP)": twelve_megapixel(1),
    }
    print("memory per image (MB): peak beyond the file read, left over after it is stored")
    with tempfile.TemporaryDirectory() as workdir:
        for label, data in cases.items():
            path = Path(workdir) / "photo"
            path.write_bytes(data)
            m = measured([path])
            verdict = "OK" if float(m["peak"]) < 200 else "OVER 200 MB"  # type: ignore[arg-type]
            print(
                f"  {label:30} {m['outcome'][0]:>10}  peak {m['peak']:6.0f}"  # type: ignore[index]
                f"  after {m['after']:6.0f}  {verdict}"
            )
        paths = []
        for i in range(8):  # eight owners, each a different 5000 x 5000 RGBA PNG, at once
            path = Path(workdir) / f"owner{i}.png"
            image = Image.new("RGBA", (5000, 5000), (10 + 30 * i, 200, 30, 128))
            image.save(path, "PNG")
            paths.append(path)
        m = measured(paths)
        print(
            f"  eight 5000x5000 RGBA PNGs at once (2 at a time): peak {m['peak']:.0f}"
            f"  after {m['after']:.0f}  (process held {m['held']:.0f} before)"
        )


def main() -> None:
    memory()
    run("noisy (phone sensor noise)", [twelve_megapixel(seed) for seed in (1, 2, 3)])
    run("smooth (clean shot)", [smooth_twelve_megapixel(seed) for seed in (1, 2, 3)])


if __name__ == "__main__":
    main()
