"""Convert's render workers (run in a process pool): a document's page list, and chunks of pages rendered
and encoded as data URLs. A page that fails to render carries its error (it becomes a fallback page); a
document that cannot be opened raises PdfError (an image too large to decode is one too)."""

from __future__ import annotations

from dataclasses import dataclass

from docvl.errors import PdfError
from docvl.infer.inputs import InputDoc
from docvl.rendering import RenderSettings


@dataclass
class RenderedPage:
    index: int
    image_url: str | None
    text: str
    error: str | None = None


def list_pages(doc: InputDoc, settings: RenderSettings, spec: str | None) -> list[int]:
    """The 0-based page indices to convert: every page, or those of `spec` (`1-3,7`). An image has one."""
    if doc.kind == "image":
        return [0]
    from docvl.io import local_copy
    from docvl.pdf import PdfFile, parse_page_spec

    with local_copy(doc.path) as path, PdfFile(path, max_page_inches=settings.max_page_inches) as pdf:
        return parse_page_spec(spec, len(pdf)) if spec else list(range(len(pdf)))


def _render_image_file(path: str, settings: RenderSettings, rotation: int) -> RenderedPage:
    from PIL import Image

    from docvl.infer.encode import to_data_url
    from docvl.page import rotate_image

    try:
        with Image.open(path) as source:
            image = source.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise PdfError(f"image too large to decode ({exc})", path) from None
    except OSError as exc:
        raise PdfError(f"not a readable image ({exc})", path) from None
    scale = settings.longest_side / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return RenderedPage(0, to_data_url(rotate_image(image, rotation), settings.image_format), "")


def render_pages(doc: InputDoc, settings: RenderSettings, indices: list[int], rotation: int = 0) -> list[RenderedPage]:
    """The pages `indices` of `doc`, rendered (turned by `rotation`) and encoded, each with its text layer."""
    from docvl import render_guard
    from docvl.infer.encode import to_data_url
    from docvl.io import local_copy
    from docvl.page import rotate_image

    with local_copy(doc.path) as path:  # an input named by a URL is read once per chunk
        if doc.kind == "image":
            return [_render_image_file(path, settings, rotation)]
        pages = []
        for index in indices:
            text = ""
            try:  # text and image both parse the page's content streams: both under the render limits
                text = render_guard.text(path, index, settings.limits, settings.max_page_inches)
                image = rotate_image(settings.render_pdf_page(path, index), rotation)
                pages.append(RenderedPage(index, to_data_url(image, settings.image_format), text))
            except PdfError as exc:
                pages.append(RenderedPage(index, None, text, exc.message))
        return pages
