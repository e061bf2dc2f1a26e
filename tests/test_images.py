"""Loading images: every input kind, reduced-scale JPEG decoding, and bad files."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from posefast.reading.images import ImageLoadError, load_image

from conftest import IMAGES


def test_path_pil_and_array_give_the_same_pixels(shared_data):
    path = IMAGES / "standing.png"
    from_path = load_image(path)
    from_pil = load_image(Image.open(path))
    array = np.asarray(Image.open(path).convert("RGB"))
    from_array = load_image(array)
    for loaded in (from_path, from_pil, from_array):
        assert (loaded.width, loaded.height) == (640, 480)
        assert loaded.image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(loaded.image), array)
    assert from_path.source == str(path)


def test_large_jpeg_is_decoded_at_reduced_scale_but_reports_its_full_size(shared_data):
    loaded = load_image(IMAGES / "couple.jpg", target_size=(641, 481))
    assert (loaded.width, loaded.height) == (1920, 1278)
    # 1/2 scale is the smallest that still covers 641x481; 1/4 (480x320) would not.
    assert loaded.image.size == (960, 639)
    # a function of the image size is also accepted (letterbox needs one)
    seen = []
    loaded = load_image(IMAGES / "couple.jpg",
                        target_size=lambda w, h: seen.append((w, h)) or (200, 100))
    assert seen == [(1920, 1278)] and loaded.image.size == (240, 160)
    # PNGs have no reduced-scale decoding: full size whatever the target
    assert load_image(IMAGES / "standing.png", target_size=(64, 48)).image.size == (640, 480)


def test_exif_orientation_turns_the_image_upright(tmp_path):
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 0, 10, 20))  # blue left quarter
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (20, 40)
    pixels = np.asarray(loaded.image)
    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 10, 2] > 200 and pixels[-2, 10, 0] > 200  # blue now on top


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"this is not an image\n", "not an image"),
])
def test_bad_files_name_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_truncated_and_missing_files(tmp_path, shared_data):
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((IMAGES / "couple.jpg").read_bytes()[:30000])
    with pytest.raises(ImageLoadError, match="cut.jpg: corrupt or truncated"):
        load_image(truncated)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_images_too_large_are_refused_before_decoding(tmp_path):
    # One colour compresses to almost nothing: a small file that decodes to much memory.
    path = tmp_path / "bomb.png"
    Image.new("L", (3000, 2000)).save(path, "PNG")
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageLoadError, match="bomb.png: image too large to decode safely: 3000x2000"):
        load_image(path, max_pixels=1_000_000)
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=9999)


def test_bad_arrays_and_types_are_value_and_type_errors():
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\) and dtype uint8"):
        load_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="dtype float32"):
        load_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(TypeError, match="path, a PIL.Image.Image"):
        load_image(42)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that is only its signature, header and end: a size, no pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_an_image_far_over_the_limit_says_its_size_and_the_limit(tmp_path):
    """Over twice Pillow's own limit (179 million pixels), Pillow refused the image as
    it opened it, before our check: the message was Pillow's ("could be decompression
    bomb DOS attack"), and a higher max_pixels could not let such an image through."""
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(20000, 20000))
    with pytest.raises(ImageLoadError,
                       match=r"huge.png: image too large to decode safely: 400000000 pixels "
                             r"\(limit 100000000\)"):
        load_image(path)
    # let through by a higher limit: what fails now is the missing pixel data
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(path, max_pixels=500_000_000)
