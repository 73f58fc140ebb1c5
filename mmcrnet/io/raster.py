"""PNG and JPEG images via Pillow: header size check, EXIF orientation, conversion to grayscale."""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmcrnet.errors import ImageTooLarge, UnreadableImage, UnsupportedImage
from mmcrnet.io.sources import JPEG_SOI, PNG_SIGNATURE, Limits, RawFile

# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic variants).
_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


@dataclass(frozen=True)
class RasterImage:
    """One decoded PNG/JPEG as grayscale luminance in its stored scale."""

    name: str
    format: str  # "PNG" or "JPEG"
    pixels: np.ndarray  # (H, W) float32, 0..max_value
    max_value: float  # 255 for 8-bit, 65535 for 16-bit images
    bits: int  # 8 or 16
    text: tuple[tuple[str, str], ...] = ()  # (key, value) text metadata, e.g. PNG tEXt/iTXt chunks


def header_size(raw: RawFile) -> tuple[int, int]:
    """Read (width, height) from a PNG IHDR or JPEG SOF header without decoding.

    Raises:
        UnreadableImage: the header is truncated or malformed.
    """
    data = raw.data
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise UnreadableImage(f"{raw.name}: PNG file is truncated or has no IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(JPEG_SOI):
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                pos += 1  # tolerate fill bytes / garbage between segments
                continue
            marker = data[pos + 1]
            if marker == 0xFF:
                pos += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD9)):
                pos += 2
                continue
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if marker in _SOF_MARKERS:
                if pos + 9 > len(data):
                    break
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return width, height
            if marker == 0xDA:  # start of scan before any frame header
                break
            pos += 2 + length
        raise UnreadableImage(f"{raw.name}: JPEG file is truncated or has no frame header")
    raise UnreadableImage(f"{raw.name}: not a PNG or JPEG file")


def check_size(raw: RawFile, limits: Limits) -> int:
    """Check the declared size against the limits before decoding; returns width*height.

    Raises:
        ImageTooLarge: width*height exceeds ``limits.max_pixels_per_image``.
    """
    width, height = header_size(raw)
    pixels = width * height
    if pixels > limits.max_pixels_per_image:
        raise ImageTooLarge(
            f"{raw.name}: image declares {width}x{height} = {pixels} pixels, more than the limit "
            f"of {limits.max_pixels_per_image}"
        )
    if pixels == 0:
        raise UnreadableImage(f"{raw.name}: image declares a size of {width}x{height}")
    return pixels


def read_raster(raw: RawFile, limits: Limits) -> RasterImage:
    """Decode a PNG/JPEG into grayscale: EXIF orientation applied, colour -> luminance, alpha
    dropped.

    String metadata (PNG text chunks such as ``phase`` or ``time_s``) is kept in ``text``.

    Raises:
        ImageTooLarge: the header declares too many pixels (checked before decoding).
        UnreadableImage: Pillow cannot decode the file (truncated or damaged).
        UnsupportedImage: an image mode we cannot turn into grayscale.
    """
    check_size(raw, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(raw.data)) as opened:
                fmt = opened.format or "unknown"
                opened.load()
                text = tuple((str(k), v) for k, v in opened.info.items() if isinstance(v, str))
                img = ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{raw.name}: image is too large to decode safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error) as exc:
        raise UnreadableImage(f"{raw.name}: {_one_line(exc)} (damaged or truncated image)") from exc
    pixels, max_value, bits = _to_gray(raw.name, img)
    return RasterImage(
        name=raw.name, format=fmt, pixels=pixels, max_value=max_value, bits=bits, text=text
    )


def _to_gray(name: str, img: Image.Image) -> tuple[np.ndarray, float, int]:
    """(pixels, max value, bits) of an image as grayscale luminance."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        return arr, 65535.0, 16
    if mode == "F":
        raise UnsupportedImage(f"{name}: floating-point images are not supported")
    if mode in ("L", "LA", "1"):
        arr = np.asarray(img.convert("L"), dtype=np.float32)
        return arr, 255.0, 8
    if mode in ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        rgb = np.asarray(img.convert("RGB"))  # uint8: 3 bytes a pixel, not 24 as float64
        arr = np.zeros(rgb.shape[:2], dtype=np.float32)
        for channel, weight in enumerate(_LUMA):
            arr += rgb[..., channel] * np.float32(weight)
        return arr, 255.0, 8
    raise UnsupportedImage(f"{name}: image mode '{mode}' is not supported")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
