"""An OpenAI-compatible server that answers from a script: for tests of fault handling and for benchmarks.

Each chat request is given to `script(payload, n)` (n counts requests from 0), which returns an `Act`:
a reply (text + finish_reason), an HTTP status, a delay before acting, or a dropped connection. The server
records every payload's temperature so tests can check the retry schedule. Loopback only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from docvl.infer.server import completion_body, error_body
from docvl.infer.server_basic import ApiServer
from docvl.page import FrontMatter, Page, serialize_page

VALID_REPLY = serialize_page(Page(FrontMatter(primary_language="en"), "# A page\n\nSome text."))


@dataclass(frozen=True)
class Act:
    """What the fake does with one request."""

    text: str = VALID_REPLY
    finish_reason: str = "stop"
    status: int = 200
    delay_s: float = 0.0
    drop: bool = False


Script = Callable[[dict[str, Any], int], Act]


def always_valid(payload: dict[str, Any], n: int) -> Act:
    return Act()


class FakeOpenAIServer:
    """`with FakeOpenAIServer(script) as fake:` serves on 127.0.0.1 at `fake.base_url`."""

    def __init__(self, script: Script = always_valid, model_name: str = "fake-model"):
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.dead = False
        self.server = ApiServer("127.0.0.1", 0, model_name, self._chat)

    def _chat(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        if self.dead:
            return 0, None
        with self._lock:
            n = len(self.requests)
            self.requests.append({"temperature": payload.get("temperature"), "max_tokens": payload.get("max_tokens")})
        act = self.script(payload, n)
        if act.delay_s:
            time.sleep(act.delay_s)
        if act.drop:
            return 0, None
        if act.status != 200:
            return act.status, error_body(f"scripted HTTP {act.status}", "server_error")
        return 200, completion_body(self.server.model_name, act.text, act.finish_reason, 100, 10)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> FakeOpenAIServer:
        self.server.start_background()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Die like a crashed server: stop listening, and drop the connections kept alive."""
        self.dead = True
        self.server.shutdown()
        self.server.server_close()
