"""The shipped examples work: the page set validates, the bench scores, the client converts a page."""

import subprocess
import sys
from pathlib import Path

from docvl.data.validate import ValidateOptions, validate_pageset
from docvl.infer.fakes import FakeOpenAIServer


def test_example_pairs_validate(repo_dir: Path) -> None:
    report = validate_pageset(repo_dir / "examples" / "pairs", ValidateOptions(render_longest_side=256), jobs=1)
    assert report.checked == 8 and report.failures == []


def test_client_script_converts_a_page_through_a_server(repo_dir: Path) -> None:
    with FakeOpenAIServer() as fake:
        done = subprocess.run(
            [
                sys.executable,
                str(repo_dir / "examples" / "client.py"),
                str(repo_dir / "examples" / "pdfs" / "some_ocr1.pdf"),
                "--server",
                fake.base_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert len(fake.requests) == 1
    assert "primary_language='en'" in done.stdout and "finish_reason=stop" in done.stdout
    assert "# A page\n\nSome text." in done.stdout


def test_client_script_reports_a_reply_that_is_not_a_page(repo_dir: Path) -> None:
    from docvl.infer.fakes import Act

    with FakeOpenAIServer(lambda payload, n: Act(text="---\nprimary_lang", finish_reason="length")) as fake:
        done = subprocess.run(
            [sys.executable, str(repo_dir / "examples" / "client.py"),
             str(repo_dir / "examples" / "pdfs" / "some_ocr1.pdf"), "--server", fake.base_url],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout == "---\nprimary_lang\n"
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("the reply is not a page (front matter + Markdown): ") and "finish_reason=length" in line
