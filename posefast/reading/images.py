"""Loading images as RGB, safely, and no larger than needed.

An image is a path, a PIL image or an (H, W, 3) uint8 array: height, width, then
the channels, in RGB order unless ``channels="bgr"`` says it is BGR (what OpenCV's
``cv2.imread`` and ``VideoCapture`` give). Files are decoded
with Pillow; JPEGs larger than the size they will be resized to are decoded at
reduced scale (Pillow's draft mode: the JPEG decoder skips the fine DCT
coefficients), which is several times cheaper than decoding in full and shrinking.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Literal, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .files import special_kind

#: File extensions treated as images when a folder is expanded (lower case).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)

#: Images with more pixels than this are refused rather than decoded (decompression
#: bombs: a small file that expands to gigabytes). 100 megapixels is 300 MB as RGB.
DEFAULT_MAX_PIXELS = 100_000_000

@dataclass(frozen=True)
class EncodedImage:
    """An image file's bytes, already read (from an object store, a Ray dataset, ...),
    decoded exactly as the file ``source`` would be (draft mode, EXIF orientation)."""

    data: bytes
    source: str


ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray, EncodedImage]
#: The channel order of an array input: "rgb" (NumPy from Pillow, PyAV's rgb24,
#: imageio) or "bgr" (OpenCV).
Channels = Literal["rgb", "bgr"]
CHANNELS = ("rgb", "bgr")
#: (width, height) an image will be resized to, or a function of its (width, height) giving it.
TargetSize = Union[tuple[int, int], Callable[[int, int], tuple[int, int]], None]


class ImageLoadError(ValueError):
    """An input could not be read as an image; the message names it and says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready to resize.

    ``image`` may be smaller than the original when it was decoded at reduced
    scale; ``width`` and ``height`` are always the ORIGINAL size in pixels, the
    frame keypoints are reported in.
    """

    image: Image.Image  # mode "RGB"
    width: int
    height: int
    source: str


def describe(image: ImageInput) -> str:
    """A short name for an image input, for records and error messages."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if isinstance(image, Image.Image):
        return getattr(image, "filename", "") or "<PIL image>"
    if isinstance(image, EncodedImage):
        return image.source
    return "<array>"


def load_image(image: ImageInput, *, target_size: TargetSize = None,
               max_pixels: int = DEFAULT_MAX_PIXELS, channels: Channels = "rgb") -> LoadedImage:
    """Load ``image`` as RGB.

    Args:
        image: a path, a PIL image, or an (H, W, 3) uint8 array, height x width x
            channels (HWC), 0..255 (not copied more than Pillow needs).
        target_size: (width, height) in pixels the image will be resized to, or
            a function of the image's (width, height) returning it; a JPEG file
            larger than that in both directions is decoded at the smallest
            reduced scale (1/2, 1/4, 1/8) that is still at least that large.
        max_pixels: refuse images with more pixels than this.
        channels: the channel order of an array: "rgb" (the default) or "bgr"
            (OpenCV's ``cv2.imread``). Files and PIL images carry their own
            colour mode and ignore it. BGR read as RGB swaps red and blue, and the
            network finds fewer people, less surely.

    Raises:
        ImageLoadError: naming the input and the reason (missing, empty, not an
            image, corrupt or truncated, too large).
        ValueError: an array of the wrong shape or dtype, or ``channels`` neither
            "rgb" nor "bgr".
    """
    if channels not in CHANNELS:
        raise ValueError(f"channels must be 'rgb' or 'bgr', got {channels!r}")
    if isinstance(image, np.ndarray):
        return _from_array(image[:, :, ::-1] if channels == "bgr" and image.ndim == 3
                           else image, max_pixels)
    if isinstance(image, Image.Image):
        _check_size(describe(image), image.width, image.height, max_pixels)
        rgb = image if image.mode == "RGB" else _to_rgb(image)
        return LoadedImage(rgb, image.width, image.height, describe(image))
    if isinstance(image, (str, os.PathLike)):
        return _from_file(Path(image), target_size, max_pixels)
    if isinstance(image, EncodedImage):
        if not image.data:
            raise ImageLoadError(image.source, "empty file")
        return _decode(io.BytesIO(image.data), image.source, target_size, max_pixels)
    raise TypeError(
        f"image must be a path, a PIL.Image.Image, an EncodedImage or an (H, W, 3) uint8 array, "
        f"got {type(image).__name__}"
    )


def _from_array(array: np.ndarray, max_pixels: int) -> LoadedImage:
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"image array must have shape (H, W, 3) and dtype uint8 (RGB, or BGR with "
            f"channels='bgr'), "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    h, w = array.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"image array is empty: shape {array.shape}")
    _check_size("<array>", w, h, max_pixels)
    return LoadedImage(Image.fromarray(np.ascontiguousarray(array), "RGB"), w, h, "<array>")


def _from_file(path: Path, target_size: TargetSize,
               max_pixels: int) -> LoadedImage:
    source = os.fspath(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(source, "no such file") from None
    except OSError as exc:
        raise ImageLoadError(source, f"cannot read ({exc.strerror or exc})") from None
    kind = special_kind(st.st_mode)
    if kind is not None:  # (never opened: a FIFO would block, /dev/zero never end)
        raise ImageLoadError(source, f"is {kind}, not an image file")
    if st.st_size == 0:
        raise ImageLoadError(source, "empty file")
    return _decode(path, source, target_size, max_pixels)


def _decode(path: Path | IO[bytes], source: str, target_size: TargetSize,
            max_pixels: int) -> LoadedImage:
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        # Pillow refuses images over twice its own limit when it opens them, before
        # our check could say anything: raised (never lowered) to the limit asked for
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is the check; Pillow's warning would be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size  # from the header; nothing decoded yet
                _check_size(source, width, height, max_pixels)
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
                if orientation not in _TRANSPOSE:
                    orientation = 1
                if target_size is not None and im.format == "JPEG":
                    upright = (height, width) if orientation >= 5 else (width, height)
                    tw, th = target_size(*upright) if callable(target_size) else target_size
                    tw, th = max(1, tw), max(1, th)
                    im.draft("RGB", (th, tw) if orientation >= 5 else (tw, th))
                rgb = _to_rgb(im)  # decodes; raises on corrupt or truncated data
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(source, "not an image Pillow can read" + _video_hint(source)) from None
    except Image.DecompressionBombError as exc:
        # (over twice Pillow's limit, which is above ours: found when the header was read)
        size = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageLoadError(source, f"image too large to decode safely: "
                                     f"{size.group(1) if size else 'too many'} pixels "
                                     f"(limit {max_pixels})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data as OSError ("image file is
        # truncated", "broken data stream") and some malformed headers as SyntaxError.
        raise ImageLoadError(source, f"corrupt or truncated image ({exc})") from None
    if orientation != 1:
        # Camera photos store pixels sideways with an EXIF tag saying how to turn
        # them; people (and keypoints) are upright only after turning.
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return LoadedImage(rgb, width, height, source)


def _video_hint(source: str) -> str:
    from .video import is_video_path

    if not is_video_path(source):
        return ""
    return ("; it is named as a video: pose its frames with "
            "posefast.reading.video.iter_frames(path) (each frame.pixels an RGB array "
            "for PoseEstimator.estimate), or with `posefast predict` / `posefast run`")


def _to_rgb(im: Image.Image) -> Image.Image:
    """``im`` as 8-bit RGB. Pillow's own conversion clips 16-bit and 32-bit grey
    (modes I;16*, I) at 255, so that a 16-bit PNG became a white image; their values
    are scaled down to 8 bits instead."""
    if im.mode.startswith("I;16") or im.mode == "I":
        values = np.asarray(im)
        if im.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = np.clip(values.astype(np.int64), 0, 65535) // 257  # 65535 -> 255
        grey = np.clip(values, 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2), "RGB")
    return im.convert("RGB")


_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _check_size(source: str, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageLoadError(source, f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageLoadError(
            source,
            f"image too large to decode safely: {width}x{height} = {width * height} pixels "
            f"(limit {max_pixels})",
        )


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an image file extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS
