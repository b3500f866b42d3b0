"""An OpenAI-compatible `/chat/completions` endpoint over HTTP (httpx), from a bounded pool of threads, so
hundreds of requests can be in flight against vLLM.

Each request has a total deadline (`timeout_s`, not per read: a server trickling a byte every few seconds,
in the headers or the body, is cut off): every socket read and write of the exchange waits at most for the
time left, through a network backend given to httpx's connection pool. A reply has a size limit derived
from `max_tokens` (an endless body is cut off, not buffered).
The API key is sent only when given for this server: `api_key`, or `$DOCVL_API_KEY`. The environment's
`OPENAI_API_KEY` is never read, so a key for OpenAI does not travel to whatever `--server` names; a key
sent over plain HTTP to a host other than loopback is warned about once.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from docvl.config import ConvertConfig, field_default
from docvl.infer.types import Engine, EngineError, EngineUnavailableError, PageRequest, Reply, chat_messages

log = logging.getLogger(__name__)

API_KEY_ENV = "DOCVL_API_KEY"
REPLY_OVERHEAD_BYTES = 1 << 20  # the JSON around the text, usage, ids
BYTES_PER_TOKEN = 128  # a token's text as escaped JSON, with room to spare


class ReplyTooLargeError(EngineError):
    """The server sent more than a reply of `max_tokens` can hold."""


_deadline = threading.local()  # the deadline of the exchange this thread is in (httpx's sync I/O runs here)


def _time_left(timeout: float | None) -> float | None:
    """A socket wait of at most `timeout` and at most the time left to this thread's deadline."""
    import httpcore

    deadline = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _deadline_transport(limits: Any) -> Any:
    """httpx's transport whose sockets honour the thread's deadline on every read and write."""
    import httpcore
    import httpx

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream):
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _time_left(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _time_left(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.SyncBackend):
        def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
            return DeadlineStream(super().connect_tcp(*args, **kwargs))

    transport = httpx.HTTPTransport(limits=limits)
    transport._pool._network_backend = DeadlineBackend()  # no public way to pass httpcore a backend
    return transport


def normalize_base_url(url: str) -> str:
    """`host:8000`, `http://host:8000` or `http://host:8000/v1/` -> `http://host:8000/v1`."""
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reply_size_limit(max_tokens: int) -> int:
    """The most bytes a chat completion of `max_tokens` tokens may take."""
    return REPLY_OVERHEAD_BYTES + max(0, max_tokens) * BYTES_PER_TOKEN


class OpenAIEngine(Engine):
    """An OpenAI-compatible endpoint, called from a bounded pool of threads sharing one httpx client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float = field_default(ConvertConfig, "request_timeout_s"),
        concurrency: int = field_default(ConvertConfig, "concurrency"),
        connect_retries: int = field_default(ConvertConfig, "connect_retries"),
        retry_backoff_s: float = 0.5,
    ):
        import httpx

        self.base_url = normalize_base_url(base_url)
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or None
        parts = urlsplit(self.base_url)
        if self.api_key and parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            log.warning("the API key goes to %s over plain HTTP, readable on the way", parts.hostname)
        self.timeout_s = timeout_s
        self.connect_retries = connect_retries
        self.retry_backoff_s = retry_backoff_s
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s), transport=_deadline_transport(limits)
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="docvl-http")
        self.model_name = model or ""

    def resolve_model(self) -> str:
        """The model to ask for: the one given, else the first the server lists (fails fast when unreachable)."""
        if not self.model_name:
            status, body = self.request("GET", "/models", None, timeout=min(self.timeout_s, 30.0))
            try:
                models = [entry["id"] for entry in json.loads(body)["data"]]
            except (ValueError, KeyError, TypeError):
                raise EngineError(f"{self.base_url}/models answered HTTP {status} without a model list") from None
            if not models:
                raise EngineError(f"{self.base_url}/models lists no model")
            self.model_name = models[0]
        return self.model_name

    def _on_unreachable(self) -> bool:
        """Hook for engines that own the server: True when it was dead and has been started again."""
        return False

    def request(
        self, method: str, path: str, body: bytes | None, *, timeout: float, max_bytes: int = REPLY_OVERHEAD_BYTES
    ) -> tuple[int, bytes]:
        """One HTTP exchange within `timeout` seconds in all, its body at most `max_bytes`. A refused
        connection is retried with backoff, then EngineUnavailableError."""
        import httpx

        refused = 0
        while True:
            _deadline.at = time.monotonic() + timeout
            try:
                with self._client.stream(
                    method, self.base_url + path, content=body, headers={"Content-Type": "application/json"}
                ) as response:
                    return response.status_code, _read_body(response, max_bytes)
            except httpx.ConnectError as exc:
                refused += 1
                if self._on_unreachable():
                    refused = 0
                    continue
                if refused > self.connect_retries:
                    raise EngineUnavailableError(
                        f"cannot reach {self.base_url} ({exc.__class__.__name__}: {exc}) "
                        f"after {self.connect_retries} retries"
                    ) from None
                time.sleep(self.retry_backoff_s * 2 ** (refused - 1))
            finally:
                _deadline.at = None

    def post_json(self, path: str, payload: dict[str, Any], *, max_tokens: int = 0) -> tuple[int, bytes]:
        """POST `payload` to `path` under the base URL: (HTTP status, body), within the request deadline and
        the size a reply of `max_tokens` may take, with the connection retries."""
        body = json.dumps(payload).encode()
        return self.request("POST", path, body, timeout=self.timeout_s, max_bytes=reply_size_limit(max_tokens))

    def _complete(self, request: PageRequest) -> Reply:
        import httpx

        payload = {
            "model": self.model_name,
            "messages": chat_messages(request),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        start = time.perf_counter()
        try:
            status, data = self.post_json("/chat/completions", payload, max_tokens=request.max_tokens)
        except httpx.TimeoutException:
            return Reply(error=f"timed out after {self.timeout_s:g} s", seconds=time.perf_counter() - start)
        except ReplyTooLargeError as exc:
            return Reply(error=exc.message, seconds=time.perf_counter() - start)
        except httpx.HTTPError as exc:
            return Reply(error=f"connection dropped ({exc.__class__.__name__})", seconds=time.perf_counter() - start)
        return _parse_completion(status, data, time.perf_counter() - start)

    def submit(self, request: PageRequest) -> Future[Reply]:
        return self._pool.submit(self._complete, request)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def _read_body(response: Any, max_bytes: int) -> bytes:
    """The body, read in pieces: ReplyTooLargeError beyond `max_bytes`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ReplyTooLargeError(f"reply of {int(declared)} bytes is over the limit of {max_bytes}")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ReplyTooLargeError(f"reply is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_completion(status: int, data: bytes, seconds: float) -> Reply:
    if status != 200:
        return Reply(error=f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}", seconds=seconds)
    try:
        answer = json.loads(data)
        choice = answer["choices"][0]
        usage = answer.get("usage") or {}
        return Reply(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            seconds=seconds,
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Reply(error=f"malformed response: {data[:200].decode('utf-8', 'replace')}", seconds=seconds)
