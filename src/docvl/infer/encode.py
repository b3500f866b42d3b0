"""How a page image travels in a request: a data URL, encoded once in a render worker.

Measured on this repo's fixture pages rendered to 1288 px (one core, `bench/convert_overhead.py` repeats it):

| encoding            | ms/page | KiB/page | mean abs error |
| ------------------- | ------- | -------- | -------------- |
| PNG, Pillow default |    71   |   464    | 0 (lossless)   |
| PNG, compress 1     |    30   |   432    | 0 (lossless)   |
| WebP lossless m0    |    23   |   384    | 0 (lossless)   |
| JPEG q95            |   3.5   |   315    | 0.48 / 255     |

PNG at level 1 is both smaller and 2.4x faster than the default level, and lossless, so the model sees the
exact pixels it was trained on (training feeds rendered images without any encoding): that is the default.
JPEG q95 is 9x cheaper again and smaller, for endpoints where bandwidth or client CPU is the limit; WebP
lossless saves little over PNG level 1 and not every server decodes it.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

_FORMATS = {
    "png": ("PNG", "image/png", {"compress_level": 1}),
    "jpeg": ("JPEG", "image/jpeg", {"quality": 95}),
}


def encode_image(image: Image.Image, image_format: str = "png") -> bytes:
    """The image as file bytes in `image_format` ("png" or "jpeg"), with the settings chosen above."""
    pil_format, _, options = _FORMATS[image_format]
    buffer = io.BytesIO()
    image.save(buffer, pil_format, **options)
    return buffer.getvalue()


def to_data_url(image: Image.Image, image_format: str = "png") -> str:
    """The image as a `data:` URL, the form OpenAI-compatible servers take inline."""
    mime = _FORMATS[image_format][1]
    return f"data:{mime};base64,{base64.b64encode(encode_image(image, image_format)).decode('ascii')}"


def decode_data_url(url: str) -> Image.Image:
    """A `data:image/...;base64,` URL back to an RGB image; ValueError when it is not one."""
    from PIL import Image, UnidentifiedImageError

    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise ValueError("image_url must be a data:image/...;base64, URL")
    try:
        return Image.open(io.BytesIO(base64.b64decode(payload, validate=True))).convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"image_url does not decode to an image ({exc})") from None
