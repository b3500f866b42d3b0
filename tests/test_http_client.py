"""The HTTP client against hostile loopback servers: a whole request has a deadline, a reply a size limit, and
an API key goes only where it was given for (issue 10 items 4 and 9)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from docvl.infer.http_client import OpenAIEngine, reply_size_limit
from docvl.infer.types import PageRequest

MODELS = b'{"object": "list", "data": [{"id": "m"}]}'
REQUEST = PageRequest("data:image/png;base64,AAAA", "transcribe", max_tokens=100)


@contextmanager
def raw_server(respond: Callable[[socket.socket, bytes], None]) -> Iterator[str]:
    """A loopback server that reads each request's head and hands the socket to `respond`; it stops with the
    test (every loop in `respond` ends when the client goes away or after a bounded number of steps)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    def _handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            try:
                respond(conn, head)
            except OSError:
                pass  # the client went away: what the test wants

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _trickle(conn: socket.socket, head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(60):  # one byte every 0.5 s: each read is quick, the whole never ends in time
        conn.sendall(b" ")
        time.sleep(0.5)


def _trickle_head(conn: socket.socket, head: bytes) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"a" * 100:
        conn.sendall(bytes([byte]))  # the status line and headers never end in time either
        time.sleep(0.5)


def _flood(conn: socket.socket, head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    block = b"x" * 65536
    for _ in range(100_000):  # 6.5 GB if nobody stopped reading
        conn.sendall(block)


@pytest.mark.parametrize("respond", [_trickle, _trickle_head], ids=["body", "head"])
def test_trickling_server_hits_the_total_deadline(respond: Callable[[socket.socket, bytes], None]) -> None:
    with raw_server(respond) as url:
        engine = OpenAIEngine(url, model="m", timeout_s=1.5, connect_retries=0)
        start = time.monotonic()
        reply = engine.submit(REQUEST).result(timeout=30)
        engine.close()
    assert reply.error == "timed out after 1.5 s"
    assert time.monotonic() - start < 3  # the deadline, not a read's wait after it


def test_endless_body_is_cut_at_the_size_limit() -> None:
    import resource

    with raw_server(_flood) as url:
        engine = OpenAIEngine(url, model="m", timeout_s=30, connect_retries=0)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.monotonic()
        reply = engine.submit(REQUEST).result(timeout=30)
        engine.close()
    assert reply.error and "over the limit" in reply.error and time.monotonic() - start < 10
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mib < 8 * reply_size_limit(REQUEST.max_tokens) / 2**20 + 50


def _recording(seen: list[bytes]) -> Callable[[socket.socket, bytes], None]:
    def respond(conn: socket.socket, head: bytes) -> None:
        seen.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(MODELS) + MODELS)

    return respond


def _authorization(head: bytes) -> str | None:
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "authorization":
            return value.strip()
    return None


def test_api_key_only_when_given_for_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[bytes] = []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.delenv("DOCVL_API_KEY", raising=False)
    with raw_server(_recording(seen)) as url:
        for api_key, env in ((None, None), (None, "docvl-env-key"), ("given-key", "docvl-env-key")):
            if env:
                monkeypatch.setenv("DOCVL_API_KEY", env)
            engine = OpenAIEngine(url, api_key=api_key, connect_retries=0)
            assert engine.resolve_model() == "m"
            engine.close()
    assert [_authorization(h) for h in seen] == [None, "Bearer docvl-env-key", "Bearer given-key"]
    assert "plain HTTP" not in caplog.text  # loopback: nobody on the way
    OpenAIEngine("http://10.0.0.1:1/v1", api_key="k").close()
    assert "plain HTTP" in caplog.text
