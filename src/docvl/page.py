"""The page format: YAML front matter (olmOCR layout) + Markdown body. One module parses and writes it.

Training targets, validation and model output at inference time all go through here, so the schema lives
in one place. The front matter is read line by line rather than with a YAML library: YAML 1.1 turns a
language code like `no` (Norwegian) into a boolean, and real files spell booleans `True` as often as `true`.

Canonical form (what `serialize_page` writes, and what parses back to the same text byte for byte):

    ---
    primary_language: en
    is_rotation_valid: True
    rotation_correction: 0
    is_table: False
    is_diagram: False
    ---
    Markdown body

A blank page is the front matter alone, ending at the closing `---` with no newline after it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from docvl.errors import PageFormatError

if TYPE_CHECKING:
    from PIL import Image

SCHEMA_VERSION = 1
VALID_ROTATIONS = (0, 90, 180, 270)
FLAG_FIELDS = ("is_rotation_valid", "is_table", "is_diagram")
DELIMITER = "---"
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}
_NULL = {"", "null", "none", "~"}
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class FrontMatter:
    """What the model says about a page besides its text. Field order is the canonical order."""

    primary_language: str | None = None
    is_rotation_valid: bool = True
    rotation_correction: int = 0
    is_table: bool = False
    is_diagram: bool = False


FIELD_NAMES = tuple(f.name for f in fields(FrontMatter))
FLAG_NAMES = tuple(f.name for f in fields(FrontMatter) if f.type in (bool, "bool"))  # the True/False fields


@dataclass(frozen=True)
class Page:
    """A parsed page: its front matter and its Markdown body ("" for a blank page)."""

    front_matter: FrontMatter
    text: str = ""


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _parse_bool(name: str, raw: str) -> bool:
    value = _unquote(raw.strip()).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PageFormatError(f"front matter: '{name}' must be True or False (got {raw!r})")


def _parse_value(name: str, raw: str) -> object:
    if name == "primary_language":
        value = _unquote(raw.strip())
        return None if value.lower() in _NULL else value
    if name == "rotation_correction":
        try:
            number = int(_unquote(raw.strip()))
        except ValueError:
            raise PageFormatError(f"front matter: 'rotation_correction' must be an integer (got {raw!r})") from None
        if number not in VALID_ROTATIONS:
            raise PageFormatError(f"front matter: 'rotation_correction' must be one of 0, 90, 180, 270 (got {number})")
        return number
    return _parse_bool(name, raw)


def _split(text: str) -> tuple[list[str], str]:
    """(front matter lines, body) of a page text, or PageFormatError when there is no front matter block."""
    if text.split("\n", 1)[0].rstrip() != DELIMITER:
        raise PageFormatError("no front matter: the page must start with a '---' line")
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == DELIMITER:
            body = "\n".join(lines[index + 1 :])
            return lines[1:index], body
    raise PageFormatError("front matter is not closed by a '---' line")


def parse_page(text: str, *, strict: bool = True) -> Page:
    """Parse page text into a `Page`.

    strict (training data, validate): every field present exactly once, no unknown fields, right types.
    lenient (model output): surrounding whitespace and a code fence are tolerated, missing fields take
    their defaults and unknown fields are ignored; the values that are present must still be valid.
    """
    if not strict:
        text = text.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
    header, body = _split(text)
    values: dict[str, object] = {}
    for line in header:
        if not line.strip():
            continue
        name, sep, raw = line.partition(":")
        name = name.strip()
        if not sep:
            raise PageFormatError(f"front matter: line {line!r} is not 'field: value'")
        if name not in FIELD_NAMES:
            if not strict:
                continue
            close = difflib.get_close_matches(name, FIELD_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PageFormatError(f"front matter: unknown field '{name}'{hint}")
        if name in values:
            raise PageFormatError(f"front matter: field '{name}' appears twice")
        values[name] = _parse_value(name, raw)
    missing = [name for name in FIELD_NAMES if name not in values]
    if strict and missing:
        raise PageFormatError(f"front matter: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if not strict:
        body = body.strip("\n")
    return Page(FrontMatter(**values), body)  # type: ignore[arg-type]


def serialize_front_matter(front_matter: FrontMatter) -> str:
    """The canonical front matter block, delimiters included, without a trailing newline."""
    values = {name: getattr(front_matter, name) for name in FIELD_NAMES}
    lines = [f"{name}: {'null' if value is None else value}" for name, value in values.items()]
    return "\n".join([DELIMITER, *lines, DELIMITER])


def serialize_page(page: Page) -> str:
    """The canonical text of a page: front matter, then the body on the next line (nothing for a blank)."""
    head = serialize_front_matter(page.front_matter)
    return f"{head}\n{page.text}" if page.text else head


def markdown_from_labels(labels: dict[str, Any]) -> str:
    """The canonical page text from label values (the front matter fields and `natural_text`, as olmOCR-mix
    rows and convert records carry them), or PageFormatError naming the first bad value. Other keys are ignored."""
    language = labels.get("primary_language")
    if language is not None and not isinstance(language, str):
        raise PageFormatError(f"front matter: 'primary_language' must be a language code or null (got {language!r})")
    flags = {}
    for name in FLAG_FIELDS:
        value = labels.get(name)
        if not isinstance(value, bool):
            raise PageFormatError(f"front matter: '{name}' must be True or False (got {value!r})")
        flags[name] = value
    rotation = labels.get("rotation_correction")
    if not isinstance(rotation, int) or isinstance(rotation, bool) or rotation not in VALID_ROTATIONS:
        raise PageFormatError(f"front matter: 'rotation_correction' must be one of 0, 90, 180, 270 (got {rotation!r})")
    text = labels.get("natural_text")
    if text is not None and not isinstance(text, str):
        raise PageFormatError(f"natural_text must be text or null (got {type(text).__name__})")
    front = FrontMatter(primary_language=(language or "").strip() or None, rotation_correction=rotation, **flags)
    markdown = serialize_page(Page(front, text if text and text.strip() else ""))
    parse_page(markdown, strict=True)  # a language value with a newline or colon would not read back
    return markdown


def rotate_image(image: Image.Image, degrees: int) -> Image.Image:
    """Turn a page image counter-clockwise by `degrees` (0/90/180/270), the convention of `rotation_correction`
    (olmOCR's): applying a page's correction to its image makes it upright. Training's rotation augmentation and
    inference's re-ask on rotated pages both use this one function."""
    from PIL import Image

    steps = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    return image.transpose(steps[degrees % 360]) if degrees % 360 else image
