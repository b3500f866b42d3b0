"""`docvl convert --ray` on a Ray started for this module (`ray start --head` on loopback) and, once, a bare `--ray`:
the same Markdown and records as the local path, a killed driver, a killed worker, and a local client beside it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from cli_invoke import invoke
from s3_server import s3_bucket

from docvl.config import load_config, save_config
from docvl.infer import read_results
from docvl.infer.fakes import Act, FakeOpenAIServer
from docvl.page import FrontMatter, Page, serialize_page
from docvl.system import free_port

pytest.importorskip("ray.data")
pytestmark = pytest.mark.slow

DOCVL = [sys.executable, "-m", "docvl.cli"]
SMALL = ["--set", "data.target_longest_image_dim=224"]
TURN_ME = serialize_page(Page(FrontMatter("en", is_rotation_valid=False, rotation_correction=90), "turned"))
VALID = serialize_page(Page(FrontMatter("en"), "# A page\n\nSome text."))


def _docvl(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DOCVL, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process under `root`."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rpartition(")")[2].split()[1])
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                try:
                    found[child] = (Path("/proc") / str(child) / "cmdline").read_text().replace("\0", " ")
                except OSError:
                    continue
                frontier.append(child)
    return found


@pytest.fixture(scope="module", autouse=True)
def _no_ray_token() -> Iterator[None]:
    """Loopback only, and no reading of the user's ~/.ray/auth_token: Ray's token authentication off."""
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    yield
    if before is None:
        del os.environ["RAY_AUTH_MODE"]
    else:
        os.environ["RAY_AUTH_MODE"] = before


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A Ray head for the module: (address, pid of `ray start --block`, whose process group is Ray)."""
    port = free_port()
    log = tmp_path_factory.mktemp("ray-log") / "head.log"
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address",
               "127.0.0.1", "--port", str(port), "--include-dashboard", "false", "--num-cpus", "2",
               "--disable-usage-stats", "--temp-dir", str(tmp_path_factory.mktemp("ray"))]  # fmt: skip
    with log.open("w") as handle:
        head = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text() and time.monotonic() < deadline:
            assert head.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        assert "Ray runtime started" in log.read_text(), log.read_text()[-2000:]
        yield f"127.0.0.1:{port}", head.pid
    finally:
        with_children = _descendants(head.pid)
        os.killpg(head.pid, signal.SIGKILL)
        for pid in with_children:  # workers that left the group
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        head.wait(timeout=30)


def _comparable(out: Path) -> dict[str, Any]:
    """Every record (without who wrote it, when, and how long it took) and the Markdown it names."""
    records = {}
    for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for key in ("worker", "finished_at", "seconds"):
            record.pop(key, None)
        for page in record["pages"]:
            page.pop("seconds")
        markdown = (out / record["markdown"]).read_bytes() if record.get("markdown") else None
        assert record["path"] not in records, f"{record['path']} recorded twice"
        records[record["path"]] = (record, markdown)
    return records


def _scripted(payload: dict[str, Any], n: int) -> Act:
    """Replies that depend only on the page image and the temperature: some pages never give a valid reply
    (fallback), the others are first asked to be turned, then answer garbage, then a valid page."""
    image = payload["messages"][0]["content"][0]["image_url"]["url"]
    if hashlib.sha1(image.encode()).hexdigest()[0] in "0123":
        return Act(text="no front matter")
    return Act(text={0.0: TURN_ME, 0.3: "garbage"}.get(payload["temperature"], VALID))


def test_same_markdown_and_records_as_local(ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("edgar.pdf", "edgar-rotated90.pdf", "lots_of_sci_tables.pdf", "olmo-page-1.pdf"):
        shutil.copy(fixtures_dir / "pdfs" / name, src / name)
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    settings = [*SMALL, "--set", "convert.temperatures=[0.0,0.3,0.6]", "--set", "convert.max_page_errors=2"]
    with FakeOpenAIServer(_scripted) as one, FakeOpenAIServer(_scripted) as two:
        here = _docvl("convert", str(src), "--out", str(tmp_path / "local"), "--server", one.base_url, *settings,
                      "--json")  # fmt: skip
        asked_here = len(one.requests)
        ray = _docvl("convert", str(src), "--out", str(tmp_path / "ray"), "--server", one.base_url, "--server",
                     two.base_url, *settings, "--json", "--ray", ray_head[0])  # fmt: skip
    assert here.returncode == ray.returncode == 1, ray.stderr  # the broken input, and a document over its budget
    local_summary, ray_summary = json.loads(here.stdout), json.loads(ray.stdout)
    for summary in (local_summary, ray_summary):
        summary.pop("seconds"), summary.pop("pages_per_s"), summary.pop("out")
    assert ray_summary == local_summary
    assert local_summary["pages"] == 9 and local_summary["bad_inputs"] == 1
    assert 0 < local_summary["fallback_pages"] < 9
    assert _comparable(tmp_path / "ray") == _comparable(tmp_path / "local")
    reasons = {tuple(p["reasons"]) for record, _ in _comparable(tmp_path / "ray").values() for p in record["pages"]}
    assert any(r[0] == "rotated by 90" and r[-1] == "ok" for r in reasons)  # turned, re-asked, accepted
    # both servers had a share of the Ray run's requests
    assert len(one.requests) > asked_here and two.requests


@pytest.fixture
def tiny_ckpt(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> Path:
    ckpt = tmp_path / "checkpoint-1"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], ckpt)
    overrides = ["data.target_longest_image_dim=224", "convert.temperatures=[0.0]", "convert.max_new_tokens=4",
                 "serve.backend=transformers"]  # fmt: skip
    save_config(load_config(None, overrides), ckpt)
    return ckpt


def test_bare_ray_with_the_tiny_checkpoint_on_cpu_actors(tiny_ckpt: Path, fixtures_dir: Path, tmp_path: Path) -> None:
    pdfs = [str(fixtures_dir / "pdfs" / name) for name in ("edgar.pdf", "small_page_size.pdf")]
    here = _docvl("convert", *pdfs, "--out", str(tmp_path / "local"), "--model", str(tiny_ckpt), "--json")
    ray = _docvl("convert", *pdfs, "--out", str(tmp_path / "ray"), "--model", str(tiny_ckpt), "--json", "--ray")
    assert ray.returncode == here.returncode == 1, ray.stderr  # random weights: every page a fallback
    assert json.loads(ray.stdout)["fallback_pages"] == json.loads(here.stdout)["fallback_pages"] == 2
    assert _comparable(tmp_path / "ray") == _comparable(tmp_path / "local")


def _copies(fixtures_dir: Path, folder: Path, count: int, name: str = "edgar.pdf") -> list[str]:
    for i in range(count):
        (folder / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures_dir / "pdfs" / name, folder / f"d{i % 2}" / f"doc{i}.pdf")
    return sorted(f"d{i % 2}/doc{i}.pdf" for i in range(count))


def _exactly_once(out: Path, paths: list[str], pages: int = 1) -> None:
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    assert sorted(record["path"] for record in lines) == paths  # none twice, none missing
    for record in lines:
        assert [page["page"] for page in record["pages"]] == list(range(1, pages + 1))  # no page lost or doubled
        assert (out / record["markdown"]).read_text() == "\n\n".join(["# A page\n\nSome text."] * pages)
    assert not [p for p in out.rglob("*.tmp")]  # no half-written file


def test_driver_killed_half_way_then_run_again(ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path) -> None:
    paths = _copies(fixtures_dir, tmp_path / "in", 16)
    out = tmp_path / "out"
    command = ["convert", str(tmp_path / "in"), "--out", str(out), *SMALL, "--set", "convert.concurrency=1"]
    # one request at a time: the first 8 pages are answered, later ones wait until the driver is dead, so the
    # kill lands half way however fast the machine is (a quiet CI machine finished all 16 before the poll saw one)
    release = threading.Event()

    def answer(payload: dict, n: int) -> Act:
        if n >= 8:
            release.wait(timeout=120)
        return Act(delay_s=0.1)

    with FakeOpenAIServer(answer) as fake:
        first = subprocess.Popen([*DOCVL, *command, "--server", fake.base_url, f"--ray={ray_head[0]}"],
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while len(read_results(out) if out.is_dir() else {}) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            release.set()
        killed_at = len(read_results(out))
        assert 1 <= killed_at < 16
        second = _docvl(*command, "--server", fake.base_url, "--json", "--ray", ray_head[0])
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["skipped"] == killed_at and summary["documents"] == 16 - killed_at
    _exactly_once(out, paths)


def test_worker_killed_during_the_run(ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path) -> None:
    paths = _copies(fixtures_dir, tmp_path / "in", 3, "lots_of_sci_tables.pdf")
    out = tmp_path / "out"
    with FakeOpenAIServer(lambda p, n: Act(delay_s=0.2)) as fake:
        run = subprocess.Popen([*DOCVL, "convert", str(tmp_path / "in"), "--out", str(out), *SMALL, "--set",
                                "convert.concurrency=2", "--server", fake.base_url, "--json", f"--ray={ray_head[0]}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while len(fake.requests) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            actors = [pid for pid, cmd in _descendants(ray_head[1]).items() if "RenderAskStage" in cmd]
            assert actors, _descendants(ray_head[1])
            for pid in actors:  # whichever holds the batches in flight
                os.kill(pid, signal.SIGKILL)
            stdout, stderr = run.communicate(timeout=180)
        finally:
            run.kill()
    assert run.returncode == 0, stderr
    assert json.loads(stdout)["pages"] == 18
    _exactly_once(out, paths, pages=6)


def test_a_ray_client_and_a_local_client_share_one_output(
    ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path
) -> None:
    paths = _copies(fixtures_dir, tmp_path / "in", 8)
    out = tmp_path / "out"
    options = [*SMALL, "--set", "convert.concurrency=1", "--json", "--server"]
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with FakeOpenAIServer(lambda p, n: Act(delay_s=0.8)) as fake:
        local = subprocess.Popen([*DOCVL, "convert", str(tmp_path / "in"), "--out", str(out), *options, fake.base_url,
                                  "--workers", "1", "--set", "convert.max_pages_in_flight=1"], **pipes)  # fmt: skip
        clients = [local]
        try:
            deadline = time.monotonic() + 60
            while len(read_results(out) if out.is_dir() else {}) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            clients.append(subprocess.Popen([*DOCVL, "convert", f"file://{tmp_path / 'in'}", "--out", f"file://{out}",
                                             *options, fake.base_url, "--ray", ray_head[0]], **pipes))  # fmt: skip
            results = [client.communicate(timeout=180) for client in clients]
        finally:
            for client in clients:
                client.kill()
    assert [client.returncode for client in clients] == [0, 0], [stderr for _, stderr in results]
    local_summary, ray_summary = (json.loads(stdout) for stdout, _ in results)
    assert local_summary["documents"] + ray_summary["documents"] == 8
    assert ray_summary["skipped"] >= 1  # what the local client had written when the Ray client (by URLs) began
    _exactly_once(out, paths)


def test_unreachable_server_stops_before_ray_starts(fixtures_dir: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    result = _docvl("convert", str(fixtures_dir / "pdfs" / "edgar.pdf"), "--out", str(tmp_path), "--server", url,
                    "--set", "convert.connect_retries=1", "--ray")  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach" in lines[0], result.stderr


def test_ray_driver_publishes_to_an_object_store(
    ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path
) -> None:
    """`--out s3://...` (an S3 API on loopback): the driver publishes each document from its stage; another client
    with an empty stage of its own finds every one done."""
    with s3_bucket() as (bucket, env):
        paths = _copies(fixtures_dir, tmp_path / "in", 2)
        url, stage = f"s3://{bucket}/out", tmp_path / "stage"
        with FakeOpenAIServer() as fake:
            ray = subprocess.run([*DOCVL, "convert", str(tmp_path / "in"), "--out", url, "--stage", str(stage), *SMALL,
                                  "--server", fake.base_url, "--json", "--ray", ray_head[0]], capture_output=True,
                                 text=True, timeout=240, env={**os.environ, **env})  # fmt: skip
            asked = len(fake.requests)
            elsewhere = str(tmp_path / "elsewhere")
            code, stdout, stderr = invoke("convert", str(tmp_path / "in"), "--out", url, "--stage", elsewhere, *SMALL,
                                          "--server", fake.base_url, "--json")  # fmt: skip
            assert len(fake.requests) == asked  # nothing asked again
        assert ray.returncode == 0 and code == 0, ray.stderr + stderr
        assert json.loads(ray.stdout)["documents"] == 2 and json.loads(stdout)["skipped"] == 2
        _exactly_once(stage, paths)
        published = {path: record.to_dict() for path, record in read_results(url).items()}
        assert published == {path: record.to_dict() for path, record in read_results(stage).items()}
        fs = fsspec.filesystem("s3")
        for record in published.values():
            assert fs.cat(f"{bucket}/out/{record['markdown']}") == (stage / record["markdown"]).read_bytes()


def test_documents_in_several_waves_each_done_once(
    ray_head: tuple[str, int], fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waves of 2 documents: the inputs are surveyed in one Ray Data run and taken a wave at a time, each wave's
    pages asked twice (garbage first); every document once, in whichever wave."""
    from docvl.infer import ray_convert
    from docvl.infer.inputs import collect_inputs
    from docvl.infer.ray_stages import EngineSpec

    monkeypatch.setattr(ray_convert, "WAVE_DOCS", 2)
    paths = _copies(fixtures_dir, tmp_path / "in", 5)
    out = tmp_path / "out"
    docs, refused = collect_inputs([str(tmp_path / "in")], out)
    config = load_config(None, ["data.target_longest_image_dim=224", "convert.temperatures=[0.0,0.3]"])
    with FakeOpenAIServer(lambda p, n: Act(text="garbage" if p["temperature"] == 0.0 else VALID)) as fake:
        summary = ray_convert.ray_convert_docs(
            docs, refused, out, EngineSpec(servers=(fake.base_url,)), config, address=ray_head[0]
        )
        asked = len(fake.requests)
    assert (summary.documents, summary.pages, summary.fallback_pages) == (5, 5, 0)
    assert asked == 10
    _exactly_once(out, paths)
