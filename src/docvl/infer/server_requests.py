"""What a chat request may ask of `docvl serve --backend transformers`, checked one request at a time before
it reaches the engine's batch, so a bad request is its own client's 400 and never fails its neighbours.

The bounds come from the served checkpoint and its config, never from the request:
- context: `max_model_len` (what vLLM would get for this config), at most the model's position limit;
- new tokens: an explicit `max_tokens` must fit the context after the prompt; omitted, it is
  `convert.max_new_tokens`, cut to what fits;
- image area: `IMAGE_AREA_FACTOR` x `model.max_pixels` (the processor shrinks anything larger to
  `max_pixels` anyway), read from the image header before any pixel is decoded;
- body size: a base64 image of that area, uncompressed RGBA, plus the longest prompt text that could fit.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.infer.types import PageRequest

if TYPE_CHECKING:
    from docvl.config import DocvlConfig

# The processor resizes pages down to model.max_pixels; this much larger is accepted (and shrunk), no more.
IMAGE_AREA_FACTOR = 4
# A prompt text longer than this many characters per context token cannot fit (no token spans more).
MAX_CHARS_PER_TOKEN = 32
# Room for the JSON around the image and the prompt.
JSON_OVERHEAD_BYTES = 64 * 1024


class RequestError(Exception):
    """A request the server refuses: `status` (400, 413, ...) and a one-line message for that client only."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RequestLimits:
    """The bounds one chat request must keep (see the module docstring)."""

    context_tokens: int
    default_max_tokens: int
    max_image_pixels: int
    max_prompt_chars: int

    @property
    def max_body_bytes(self) -> int:
        image_b64 = math.ceil(self.max_image_pixels * 4 / 3) * 4
        return image_b64 + self.max_prompt_chars * 4 + JSON_OVERHEAD_BYTES


def request_limits(checkpoint: str | Path, config: DocvlConfig, model_positions: int | None) -> RequestLimits:
    """The limits for serving `checkpoint` under `config`; `model_positions` is the model's own length limit."""
    from docvl.infer.vllm_cmd import max_model_len

    context = max_model_len(checkpoint, config)
    if model_positions:
        context = min(context, model_positions)
    return RequestLimits(
        context_tokens=context,
        default_max_tokens=config.convert.max_new_tokens,
        max_image_pixels=IMAGE_AREA_FACTOR * config.model.max_pixels,
        max_prompt_chars=context * MAX_CHARS_PER_TOKEN,
    )


@dataclass(frozen=True)
class ChatRequest:
    """The parts of an OpenAI chat payload a page request needs, checked for shape but not yet for size."""

    image_url: str
    prompt: str
    image_first: bool
    temperature: float
    max_tokens: int | None


def _number(payload: dict[str, Any], name: str) -> float | int | None:
    value = payload.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise RequestError(400, f"{name} must be a number")
    return value


def read_chat_payload(payload: Any) -> ChatRequest:
    """The page request in an OpenAI chat payload: the last message holds one image_url part and text parts."""
    if not isinstance(payload, dict):
        raise RequestError(400, "the body must be a JSON object")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise RequestError(400, "messages must be a non-empty list of message objects")
    content = messages[-1].get("content")
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise RequestError(400, "the last message's content must be a list of parts (one image_url and text)")
    kinds = [part.get("type") for part in content]
    images = [part.get("image_url") for part in content if part.get("type") == "image_url"]
    texts = [part.get("text") for part in content if part.get("type") == "text"]
    if len(images) != 1:
        raise RequestError(400, f"exactly one image_url part is supported (got {len(images)})")
    url = images[0].get("url") if isinstance(images[0], dict) else None
    if not isinstance(url, str):
        raise RequestError(400, "image_url must be an object with a string url")
    if not all(isinstance(text, str) for text in texts):
        raise RequestError(400, "text parts must have a string text")
    if payload.get("stream"):
        raise RequestError(400, "streaming is not supported: send stream=false")
    if payload.get("n", 1) != 1:
        raise RequestError(400, "n must be 1: one reply per request")
    temperature = _number(payload, "temperature") or 0.0
    if not 0.0 <= temperature <= 2.0:
        raise RequestError(400, "temperature must be between 0 and 2")
    max_tokens = payload.get("max_tokens", payload.get("max_completion_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise RequestError(400, "max_tokens must be an integer")
    if max_tokens is not None and max_tokens < 1:
        raise RequestError(400, f"max_tokens must be at least 1 (got {max_tokens})")
    text_at = kinds.index("text") if "text" in kinds else len(kinds)
    return ChatRequest(url, "\n".join(texts), kinds.index("image_url") < text_at, float(temperature), max_tokens)


def image_bytes(url: str) -> bytes:
    """The file bytes inside a `data:image/...;base64,` URL; other URLs (file://, http://) are refused."""
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise RequestError(400, "image_url must be a data:image/...;base64, URL (no file or web URLs)")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "image_url is not valid base64") from None


def check_image(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) of the image in `data`, refused from its header when larger than `max_pixels`, then
    decoded fully so truncated or corrupt data is refused here and never inside a batch."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:
        raise RequestError(400, f"the image has more than {max_pixels} pixels") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise RequestError(400, f"image_url does not hold a readable image ({exc.__class__.__name__})") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise RequestError(400, f"the image is {width}x{height} pixels; at most {max_pixels} pixels are accepted")
        try:
            image.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise RequestError(400, f"the image data is corrupt or truncated ({exc.__class__.__name__})") from None
    return width, height


class RequestChecker:
    """Turns a chat payload into a `PageRequest` that fits the served model, or raises `RequestError`.

    Thread-safe: it counts tokens with its own copy of the tokenizer (the generator's is busy batching)."""

    def __init__(self, processor: Any, limits: RequestLimits):
        from tokenizers import Tokenizer

        self.processor = processor
        self.limits = limits
        self._tokenizer = Tokenizer.from_str(processor.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._image_pad = processor.image_token
        self._merge = processor.image_processor.merge_size**2

    def image_tokens(self, width: int, height: int) -> int:
        """Visual tokens for an image of this size after the processor's resize and spatial merge; a size the
        processor cannot resize (an extreme aspect ratio) is refused here rather than failing its batch."""
        try:
            patches = self.processor.image_processor.get_number_of_image_patches(height, width, {})
        except ValueError as exc:
            raise RequestError(400, f"the model cannot take a {width}x{height} image: {exc}") from None
        return patches // self._merge

    def check(self, payload: Any) -> PageRequest:
        from docvl.models.messages import prompt_text

        chat = read_chat_payload(payload)
        limits = self.limits
        if len(chat.prompt) > limits.max_prompt_chars:
            raise RequestError(400, f"the prompt has {len(chat.prompt)} characters; it cannot fit the context")
        width, height = check_image(image_bytes(chat.image_url), limits.max_image_pixels)
        text = prompt_text(self.processor, image_first=chat.image_first, prompt=chat.prompt)
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        prompt_tokens = len(ids) - ids.count(self.processor.tokenizer.convert_tokens_to_ids(self._image_pad))
        prompt_tokens += self.image_tokens(width, height)
        room = limits.context_tokens - prompt_tokens
        if room < 1:
            raise RequestError(
                400, f"the prompt is {prompt_tokens} tokens; this model's context is {limits.context_tokens} tokens"
            )
        if chat.max_tokens is not None and chat.max_tokens > room:
            raise RequestError(
                400,
                f"max_tokens {chat.max_tokens} is too large: the prompt is {prompt_tokens} tokens and this model's "
                f"context is {limits.context_tokens} tokens (at most {room} new tokens)",
            )
        return PageRequest(
            image_url=chat.image_url,
            prompt=chat.prompt,
            temperature=chat.temperature,
            max_tokens=chat.max_tokens or min(limits.default_max_tokens, room),
            image_first=chat.image_first,
        )
