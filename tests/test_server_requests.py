"""`docvl serve --backend transformers` checks every request on its own, against bounds from the checkpoint,
before it reaches a batch: max_tokens and prompt length, body size, image area (from the header), image data,
URLs. A refused request is a 400/413 with a plain message for that client; its neighbours are answered."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_factory import RssSampler, Served, page_payload, png_bomb, serve_checkpoint, start_serve

# The tiny checkpoint's context: 64 image tokens (224 px pages) + 512 prompt budget + 4 new tokens -> 1024.
CONTEXT = 1024


@pytest.fixture(scope="module")
def served(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    ckpt = serve_checkpoint(tiny_checkpoints["qwen2_5_vl"], tmp_path_factory.mktemp("serve") / "ckpt", [])
    server = start_serve(ckpt)
    yield server
    assert server.stop() == 0


def _message(body: dict) -> str:
    return body["error"]["message"]


def test_max_tokens_is_capped_by_the_context(served: Served) -> None:
    status, body = served.chat(page_payload())
    assert status == 200
    prompt_tokens = body["usage"]["prompt_tokens"]
    assert body["usage"]["completion_tokens"] == 4  # omitted: the checkpoint's convert.max_new_tokens
    status, body = served.chat(page_payload(max_tokens=2))
    assert status == 200 and body["usage"]["completion_tokens"] == 2
    room = CONTEXT - prompt_tokens
    status, body = served.chat(page_payload(max_tokens=10**30))
    assert status == 400 and f"at most {room} new tokens" in _message(body) and "Traceback" not in _message(body)
    assert served.chat(page_payload(max_tokens=room + 1))[0] == 400
    for bad in (-5, 0, "8", 1.5, True):
        status, body = served.chat(page_payload(max_tokens=bad))
        assert status == 400, (bad, body)
    assert served.chat(page_payload(temperature=-1))[0] == 400
    assert served.chat(page_payload(temperature="hot"))[0] == 400
    assert served.chat(page_payload(stream=True))[0] == 400  # an answer it could not parse would be worse
    assert served.chat(page_payload(n=3))[0] == 400


def test_prompt_over_the_context_is_refused(served: Served) -> None:
    status, body = served.chat(page_payload(prompt="word " * 2000))
    assert status == 400 and f"context is {CONTEXT} tokens" in _message(body)
    with RssSampler(served) as rss:
        status, body = served.chat(page_payload(prompt="w" * 5_000_000))  # refused by length, never tokenized
    assert status == 400 and "5000000 characters" in _message(body)
    assert rss.growth_mib < 100, rss.growth_mib


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_a_huge_image_is_refused_from_its_header(served: Served) -> None:
    bomb = png_bomb(12000)  # 140 KB of PNG, 144 M pixels decoded
    assert len(bomb) < 200_000
    with RssSampler(served) as rss:
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(served.chat(page_payload(image_url=_data_url(bomb)))))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert [status for status, _ in results] == [400] * 4
    assert "12000x12000 pixels" in _message(results[0][1])
    assert rss.growth_mib < 50, rss.growth_mib  # decoding one would cost 144 MB (RGB: 432 MB)


def test_bad_images_and_urls_are_400_with_a_plain_message(served: Served) -> None:
    from PIL import Image

    def png_of(width: int, height: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), "red").save(buffer, "PNG")
        return buffer.getvalue()

    png = png_of(200, 300)
    cases = {
        "file:///etc/passwd": "no file or web URLs",
        "http://127.0.0.1:1/page.png": "no file or web URLs",
        "data:image/png;base64,@@@not base64@@@": "not valid base64",
        _data_url(b"not an image at all"): "readable image",
        _data_url(png[: len(png) - 40]): "corrupt or truncated",
        _data_url(png_of(5000, 5)): "cannot take a 5000x5 image",  # the processor refuses its aspect ratio
    }
    for url, expected in cases.items():
        status, body = served.chat(page_payload(image_url=url))
        assert status == 400 and expected in _message(body), (url[:40], body)
        assert "Traceback" not in _message(body) and 'File "' not in _message(body)
    bad_shapes = [
        {"messages": []},
        {"messages": [{"role": "user", "content": "just text"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "no image"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
        [1, 2, 3],
    ]
    for payload in bad_shapes:
        status, body = served.chat(payload)  # type: ignore[arg-type]
        assert status == 400 and body["error"]["type"] == "invalid_request_error", (payload, body)


def test_one_bad_request_beside_five_good_ones(served: Served) -> None:
    payloads = [page_payload(max_tokens=3) for _ in range(5)]
    payloads.insert(2, page_payload(image_url=_data_url(b"\x89PNG\r\n\x1a\n garbage")))
    results: dict[int, tuple[int, dict]] = {}
    barrier = threading.Barrier(len(payloads))

    def send(i: int) -> None:
        barrier.wait()
        results[i] = served.chat(payloads[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = [results[i][0] for i in range(len(payloads))]
    assert statuses == [200, 200, 400, 200, 200, 200]
    assert all(results[i][1]["usage"]["completion_tokens"] == 3 for i in (0, 1, 3, 4, 5))
    assert "image" in _message(results[2][1])


def _flood(served: Served, head: bytes, chunk: bytes, total: int) -> bytes:
    """Send `head`, then `chunk` until `total` bytes are sent or the server closes; what it answered."""
    with socket.create_connection((served.host, served.port), timeout=30) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection after answering
        sock.settimeout(10)
        return sock.recv(4096)


def test_a_200_mb_body_is_refused_without_reading_it(served: Served) -> None:
    total = 200 << 20
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    with RssSampler(served) as rss:
        declared = _flood(served, head + b"Content-Length: %d\r\n\r\n" % total, b"[" * (1 << 20), total)
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
    assert rss.growth_mib < 20, rss.growth_mib
    chunk = b"[" * (1 << 20)
    with RssSampler(served) as rss:
        chunked = _flood(served, head + b"Transfer-Encoding: chunked\r\n\r\n", b"100000\r\n" + chunk + b"\r\n", total)
    assert chunked.startswith(b"HTTP/1.1 413"), chunked[:200]
    assert rss.growth_mib < 80, rss.growth_mib  # at most one body limit (35 MB) was held
    assert json.loads(chunked.split(b"\r\n\r\n", 1)[1])["error"]["message"].startswith("the body is over")
    assert served.chat(page_payload())[0] == 200  # and the server is fine
