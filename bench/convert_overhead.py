"""Client overhead of `docvl convert`: pages/s against a zero-latency OpenAI-compatible server on 127.0.0.1
(a fixed valid reply, in its own process), beside the floor of rendering + encoding the same pages alone with
the same number of processes; peak memory of the client for 100 vs 1000 pages; the image-encoding options.

    python bench/convert_overhead.py                  # 100 and 1000 pages, one summary line at the end
    python bench/convert_overhead.py --pages 300 --skip-memory

Target: convert >= 80% of the floor, and the same peak RSS for 100 and 1000 pages (bounded window).
Each measurement runs in a fresh subprocess so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "pdfs"
SINGLE_PAGE = ["edgar.pdf", "olmo-page-1.pdf", "dolma-page-1.pdf", "ambiguous.pdf", "some_ocr1.pdf", "edgar_image.pdf"]


def make_corpus(directory: Path, pages: int) -> list[str]:
    """`pages` one-page PDFs (copies of the fixtures, each its own document)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(pages):
        target = directory / f"doc{i:05d}.pdf"
        shutil.copy(FIXTURES / SINGLE_PAGE[i % len(SINGLE_PAGE)], target)
        paths.append(str(target))
    return paths


def _serve(conn: object) -> None:
    """The zero-latency server: reads each request body and answers one fixed valid completion, unparsed,
    so on a 2-core machine it takes as little CPU as possible from the client being measured."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from docvl.infer.fakes import VALID_REPLY
    from docvl.infer.server import completion_body

    models = json.dumps({"object": "list", "data": [{"id": "fixed", "object": "model"}]}).encode()
    reply = json.dumps(completion_body("fixed", VALID_REPLY, "stop", 1000, 40)).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(models)

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self._answer(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(f"http://127.0.0.1:{server.server_address[1]}/v1")  # type: ignore[attr-defined]
    conn.recv()  # type: ignore[attr-defined]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_floor(pages: int, workers: int) -> dict[str, float]:
    """Render + encode every page with `workers` processes: the most convert could ever do."""
    from docvl.config import load_config
    from docvl.infer.convert import InputDoc, RenderSettings, render_pages

    config = load_config()
    settings = RenderSettings(config.data.target_longest_image_dim, config.convert.image_format, 120.0)
    with tempfile.TemporaryDirectory() as tmp:
        docs = [InputDoc(p, Path(p).name, "pdf") for p in make_corpus(Path(tmp), pages)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            list(pool.map(render_pages, docs[:workers], [settings] * workers))  # start the workers
            start = time.perf_counter()
            count = sum(len(r[1]) for r in pool.map(render_pages, docs, [settings] * len(docs), chunksize=4))
            seconds = time.perf_counter() - start
    return {"pages": count, "seconds": seconds, "pages_per_s": count / seconds, "rss_mib": _peak_rss_mib()}


def child_convert(pages: int, workers: int) -> dict[str, float]:
    """`docvl convert` of the same pages against the zero-latency server in another process."""
    from docvl.config import load_config
    from docvl.infer import convert, open_engine

    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        make_corpus(Path(tmp) / "in", pages)
        engine = open_engine(config, server=url)
        start = time.perf_counter()
        summary = convert([str(Path(tmp) / "in")], Path(tmp) / "out", engine, config, render_workers=workers)
        seconds = time.perf_counter() - start
        engine.close()
    parent.send("stop")
    server.join(5)
    assert summary.pages == pages and summary.fallback_pages == 0, summary.line()
    return {"pages": pages, "seconds": seconds, "pages_per_s": pages / seconds, "rss_mib": _peak_rss_mib()}


def encodings() -> dict[str, dict[str, float]]:
    """ms/page and KiB/page of each encoding option on the fixture pages rendered at 1288 px."""
    from docvl.pdf import PdfFile

    images = []
    for name in SINGLE_PAGE:
        with PdfFile(FIXTURES / name) as pdf:
            images.append(pdf.render(0, 1288))
    options = {
        "png_default": ("PNG", {}),
        "png_level1": ("PNG", {"compress_level": 1}),
        "webp_lossless": ("WEBP", {"lossless": True, "method": 0, "quality": 0}),
        "jpeg_q95": ("JPEG", {"quality": 95}),
    }
    results = {}
    for label, (fmt, kwargs) in options.items():
        start, size = time.perf_counter(), 0
        for image in images:
            buffer = io.BytesIO()
            image.save(buffer, fmt, **kwargs)
            size += buffer.tell()
        ms = (time.perf_counter() - start) * 1000 / len(images)
        results[label] = {"ms": round(ms, 1), "kib": round(size / 1024 / len(images), 1)}
    return results


def _run_child(kind: str, pages: int, workers: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--pages", str(pages), "--workers", str(workers)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--repeat", type=int, default=2, help="Runs of each; the best counts.")
    parser.add_argument("--skip-memory", action="store_true", help="Skip the 100-page run.")
    parser.add_argument("--child", choices=["floor", "convert"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = child_floor if args.child == "floor" else child_convert
        print(json.dumps(run(args.pages, args.workers)))
        return
    # Alternate the two and keep each one's best run: other work on a shared machine only ever slows a run down.
    floor = conv = None
    for _ in range(args.repeat):
        f, c = _run_child("floor", args.pages, args.workers), _run_child("convert", args.pages, args.workers)
        floor = f if floor is None or f["pages_per_s"] > floor["pages_per_s"] else floor
        conv = c if conv is None or c["pages_per_s"] > conv["pages_per_s"] else conv
    small = None if args.skip_memory else _run_child("convert", 100, args.workers)
    enc = encodings()
    for label, row in enc.items():
        print(f"encoding {label:14s} {row['ms']:6.1f} ms/page {row['kib']:7.1f} KiB/page", file=sys.stderr)
    memory = ""
    if small:
        memory = f"; client peak RSS {small['rss_mib']:.0f} MiB @100 vs {conv['rss_mib']:.0f} MiB @{args.pages} pages"
    print(
        f"convert {conv['pages_per_s']:.1f} pages/s vs render+encode floor {floor['pages_per_s']:.1f} pages/s "
        f"= {100 * conv['pages_per_s'] / floor['pages_per_s']:.0f}% ({args.pages} pages, {args.workers} render "
        f"processes, best of {args.repeat}){memory}; encode png level 1 {enc['png_level1']['ms']} ms "
        f"vs default {enc['png_default']['ms']} ms, jpeg q95 {enc['jpeg_q95']['ms']} ms per page"
    )


if __name__ == "__main__":
    main()
