"""Images the tests make: product-like scenes, sharp or blurred, dark, tiny, rotated, hostile."""

from __future__ import annotations

import functools
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


@functools.cache  # the same bytes every time: made once per test process
def sharp(seed: int = 1) -> bytes:
    return jpeg(scene(seed=seed))


@functools.cache  # the same bytes every time: made once per test process
def blurred(seed: int = 1, radius: float = 4) -> bytes:
    return jpeg(scene(seed=seed).filter(ImageFilter.GaussianBlur(radius)))


@functools.cache  # the same bytes every time: made once per test process
def dark(seed: int = 1) -> bytes:
    return jpeg(scene(seed=seed).point(lambda v: v // 6))


@functools.cache  # the same bytes every time: made once per test process
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


# Hostile and oversized images (issue 12): what a decode would cost, lies, hidden metadata.

NAME, PHONE, GPS, SCRIPT = "Sri Wahyuni", "+6281234567890", "GPS -7.45,112.71", "<script>"
PRIVATE = f"{NAME} {PHONE} {GPS} {SCRIPT}alert(1)</script>"


def flat_rgba_png(width: int = 8000, height: int = 8000) -> bytes:
    """A few hundred kB of PNG that decodes to width x height RGBA (8000: 256 MB of pixels)."""
    return png(Image.new("RGBA", (width, height), (10, 200, 30, 128)))


def flat_webp(width: int = 8000, height: int = 8000) -> bytes:
    """A few kB of lossless WebP that decodes to width x height pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


def gradient_jpeg(width: int = 8000, height: int = 8000, **save: object) -> bytes:
    """A big JPEG quick to make: a gradient with some noise, so it is not flat. The noise is
    made at a quarter of the size and scaled up (2 s less for 8000 x 8000; still 13 MB)."""
    gray = Image.linear_gradient("L").resize((width, height))
    small = Image.effect_noise((max(1, width // 4), max(1, height // 4)), 30)
    noise = small.resize((width, height), Image.Resampling.NEAREST)
    image = Image.merge("RGB", (gray, Image.blend(gray, noise, 0.3), noise))
    return jpeg(image, quality=85, **save)


def multi_picture_jpeg() -> bytes:
    """12 MP with a second picture after it (MPO), as phones save Ultra HDR gain maps."""
    buffer = io.BytesIO()
    scene(4000, 3000).save(
        buffer, "MPO", save_all=True, append_images=[scene(1000, 750, seed=2)], quality=85
    )
    return buffer.getvalue()


def lying_jpeg(width: int, height: int, progressive: bool = False) -> bytes:
    """A whole 640 x 480 JPEG whose frame header claims width x height: the data runs out."""
    data = bytearray(jpeg(scene(640, 480, seed=9), progressive=progressive))
    at = 2
    while data[at + 1] not in (0xC0, 0xC1, 0xC2):  # walk the segments to the frame header
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def transparent_png_4000() -> bytes:
    """16 MP RGBA: a near-white disc on transparent black (the pixels of a cut-out product)."""
    image = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((400, 400, 3600, 3600), fill=(250, 250, 250, 255))
    return png(image)


def jpeg_with_private_metadata(icc: bool = False) -> bytes:
    """A JPEG with a comment, EXIF (GPS, owner, camera), XMP and maybe an sRGB ICC profile."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x013B] = PRIVATE  # Artist
    exif[0x010E] = PRIVATE  # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (7.0, 27.0, 0.0), "E", (112.0, 43.0, 0.0)
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        f'22-rdf-syntax-ns#"><rdf:Description>{PRIVATE}</rdf:Description></rdf:RDF></x:xmpmeta>'
    ).encode()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() if icc else None
    return jpeg(
        scene(1600, 1200, seed=4), comment=PRIVATE.encode(), exif=exif, xmp=xmp, icc_profile=profile
    )


def png_with_private_text() -> bytes:
    """A PNG with tEXt, zTXt and iTXt chunks holding a name, a phone number and a script."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", PRIVATE)
    info.add_text("Author", PRIVATE)
    info.add_text("Description", PRIVATE, zip=True)
    info.add_itxt("Comment", PRIVATE, lang="id", tkey="Komentar")
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{PRIVATE}</x:xmpmeta>")
    buffer = io.BytesIO()
    scene(1200, 900, seed=5).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def webp_with_private_metadata() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = PRIVATE
    buffer = io.BytesIO()
    scene(1200, 900, seed=6).save(
        buffer, "WEBP", quality=85, exif=exif, xmp=f"<x:xmpmeta>{PRIVATE}</x:xmpmeta>".encode()
    )
    return buffer.getvalue()
