"""The vLLM supervisor: `vllm serve CKPT` (command from `docvl.infer.vllm_cmd`) as a child process with its log
in a file, started, waited for until `/v1/models` answers, stopped, and started again (a few times) when it
dies; spoken to over HTTP like any OpenAI-compatible server."""

from __future__ import annotations

import codecs
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from docvl.infer.http_client import OpenAIEngine, normalize_base_url
from docvl.infer.types import EngineError, EngineUnavailableError, PageRequest, Reply

if TYPE_CHECKING:
    from docvl.config import DocvlConfig


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ServerProcess:
    """A child server (vLLM) with its log in a file: start, wait for /v1/models, stop, restart.

    With `echo`, a thread also copies the log onto that stream as it grows (`docvl serve` in the foreground), and
    errors then name the log instead of repeating its tail."""

    def __init__(
        self,
        command: list[str],
        base_url: str,
        log_path: Path,
        startup_timeout_s: float,
        echo: TextIO | None = None,
    ):
        self.command = command
        self.base_url = normalize_base_url(base_url)
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.echo = echo
        self.process: subprocess.Popen[bytes] | None = None
        self._follower: threading.Thread | None = None

    def start(self) -> None:
        """Start the child and wait until it answers; EngineError with the log's tail when it does not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            offset = log.tell()
            try:
                self.process = subprocess.Popen(
                    self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                raise EngineError(f"cannot start {self.command[0]!r}: {exc.strerror}") from None
        if self.echo is not None:
            self._follower = threading.Thread(
                target=self._follow, args=(self.process, offset, self.echo), name="docvl-vllm-log", daemon=True
            )
            self._follower.start()
        self.wait_ready()

    def _follow(self, process: subprocess.Popen[bytes], offset: int, echo: TextIO) -> None:
        """Copy the log from `offset` onto `echo` until `process` has exited and all it wrote is copied."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with self.log_path.open("rb") as log:
            log.seek(offset)
            while True:
                exited = process.poll() is not None  # read once more after the exit: what it wrote last
                chunk = log.read(65536)
                if chunk:
                    echo.write(decoder.decode(chunk))
                    echo.flush()
                elif exited:
                    return
                else:
                    time.sleep(0.2)

    def _log_excerpt(self) -> str:
        """For an error: the log's tail, or only where it is when its lines were shown already."""
        return f" (log: {self.log_path})" if self.echo is not None else f":\n{_log_tail(self.log_path)}"

    def wait(self) -> int:
        """Until the child exits (its log copied out): its exit code."""
        assert self.process is not None, "not started"
        code = self.process.wait()
        self._join_follower()
        return code

    def _join_follower(self) -> None:
        if self._follower is not None:
            self._follower.join(10.0)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exits_within(self, seconds: float) -> bool:
        """Whether the child, refusing connections but not yet gone (a crash closes its socket first), exits."""
        try:
            return self.process is not None and self.process.wait(seconds) is not None
        except subprocess.TimeoutExpired:
            return False

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        probe = OpenAIEngine(self.base_url, connect_retries=0, timeout_s=5.0, concurrency=1)
        try:
            while time.monotonic() < deadline:
                if not self.alive():
                    code = self.process.returncode if self.process else None
                    raise EngineError(f"server exited with code {code} while starting{self._log_excerpt()}")
                try:
                    probe.request("GET", "/models", None, timeout=5.0)
                    return
                except (EngineError, httpx.HTTPError):  # not answering yet
                    time.sleep(1.0)
        finally:
            probe.close()
        self.stop()
        raise EngineError(
            f"server did not answer {self.base_url}/models within {self.startup_timeout_s:g} s{self._log_excerpt()}"
        )

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._join_follower()


def start_vllm(server: ServerProcess, model: str, checkpoint: str | Path) -> None:
    """Start vLLM and see it generate one token as `model`; when it cannot, stop it and raise the error with vLLM's
    own reason from its log (`docvl.infer.vllm_cmd.vllm_failure`: exit 1, or 2 for a broken environment)."""
    from docvl.infer.vllm_cmd import check_generates, vllm_failure

    try:
        server.start()
        check_generates(server.base_url, model)
    except EngineError as exc:
        server.stop()
        raise vllm_failure(server.log_path, checkpoint, str(exc)) from None


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
        """Start vLLM (again) and see it generate."""
        start_vllm(self.server, self.served_name, self.checkpoint)

    def close(self) -> None:
        super().close()
        self.server.stop()
