import os
from pathlib import Path

from docvl.io import JsonlAppender, atomic_write_text, read_jsonl


def test_atomic_write_has_normal_permissions_and_no_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.md"
    atomic_write_text(target, "x")
    atomic_write_text(target, "y")
    assert target.read_text() == "y"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["b.md"]


def test_jsonl_appender_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with JsonlAppender(path) as out:
        out.write({"a": 1})
        out.write({"b": "é"})
    with path.open("a") as handle:
        handle.write('{"torn": ')  # a writer killed mid-line
    assert read_jsonl(path) == [{"a": 1}, {"b": "é"}]
