"""`docvl convert --ray` beside the local path: pages/s on the same one-page PDFs against the zero-latency server
of `bench/convert_overhead.py` (same corpus, same server), and peak memory at 100 vs 1000 pages.

    python bench/ray_convert.py                   # 100 and 1000 pages, one summary line at the end
    python bench/ray_convert.py --pages 300 --skip-memory

Target: --ray >= 0.7x the local path's pages/s on one small machine (Ray's overhead), and memory that does not
grow with the page count. Each measurement runs in a fresh subprocess. The Ray run starts a local Ray (as
`--ray` alone does); its time is the conversion (`RayConverter.run`) after Ray is up, and `start_s` is Ray's
start. Memory: the driver's peak RSS, and the peak of the sum over every process of the run (driver, Ray's
own processes, its workers), sampled every 0.2 s. The driver's CPU time per page (judging, writing, Ray's
client side) is printed for the on-paper cluster estimate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert_overhead import _peak_rss_mib, _serve, child_convert, make_corpus  # noqa: E402


def _tree_rss_mib(root: int) -> float:
    """Resident memory of `root` and every process under it."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(stat.parent.name)], rss[int(stat.parent.name)] = int(fields[1]), int(fields[21]) * 4096
    total, frontier, seen = 0, [root], set()
    while frontier:
        pid = frontier.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return total / 2**20


def _cpu_s() -> float:
    """CPU seconds of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_ray(pages: int) -> dict[str, float]:
    """`convert --ray` (a local Ray) of the same pages against the zero-latency server in another process."""
    import os

    from docvl.config import load_config
    from docvl.infer.inputs import collect_inputs
    from docvl.infer.ray_convert import RayConverter, ray_session
    from docvl.infer.ray_stages import EngineSpec

    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    config = load_config()
    peak = {"tree": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak["tree"] = max(peak["tree"], _tree_rss_mib(os.getpid()))

    with tempfile.TemporaryDirectory() as tmp:
        make_corpus(Path(tmp) / "in", pages)
        docs, _ = collect_inputs([str(Path(tmp) / "in")], Path(tmp) / "out")
        threading.Thread(target=sample, daemon=True).start()
        began = time.perf_counter()
        with ray_session(None):
            started, cpu = time.perf_counter(), _cpu_s()
            converter = RayConverter(EngineSpec(servers=(url,)), config, Path(tmp) / "out")
            summary = converter.run(docs)
            seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
        stop.set()
    parent.send("stop")
    server.join(5)
    assert summary.pages == pages and summary.fallback_pages == 0, summary.line()
    return {"pages": pages, "seconds": seconds, "pages_per_s": pages / seconds, "start_s": started - began,
            "rss_mib": _peak_rss_mib(), "tree_mib": peak["tree"],
            "driver_cpu_ms_per_page": cpu * 1000 / pages}  # fmt: skip


def _run_child(kind: str, pages: int, workers: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--pages", str(pages), "--workers", str(workers)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise RuntimeError(f"{kind} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages of the throughput run")
    parser.add_argument("--workers", type=int, default=2, help="render processes of the local path")
    parser.add_argument("--skip-memory", action="store_true", help="no 100-page runs")
    parser.add_argument("--child", choices=["local", "ray"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "local":
        print(json.dumps(child_convert(args.pages, args.workers)))
        return
    if args.child == "ray":
        print(json.dumps(child_ray(args.pages)))
        return
    rows = {}
    for pages in ([] if args.skip_memory else [100]) + [args.pages]:
        for kind in ("local", "ray"):
            rows[kind, pages] = row = _run_child(kind, pages, args.workers)
            print(f"{kind:5s} {pages:5d} pages {json.dumps(row)}", file=sys.stderr)
    local, ray = rows["local", args.pages], rows["ray", args.pages]
    memory = "" if args.skip_memory else (
        f"; peak RSS local {rows['local', 100]['rss_mib']:.0f}->{local['rss_mib']:.0f} MiB, --ray driver "
        f"{rows['ray', 100]['rss_mib']:.0f}->{ray['rss_mib']:.0f} MiB, --ray all processes "
        f"{rows['ray', 100]['tree_mib']:.0f}->{ray['tree_mib']:.0f} MiB (100->{args.pages} pages)"
    )  # fmt: skip
    print(
        f"ray_convert: {args.pages} pages, local {local['pages_per_s']:.1f} pages/s, --ray {ray['pages_per_s']:.1f} "
        f"pages/s ({ray['pages_per_s'] / local['pages_per_s']:.2f}x local; Ray start {ray['start_s']:.1f} s not "
        f"counted; driver {ray['driver_cpu_ms_per_page']:.1f} CPU-ms/page){memory}"
    )


if __name__ == "__main__":
    main()
