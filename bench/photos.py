"""Time per 12 MP JPEG through the photo pipeline, against a bare full Pillow decode.

Run: `make bench` (or `.venv/bin/python bench/photos.py`). Goal: the pipeline is no slower
than a bare full decode of the same file, thanks to JPEG draft (DCT-scaled) decoding and to
the quality analysis running while the JPEG is encoded into its file.

The pipeline's time includes everything up to a stored-ready file: checks, decode,
orientation, sRGB, resize, quality analysis, encode, write and SHA-256. Runs alternate
between the two so that machine noise hits both alike.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import ImageFilter

from bot.media import process
from tests.images import jpeg, scene, twelve_megapixel

ROUNDS = 11


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


def main() -> None:
    run("noisy (phone sensor noise)", [twelve_megapixel(seed) for seed in (1, 2, 3)])
    run("smooth (clean shot)", [smooth_twelve_megapixel(seed) for seed in (1, 2, 3)])


if __name__ == "__main__":
    main()
