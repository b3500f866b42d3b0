"""`docvl serve`: the OpenAI-compatible HTTP API, from vLLM (a child process) or from our small server.

Our server (`--backend transformers`) answers `GET /v1/models`, `GET /health` and `POST /v1/chat/completions`
with one user message holding a `data:` image URL and the prompt text: what `docvl convert` sends. Each
connection gets a thread; requests are handed to `TransformersEngine`, which generates concurrent requests
together in batches. SIGINT and SIGTERM stop it cleanly (the child vLLM too, for the vLLM backend).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.infer.types import Engine, PageRequest

if TYPE_CHECKING:
    from docvl.config import DocvlConfig

# (status, JSON body) for a chat request; a None body closes the connection without an answer.
ChatHandler = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | None]]


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def completion_body(
    model: str, text: str, finish_reason: str | None, prompt_tokens: int, completion_tokens: int
) -> dict:
    """An OpenAI chat.completion response object."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: convert reuses one connection per thread
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        if self.server.log_requests:
            super().log_message(format, *args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            models = [{"id": self.server.model_name, "object": "model", "owned_by": "docvl"}]
            self._send(200, {"object": "list", "data": models})
        elif path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, error_body(f"no route {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.split("?")[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, error_body(f"no route {self.path}"))
            return
        try:
            payload = json.loads(raw)
        except ValueError:
            self._send(400, error_body("body is not JSON"))
            return
        status, body = self.server.chat(payload)
        if body is None:
            self.close_connection = True
            return
        self._send(status, body)


class ApiServer(ThreadingHTTPServer):
    """An OpenAI-like HTTP server on (host, port); port 0 picks a free port (see `.port`)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, model_name: str, chat: ChatHandler, *, log_requests: bool = False):
        super().__init__((host, port), _Handler)
        self.model_name = model_name
        self.chat = chat
        self.log_requests = log_requests

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out, cancelled) is normal; anything else is printed as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}/v1"

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests, benchmarks); stop with `shutdown()` + `server_close()`."""
        thread = threading.Thread(target=self.serve_forever, name="docvl-api", daemon=True)
        thread.start()
        return thread


def parse_chat_request(payload: dict[str, Any]) -> PageRequest:
    """The page request inside an OpenAI chat payload: one user message with one image URL and text."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    if not isinstance(content, list):
        raise ValueError("the last message must have a list of content parts (image_url + text)")
    kinds = [part.get("type") for part in content if isinstance(part, dict)]
    images = [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
    texts = [p["text"] for p in content if p.get("type") == "text"]
    if len(images) != 1:
        raise ValueError(f"exactly one image_url part is supported (got {len(images)})")
    return PageRequest(
        image_url=images[0],
        prompt="\n".join(texts),
        temperature=float(payload.get("temperature") or 0.0),
        max_tokens=int(payload.get("max_tokens") or payload.get("max_completion_tokens") or 8000),
        image_first=kinds.index("image_url") < (kinds.index("text") if "text" in kinds else len(kinds)),
    )


def engine_chat_handler(engine: Engine) -> ChatHandler:
    """Serve chat requests from an engine: 400 for requests it cannot read, 500 when generation failed."""

    def chat(payload: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        try:
            request = parse_chat_request(payload)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return 400, error_body(str(exc))
        reply = engine.submit(request).result()
        if reply.error:
            return 500, error_body(reply.error, "server_error")
        body = completion_body(
            engine.model_name, reply.text, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens
        )
        return 200, body

    return chat


def _on_stop_signals(stop: Callable[[], None]) -> None:
    """Call `stop` (from another thread, as `shutdown` requires) on SIGINT or SIGTERM."""

    def handler(signum: int, frame: Any) -> None:
        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def serve_transformers(
    checkpoint: str | Path, config: DocvlConfig, *, host: str, port: int, ready: Callable[[str], None] | None = None
) -> None:
    """Serve a checkpoint with our server until SIGINT/SIGTERM; `ready(base_url)` is called once listening."""
    from docvl.infer.local import TransformersEngine
    from docvl.infer.vllm_cmd import served_model_name

    engine = TransformersEngine(checkpoint, config, model_name=served_model_name(checkpoint, config))
    server = ApiServer(host, port, engine.model_name, engine_chat_handler(engine))
    _on_stop_signals(server.shutdown)
    if ready:
        ready(server.base_url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        engine.close()


def serve_vllm(command: list[str]) -> int:
    """Run vLLM in the foreground with its output on ours; SIGINT/SIGTERM are passed on; its exit code."""
    from docvl.infer.types import EngineError

    try:
        process = subprocess.Popen(command)
    except OSError as exc:
        raise EngineError(f"cannot start {command[0]!r}: {exc.strerror}", hint="set serve.vllm_executable") from None
    _on_stop_signals(process.terminate)
    try:
        return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
