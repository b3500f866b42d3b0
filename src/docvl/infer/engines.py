"""Engines behind one interface: `submit(request) -> Future[Reply]` and `generate(requests) -> list[Reply]`.

- `OpenAIEngine`: any OpenAI-compatible endpoint over HTTP (stdlib `http.client`, one keep-alive connection
  per thread, a bounded thread pool), so hundreds of requests can be in flight against vLLM.
- `VllmEngine`: starts `vllm serve` as a child process (its own environment, `serve.vllm_executable`), waits
  until `/v1/models` answers, then talks to it as `OpenAIEngine`; a child that dies is started again.
- `TransformersEngine`: the model in-process, batching concurrent requests; used on CPU, in tests and by
  `docvl serve --backend transformers`.

A reply that did not come (HTTP error, timeout, dropped connection) is a `Reply` with `error` set: one failed
attempt for the caller to retry. A server that cannot be reached at all, after `connect_retries`, raises
`EngineUnavailableError` instead, so a run stops fast rather than failing every page.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from docvl.errors import DocvlError
from docvl.system import free_port

if TYPE_CHECKING:
    from docvl.config import DocvlConfig, ServeConfig

API_KEY_ENV = ("DOCVL_API_KEY", "OPENAI_API_KEY")
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)
_UNREACHABLE = (ConnectionRefusedError, socket.gaierror, http.client.CannotSendRequest)


class EngineError(DocvlError):
    """An engine could not be started or used."""


class EngineUnavailableError(EngineError):
    """The server cannot be reached (after the configured retries): the run stops, finished work is kept."""


@dataclass(frozen=True)
class PageRequest:
    """One page to transcribe: the image as a data URL (see `docvl.infer.encode`) and the prompt."""

    image_url: str
    prompt: str
    temperature: float = 0.0
    max_tokens: int = 8000
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


def normalize_base_url(url: str) -> str:
    """`host:8000`, `http://host:8000` or `http://host:8000/v1/` -> `http://host:8000/v1`."""
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


class OpenAIEngine(Engine):
    """An OpenAI-compatible `/chat/completions` endpoint, called from a bounded pool of threads."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float = 600.0,
        concurrency: int = 64,
        connect_retries: int = 3,
        retry_backoff_s: float = 0.5,
    ):
        self.base_url = normalize_base_url(base_url)
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/")
        self.api_key = api_key or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
        self.timeout_s = timeout_s
        self.connect_retries = connect_retries
        self.retry_backoff_s = retry_backoff_s
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="docvl-http")
        self.model_name = model or ""

    def resolve_model(self) -> str:
        """The model to ask for: the one given, else the first the server lists (fails fast when unreachable)."""
        if not self.model_name:
            status, body = self._request("GET", "/models", None, timeout=min(self.timeout_s, 30.0))
            try:
                models = [entry["id"] for entry in json.loads(body)["data"]]
            except (ValueError, KeyError, TypeError):
                raise EngineError(f"{self.base_url}/models answered HTTP {status} without a model list") from None
            if not models:
                raise EngineError(f"{self.base_url}/models lists no model")
            self.model_name = models[0]
        return self.model_name

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection and whether it was used before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        self._local.conn = conn
        return conn, False

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _on_unreachable(self) -> bool:
        """Hook for engines that own the server: True when it was dead and has been started again."""
        return False

    def _request(self, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
        """One HTTP exchange. Refused connections are retried with backoff, then EngineUnavailableError;
        a keep-alive connection the server closed while idle is retried once on a fresh one."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        refused = 0
        while True:
            conn, reused = self._connection(timeout)
            try:
                conn.request(method, self._path + path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop_connection()
                return response.status, data
            except _UNREACHABLE as exc:
                self._drop_connection()
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
            except _DROPPED:
                self._drop_connection()
                if not reused:
                    raise
            except BaseException:
                self._drop_connection()
                raise

    def post_json(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        """POST `payload` to `path` under the base URL: (HTTP status, body), with the connection retries."""
        return self._request("POST", path, json.dumps(payload).encode(), self.timeout_s)

    def _complete(self, request: PageRequest) -> Reply:
        payload = {
            "model": self.model_name,
            "messages": chat_messages(request),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        start = time.perf_counter()
        try:
            status, data = self.post_json("/chat/completions", payload)
        except TimeoutError:
            return Reply(error=f"timed out after {self.timeout_s:g} s", seconds=time.perf_counter() - start)
        except (http.client.HTTPException, OSError) as exc:
            return Reply(error=f"connection dropped ({exc.__class__.__name__})", seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
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

    def submit(self, request: PageRequest) -> Future[Reply]:
        return self._pool.submit(self._complete, request)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ServerProcess:
    """A child server (vLLM) with its log in a file: start, wait for /v1/models, stop, restart."""

    def __init__(self, command: list[str], base_url: str, log_path: Path, startup_timeout_s: float):
        self.command = command
        self.base_url = normalize_base_url(base_url)
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child and wait until it answers; EngineError with the log's tail when it does not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                raise EngineError(f"cannot start {self.command[0]!r}: {exc.strerror}") from None
        self.wait_ready()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exits_within(self, seconds: float) -> bool:
        """Whether the child, refusing connections but not yet gone (a crash closes its socket first), exits."""
        try:
            return self.process is not None and self.process.wait(seconds) is not None
        except subprocess.TimeoutExpired:
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        probe = OpenAIEngine(self.base_url, connect_retries=0, timeout_s=5.0, concurrency=1)
        try:
            while time.monotonic() < deadline:
                if not self.alive():
                    code = self.process.returncode if self.process else None
                    raise EngineError(f"server exited with code {code} while starting:\n{_log_tail(self.log_path)}")
                try:
                    probe._request("GET", "/models", None, timeout=5.0)
                    return
                except (EngineUnavailableError, OSError, http.client.HTTPException):
                    time.sleep(1.0)
        finally:
            probe.close()
        self.stop()
        raise EngineError(
            f"server did not answer {self.base_url}/models within {self.startup_timeout_s:g} s:\n"
            f"{_log_tail(self.log_path)}"
        )

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# How long a vLLM that answered HTTP 5xx may take to exit before the answer counts as the page's failure.
VLLM_DYING_GRACE_S = 15.0


class VllmEngine(OpenAIEngine):
    """`vllm serve CKPT` as a child process, spoken to over HTTP; started again (a few times) when it dies."""

    def __init__(self, checkpoint: str | Path, config: DocvlConfig, *, port: int, log_path: Path):
        from docvl.infer.vllm_cmd import build_vllm_command, require_vllm, served_model_name

        command = build_vllm_command(checkpoint, config, host="127.0.0.1", port=port)
        require_vllm(command)
        base_url = f"http://127.0.0.1:{port}/v1"
        self.checkpoint, self.served_name = checkpoint, served_model_name(checkpoint, config)
        self.server = ServerProcess(command, base_url, log_path, config.serve.startup_timeout_s)
        self.max_restarts = self.restarts_left = config.serve.max_restarts
        self._starts = 1
        self._restart_lock = threading.Lock()
        self._start_server()
        super().__init__(
            base_url,
            model=self.served_name,
            timeout_s=config.convert.request_timeout_s,
            concurrency=config.convert.concurrency,
            connect_retries=config.convert.connect_retries,
        )

    def _on_unreachable(self, seen: int | None = None, grace_s: float = 1.0) -> bool:
        """True when vLLM (in its life `seen`, default: now) died and has been started again; False when it is
        alive and does not exit within `grace_s`."""
        seen = self._starts if seen is None else seen
        with self._restart_lock:
            if self._starts != seen:
                return True  # refused by the server that died; another thread has started it again meanwhile
            if self.server.alive() and not self.server.exits_within(grace_s):
                return False  # alive but refusing: the usual retries with backoff decide
            if self.restarts_left <= 0:
                from docvl.infer.vllm_cmd import failure_reason

                process = self.server.process
                log = self.server.log_path
                reason, last = failure_reason(_log_tail(log, 400)), _log_tail(log, 1)[-200:]
                raise EngineUnavailableError(
                    f"vLLM exited with code {process.returncode if process else None} and serve.max_restarts="
                    f"{self.max_restarts} restarts are used up"
                    + (f"; its reason: {reason}" if reason else f"; its last line: {last}" if last else "")
                    + f" (log: {log})"
                )
            self.restarts_left -= 1
            self._start_server()
            self._starts += 1
            return True

    def _complete(self, request: PageRequest) -> Reply:
        """An HTTP 5xx from a vLLM that then exits (its engine process died and its front end answers 500 until
        it stops) is the server's failure, not the page's: the request goes to the restarted vLLM."""
        while True:
            seen = self._starts
            reply = super()._complete(request)
            dying = reply.error is not None and reply.error.startswith("HTTP 5")
            if not (dying and self._on_unreachable(seen, VLLM_DYING_GRACE_S)):
                return reply

    def _start_server(self) -> None:
        """Start vLLM and see it generate; when it cannot, the error carries vLLM's own reason from its log."""
        from docvl.infer.vllm_cmd import check_generates, vllm_failure

        try:
            self.server.start()
            check_generates(self.server.base_url, self.served_name)
        except EngineError as exc:
            self.server.stop()
            raise vllm_failure(self.server.log_path, self.checkpoint, str(exc)) from None

    def close(self) -> None:
        super().close()
        self.server.stop()


class TransformersEngine(Engine):
    """A checkpoint loaded in this process. One thread generates; requests that arrive within
    `batch_wait_ms` of each other (up to `max_batch_size`) are generated together."""

    def __init__(self, checkpoint: str | Path, config: DocvlConfig, *, model_name: str | None = None):
        from docvl.infer.hf import HFGenerator

        self.generator = HFGenerator(checkpoint, config)
        self.model_name = model_name or Path(str(checkpoint)).name
        self.max_batch_size = config.serve.max_batch_size
        self.batch_wait_s = config.serve.batch_wait_ms / 1000
        self._queue: queue.Queue[tuple[PageRequest, Future[Reply]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="docvl-generate", daemon=True)
        self._thread.start()

    def submit(self, request: PageRequest) -> Future[Reply]:
        future: Future[Reply] = Future()
        self._queue.put((request, future))
        return future

    def _next_batch(self) -> list[tuple[PageRequest, Future[Reply]]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.max_batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = [(req, fut) for req, fut in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                replies = self.generator.generate([req for req, _ in live])
            except Exception as exc:  # a failed batch fails its requests, never the server
                replies = [Reply(error=f"generation failed: {exc.__class__.__name__}: {exc}")] * len(live)
            for (_, future), reply in zip(live, replies, strict=True):
                future.set_result(reply)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)


def page_request(
    image: Any, config: DocvlConfig, *, temperature: float = 0.0, max_tokens: int | None = None
) -> PageRequest:
    """The request for one rendered page under `config`: its prompt, image order and encoding."""
    from docvl.infer.encode import to_data_url
    from docvl.prompts import build_prompt

    return PageRequest(
        image_url=to_data_url(image, config.convert.image_format),
        prompt=build_prompt(config.prompt),
        temperature=temperature,
        max_tokens=max_tokens or config.convert.max_new_tokens,
        image_first=config.data.image_first,
    )


def resolve_backend(serve: ServeConfig) -> str:
    """`serve.backend`, with `auto` decided by the machine: vLLM needs a CUDA GPU and its own executable."""
    if serve.backend != "auto":
        return serve.backend
    import shutil

    import torch

    from docvl.infer.vllm_cmd import vllm_program

    return "vllm" if torch.cuda.is_available() and shutil.which(vllm_program(serve)[0]) else "transformers"


def open_engine(
    config: DocvlConfig,
    *,
    server: str | None = None,
    api_key: str | None = None,
    model: str | Path | None = None,
    log_dir: Path | None = None,
) -> Engine:
    """The engine for a run: `server` (an OpenAI-compatible URL; its first model unless `model` names one)
    or `model` (a checkpoint, run with `serve.backend`: vLLM as a child process, or transformers here)."""
    if server:
        engine = OpenAIEngine(
            server,
            api_key=api_key,
            model=str(model) if model else None,
            timeout_s=config.convert.request_timeout_s,
            concurrency=config.convert.concurrency,
            connect_retries=config.convert.connect_retries,
        )
        try:
            engine.resolve_model()
        except BaseException:
            engine.close()
            raise
        return engine
    if model is None:
        raise EngineError("give a server URL or a model checkpoint")
    if resolve_backend(config.serve) == "transformers":
        return TransformersEngine(model, config)
    from docvl.models.registry import resolve_checkpoint

    checkpoint = resolve_checkpoint(str(model))
    if not isinstance(checkpoint, Path):
        raise EngineError(f"vLLM serves local checkpoint folders; '{model}' is not one")
    port = free_port()
    return VllmEngine(checkpoint, config, port=port, log_path=(log_dir or Path(".")) / f"vllm-{port}.log")


def run_config(checkpoint: str | Path | None, config_file: str | Path | None, overrides: list[str]) -> DocvlConfig:
    """The config of a serve/convert run. A checkpoint's saved `docvl.yaml` is the base, so pages are rendered,
    prompted and parsed as in training; a `--config` file then only sets the runtime sections (`serve`,
    `convert`); dotted overrides last. Without a checkpoint: `--config` or the defaults, then overrides."""
    from docvl.config import apply_overrides, build_config, find_saved_config, read_yaml

    saved = None
    if checkpoint is not None and not str(checkpoint).startswith("tiny:") and Path(checkpoint).is_dir():
        saved = find_saved_config(checkpoint)
    data: dict[str, Any] = saved.model_dump(mode="json") if saved else {}
    if config_file:
        extra = read_yaml(Path(config_file))
        if saved is None:
            data = extra
        for section in ("serve", "convert") if saved else ():
            data[section] = {**data.get(section, {}), **(extra.get(section) or {})}
    return build_config(apply_overrides(data, overrides), str(config_file or checkpoint or "<overrides>"))
