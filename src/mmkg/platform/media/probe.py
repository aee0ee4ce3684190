"""Opening media defensively: images with decompression-bomb limits, texts as UTF-8."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from mmkg.errors import DataError


def open_image(path: Path, max_pixels: int) -> tuple[Image.Image, dict[str, Any]]:
    """The fully decoded image (RGB) and its metadata.

    Raises:
        DataError: truncated or corrupt data, an unidentified format, or more pixels than
            ``max_pixels`` (checked from the header, before anything is decoded).
    """
    previous = Image.MAX_IMAGE_PIXELS
    try:
        # PIL checks the header against this limit: above it, a warning (made an error here);
        # above twice it, DecompressionBombError.
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                meta = {
                    "width": im.width,
                    "height": im.height,
                    "format": im.format,
                    "mode": im.mode,
                }
                im.load()  # decodes everything: a truncated file fails here, not later
                rgb = im.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"refused as a decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise DataError("not a readable image (unidentified format)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"corrupt or truncated image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return rgb, meta


def read_text(path: Path, max_bytes: int = 10 * 1024**2) -> tuple[str, dict[str, Any]]:
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(f"text document larger than {max_bytes} bytes (MMKG_MAX_TEXT_BYTES)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})") from None
    if "\x00" in text:
        raise DataError("binary data in a text document")
    if not text.strip():
        raise DataError("empty text document")
    title = next((line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")
    return text, {"chars": len(text), "title": title[:200]}
