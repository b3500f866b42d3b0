"""`docvl serve --backend transformers` (a tiny checkpoint, its own process on 127.0.0.1) under hostile requests:
its peak RSS against idle, and the latency of a normal request while 100 slow clients hold connections open.

    python bench/server_hostile.py            # one summary line at the end
    python bench/server_hostile.py --requests 100

Hostile requests (issue 10 items 5-8): a 200 MB body with its Content-Length and one chunked; four 12000x12000
PNGs at once (140 KB each); a 5 MB prompt; max_tokens 10**30 and -5, twenty at once; bad image data; a file://
URL; 10 MB of nested JSON. Target: peak RSS within 1.5x of idle, every hostile request refused with a 4xx,
and normal requests answered at about their usual latency beside 100 slow clients.
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the server harness the tests use

from serve_factory import RssSampler, Served, page_payload, png_bomb, start_serve  # noqa: E402


def _checkpoint(folder: Path) -> Path:
    from docvl.config import load_config, save_config
    from docvl.models.tiny import build_tiny

    ckpt = build_tiny("qwen2_5_vl", folder / "ckpt")
    save_config(load_config(None, ["data.target_longest_image_dim=224", "convert.max_new_tokens=4"]), ckpt)
    return ckpt


def _flood(served: Served, headers: bytes, chunk: bytes, total: int) -> int:
    """Send a POST with `headers`, then `chunk` until `total` bytes or the server closes; its status."""
    with socket.create_connection((served.host, served.port), timeout=60) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\n" + headers + b"\r\n")
        sent = 0
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        sock.settimeout(30)
        return int(sock.recv(4096).split(b" ", 2)[1])


def hostile(served: Served) -> list[int]:
    """Every hostile request at once, from threads; their statuses."""
    mib = 1 << 20
    bomb = "data:image/png;base64," + base64.b64encode(png_bomb(12000)).decode()
    jobs = [
        lambda: _flood(served, b"Content-Length: %d\r\n" % (200 * mib), b"[" * mib, 200 * mib),
        lambda: _flood(served, b"Transfer-Encoding: chunked\r\n", b"100000\r\n" + b"[" * mib + b"\r\n", 200 * mib),
        lambda: served.chat(page_payload(prompt="w" * 5_000_000))[0],
        lambda: served.chat(page_payload(max_tokens=-5))[0],
        lambda: served.chat(page_payload(image_url="data:image/png;base64," + base64.b64encode(b"junk").decode()))[0],
        lambda: served.chat(page_payload(image_url="file:///etc/passwd"))[0],
        lambda: served.request("POST", "/v1/chat/completions", b"[" * (10 * mib))[0],
        *[lambda: served.chat(page_payload(image_url=bomb))[0]] * 4,
        *[lambda: served.chat(page_payload(max_tokens=10**30))[0]] * 20,
    ]
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda job=job: statuses.append(job())) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


def latencies(served: Served, requests: int) -> list[float]:
    seconds = []
    for _ in range(requests):
        start = time.perf_counter()
        status, _ = served.chat(page_payload(), timeout=60)
        seconds.append(time.perf_counter() - start)
        assert status == 200
    return sorted(seconds)


def slow_clients(served: Served, count: int) -> list[socket.socket]:
    """Connections that stop mid-request: half in the head, half in the body."""
    clients = []
    for i in range(count):
        sock = socket.create_connection((served.host, served.port), timeout=10)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\n"
        sock.sendall(head + b"Content-Length: 100000\r\n\r\n{" if i % 2 else head + b"X-Slow: ")
        clients.append(sock)
    return clients


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="normal requests timed beside the slow clients")
    parser.add_argument("--slow", type=int, default=100, help="slow clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served = start_serve(_checkpoint(Path(tmp)))
        try:
            served.chat(page_payload())  # warm
            time.sleep(1.0)
            with RssSampler(served) as rss:
                statuses = hostile(served)
            idle, peak = rss.before / 1024, rss.peak / 1024
            refused = sum(400 <= status < 500 for status in statuses)
            print(f"hostile: {refused}/{len(statuses)} refused with 4xx; statuses {sorted(set(statuses))}")
            print(f"RSS idle {idle:.0f} MiB, peak {peak:.0f} MiB ({peak / idle:.2f}x)")
            alone = latencies(served, args.requests)
            clients = slow_clients(served, args.slow)
            try:
                beside = latencies(served, args.requests)
            finally:
                for sock in clients:
                    sock.close()
        finally:
            code = served.stop()
    p50, p99 = statistics.median(beside), percentile(beside, 0.99)
    print(
        f"server_hostile: peak RSS {peak:.0f} MiB under {len(statuses)} hostile requests = {peak / idle:.2f}x idle "
        f"({idle:.0f} MiB), {refused} refused 4xx; normal request with {args.slow} slow clients connected "
        f"p50 {p50 * 1000:.0f} ms p99 {p99 * 1000:.0f} ms (alone p50 {statistics.median(alone) * 1000:.0f} ms "
        f"p99 {percentile(alone, 0.99) * 1000:.0f} ms); exit code on SIGTERM {code}"
    )


if __name__ == "__main__":
    main()
