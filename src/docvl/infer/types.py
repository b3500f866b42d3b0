"""What every engine takes and gives: a page request, a reply, the engine interface and its errors.

An engine has `submit(request) -> Future[Reply]` and `generate(requests) -> list[Reply]`. A reply that did
not come (HTTP error, timeout, dropped connection, failed generation) is a `Reply` with `error` set: one
failed attempt for the caller to retry. A server that cannot be reached at all raises
`EngineUnavailableError` instead, so a run stops fast rather than failing every page.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from docvl.config import ConvertConfig, field_default
from docvl.errors import DocvlError


class EngineError(DocvlError):
    """An engine could not be started or used."""


class EngineUnavailableError(EngineError):
    """The server cannot be reached (after the configured retries): the run stops, finished work is kept."""


@dataclass(frozen=True)
class PageRequest:
    """One page to transcribe: the image as a data URL (see `docvl.infer.encode`) and the prompt.
    Build it with `docvl.infer.request.request_for` so every caller asks the same way."""

    image_url: str
    prompt: str
    temperature: float = 0.0
    max_tokens: int = field_default(ConvertConfig, "max_new_tokens")
    image_first: bool = True


@dataclass
class Reply:
    """What came back for one request. `error` is set (and `text` empty) when no reply came."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    token_ids: tuple[int, ...] = ()  # the reply's tokens, where the engine knows them (in-process generation)


def chat_messages(request: PageRequest) -> list[dict[str, Any]]:
    """The OpenAI chat message for a page: one user turn with the image and the prompt, in training's order."""
    image = {"type": "image_url", "image_url": {"url": request.image_url}}
    text = {"type": "text", "text": request.prompt}
    return [{"role": "user", "content": [image, text] if request.image_first else [text, image]}]


class Engine:
    """Base: subclasses implement `submit`; `generate` and the context manager come from here."""

    model_name: str = ""

    def submit(self, request: PageRequest) -> Future[Reply]:
        raise NotImplementedError

    def generate(self, requests: Iterable[PageRequest]) -> list[Reply]:
        """Replies in request order; all requests are in flight together, up to the engine's concurrency."""
        futures = [self.submit(request) for request in requests]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Release threads, connections and child processes."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
