"""`docvl convert --out URL`: a conversion into an object store through a local stage. In-process against
`memory://` (the same Markdown and records as a local --out, a second client skipping all, a run killed between
two puts resumed), and as real processes against an S3 API on loopback (moto and s3fs, when installed): a run
killed by SIGKILL and resumed. Dead stores are one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from cli_invoke import invoke
from fsspec.implementations.memory import MemoryFileSystem
from s3_server import s3_bucket

from docvl.infer import read_results
from docvl.infer.fakes import Act, FakeOpenAIServer
from docvl.results import DONE_DIR, RECORDS_DIR
from docvl.system import free_port

SMALL = ["--set", "data.target_longest_image_dim=224", "--workers", "1"]
VARYING = ("worker", "finished_at", "seconds")
NOBODY = "http://127.0.0.1:9/v1"  # no server: the store is checked before the server is asked anything


def _inputs(fixtures_dir: Path, folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(fixtures_dir / "pdfs" / name, folder / name)
    return folder


def _comparable(records: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records without who wrote them, when, and how long it took."""
    found = {}
    for path, record in records.items():
        data = record.to_dict()
        for key in VARYING:
            data.pop(key, None)
        for page in data["pages"]:
            page.pop("seconds")
        found[path] = data
    return found


def _published(fs: Any, root: str) -> tuple[set[str], set[str], set[str]]:
    """(done marker keys, record keys, Markdown paths) under an output URL's root."""
    names = [name.removeprefix(root + "/") for name in fs.find(root)]
    markers = {name.rpartition("/")[2] for name in names if name.startswith(DONE_DIR + "/")}
    records = {name.rpartition("/")[2].removesuffix(".json") for name in names if name.startswith(RECORDS_DIR + "/")}
    return markers, records, {name for name in names if name.endswith(".md")}


def _marker_implies_markdown_and_record(fs: Any, root: str) -> None:
    """The invariant a kill must keep: every done marker has its record, and the Markdown that record names."""
    markers, records, markdown = _published(fs, root)
    assert markers <= records
    for key in markers:
        record = json.loads(fs.cat(f"{root}/{RECORDS_DIR}/{key}.json"))
        assert record.get("markdown") in markdown | {None}  # an unreadable input has no Markdown


@pytest.fixture
def bucket() -> Iterator[str]:
    fs = fsspec.filesystem("memory")
    yield "memory://bucket/out"
    if fs.exists("/bucket"):
        fs.rm("/bucket", recursive=True)


def test_same_markdown_and_records_as_a_local_out_and_a_second_client_skips_all(
    bucket: str, fixtures_dir: Path, tmp_path: Path
) -> None:
    src = _inputs(fixtures_dir, tmp_path / "in", ["edgar.pdf", "olmo-page-1.pdf", "edgar-rotated90.pdf"])
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    fs = fsspec.filesystem("memory")
    with FakeOpenAIServer() as fake:
        local = invoke("convert", str(src), "--out", str(tmp_path / "local"), "--server", fake.base_url, *SMALL)
        code, stdout, stderr = invoke("convert", str(src), "--out", bucket, "--stage", str(tmp_path / "stage"),
                                      "--server", fake.base_url, *SMALL, "--json")  # fmt: skip
        asked = len(fake.requests)
        # another machine: an empty stage of its own, the same URL
        again = invoke("convert", str(src), "--out", bucket, "--stage", str(tmp_path / "elsewhere"), "--server",
                       fake.base_url, *SMALL, "--json")  # fmt: skip
        assert len(fake.requests) == asked  # nothing asked again
    assert local[0] == code == 1 and again[0] == 0, stderr  # the broken input, recorded as such (and skipped after)
    summary = json.loads(stdout)
    assert summary["out"] == "memory:///bucket/out" and summary["stage"] == str(tmp_path / "stage")
    assert summary["documents"] == 3 and summary["bad_inputs"] == 1
    published = read_results(bucket)
    assert _comparable(published) == _comparable(read_results(tmp_path / "local")) and len(published) == 4
    for record in published.values():
        if record.markdown:
            assert fs.cat(f"/bucket/out/{record.markdown}") == (tmp_path / "local" / record.markdown).read_bytes()
    _marker_implies_markdown_and_record(fs, "/bucket/out")
    second = json.loads(again[1])
    assert second["skipped"] == 4 and second["documents"] == 0 and second["bad_inputs"] == 0
    assert not list((tmp_path / "elsewhere").glob("*.md"))  # it skipped by the URL's markers alone
    # a copy of the URL is a converted folder like any other: back into training pairs
    fs.get("/bucket/out", str(tmp_path / "copy"), recursive=True)
    code, _, stderr = invoke("prepare", str(tmp_path / "copy"), "--out", str(tmp_path / "pages"), "--json")
    manifest = (tmp_path / "pages" / "manifest.jsonl").read_text().splitlines()
    assert code == 0 and len(manifest) == 3, stderr  # every page the model answered


def test_a_run_killed_between_two_puts_is_resumed(
    bucket: str, fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["edgar.pdf", "olmo-page-1.pdf", "small_page_size.pdf", "edgar-rotated90.pdf"]
    src = _inputs(fixtures_dir, tmp_path / "in", names)
    puts: Counter[str] = Counter()
    lock = threading.Lock()
    killed = threading.Event()
    real_put = MemoryFileSystem.pipe_file

    def put(self: Any, path: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        with lock:
            if f"/{RECORDS_DIR}/" in path and sum(RECORDS_DIR in p for p in puts) == 1 and not killed.is_set():
                killed.set()  # the second document: its Markdown is published, its record and marker not
                raise KeyboardInterrupt
            puts[path] += 1
        return real_put(self, path, value, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "pipe_file", put)
    stage = tmp_path / "stage"
    command = ["convert", str(src), "--out", bucket, "--stage", str(stage), *SMALL, "--json"]
    fs = fsspec.filesystem("memory")
    with FakeOpenAIServer() as fake:
        first = invoke(*command, "--server", fake.base_url)
        assert killed.is_set() and first[0] == 130, first
        markers, records, markdown = _published(fs, "/bucket/out")
        assert len(records) == len(markers) < len(markdown)  # whole documents, and one half published
        _marker_implies_markdown_and_record(fs, "/bucket/out")
        in_stage = len((stage / "results.jsonl").read_text().splitlines())
        code, stdout, stderr = invoke(*command, "--server", fake.base_url)
    assert code == 0, stderr
    assert f"published {in_stage - len(markers)} documents an earlier run finished" in stderr
    summary = json.loads(stdout)
    assert summary["skipped"] == in_stage and summary["documents"] == len(names) - in_stage  # none converted again
    _marker_implies_markdown_and_record(fs, "/bucket/out")
    assert sorted(read_results(bucket)) == sorted(names)
    record_puts = [count for path, count in puts.items() if f"/{RECORDS_DIR}/" in path]
    assert record_puts == [1] * len(names)  # each record published once
    stage_lines = (stage / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["path"] for line in stage_lines) == sorted(names)  # each converted once


class _ReadOnlyFileSystem(MemoryFileSystem):
    """A store that lets nobody write: what an unauthorised client meets."""

    protocol = "docvl-readonly"

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        raise PermissionError("Access Denied")


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("gs://bucket/out", "gs://bucket/out: the file system for this URL is not installed (ImportError: Please "
         "install gcsfs"),  # fmt: skip
        ("nosuch://bucket/out", "nosuch://bucket/out: cannot open this output (ValueError: Protocol not known"),
        ("docvl-readonly://bucket/out", "docvl-readonly://bucket/out: cannot write to this output (PermissionError: "
         "Access Denied)"),  # fmt: skip
    ],
)
def test_a_store_that_cannot_be_written_is_one_line_before_any_work(
    url: str, line: str, fixtures_dir: Path, tmp_path: Path
) -> None:
    if url.startswith("gs://") and _installed("gcsfs"):
        pytest.skip("gcsfs is installed here")
    fsspec.register_implementation("docvl-readonly", _ReadOnlyFileSystem, clobber=True)
    code, _, stderr = invoke("convert", str(fixtures_dir / "pdfs" / "edgar.pdf"), "--out", url, "--stage",
                             str(tmp_path / "stage"), "--server", NOBODY)  # fmt: skip
    assert code == 2 and len(stderr.splitlines()) == 1 and stderr.startswith(f"error: {line}"), stderr
    assert not (tmp_path / "stage").exists()


def test_stage_options_that_cannot_work(bucket: str, fixtures_dir: Path, tmp_path: Path) -> None:
    pdf = str(fixtures_dir / "pdfs" / "edgar.pdf")
    code, _, stderr = invoke("convert", pdf, "--out", str(tmp_path / "md"), "--stage", str(tmp_path), "--server", "x")
    assert code == 2 and "--stage is for an --out URL" in stderr
    stage = tmp_path / "stage"
    with FakeOpenAIServer() as fake:
        assert invoke("convert", pdf, "--out", bucket, "--stage", str(stage), "--server", fake.base_url, *SMALL)[0] == 0
        code, _, stderr = invoke("convert", pdf, "--out", "memory://other/out", "--stage", str(stage), "--server",
                                 fake.base_url, *SMALL)  # fmt: skip
    assert code == 2 and "this stage holds the work of memory:///bucket/out, not memory:///other/out" in stderr


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture
def s3() -> Iterator[tuple[str, dict[str, str]]]:
    with s3_bucket() as bucket_and_env:
        yield bucket_and_env


def test_an_s3_run_killed_by_sigkill_is_resumed(
    s3: tuple[str, dict[str, str]], fixtures_dir: Path, tmp_path: Path
) -> None:
    bucket, s3_env = s3
    root = f"{bucket}/out"
    names = [f"doc{i}.pdf" for i in range(4)]
    src = tmp_path / "in"
    src.mkdir()
    for name in names:
        shutil.copy(fixtures_dir / "pdfs" / "edgar.pdf", src / name)
    url = f"s3://{root}"
    command = [sys.executable, "-m", "docvl.cli", "convert", str(src), "--out", url, "--stage", str(tmp_path / "stage"),
               *SMALL, "--set", "convert.concurrency=1", "--set", "convert.max_pages_in_flight=1"]  # fmt: skip
    release = threading.Event()

    def answer(payload: dict[str, Any], n: int) -> Act:
        if n >= 2:  # later pages wait until the run is dead: the kill lands half way however fast the machine is
            release.wait(timeout=60)
        return Act()

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    env = {**os.environ, **s3_env}
    with FakeOpenAIServer(answer) as fake:
        run = subprocess.Popen([*command, "--server", fake.base_url], env=env, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not _published(fs, root)[0] and time.monotonic() < deadline:
                time.sleep(0.05)
                fs.invalidate_cache()
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
            release.set()
        fs.invalidate_cache()
        killed_at = len(_published(fs, root)[0])
        assert 1 <= killed_at < len(names)
        _marker_implies_markdown_and_record(fs, root)
        code, stdout, stderr = invoke(*command[3:], "--server", fake.base_url, "--json")  # resumed in-process
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["skipped"] + summary["documents"] == len(names) and summary["skipped"] >= killed_at
    fs.invalidate_cache()
    _marker_implies_markdown_and_record(fs, root)
    assert sorted(read_results(url)) == names
    stage_lines = (tmp_path / "stage" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["path"] for line in stage_lines) == names  # each converted once


def test_an_s3_store_nobody_answers_is_one_line(
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("s3fs")
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there; one attempt each, not the client's retries
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": dead, "key": "k", "secret": "s",
                                                   "config_kwargs": {"retries": {"max_attempts": 1}}})  # fmt: skip
    code, _, stderr = invoke("convert", str(fixtures_dir / "pdfs" / "edgar.pdf"), "--out", "s3://nobody/out",
                             "--stage", str(tmp_path / "stage"), "--server", NOBODY)  # fmt: skip
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert lines[0].startswith("error: s3://nobody/out: cannot write to this output (") and dead in lines[0]
    assert not (tmp_path / "stage").exists()
