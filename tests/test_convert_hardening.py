"""convert against careless inputs and output folders, broken documents and dead workers (issue 10 items 2, 10,
13, 14; issue 9's converter accounting). Every server is a scripted fake on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from pdf_factory import blank_pdf
from typer.testing import CliRunner

from docvl.cli import app
from docvl.config import load_config
from docvl.infer import claims, open_engine, read_results
from docvl.infer.convert import Converter, convert
from docvl.infer.fakes import Act, FakeOpenAIServer
from docvl.infer.inputs import InputDoc, collect_inputs
from docvl.judge import Reason
from docvl.results import ResultsError

SETTINGS = ["data.target_longest_image_dim=112", "convert.render_workers=1", "convert.temperatures=[0.0]"]


def _config(*extra: str) -> Any:
    return load_config(None, [*SETTINGS, *extra])


def _convert(inputs: list[str], out: Path, script: Any = lambda p, n: Act(), *extra: str) -> Any:
    config = _config(*extra)
    with FakeOpenAIServer(script) as fake, open_engine(config, server=fake.base_url) as engine:
        return convert(inputs, out, engine, config)


def _huge_png(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (Pillow refuses it as a decompression bomb on open)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_outputs_stay_inside_out(fixtures_dir: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    shutil.copytree(fixtures_dir / "pairs", pairs)
    (tmp_path / "lists").mkdir()
    listing = tmp_path / "lists" / "list.txt"
    listing.write_text("../pairs/edgar.pdf\n")
    labels = {p: p.read_bytes() for p in pairs.glob("*.md")}
    out = tmp_path / "lists" / "out"
    glob_arg = str(tmp_path / "lists" / "*" / ".." / ".." / "pairs" / "edgar.pdf")
    (tmp_path / "lists" / "sub").mkdir()
    docs, refused = collect_inputs([str(listing), glob_arg], out)
    assert docs == [] and len(refused) == 2 and all("outside" in line for line in refused)
    summary = _convert([str(listing), glob_arg], out)
    assert summary.refused == 2 and summary.failures == 2 and summary.documents == 0
    # `convert pairs --out pairs`: every output would replace a label docvl did not write
    summary = _convert([str(pairs)], pairs)
    assert summary.refused == len(labels) and summary.documents == 0
    assert {p: p.read_bytes() for p in pairs.glob("*.md")} == labels
    assert not (pairs / "results.jsonl").exists() or read_results(pairs) == {}


def test_converter_refuses_a_relpath_leading_out(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(blank_pdf(1))
    config = _config()
    with FakeOpenAIServer() as fake, open_engine(config, server=fake.base_url) as engine:
        summary = Converter(engine, config, tmp_path / "out").run(
            [InputDoc(str(tmp_path / "a.pdf"), "../a.pdf", "pdf")]
        )
    assert summary.refused == 1 and not (tmp_path / "a.md").exists()


def test_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(blank_pdf(1))
    (tmp_path / "a.md").write_text("not docvl's")
    doc = InputDoc(str(tmp_path / "a.md"), "a.pdf", "pdf")  # an input named like the output
    from docvl.infer.inputs import output_problem

    assert "is one of the inputs" in (output_problem(doc, tmp_path, {(tmp_path / "a.md").resolve()}) or "")


def test_collisions_make_the_exit_code_1(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "x.pdf").write_bytes(blank_pdf(1))
    from PIL import Image

    Image.new("RGB", (64, 64), "white").save(src / "x.png")
    with FakeOpenAIServer() as fake:
        result = CliRunner().invoke(
            app, ["convert", str(src), "--out", str(tmp_path / "out"), "--server", fake.base_url, "--json",
                  *[x for s in SETTINGS for x in ("--set", s)]],
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["documents"] == 1 and summary["refused"] == 1
    assert "x.png: refused, its output x.md is also" in summary["problems"][0]


def test_one_oversized_image_is_that_inputs_failure(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "bomb.png").write_bytes(_huge_png(30000, 30000))
    shutil.copy(fixtures_dir / "pdfs" / "edgar.pdf", src / "good.pdf")
    summary = _convert([str(src)], tmp_path / "out")
    records = read_results(tmp_path / "out")
    assert summary.bad_inputs == 1 and summary.documents == 1
    assert records["bomb.png"].status == "error" and "too large" in records["bomb.png"].error
    assert records["good.pdf"].status == "ok"


def test_later_chunk_failing_gives_one_record_and_one_release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """12 pages, a window of 8: the first chunk's pages are being asked when the file turns into garbage, so
    every later chunk fails to render. The document still ends once, its claim is released once."""
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(blank_pdf(12))

    def script(payload: dict[str, Any], n: int) -> Act:
        if n == 0:
            pdf.write_bytes(b"garbage, no longer a PDF")
        return Act(delay_s=0.3)

    releases: list[int] = []
    real_release = claims.Claim.release
    monkeypatch.setattr(claims.Claim, "release", lambda self: (releases.append(id(self)), real_release(self)))
    config = _config("convert.max_pages_in_flight=8", "convert.concurrency=8")
    with FakeOpenAIServer(script) as fake, open_engine(config, server=fake.base_url) as engine:
        converter = Converter(engine, config, tmp_path / "out")
        summary = converter.run([InputDoc(str(pdf), "long.pdf", "pdf")])
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and len(releases) == 1 and converter.held == 0 and not converter.open_docs
    record = read_results(tmp_path / "out")["long.pdf"]
    assert [p.page for p in record.pages] == list(range(1, 13))
    assert not any(p.fallback for p in record.pages[:8])
    assert all(p.fallback and p.outcomes[0].reason is Reason.NOT_RENDERED for p in record.pages[8:])
    assert record.status == "failed" and summary.documents == 1 and summary.fallback_pages == 4


def test_disk_full_stops_with_the_file_named_and_no_orphan_markdown(
    monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path, tmp_path: Path
) -> None:
    import os

    real_write = os.write

    def full(fd: int, data: bytes) -> int:  # the disk is full for the results file only
        if os.readlink(f"/proc/self/fd/{fd}").endswith("results.jsonl"):
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    out = tmp_path / "out"
    with pytest.raises(ResultsError, match=r"results\.jsonl.*No space left"):
        _convert([str(fixtures_dir / "pdfs" / "edgar.pdf")], out)
    assert not (out / "edgar.md").exists()
    assert (out / "results.jsonl").read_bytes() == b""


def _hold_claim(out: Path, relpath: str, seconds: float) -> subprocess.Popen[str]:
    """Another worker: holds the document's claim for `seconds`, then dies without finishing it."""
    path = claims.claim_path(out, InputDoc("", relpath, "pdf").key)
    path.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "os._exit(9)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_claim_of_a_worker_that_dies_is_taken_over(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = _hold_claim(out, "edgar.pdf", 1.5)
    try:
        summary = _convert([str(fixtures_dir / "pdfs" / "edgar.pdf"), str(fixtures_dir / "pdfs" / "olmo-page-1.pdf")],
                           out)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert summary.taken_over == 1 and summary.documents == 2 and summary.failures == 0
    assert sorted(read_results(out)) == ["edgar.pdf", "olmo-page-1.pdf"]


def test_document_left_half_done_by_a_dead_worker_is_converted(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = _hold_claim(out, "edgar.pdf", 0.0)  # claimed, then killed before its record
    holder.wait()
    (out / "edgar.md").write_text("half")  # its Markdown was written (docvl's: the claim file says so)
    summary = _convert([str(fixtures_dir / "pdfs" / "edgar.pdf")], out)
    assert summary.documents == 1 and summary.refused == 0
    assert (out / "edgar.md").read_text() == "# A page\n\nSome text."
