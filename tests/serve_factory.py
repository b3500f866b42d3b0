"""`docvl serve --backend transformers` of a tiny checkpoint as a real process on 127.0.0.1, and the requests
the server tests send it: what `docvl convert` sends, and hostile variants of it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docvl.config import load_config, save_config

DOCVL = [sys.executable, "-m", "docvl.cli"]


def serve_checkpoint(tiny: Path, folder: Path, overrides: list[str]) -> Path:
    """A copy of a tiny checkpoint whose saved docvl.yaml has small pages and `overrides`."""
    shutil.copytree(tiny, folder)
    small = ["data.target_longest_image_dim=224", "convert.max_new_tokens=4"]
    save_config(load_config(None, [*small, *overrides]), folder)
    return folder


@dataclass
class Served:
    """A running `docvl serve` process."""

    process: subprocess.Popen[str]
    host: str
    port: int
    log: list[str]

    def rss_kib(self) -> int:
        """The server process's resident memory now, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 60) -> tuple[int, Any]:
        """(status, parsed JSON body) of one request on a fresh connection."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def chat(self, payload: dict[str, Any], timeout: float = 60) -> tuple[int, Any]:
        return self.request("POST", "/v1/chat/completions", json.dumps(payload).encode(), timeout)

    def stop(self) -> int:
        """SIGTERM; the exit code (SIGKILL and a failure after 30 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("docvl serve did not stop within 30 s of SIGTERM") from None
        return self.process.returncode


def start_serve(checkpoint: Path) -> Served:
    """`docvl serve CKPT --backend transformers --port 0`, once it prints its URL."""
    process = subprocess.Popen(
        [*DOCVL, "serve", str(checkpoint), "--backend", "transformers", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        url = next((line.split(" at ")[1].split()[0] for line in lines if line.startswith("serving ")), None)
        if url:
            host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
            return Served(process, host, int(port), lines)
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"docvl serve did not start: {''.join(lines)[-2000:]}")


def page_payload(prompt: str | None = None, image_url: str | None = None, **fields: Any) -> dict[str, Any]:
    """A chat payload as `docvl convert` sends it for a small white page, with fields replaced or added."""
    from PIL import Image

    from docvl.config import load_config
    from docvl.infer.encode import to_data_url
    from docvl.prompts import build_prompt

    image = image_url or to_data_url(Image.new("RGB", (160, 224), "white"))
    content = [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": prompt or ""}]
    if prompt is None:
        content[1]["text"] = build_prompt(load_config(None, []).prompt)
    return {"model": "m", "messages": [{"role": "user", "content": content}], "temperature": 0.0, **fields}


def png_bomb(side: int) -> bytes:
    """A valid grayscale PNG of side x side black pixels: ~1/1000 of its decoded size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)
    pixels = b"".join(compressor.compress(row * 100) for _ in range(side // 100)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


class RssSampler:
    """The server's largest RSS while in a `with` block, sampled every 5 ms in a thread."""

    def __init__(self, served: Served):
        self.served = served
        self.before = served.rss_kib()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.served.rss_kib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.served.rss_kib())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024
