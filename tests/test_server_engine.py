"""TransformersEngine drops the work of clients that left: a queued request is never generated, one being
generated stops at its next token; closing stops a long generation and answers what is still queued."""

from __future__ import annotations

import time
from pathlib import Path

from serve_factory import page_payload, serve_checkpoint

from docvl.config import find_saved_config
from docvl.infer.local import TransformersEngine
from docvl.infer.types import PageRequest


def _request(max_tokens: int) -> PageRequest:
    content = page_payload()["messages"][0]["content"]
    return PageRequest(content[0]["image_url"]["url"], content[1]["text"], max_tokens=max_tokens)


def test_dropped_and_closed_work_stops(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    ckpt = serve_checkpoint(tiny_checkpoints["qwen2_5_vl"], tmp_path / "ckpt", ["serve.batch_wait_ms=0"])
    engine = TransformersEngine(ckpt, find_saved_config(ckpt))
    try:
        running = engine.submit(_request(20000))  # a minute or more of tokens
        time.sleep(1.0)
        queued = engine.submit(_request(5))
        engine.drop(queued)
        assert queued.cancelled()  # never reaches a batch
        start = time.monotonic()
        engine.drop(running)
        assert running.result(timeout=10).error == "stopped: the client left"
        assert time.monotonic() - start < 5
        assert engine.submit(_request(3)).result(timeout=30).completion_tokens == 3  # the engine goes on

        long = engine.submit(_request(20000))
        time.sleep(1.0)
        waiting = engine.submit(_request(5))
        start = time.monotonic()
    finally:
        engine.close()
    assert time.monotonic() - start < 5
    assert long.result(timeout=1).error == "stopped: the server is shutting down"
    assert waiting.result(timeout=1).error == "stopped: the server is shutting down"
