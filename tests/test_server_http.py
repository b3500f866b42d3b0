"""`docvl serve --backend transformers` over HTTP on 127.0.0.1: its routes, many concurrent and slow clients,
malformed HTTP, clients that leave mid-generation and SIGTERM mid-generation."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_factory import Served, page_payload, serve_checkpoint, start_serve

from docvl.config import find_saved_config


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return serve_checkpoint(tiny_checkpoints["qwen2_5_vl"], tmp_path_factory.mktemp("serve") / "ckpt", [])


@pytest.fixture(scope="module")
def long_ckpt(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint whose replies may run to 30000 tokens: minutes of generation on the tiny model."""
    folder = tmp_path_factory.mktemp("serve") / "long"
    return serve_checkpoint(tiny_checkpoints["qwen2_5_vl"], folder, ["convert.max_new_tokens=30000"])


@pytest.fixture(scope="module")
def served(ckpt: Path) -> Iterator[Served]:
    server = start_serve(ckpt)
    yield server
    assert server.stop() == 0


def test_routes(served: Served, ckpt: Path) -> None:
    status, models = served.request("GET", "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == ["ckpt"]
    assert served.request("GET", "/models")[1] == models
    assert served.request("GET", "/health") == (200, {"status": "ok"})
    status, served_config = served.request("GET", "/v1/docvl/config")
    assert status == 200 and served_config["checkpoint"] == str(ckpt.resolve())
    saved = find_saved_config(ckpt).model_dump(mode="json")
    assert served_config["config"] == {**saved, "serve": {**saved["serve"], "backend": "transformers"}}  # as run
    assert served_config["config"]["convert"]["max_new_tokens"] == 4
    status, body = served.request("GET", "/v1/nothing")
    assert status == 404 and "/v1/nothing" in body["error"]["message"]
    assert served.request("GET", "/v1/chat/completions")[0] == 405
    status, body = served.request("POST", "/chat/completions", json.dumps(page_payload(max_tokens=1)).encode())
    assert status == 200 and body["choices"][0]["message"]["role"] == "assistant"


def test_fifty_concurrent_clients_are_all_answered(served: Served) -> None:
    results: list[int] = []
    barrier = threading.Barrier(50)

    def client() -> None:
        barrier.wait()
        try:
            results.append(served.chat(page_payload(max_tokens=2), timeout=120)[0])
        except OSError as exc:
            results.append(-1)
            raise AssertionError(f"connection failed: {exc}") from None

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert results == [200] * 50


def _slow_clients(served: Served, count: int) -> list[socket.socket]:
    """`count` connections that stop mid-request: half in the request head, half in the body."""
    clients = []
    for i in range(count):
        sock = socket.create_connection((served.host, served.port), timeout=10)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
        sock.sendall(head + b"Content-Length: 100000\r\n\r\n{" if i % 2 else head + b"X-Slow: ")
        clients.append(sock)
    return clients


def test_a_hundred_slow_clients_do_not_block_a_normal_request(served: Served) -> None:
    clients = _slow_clients(served, 100)
    try:
        latencies = []
        for _ in range(10):
            for sock in clients:  # trickle: one more byte each
                sock.sendall(b"a")
            start = time.perf_counter()
            status, _ = served.chat(page_payload(max_tokens=1), timeout=30)
            latencies.append(time.perf_counter() - start)
            assert status == 200
        assert statistics.median(latencies) < 2.0, latencies
    finally:
        for sock in clients:
            sock.close()


def _raw(served: Served, data: bytes) -> bytes:
    with socket.create_connection((served.host, served.port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(4096)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 200001\r\n\r\n" + b"[" * 200001,
        b'POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{"a": [',
        b"GARBAGE\r\n\r\n",
    ],
    ids=["not-a-number", "negative", "conflicting", "nested-json", "truncated-json", "no-http"],
)
def test_malformed_http_gets_a_4xx(served: Served, request_bytes: bytes) -> None:
    answer = _raw(served, request_bytes)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]
    assert b"Traceback" not in answer
    assert served.request("GET", "/health")[0] == 200


def test_a_client_that_leaves_has_its_generation_stopped(long_ckpt: Path) -> None:
    served = start_serve(long_ckpt)
    try:
        body = json.dumps(page_payload(max_tokens=20000)).encode()  # ~a minute of tokens on this machine
        with socket.create_connection((served.host, served.port), timeout=10) as sock:
            head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
            sock.sendall(head + body)
            time.sleep(1.0)  # generating now
        start = time.perf_counter()
        status, reply = served.chat(page_payload(max_tokens=2), timeout=60)
        assert status == 200 and reply["usage"]["completion_tokens"] == 2
        assert time.perf_counter() - start < 10  # not behind the abandoned 20000 tokens
    finally:
        assert served.stop() == 0


def test_sigterm_during_generation_stops_in_seconds(long_ckpt: Path) -> None:
    served = start_serve(long_ckpt)
    answers: list[tuple[int, dict]] = []
    clients = [
        threading.Thread(target=lambda: answers.append(served.chat(page_payload(max_tokens=20000), timeout=60)))
        for _ in range(3)
    ]
    for client in clients:
        client.start()
    time.sleep(1.5)
    start = time.monotonic()
    assert served.stop() == 0  # not killed by the signal, not an abort
    assert time.monotonic() - start < 15
    for client in clients:
        client.join(10)
    assert [status for status, _ in answers] == [503] * 3  # answered, not dropped
    assert all(body["error"]["message"] == "stopped: the server is shutting down" for _, body in answers)
    assert "Traceback" not in "".join(served.log)


def test_connections_without_a_request_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn alone would keep a client that never finishes its request head forever."""
    from docvl.infer import server as server_module

    monkeypatch.setattr(server_module, "HEADER_TIMEOUT_S", 0.5)

    async def app(scope: dict, receive: object, send: object) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    sock = server_module.listen("127.0.0.1", 0)
    uvicorn_server = server_module.uvicorn_server(app, lambda: None)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    address = sock.getsockname()
    clients = [socket.create_connection(address, timeout=5) for _ in range(3)]
    silent, trickling, answered = clients
    try:
        start = time.monotonic()
        answered.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert answered.recv(1024).startswith(b"HTTP/1.1 204")
        trickling.sendall(b"GET / HTTP/1.1\r\nHo")
        with pytest.raises(OSError):  # a byte every 0.1 s does not keep it open
            for _ in range(50):
                time.sleep(0.1)
                trickling.sendall(b"s")
        assert 0.4 < time.monotonic() - start < 2
        assert silent.recv(1024) == b""  # closed by the server
        assert answered.recv(1024) == b""  # and the idle one, after its answer
        assert time.monotonic() - start < 2
    finally:
        for client in clients:
            client.close()
        uvicorn_server.should_exit = True
        thread.join(10)


def test_a_failed_generation_tells_clients_nothing_of_it(tmp_path: Path) -> None:
    """The engine's error text (Python's, maybe about other requests in the batch) goes to the log only."""
    from concurrent.futures import Future

    from docvl.config import load_config
    from docvl.infer import server as server_module
    from docvl.infer.server_requests import RequestLimits
    from docvl.infer.types import Reply

    class FailingEngine:
        model_name = "failing"

        def submit(self, request: object) -> Future[Reply]:
            future: Future[Reply] = Future()
            future.set_result(Reply(error="generation failed: RuntimeError: secret detail of another request"))
            return future

        def drop(self, future: object) -> None:
            pass

    class AcceptingChecker:
        limits = RequestLimits(context_tokens=1024, default_max_tokens=4, max_image_pixels=10**6, max_prompt_chars=100)

        def check(self, payload: object) -> object:
            return payload

    app = server_module.build_app(FailingEngine(), AcceptingChecker(), tmp_path, load_config(None, []))  # type: ignore[arg-type]
    sock = server_module.listen("127.0.0.1", 0)
    uvicorn_server = server_module.uvicorn_server(app, lambda: None)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    host, port = sock.getsockname()
    try:
        status, body = Served(None, host, port, []).chat({"any": "thing"})  # type: ignore[arg-type]
        assert status == 500 and body["error"]["message"] == "generation failed on the server"
    finally:
        uvicorn_server.should_exit = True
        thread.join(10)
