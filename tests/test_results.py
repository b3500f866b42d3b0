"""docvl.results and docvl.judge: records older runs wrote read the same, reasons are typed, appends are all or
nothing."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from docvl import results
from docvl.judge import Outcome, Reason, judge
from docvl.results import DocResult, DocStatus, ResultsError


def test_records_written_by_0_1_0_read_the_same(fixtures_dir: Path, tmp_path: Path) -> None:
    lines = (fixtures_dir / "results-0.1.0.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        data = json.loads(line)
        assert DocResult.from_dict(data).to_dict() == data  # and so written again byte-for-byte equal JSON
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = results.latest(tmp_path)
    assert {k: r.status for k, r in records.items()} == {
        "a.pdf": DocStatus.FAILED, "b.pdf": DocStatus.FAILED, "c.pdf": DocStatus.ERROR, "d.pdf": DocStatus.EMPTY,
    }  # fmt: skip
    reasons = lambda page: [outcome.reason for outcome in page.outcomes]  # noqa: E731
    a, (b1, b2) = records["a.pdf"].pages[0], records["b.pdf"].pages
    assert reasons(a) == [Reason.ROTATED, Reason.UNPARSEABLE, Reason.NO_REPLY] and a.outcomes[0].detail == "90"
    assert reasons(b1) == [Reason.LENGTH, Reason.REPETITION, Reason.OK] and b1.front_matter.rotation_correction == 90
    assert reasons(b2) == [Reason.NOT_RENDERED] and b2.attempts == 0 and b2.fallback
    assert results.done_keys(tmp_path) == {(k, r.sha256) for k, r in records.items()}
    assert sorted(results.latest(tmp_path, (DocStatus.OK, DocStatus.FAILED))) == ["a.pdf", "b.pdf"]


def test_outcome_sentences_round_trip() -> None:
    for outcome in (
        Outcome(Reason.OK), Outcome(Reason.LENGTH), Outcome(Reason.FINISH, "content_filter"),
        Outcome(Reason.UNPARSEABLE, "no front matter"), Outcome(Reason.REPETITION), Outcome(Reason.ROTATED, "270"),
        Outcome(Reason.NO_REPLY, "HTTP 500: boom"),
    ):  # fmt: skip
        assert Outcome.parse(str(outcome)) == outcome
    assert Outcome.parse("page 2 is too long", asked=False) == Outcome(Reason.NOT_RENDERED, "page 2 is too long")


def test_judge_reasons() -> None:
    from docvl.infer.fakes import VALID_REPLY
    from docvl.infer.types import Reply

    assert judge(Reply(text=VALID_REPLY, finish_reason="stop"), 200).outcome == Outcome(Reason.OK)
    assert judge(Reply(error="timed out"), 200).outcome == Outcome(Reason.NO_REPLY, "timed out")
    assert judge(Reply(text=VALID_REPLY, finish_reason="length"), 200).outcome.reason is Reason.LENGTH
    assert judge(Reply(text="plain", finish_reason="stop"), 200).outcome.reason is Reason.UNPARSEABLE
    looping = Reply(text=VALID_REPLY + "\n" + "la " * 400, finish_reason="stop")
    assert judge(looping, 200).outcome.reason is Reason.REPETITION and judge(looping, 200).page is None


def _record(path: str) -> DocResult:
    return DocResult(path, "/src/" + path, "0" * 64, DocStatus.ERROR, "w:1", "2026-01-01T00:00:00+0000", error="x")


def test_append_is_all_or_nothing_and_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "results.jsonl"
    results.append(target, _record("a.pdf"))
    before = target.read_bytes()
    real_write = os.write

    def short_then_full(fd: int, data: bytes) -> int:  # the disk fills up halfway through the line
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("results.jsonl"):
            return real_write(fd, data)
        if len(data) > 20:
            return real_write(fd, bytes(data[:20]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results.os, "write", short_then_full)
    with pytest.raises(ResultsError, match="results.jsonl.*No space left"):
        results.append(target, _record("b.pdf"))
    monkeypatch.undo()
    assert target.read_bytes() == before  # no torn record
    calls = []

    def short_writes(fd: int, data: bytes) -> int:  # the kernel may write less than asked: the rest follows
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("results.jsonl"):
            return real_write(fd, data)
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(results.os, "write", short_writes)
    results.append(target, _record("c.pdf"))
    monkeypatch.undo()
    assert len(calls) > 1 and sorted(results.latest(tmp_path)) == ["a.pdf", "c.pdf"]


def test_torn_line_of_a_killed_writer_is_closed(tmp_path: Path) -> None:
    target = tmp_path / "results.jsonl"
    target.write_text('{"path": "a.pdf", "sta')  # killed mid-line
    results.append(target, _record("b.pdf"))
    assert sorted(results.latest(tmp_path)) == ["b.pdf"]
