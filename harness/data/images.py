"""Decode any image file a competition throws at us into RGB, the same way in training and
prediction, or say precisely why it cannot be decoded.

Handled: grayscale, RGBA and palette transparency (composited on white), CMYK, 16-bit, EXIF
orientation, animated files (first frame), decompression bombs (refused), truncated files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse anything above this many pixels (PIL's default warns at ~89M and fails at twice that).
MAX_PIXELS = 89_478_485


class BadImage(Exception):
    """The file is not a usable image; the message says why."""


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if "transparency" in img.info and img.mode in ("P", "L", "RGB"):
        img = img.convert("RGBA")  # a palette entry or a tRNS colour key marks transparent pixels
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")  # convert() to the same mode would copy


def load_rgb(path: str | Path) -> Image.Image:
    """Decode `path` to an RGB image with EXIF orientation applied; raise BadImage otherwise."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise BadImage("empty file (0 bytes)")
        # No warnings.catch_warnings() here: it is not thread-safe and check.scan decodes in threads.
        # Image.open only reads the header; the size check below refuses a bomb before decoding.
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise BadImage(f"{w}x{h} pixels is over the {MAX_PIXELS:,}-pixel limit (decompression bomb?)")
            if w < 1 or h < 1:
                raise BadImage(f"empty image {w}x{h}")
            img.seek(0)  # animated: the first frame
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # in place: otherwise it copies even when upright
            return _to_rgb(img)
    except BadImage:
        raise
    except FileNotFoundError as exc:
        raise BadImage("file not found") from exc
    except UnidentifiedImageError as exc:
        raise BadImage("not an image file PIL can identify") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"cannot decode: {exc}") from exc


def load_array(path: str | Path) -> np.ndarray:
    """HWC uint8 RGB array."""
    return np.array(load_rgb(path), dtype=np.uint8)  # a writable copy: torch refuses read-only arrays
