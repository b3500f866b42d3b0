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
