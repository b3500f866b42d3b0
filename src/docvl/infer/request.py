"""The one way a page request is built from a config: prompt, image order, token limit and image encoding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docvl.infer.types import PageRequest

if TYPE_CHECKING:
    from docvl.config import DocvlConfig


def request_for(
    image_url: str, config: DocvlConfig, *, temperature: float = 0.0, max_tokens: int | None = None
) -> PageRequest:
    """The request for a page already encoded as a data URL (convert's render workers encode)."""
    from docvl.prompts import build_prompt

    return PageRequest(
        image_url=image_url,
        prompt=build_prompt(config.prompt),
        temperature=temperature,
        max_tokens=max_tokens or config.convert.max_new_tokens,
        image_first=config.data.image_first,
    )


def page_request(
    image: Any, config: DocvlConfig, *, temperature: float = 0.0, max_tokens: int | None = None
) -> PageRequest:
    """The request for one rendered page (a PIL image) under `config`."""
    from docvl.infer.encode import to_data_url

    url = to_data_url(image, config.convert.image_format)
    return request_for(url, config, temperature=temperature, max_tokens=max_tokens)
