"""`docvl serve`: the OpenAI-compatible HTTP API, from vLLM (a child process) or from our own server.

Our server (`--backend transformers`) is a FastAPI app on uvicorn. Routes: `GET /v1/models`, `GET /health`,
`GET /v1/docvl/config` (the served checkpoint and its resolved config, so clients render and prompt pages as it
was trained), and `POST /v1/chat/completions` with one user message holding a `data:` image URL and the
prompt text: what `docvl convert` sends.

Each request is read under a size limit, checked and its image decoded on its own (`server_requests`), and only
then handed to `TransformersEngine`, which generates concurrent requests together in batches in its own thread;
the event loop only awaits. A client that leaves has its request dropped. Slow or idle connections cost a
socket, not a thread, and are closed after `HEADER_TIMEOUT_S` without a request. SIGINT/SIGTERM stop it within
`SHUTDOWN_GRACE_S` plus one generated token (the vLLM child is passed the signal).

vLLM (`serve_vllm`) counts as serving once it has generated one token; its output goes to a log file and onto
our stderr, and a checkpoint it cannot serve ends `docvl serve` with vLLM's own reason from that log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from docvl.infer.server_config import CONFIG_ROUTE, config_payload

if TYPE_CHECKING:
    import socket

    from fastapi import FastAPI

    from docvl.config import DocvlConfig
    from docvl.infer.local import TransformersEngine
    from docvl.infer.server_requests import RequestChecker

# Connections (idle, slow or busy) served at once; more get 503 from uvicorn.
MAX_CONNECTIONS = 2048
# A connection must send a complete request head this long after opening or after its last answer (so this is
# also how long an idle keep-alive connection stays open).
HEADER_TIMEOUT_S = 20.0
# A request body must arrive within this long.
BODY_TIMEOUT_S = 120.0
# On SIGTERM, answers in progress get this long before their generation is stopped.
SHUTDOWN_GRACE_S = 5
# Request bodies held in memory at once (reading, checking, waiting to be generated), in units of the body limit.
BODIES_IN_MEMORY = 8
# Threads that check requests and decode their images (each holds one decoded image).
CHECK_THREADS = 2


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


def build_app(
    engine: TransformersEngine, checker: RequestChecker, checkpoint: str | Path, config: DocvlConfig
) -> FastAPI:
    """The ASGI app serving `engine`; requests are checked by `checker` before they reach it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from docvl.infer.server_requests import RequestError

    limits = checker.limits
    budget = {"bytes": BODIES_IN_MEMORY * limits.max_body_bytes}  # the event loop is the only writer
    check_pool = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="docvl-check")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        check_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="docvl", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    served = config_payload(checkpoint, config)

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        # a body left unread (413, 408) ends the connection, so the client stops sending it
        closing = {"connection": "close"} if status in (408, 413) else None
        return JSONResponse(error_body(message, kind), status_code=status, headers=closing)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    @app.get("/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": engine.model_name, "object": "model", "owned_by": "docvl"}]}

    @app.get("/v1" + CONFIG_ROUTE)
    async def served_config() -> dict[str, Any]:
        return served

    async def read_body(request: Request, held: list[int]) -> bytes:
        """The body, refused with 413 once over the limit (by its Content-Length before reading, if given)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise RequestError(413, f"the body is {declared} bytes; at most {limits.max_body_bytes} are accepted")
        body = bytearray()
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                if len(body) + len(chunk) > limits.max_body_bytes:
                    raise RequestError(413, f"the body is over {limits.max_body_bytes} bytes")
                if len(chunk) > budget["bytes"]:
                    raise RequestError(503, "the server is busy with other requests; retry shortly")
                budget["bytes"] -= len(chunk)
                held[0] += len(chunk)
                body += chunk
        return bytes(body)

    async def until_disconnected(request: Request) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    async def generate(request: Request, page_request: Any) -> Any:
        """The engine's reply, or None when the client left first (its request is then dropped)."""
        future = engine.submit(page_request)
        reply = asyncio.ensure_future(asyncio.wrap_future(future))
        gone = asyncio.ensure_future(until_disconnected(request))
        try:
            await asyncio.wait([reply, gone], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not reply.done():
                reply.cancel()
                engine.drop(future)
        return reply.result() if reply.done() and not reply.cancelled() else None

    async def chat(request: Request) -> JSONResponse:
        held = [0]
        try:
            body = await read_body(request, held)
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError):
                raise RequestError(400, "the body is not valid JSON") from None
            del body
            page_request = await asyncio.get_running_loop().run_in_executor(check_pool, checker.check, payload)
            del payload
            reply = await generate(request, page_request)
        except RequestError as exc:
            return error(exc.status, exc.message, "server_error" if exc.status >= 500 else "invalid_request_error")
        except TimeoutError:
            return error(408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s")
        except ClientDisconnect:
            reply = None
        finally:
            budget["bytes"] += held[0]
        if reply is None:  # nobody reads this answer
            return error(499, "the client closed the connection")
        if reply.error and reply.error.startswith("stopped"):
            return error(503, reply.error, "server_error")
        if reply.error:  # the details (a Python error, maybe about the batch) go to the log, not to clients
            logging.getLogger("uvicorn.error").error("%s", reply.error)
            return error(500, "generation failed on the server", "server_error")
        return JSONResponse(
            completion_body(
                engine.model_name, reply.text, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens
            )
        )

    app.add_route("/v1/chat/completions", chat, methods=["POST"])  # plain Starlette: the body is ours to read
    app.add_route("/chat/completions", chat, methods=["POST"])
    return app


def _h11_with_header_timeout() -> type:
    """uvicorn's h11 protocol, closing connections that send no complete request head in `HEADER_TIMEOUT_S`
    (uvicorn only times out idle keep-alive connections, so a trickling client would stay forever)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class H11WithHeaderTimeout(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timeout()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timeout()

        def _arm_header_timeout(self) -> None:
            self.loop.call_later(HEADER_TIMEOUT_S, self._header_timeout, self.cycle)

        def _header_timeout(self, cycle: Any) -> None:
            waiting = self.cycle is cycle and (cycle is None or cycle.response_complete)
            if waiting and not self.transport.is_closing():
                self.transport.close()

    return H11WithHeaderTimeout


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=MAX_CONNECTIONS)


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


def uvicorn_server(app: Any, stop_generating: Callable[[], None]) -> Any:
    """The uvicorn server for `app` with our limits; `.run(sockets=[sock])` serves, `.should_exit = True` stops.

    On shutdown, answers in progress get `SHUTDOWN_GRACE_S`; then `stop_generating` (blocking, run in a thread)
    ends the engine's generation so the requests still waiting are answered 503 and every task can finish."""
    import asyncio

    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            loop = asyncio.get_running_loop()
            loop.call_later(SHUTDOWN_GRACE_S, lambda: loop.run_in_executor(None, stop_generating))
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        http=_h11_with_header_timeout(),
        lifespan="on",
        log_level="warning",
        access_log=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=HEADER_TIMEOUT_S,  # type: ignore[arg-type] - a float works
        timeout_graceful_shutdown=2 * SHUTDOWN_GRACE_S,  # a backstop: tasks should be done by then
        backlog=MAX_CONNECTIONS,
    )
    return Server(config)


def serve_transformers(
    checkpoint: str | Path, config: DocvlConfig, *, host: str, port: int, ready: Callable[[str], None] | None = None
) -> None:
    """Serve a checkpoint with our server until SIGINT/SIGTERM; `ready(base_url)` is called once listening."""
    import importlib.util

    from docvl.infer.local import TransformersEngine
    from docvl.infer.server_requests import RequestChecker, request_limits
    from docvl.infer.types import EngineError
    from docvl.infer.vllm_cmd import served_model_name

    if not all(importlib.util.find_spec(name) for name in ("fastapi", "uvicorn")):
        raise EngineError("the transformers server needs fastapi and uvicorn", hint="pip install 'docvl[serve-cpu]'")
    engine = TransformersEngine(checkpoint, config, model_name=served_model_name(checkpoint, config))
    try:
        positions = getattr(engine.model.config.get_text_config(), "max_position_embeddings", None)
        checker = RequestChecker(engine.processor, request_limits(checkpoint, config, positions))
        sock = listen(host, port)
        server = uvicorn_server(build_app(engine, checker, checkpoint, config), engine.close)
        if ready:
            ready(base_url(sock))
        for stop_signal in (signal.SIGINT, signal.SIGTERM):  # uvicorn handles them, then re-raises them: to
            signal.signal(stop_signal, lambda signum, frame: None)  # this no-op, so a clean stop exits 0
        server.run(sockets=[sock])
    finally:
        engine.close()


@contextlib.contextmanager
def _stop_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While inside: call `stop` (from another thread) on SIGINT or SIGTERM; the former handlers after."""

    def handler(signum: int, frame: Any) -> None:
        threading.Thread(target=stop, daemon=True).start()

    former = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, action in former.items():
            signal.signal(number, action)


def serve_vllm(
    checkpoint: str | Path,
    command: list[str],
    *,
    log_path: Path,
    startup_timeout_s: float,
    echo: TextIO | None = None,
    ready: Callable[[str], None] | None = None,
) -> int:
    """Run vLLM in the foreground until it stops; its exit code (128 + N when signal N ended it).

    Its output goes to `log_path` and, as it comes, onto `echo`. It must answer /v1/models and generate one token
    (vLLM's CPU build starts and lists a model whose first forward pass fails) before `ready(base_url)` is called;
    otherwise it is stopped and the error carries vLLM's own reason from its log (`start_vllm`). SIGINT/SIGTERM
    are passed on."""
    from docvl.errors import DocvlError
    from docvl.infer.vllm_cmd import served_endpoint
    from docvl.infer.vllm_server import ServerProcess, start_vllm

    url, model = served_endpoint(command)
    server = ServerProcess(command, url, log_path, startup_timeout_s, echo=echo)
    stopping = threading.Event()

    def stop() -> None:
        stopping.set()
        server.stop()

    with _stop_signals(stop):
        try:
            try:
                start_vllm(server, model, checkpoint)
            except DocvlError:
                if not stopping.is_set():
                    raise  # else a signal stopped it while starting: no failure of vLLM's
            else:
                if ready:
                    ready(server.base_url)
            code = server.wait()
        finally:
            server.stop()
    return code if code >= 0 else 128 - code
