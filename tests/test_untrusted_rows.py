"""Issue 10 items 3 and 12: paths read from manifests, results files and dataset rows stay inside their set,
and one bad row is that row's error: the rest of the work goes on and the manifest matches what was written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from olmocr_mix_fixture import labels, page_pdf, write_parquet, write_tarball
from pageset_factory import copy_good_pairs
from typer.testing import CliRunner

from docvl.cli import app
from docvl.config import DatasetSpec, load_config
from docvl.data.dataset import load_pageset
from docvl.data.prepare import prepare
from docvl.errors import OutsidePathError
from docvl.io import inside, read_jsonl, sha256_file

runner = CliRunner()
FRONT = {
    "primary_language": "en",
    "is_rotation_valid": True,
    "rotation_correction": 0,
    "is_table": False,
    "is_diagram": False,
}


def _written(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for split in ("train", "eval") for p in (out / split).glob("*")}


def _named(out: Path) -> set[str]:
    return {r[key] for r in read_jsonl(out / "manifest.jsonl") for key in ("pdf", "md") if r.get(key)}


# ---------------------------------------------------------------- one helper for "inside its set"


def test_inside_refuses_every_way_out(tmp_path: Path) -> None:
    root = tmp_path / "set"
    (root / "train").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (root / "escape").symlink_to(tmp_path / "elsewhere")
    assert inside(root, "train/a.pdf") == root / "train" / "a.pdf"
    assert inside(root, "train/../b.pdf") == root / "b.pdf"
    for bad in ("/etc/passwd", "../outside.pdf", "train/../../outside.pdf", "escape/a.pdf", "", "a\x00.pdf", ".."):
        with pytest.raises(OutsidePathError):
            inside(root, bad)


# ---------------------------------------------------------------- item 3: validate --quarantine


def test_quarantine_never_moves_files_a_manifest_names_outside_the_set(fixtures_dir: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    copy_good_pairs(fixtures_dir, pages / "train")
    victim_dir = tmp_path / "system"
    victim_dir.mkdir()
    victim = victim_dir / "passwd.pdf"
    victim.write_bytes(b"root:x:0:0\n")
    shutil.copy(victim, tmp_path / "sibling.pdf")
    rows = [
        {"id": "edgar", "split": "train", "pdf": "train/edgar.pdf", "md": "train/edgar.md"},
        {"id": "abs", "split": "train", "pdf": str(victim), "md": None},
        {"id": "up", "split": "train", "pdf": "../sibling.pdf", "md": "train/edgar.md"},
        {"id": "blank", "split": "train", "pdf": "train/blanktext.pdf", "md": "train/blanktext.md"},
    ]
    manifest = pages / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    result = runner.invoke(
        app, ["validate", str(pages), "--json", "--jobs", "1", "--no-render", "--quarantine", str(tmp_path / "q")]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    failures = {(f["path"], f["check"]) for f in data["failures"]}
    assert failures == {(f"{manifest}:{line}", "manifest_row") for line in (2, 3, 5)}
    messages = " ".join(f["message"] for f in data["failures"])
    assert "'pdf'" in messages and "absolute path" in messages and "leads outside" in messages
    assert victim.read_bytes() == b"root:x:0:0\n" and (tmp_path / "sibling.pdf").is_file()
    assert data["quarantined"] == [] and not (tmp_path / "q").exists()
    assert (pages / "train" / "edgar.pdf").is_file() and len(manifest.read_text().splitlines()) == 5


def test_training_reports_bad_manifest_rows_as_broken(fixtures_dir: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    copy_good_pairs(fixtures_dir, pages / "train")
    rows = [
        {"split": "train", "pdf": "train/edgar.pdf", "md": "train/edgar.md"},
        {"split": "train", "pdf": "/etc/hostname", "md": "train/edgar.md"},
    ]
    (pages / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pageset = load_pageset(DatasetSpec(name="p", path=str(pages)), "train")
    assert [pair.md.name for pair in pageset.pairs] == ["edgar.md"]
    assert pageset.broken == [
        (
            f"{pages / 'manifest.jsonl'}:2",
            "'pdf' '/etc/hostname' is an absolute path " + f"(must be relative to {pages})",
        )
    ]


# ---------------------------------------------------------------- olmOCR-mix rows


def _mix(root: Path, fixtures_dir: Path, rows: list[dict]) -> None:
    write_tarball(
        root / "pdf_tarballs" / "docs_train_00000.tar", {"good-1.pdf": page_pdf(fixtures_dir, "edgar.pdf", 0)}
    )
    write_parquet(root / "docs_train.parquet", rows)


def _row(row_id: str, url: str, relpath: str) -> dict:
    return {"id": row_id, "url": url, "page_number": 1, "pdf_relpath": relpath, **labels("Text"), "extras": None}


def test_mix_rows_naming_tarballs_outside_the_dataset_are_row_errors(fixtures_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.tar"
    write_tarball(outside, {"secret.pdf": page_pdf(fixtures_dir, "edgar.pdf", 0)})
    root = tmp_path / "mix"
    root.mkdir()
    _mix(
        root,
        fixtures_dir,
        [
            _row("good-1", "https://a/good.pdf", "pdf_tarballs/docs_train_00000.tar:good-1.pdf"),
            _row("abs-1", "https://a/abs.pdf", f"{outside}:secret.pdf"),
            _row("up-1", "https://a/up.pdf", "../outside.tar:secret.pdf"),
        ],
    )
    out = tmp_path / "pages"
    summary = prepare([root], out, load_config(), kind="olmocr-mix", eval_fraction=0, jobs=1)
    assert summary.pages == 1
    errors = {(e["path"], e["check"]) for e in summary.errors}
    assert errors == {(f"{root / 'docs_train.parquet'}:{i}", "path_outside") for i in ("abs-1", "up-1")}
    assert _named(out) == _written(out) and len(_named(out)) == 2


def test_a_nul_byte_in_a_mix_url_fails_that_row_only(fixtures_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "mix"
    root.mkdir()
    write_tarball(
        root / "pdf_tarballs" / "docs_train_00000.tar",
        {
            "good-1.pdf": page_pdf(fixtures_dir, "edgar.pdf", 0),
            "nul-1.pdf": page_pdf(fixtures_dir, "olmo-page-1.pdf", 0),
        },
    )
    tar = "pdf_tarballs/docs_train_00000.tar"
    write_parquet(
        root / "docs_train.parquet",
        [
            _row("good-1", "https://a/good.pdf", f"{tar}:good-1.pdf"),
            _row("nul-1", "https://a/n\x00ul.pdf", f"{tar}:nul-1.pdf"),
        ],
    )
    out = tmp_path / "pages"
    summary = prepare([root], out, load_config(), kind="olmocr-mix", eval_fraction=0, jobs=1)
    assert (summary.pages, summary.failed) == (2, 0)  # the URL only groups rows: a NUL in it harms nothing
    assert _named(out) == _written(out) and len(_named(out)) == 4


# ---------------------------------------------------------------- converted records


def _converted(tmp_path: Path, fixtures_dir: Path, records: list[dict]) -> Path:
    conv = tmp_path / "converted"
    conv.mkdir()
    (conv / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return conv


def _record(source: Path, relpath: str, pages: list, **fields: object) -> dict:
    return {
        "path": relpath,
        "source": str(source),
        "sha256": sha256_file(source),
        "status": "ok",
        "finished_at": "2026-12-01T00:00:00+0000",
        "markdown": relpath.rsplit(".", 1)[0] + ".md",
        "pages": pages,
        **fields,
    }


def _page(number: object, **front: object) -> dict:
    return {"page": number, "fallback": False, "front_matter": {**FRONT, **front}, "text": f"Page {number}"}


def test_bad_converted_pages_and_records_are_their_own_errors(fixtures_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("lots_of_sci_tables.pdf", "edgar.pdf"):
        shutil.copy(fixtures_dir / "pdfs" / name, inputs / name)
    sci, edgar = inputs / "lots_of_sci_tables.pdf", inputs / "edgar.pdf"
    unknown = {"page": 3, "fallback": False, "front_matter": {**FRONT, "is_tabel": True}, "text": "x"}
    missing = {"fallback": False, "front_matter": FRONT, "text": "no number"}
    records = [
        _record(sci, "lots_of_sci_tables.pdf", [_page(1), _page("2"), unknown, missing, _page(5)]),
        _record(edgar, "edgar.pdf", [_page(1)]),
        _record(edgar, "../../etc/edgar.pdf", [_page(1)]),  # line 3: a path leaving the converted folder
        {**_record(edgar, "x.pdf", [_page(1)]), "source": "/etc/hostname"},  # line 4: a source it does not name
    ]
    conv = _converted(tmp_path, fixtures_dir, records)
    out = tmp_path / "pages"
    summary = prepare([conv], out, load_config(), kind="converted", eval_fraction=0, jobs=2)
    results = conv / "results.jsonl"
    errors = {(e["path"], e["check"]) for e in summary.errors}
    assert errors == {
        (f"{results}:1 page 2", "front_matter"),
        (f"{results}:1 page 3", "front_matter"),
        (f"{results}:1 page 4", "front_matter"),
        (f"{results}:3", "path_outside"),
        (f"{results}:4", "path_outside"),
    }, summary.errors
    messages = {e["path"]: e["message"] for e in summary.errors}
    assert "unknown field 'is_tabel'" in messages[f"{results}:1 page 3"]
    assert summary.pages == 3  # sci pages 1 and 5, edgar page 1
    assert _named(out) == _written(out) and len(_named(out)) == 6


def test_a_crashing_source_row_is_that_documents_error(fixtures_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from docvl.data import pdf_source

    real = pdf_source.load_doc

    def flaky(ref):
        if "edgar" in ref.origin:
            raise KeyError("page")
        return real(ref)

    monkeypatch.setattr(pdf_source, "load_doc", flaky)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("edgar.pdf", "olmo-page-1.pdf"):
        shutil.copy(fixtures_dir / "pdfs" / name, src / name)
    out = tmp_path / "pages"
    summary = prepare([src], out, load_config(), eval_fraction=0, jobs=1)
    assert summary.pages == 1 and summary.failed == 1
    assert summary.errors[0]["path"].endswith("edgar.pdf") and "KeyError" in summary.errors[0]["message"]
    assert _named(out) == _written(out)


def test_a_line_separator_in_a_file_name_keeps_its_manifest_record(fixtures_dir: Path, tmp_path: Path) -> None:
    """U+2028 is a line break to str.splitlines(), not to JSONL: the record must survive the manifest rewrite."""
    src = tmp_path / "src"
    src.mkdir()
    for suffix in (".pdf", ".md"):
        shutil.copy(fixtures_dir / "pairs" / f"edgar{suffix}", src / f"odd\u2028name{suffix}")
    out = tmp_path / "pages"
    summary = prepare([src], out, load_config(), eval_fraction=0, jobs=1)
    assert summary.pages == summary.train == 1
    assert _named(out) == _written(out) and len(_named(out)) == 2
