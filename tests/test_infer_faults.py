"""convert against a misbehaving OpenAI-like server: every page ends accepted or fallback, never lost;
retries and temperatures follow the config; bad inputs are reported, counted and recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pdf_factory import blank_pdf, encrypted_pdf, truncated_pdf

from docvl.config import load_config
from docvl.infer import convert, open_engine, read_results
from docvl.infer.encode import decode_data_url
from docvl.infer.fakes import VALID_REPLY, Act, FakeOpenAIServer
from docvl.infer.inputs import collect_inputs, in_shard, parse_shard
from docvl.infer.types import EngineUnavailableError
from docvl.judge import is_degenerate
from docvl.page import FrontMatter, Page, serialize_page

TEMPS = [0.1, 0.2, 0.3]
ROTATED = serialize_page(Page(FrontMatter("en", is_rotation_valid=False, rotation_correction=90), "sideways"))


def _config(**extra: Any) -> Any:
    overrides = [
        "data.target_longest_image_dim=224",
        f"convert.temperatures={json.dumps(TEMPS)}",
        "convert.request_timeout_s=1",
        "convert.concurrency=4",
        "convert.render_workers=1",
        "convert.connect_retries=1",
        "convert.repetition_min_chars=200",
    ]
    return load_config(None, overrides + [f"{k}={v}" for k, v in extra.items()])


def _run(script: Any, inputs: list[str], out: Path, **extra: Any) -> tuple[Any, FakeOpenAIServer, list[str]]:
    config = _config(**extra)
    lines: list[str] = []
    with FakeOpenAIServer(script) as fake:
        engine = open_engine(config, server=fake.base_url)
        try:
            summary = convert(inputs, out, engine, config, report=lines.append)
        finally:
            engine.close()
    return summary, fake, lines


def _first_then_valid(bad: Act) -> Any:
    return lambda payload, n: bad if n == 0 else Act()


FAULTS = {
    "http_500": (_first_then_valid(Act(status=500)), False, 2),
    "timeout": (_first_then_valid(Act(delay_s=1.5)), False, 2),
    "dropped_connection": (_first_then_valid(Act(drop=True)), False, 2),
    "finish_length": (lambda p, n: Act(finish_reason="length"), True, 3),
    "unparseable": (lambda p, n: Act(text="Just text, no front matter."), True, 3),
    "endless_repetition": (lambda p, n: Act(text=VALID_REPLY + "\n" + "la " * 400) if n < 2 else Act(), False, 3),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_ends_accepted_or_fallback_with_schedule(fault: str, fixtures_dir: Path, tmp_path: Path) -> None:
    script, fallback, attempts = FAULTS[fault]
    summary, fake, _ = _run(script, [str(fixtures_dir / "pdfs" / "edgar.pdf")], tmp_path)
    record = read_results(tmp_path)["edgar.pdf"]
    page = record.pages[0]
    assert summary.pages == 1 and len(record.pages) == 1
    assert page.fallback is fallback
    assert page.attempts == attempts
    assert page.temperatures == TEMPS[:attempts]
    assert [r["temperature"] for r in fake.requests] == TEMPS[:attempts]
    if fallback:  # the text layer, marked; the document is over its error budget (0)
        assert "Edgar" in page.text and "\r" not in page.text
        assert record.status == "failed" and summary.failed_documents == 1
    else:
        assert page.text == "# A page\n\nSome text." and record.status == "ok"
    assert (tmp_path / "edgar.md").read_text() == page.text


def test_rotation_claim_reasks_on_rotated_page(fixtures_dir: Path, tmp_path: Path) -> None:
    sizes: list[tuple[int, int]] = []

    def script(payload: dict[str, Any], n: int) -> Act:
        url = payload["messages"][0]["content"][0]["image_url"]["url"]
        sizes.append(decode_data_url(url).size)
        return Act(text=ROTATED) if n == 0 else Act()

    _run(script, [str(fixtures_dir / "pdfs" / "edgar.pdf")], tmp_path)
    page = read_results(tmp_path)["edgar.pdf"].pages[0]
    assert page.rotation == 90 and not page.fallback and page.attempts == 2
    assert sizes[1] == sizes[0][::-1]  # the second ask saw the page turned a quarter


def test_error_budget_decides_document_status(fixtures_dir: Path, tmp_path: Path) -> None:
    # skinnypage's 2nd page is 199 inches long: refused, so it falls back without asking
    summary, _, _ = _run(
        lambda p, n: Act(), [str(fixtures_dir / "pdfs" / "skinnypage.pdf")], tmp_path, **{"convert.max_page_errors": 1}
    )
    record = read_results(tmp_path)["skinnypage.pdf"]
    assert [p.fallback for p in record.pages] == [False, True]
    assert record.status == "ok" and summary.failed_documents == 0 and summary.fallback_pages == 1


def test_bad_inputs_reported_counted_and_run_goes_on(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    edgar = fixtures_dir / "pdfs" / "edgar.pdf"
    shutil.copy(edgar, src / "good.pdf")
    (src / "corrupt.pdf").write_bytes(truncated_pdf(edgar))
    (src / "locked.pdf").write_bytes(encrypted_pdf(edgar))
    (src / "empty.pdf").write_bytes(blank_pdf(0))
    (src / "notes.pdf").write_text("just some text, not a PDF")
    out = tmp_path / "out"
    summary, _, lines = _run(lambda p, n: Act(), [str(src)], out)
    assert summary.bad_inputs == 4 and summary.documents == 1
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    records = read_results(out)
    assert records["good.pdf"].status == "ok"
    assert {records[n].status for n in ("corrupt.pdf", "locked.pdf", "notes.pdf")} == {"error"}
    assert records["empty.pdf"].status == "empty" and (out / "empty.md").read_text() == ""


def test_unreachable_server_fails_fast(tmp_path: Path) -> None:
    from docvl.system import free_port

    port = free_port()  # a port nobody listens on
    with pytest.raises(EngineUnavailableError, match="cannot reach"):
        open_engine(_config(), server=f"http://127.0.0.1:{port}/v1")


def test_server_dying_mid_run_stops_and_keeps_finished(fixtures_dir: Path, tmp_path: Path) -> None:
    pdfs = sorted((fixtures_dir / "pdfs").glob("*.pdf"))[:4]
    config = _config(**{"convert.concurrency": 1, "convert.max_pages_in_flight": 1})
    fake = FakeOpenAIServer(lambda p, n: Act()).__enter__()
    engine = open_engine(config, server=fake.base_url)
    done: list[int] = []

    def on_page(pages: int, fallbacks: int) -> None:
        done.append(pages)
        if len(done) == 2:
            fake.kill()

    with pytest.raises(EngineUnavailableError):
        convert([str(p) for p in pdfs], tmp_path, engine, config, on_page=on_page)
    engine.close()
    records = read_results(tmp_path)
    assert 1 <= len(records) < len(pdfs)
    for name, record in records.items():
        assert (tmp_path / record.markdown).is_file(), name


def test_inputs_globs_lists_images_and_shards(fixtures_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (300, 200), "white").save(tmp_path / "scan.png")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{fixtures_dir / 'pdfs' / 'edgar.pdf'}\n# a comment\nscan.png\n")
    docs, problems = collect_inputs([str(listing), str(fixtures_dir / "pdfs" / "edgar*.pdf")], tmp_path / "out")
    assert [d.relpath for d in docs] == ["edgar.pdf", "scan.png", "edgar-rotated90.pdf", "edgar_image.pdf"]
    assert problems == []  # the same file twice is one document
    assert [d.kind for d in docs] == ["pdf", "image", "pdf", "pdf"]
    shards = [[d.relpath for d in docs if in_shard(d, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(shards, [])) == sorted(d.relpath for d in docs)
    assert parse_shard("2/3") == (2, 3)
    summary, _, _ = _run(lambda p, n: Act(), [str(tmp_path / "scan.png")], tmp_path / "out")
    assert summary.pages == 1 and (tmp_path / "out" / "scan.md").is_file()


def test_degenerate_detection() -> None:
    assert is_degenerate("intro " + "| a | b |\n" * 200, 1000)
    assert not is_degenerate("".join(f"Line {i}.\n" for i in range(300)), 1000)
    assert not is_degenerate("Table of contents " + "." * 120 + " 7", 1000)


def test_prepare_converted_takes_accepted_pages(fixtures_dir: Path, tmp_path: Path) -> None:
    from docvl.data import converted
    from docvl.page import parse_page

    src = fixtures_dir / "pdfs" / "skinnypage.pdf"  # page 2 falls back (too long to render)
    _run(lambda p, n: Act(), [str(src)], tmp_path)
    refs = converted.list_docs(tmp_path)
    assert [ref.doc_id for ref in refs] == ["skinnypage"]
    pages = converted.load_doc(refs[0])
    assert [p.page_number for p in pages] == [1] and pages[0].error is None
    assert parse_page(pages[0].markdown).text == "# A page\n\nSome text."
    assert pages[0].pdf.startswith(b"%PDF-")
