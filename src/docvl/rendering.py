"""How a page becomes the image a model sees: one mapping from the config, used by training (the sample
pipeline), the generation eval, `validate` and `convert`, so all of them render a page the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docvl.config import ConvertConfig, DocvlConfig, field_default
from docvl.pdf import DEFAULT_LONGEST_SIDE, DEFAULT_MAX_PAGE_INCHES
from docvl.render_guard import RenderLimits

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})  # image files taken as one-page documents


@dataclass(frozen=True)
class RenderSettings:
    """`data.target_longest_image_dim`, `data.max_page_inches`, `convert.image_format` (how the image
    travels in a request), and the per-page render limits (`data.render_memory_mb`, `data.render_timeout_s`)."""

    longest_side: int = DEFAULT_LONGEST_SIDE
    max_page_inches: float = DEFAULT_MAX_PAGE_INCHES
    image_format: str = field_default(ConvertConfig, "image_format")
    limits: RenderLimits = RenderLimits()

    @classmethod
    def from_config(cls, config: DocvlConfig) -> RenderSettings:
        data = config.data
        limits = RenderLimits.from_config(data)
        return cls(data.target_longest_image_dim, data.max_page_inches, config.convert.image_format, limits)

    def render_pdf_page(self, source: str | Path | bytes, index: int = 0) -> Image.Image:
        """Page `index` of a PDF as the model sees it, within the render limits (PdfError when it cannot be used)."""
        from docvl import render_guard

        return render_guard.render(source, index, self.longest_side, self.limits, self.max_page_inches)
