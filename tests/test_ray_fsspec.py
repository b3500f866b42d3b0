"""Inputs named by fsspec URLs, which is what lets `convert --ray` run on nodes that share no file system: a
`memory://` prefix read in-process (listed, hashed, rendered), and `file://` inputs and output giving exactly
what the plain paths give."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from docvl.config import load_config
from docvl.errors import UsageError
from docvl.infer.fakes import FakeOpenAIServer
from docvl.infer.inputs import collect_inputs
from docvl.infer.render import list_pages, render_pages
from docvl.io import local_copy, sha256_file
from docvl.rendering import RenderSettings


@pytest.fixture
def bucket(fixtures_dir: Path) -> Iterator[str]:
    fs = fsspec.filesystem("memory")
    for name in ("edgar.pdf", "lots_of_sci_tables.pdf"):
        fs.pipe(f"/scans/sub/{name}", (fixtures_dir / "pdfs" / name).read_bytes())
    fs.pipe("/scans/notes.txt", b"not an input")
    yield "memory://scans"
    fs.rm("/scans", recursive=True)


def test_inputs_under_a_url_are_listed_hashed_and_rendered(bucket: str, fixtures_dir: Path, tmp_path: Path) -> None:
    docs, refused = collect_inputs([bucket], tmp_path / "out")
    assert refused == [] and [doc.relpath for doc in docs] == ["sub/edgar.pdf", "sub/lots_of_sci_tables.pdf"]
    edgar, sci = docs
    assert edgar.path == "memory:///scans/sub/edgar.pdf" and edgar.markdown_relpath == "sub/edgar.md"
    original = (fixtures_dir / "pdfs" / "lots_of_sci_tables.pdf").read_bytes()
    assert sha256_file(sci.path) == hashlib.sha256(original).hexdigest()
    with local_copy(sci.path) as path:
        assert Path(path).read_bytes() == original
    assert not Path(path).exists()  # the copy is gone
    settings = RenderSettings.from_config(load_config(None, ["data.target_longest_image_dim=224"]))
    assert list_pages(sci, settings, None) == list(range(6))
    pages = render_pages(sci, settings, [0, 5])
    assert [page.index for page in pages] == [0, 5] and all(page.image_url for page in pages)
    assert [doc.relpath for doc in collect_inputs([f"{bucket}/sub/*.pdf"], tmp_path)[0]] == [
        "edgar.pdf", "lots_of_sci_tables.pdf"
    ]  # fmt: skip
    with pytest.raises(UsageError, match="does not exist"):
        collect_inputs(["memory://nothing-here"], tmp_path)


def test_file_urls_give_what_the_plain_paths_give(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("edgar.pdf", "olmo-page-1.pdf"):
        shutil.copy(fixtures_dir / "pdfs" / name, src / name)
    outs = []
    with FakeOpenAIServer() as fake:
        for inputs, out in ((str(src), tmp_path / "plain"), (f"file://{src}", tmp_path / "url")):
            outs.append(out)
            target = str(out) if out.name == "plain" else f"file://{out}"
            result = subprocess.run(
                [sys.executable, "-m", "docvl.cli", "convert", inputs, "--out", target, "--server", fake.base_url,
                 "--set", "data.target_longest_image_dim=224", "--workers", "1", "--json"],
                capture_output=True, text=True, timeout=120, env=os.environ.copy(),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["out"] == str(out)
    plain, url = ([json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()] for out in outs)
    for record in plain + url:
        for key in ("finished_at", "seconds", "worker"):
            record.pop(key)
        for page in record["pages"]:
            page.pop("seconds")
    assert sorted(plain, key=str) == sorted(url, key=str)
    for record in plain:
        assert (outs[0] / record["markdown"]).read_bytes() == (outs[1] / record["markdown"]).read_bytes()
