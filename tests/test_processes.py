"""Worker processes end with their run: a SIGKILLed `docvl convert` leaves no process behind (render workers,
forkserver, resource tracker), and Ctrl-C in a terminal (SIGINT to the whole process group) prints one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docvl.infer.fakes import Act, FakeOpenAIServer

DOCVL = [sys.executable, "-m", "docvl"]


def session_processes(session: int) -> list[str]:
    """'pid command' of every live process in a session (zombies are gone already, as far as we care)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def wait_for(condition, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def start_convert(src: Path, out: Path, url: str) -> subprocess.Popen:
    """`docvl convert` with two render workers in a session of its own (as a terminal would start it)."""
    settings = ["--set", "data.target_longest_image_dim=224", "--workers", "2"]
    return subprocess.Popen(
        [*DOCVL, "convert", str(src), "--out", str(out), "--server", url, *settings],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def many_pdfs(fixtures_dir: Path, root: Path, count: int = 6) -> Path:
    src = root / "in"
    src.mkdir()
    for index in range(count):
        shutil.copy(fixtures_dir / "pdfs" / "edgar.pdf", src / f"doc{index}.pdf")
    return src


def test_sigkilled_convert_leaves_no_process(fixtures_dir: Path, tmp_path: Path) -> None:
    src = many_pdfs(fixtures_dir, tmp_path)
    with FakeOpenAIServer(lambda p, n: Act(delay_s=2.0)) as fake:
        run = start_convert(src, tmp_path / "out", fake.base_url)
        try:
            # the parent, the forkserver, the resource tracker and two render workers
            assert wait_for(lambda: len(session_processes(run.pid)) >= 5, 60), session_processes(run.pid)
            assert wait_for(lambda: bool(fake.requests), 60)  # pages are rendered and in flight
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
            assert wait_for(lambda: not session_processes(run.pid), 15), session_processes(run.pid)
        finally:
            for line in session_processes(run.pid):
                os.kill(int(line.split()[0]), signal.SIGKILL)


def test_ctrl_c_prints_one_line(fixtures_dir: Path, tmp_path: Path) -> None:
    src = many_pdfs(fixtures_dir, tmp_path)
    with FakeOpenAIServer(lambda p, n: Act(delay_s=2.0)) as fake:
        run = start_convert(src, tmp_path / "out", fake.base_url)
        try:
            assert wait_for(lambda: len(session_processes(run.pid)) >= 5 and bool(fake.requests), 60)
            os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
            _, stderr = run.communicate(timeout=60)
        finally:
            run.kill()
    assert run.returncode == 130
    lines = [line for line in stderr.strip().splitlines() if "reports no checkpoint config" not in line]
    assert lines == ["interrupted; finished work is kept"], stderr  # (the fake server has no config to report)
    assert wait_for(lambda: not session_processes(run.pid), 15), session_processes(run.pid)


def test_ctrl_c_in_prepare_prints_one_line(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for index in range(300):  # distinct documents (no duplicates), a few seconds of work
        for name in ("edgar.pdf", "olmo-page-1.pdf"):
            (src / f"{index}-{name}").write_bytes((fixtures_dir / "pdfs" / name).read_bytes() + b"%% %d\n" % index)
    out = tmp_path / "out"
    run = subprocess.Popen(
        [*DOCVL, "prepare", str(src), "--out", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_for(lambda: (out / "manifest.jsonl").is_file() and (out / "manifest.jsonl").stat().st_size, 60)
        os.killpg(run.pid, signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 130, stderr
    lines = [line for line in stderr.strip().splitlines() if "reports no checkpoint config" not in line]
    assert lines == ["interrupted; finished work is kept"], stderr  # (the fake server has no config to report)
    assert wait_for(lambda: not session_processes(run.pid), 15), session_processes(run.pid)


def test_interrupts_deferred_holds_ctrl_c_to_the_end_of_the_block() -> None:
    from docvl.system import interrupts_deferred

    finished = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # as if it arrived inside a C callback that would swallow it
            time.sleep(0.05)
            finished = True
    assert finished and signal.getsignal(signal.SIGINT) is signal.default_int_handler
