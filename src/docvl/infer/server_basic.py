"""A small stdlib HTTP server speaking the OpenAI routes, for the scripted stand-ins of tests and benchmarks
(`docvl.infer.fakes`, a fake `vllm serve`). It can do what a misbehaving server does and an ASGI app cannot:
close a connection without an answer. `docvl serve` itself runs on uvicorn (`docvl.infer.server`).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from docvl.infer.server import error_body
from docvl.infer.server_config import CONFIG_ROUTE

# (status, JSON body) for a chat request; a None body closes the connection without an answer.
ChatHandler = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | None]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: convert reuses one connection per thread
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

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
        elif path == "/v1" + CONFIG_ROUTE and self.server.config_info is not None:
            self._send(200, self.server.config_info)
        elif path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, error_body(f"no route {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
    """An OpenAI-like HTTP server on (host, port) answering chats from `chat`; port 0 picks a free port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, model_name: str, chat: ChatHandler, *, config_info: dict[str, Any] | None = None
    ):
        super().__init__((host, port), _Handler)
        self.model_name = model_name
        self.chat = chat
        self.config_info = config_info  # the body of `GET /v1/docvl/config`, when this stand-in has one

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
        """Serve from a daemon thread; stop with `shutdown()` + `server_close()`."""
        thread = threading.Thread(target=self.serve_forever, name="docvl-api", daemon=True)
        thread.start()
        return thread
