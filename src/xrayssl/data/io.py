"""Decode any supported image into one uint8 grayscale array.

Every input becomes ``(H, W) uint8``: 16-bit and float data are scaled to 8 bits between
robust percentiles (a few hot pixels must not squash the whole range), colour and alpha are
reduced to gray, palette PNGs go through PIL (OpenCV would not honour their palette for us),
DICOM goes through :mod:`xrayssl.data.dicom`, ``file.npz#key/index`` reads one image out
of a MedMNIST-style array file and ``archive.zip#member`` one image out of a zip archive (the
AI Hub release ships its folders zipped).
"""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from xrayssl.data.dicom import is_dicom_bytes, read_dicom
from xrayssl.data.gray import UnreadableImageError, scale_to_uint8, to_gray

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_PALETTE_COLOUR_TYPE = 3
NPZ_MARK = ".npz#"
ZIP_MARK = ".zip#"


def _png_is_complete(data: bytes) -> bool:
    # A PNG always ends with the IEND chunk; a cut-off download or copy lacks it, and decoders
    # may otherwise hand back a half-grey image without complaint.
    return b"IEND" in data[-256:]


def _is_palette_png(data: bytes) -> bool:
    # IHDR is the first chunk: 8-byte signature, 4-byte length, 4-byte type, then width(4),
    # height(4), bit depth(1), colour type(1) -> colour type sits at byte 25.
    return len(data) > 25 and data[25] == PNG_PALETTE_COLOUR_TYPE


def _decode_with_pil(path: str | Path, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as pil:
            pil.load()
            mode = pil.mode
            if mode == "P":
                pil_rgba = pil.convert("RGBA")
                return np.asarray(pil_rgba.convert("L"))
            if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return scale_to_uint8(np.asarray(pil))
            return np.asarray(pil.convert("L"))
    except UnidentifiedImageError:
        raise UnreadableImageError(
            path, "not a readable image (PIL could not identify the format)") from None
    except (OSError, ValueError) as err:
        detail = str(err).rstrip(".") or type(err).__name__
        if "truncated" in detail.lower():
            detail = "the file ends before the image data does"
        raise UnreadableImageError(path, f"damaged image ({detail})") from None


def decode_image_bytes(path: str | Path, data: bytes) -> np.ndarray:
    """Decode an encoded image (PNG, JPEG, TIFF, BMP) to (H, W) uint8."""
    if len(data) == 0:
        raise UnreadableImageError(path, "empty file (0 bytes)")
    is_png = data.startswith(PNG_SIGNATURE)
    if is_png and not _png_is_complete(data):
        raise UnreadableImageError(path, "truncated PNG (no IEND chunk)")
    if is_png and _is_palette_png(data):
        return _decode_with_pil(path, data)
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        # OpenCV lacks some codecs/variants that PIL has; PIL also names the problem.
        return _decode_with_pil(path, data)
    if img.size == 0:
        raise UnreadableImageError(path, "image has no pixels")
    return scale_to_uint8(to_gray(img))


@functools.lru_cache(maxsize=8)
def _npz_array(npz_path: str, key: str) -> np.ndarray:
    with np.load(npz_path) as archive:
        if key not in archive.files:
            raise UnreadableImageError(
                npz_path, f"no array {key!r} (arrays: {', '.join(archive.files)})"
            )
        return np.asarray(archive[key])


def read_npz_image(ref: str) -> np.ndarray:
    """Read ``file.npz#key/index`` -> (H, W) uint8."""
    npz_path, _, inner = ref.rpartition("#")
    key, _, index_text = inner.rpartition("/")
    try:
        index = int(index_text)
    except ValueError:
        raise UnreadableImageError(
            ref, "bad array reference (expected file.npz#key/index)"
        ) from None
    if not Path(npz_path).is_file():
        raise UnreadableImageError(ref, "file not found")
    array = _npz_array(npz_path, key)
    if not 0 <= index < array.shape[0]:
        raise UnreadableImageError(ref, f"index {index} out of range (0..{array.shape[0] - 1})")
    img = array[index]
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = to_gray(img[:, :, ::-1] if img.shape[-1] == 3 else img)  # MedMNIST stores RGB
    return scale_to_uint8(np.asarray(img))


@functools.lru_cache(maxsize=4)
def _zip_archive(zip_path: str) -> zipfile.ZipFile:
    # Kept open: reading the central directory of a large archive once per member would cost
    # more than decoding the member.
    return zipfile.ZipFile(zip_path)


def read_zip_image(ref: str) -> np.ndarray:
    """Read ``archive.zip#member`` -> (H, W) uint8."""
    head, _, member = ref.partition(ZIP_MARK)
    zip_path = head + ".zip"
    if not Path(zip_path).is_file():
        raise UnreadableImageError(ref, "zip archive not found")
    try:
        data = _zip_archive(zip_path).read(member)
    except KeyError:
        raise UnreadableImageError(ref, f"no member {member!r} in {zip_path}") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise UnreadableImageError(ref, f"cannot read from the zip archive ({err})") from None
    return decode_image_bytes(ref, data)


def read_image(path: str | Path) -> np.ndarray:
    """Read one image as (H, W) uint8. Raises UnreadableImageError with a short reason."""
    text = str(path)
    if NPZ_MARK in text:
        return read_npz_image(text)
    if ZIP_MARK in text:
        return read_zip_image(text)
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise UnreadableImageError(path, "file not found") from None
    except IsADirectoryError:
        raise UnreadableImageError(path, "is a folder, not an image") from None
    except OSError as err:
        raise UnreadableImageError(path, f"cannot read file ({err.strerror})") from None
    if file.suffix.lower() in (".dcm", ".dicom") or is_dicom_bytes(data):
        return read_dicom(file)
    return decode_image_bytes(path, data)
