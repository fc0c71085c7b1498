"""Images the tests make: product-like scenes, sharp or blurred, dark, tiny, rotated, hostile."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def scene(width: int = 1600, height: int = 1200, seed: int = 1) -> Image.Image:
    """A product on a table: shapes, edges and some texture, like a phone photo."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (200, 180, 150))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(20, width // 4), rng.randrange(20, height // 4)
        color = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=color, outline=(0, 0, 0), width=3)
        else:
            draw.ellipse((x, y, x + w, y + h), fill=color, outline=(20, 20, 20), width=3)
    for i in range(0, width, 24):
        draw.line((i, 0, i, height), fill=(90, 70, 50), width=1)
    return image


def jpeg(image: Image.Image, quality: int = 90, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **save)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def sharp(seed: int = 1) -> bytes:
    return jpeg(scene(seed=seed))


def blurred(seed: int = 1, radius: float = 4) -> bytes:
    return jpeg(scene(seed=seed).filter(ImageFilter.GaussianBlur(radius)))


def dark(seed: int = 1) -> bytes:
    return jpeg(scene(seed=seed).point(lambda v: v // 6))


def tiny() -> bytes:
    return jpeg(scene(400, 300))


def twelve_megapixel(seed: int = 3) -> bytes:
    """A 4000 x 3000 photo with sensor-like noise, so decoding costs what a real one does."""
    image = scene(4000, 3000, seed=seed)
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    return jpeg(Image.blend(image, noise, 0.15), quality=92)


def rotated_with_gps() -> bytes:
    """Stored sideways (1600x1200) with EXIF orientation 6 (rotate 90° CW) and GPS tags."""
    image = scene(1600, 1200)
    ImageDraw.Draw(image).rectangle((0, 0, 200, 200), fill=(255, 0, 0))  # red corner marker
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (7.0, 27.0, 0.0), "E", (112.0, 43.0, 0.0)
    return jpeg(image, exif=exif)


def heic() -> bytes:
    buffer = io.BytesIO()
    scene(1200, 900, seed=7).save(buffer, "HEIF", quality=80)
    return buffer.getvalue()


def transparent_png() -> bytes:
    image = Image.new("RGBA", (800, 800), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((100, 100, 700, 700), fill=(200, 30, 30, 255))
    return png(image)


def bomb() -> bytes:
    """A tiny PNG that claims 30,000 x 30,000 pixels."""
    return png(Image.new("1", (30000, 30000)))


def truncated() -> bytes:
    data = sharp(seed=5)
    return data[: len(data) // 2]


def text_named_jpg() -> bytes:
    return b"Ini bukan foto, cuma teks.\n" * 100


def huge_file() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\0" * (25 * 1024 * 1024)
