"""Every command in the README's code blocks runs on CPU, or its block is marked `<!-- gpu-only -->`.

CPU commands run for real, in order, in a scratch folder that sees the repository's examples/ and configs/.
The two set-up commands at the top run what they promise: the quickstart (also covered, with assertions, by
tests/test_quickstart.py) and the test command, which is this suite itself and is only checked to match
.ci/run. GPU-only blocks are checked for what can be checked here: the files they name exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

BLOCK = re.compile(r"(<!-- gpu-only -->\n)?```bash\n(.*?)```", re.DOTALL)


def readme_commands(repo: Path) -> tuple[list[str], list[str]]:
    """(CPU commands, GPU-only commands) of README.md, in order."""
    cpu, gpu = [], []
    for marker, body in BLOCK.findall((repo / "README.md").read_text()):
        lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]
        (gpu if marker else cpu).extend(lines)
    return cpu, gpu


def test_readme_starts_with_the_two_commands(repo_dir: Path) -> None:
    cpu, _ = readme_commands(repo_dir)
    assert cpu[0] == "bash scripts/setup.sh && .venv/bin/docvl quickstart"
    assert cpu[1] == "bash scripts/setup.sh && .venv/bin/python -m pytest -q"
    ci = (repo_dir / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh" in ci and ".venv/bin/python -m pytest -q" in ci


@pytest.mark.slow
def test_every_cpu_command_runs(repo_dir: Path, tmp_path: Path) -> None:
    for name in ("examples", "configs", ".venv"):
        (tmp_path / name).symlink_to(repo_dir / name)
    cpu, _ = readme_commands(repo_dir)
    env = {**os.environ, "NO_COLOR": "1"}
    for command in cpu[2:] + [cpu[0]]:
        command = command.removeprefix("bash scripts/setup.sh && ")
        if command == cpu[0].removeprefix("bash scripts/setup.sh && "):
            command += " --steps 10"  # the whole quickstart, shorter training (test_quickstart runs it too)
        done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    assert (tmp_path / "runs" / "quickstart" / "converted" / "results.jsonl").is_file()
    assert (tmp_path / "runs" / "converted" / "some_ocr1.md").is_file()


def test_gpu_only_commands_name_files_that_exist(repo_dir: Path) -> None:
    _, gpu = readme_commands(repo_dir)
    assert any("--gpus 4" in command for command in gpu)
    named = {word for command in gpu for word in shlex.split(command) if word.startswith("configs/")}
    assert named, "GPU commands should name shipped configs"
    for path in named:
        assert (repo_dir / path).is_file(), path


def test_step_by_step_trains_on_labelled_pages_and_evaluates_on_others(
    repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's prepare and train commands, resolved for real: every training page has its Markdown (no
    unlabelled PDF becomes a "broken pair"), and no page the model trains on is one it is evaluated on."""
    from docvl.config import load_config
    from docvl.data.dataset import build_datasets

    for name in ("examples", "configs"):
        (tmp_path / name).symlink_to(repo_dir / name)
    monkeypatch.chdir(tmp_path)
    cpu, _ = readme_commands(repo_dir)
    prepare = next(c for c in cpu if c.startswith(".venv/bin/docvl prepare "))
    done = subprocess.run([sys.executable, "-m", "docvl", *shlex.split(prepare)[1:]], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    train = shlex.split(next(c for c in cpu if c.startswith(".venv/bin/docvl train ")))
    train_sets, eval_sets = build_datasets(load_config(train[2], train[3:]))
    assert not [broken for s in train_sets + eval_sets for broken in s.broken]
    trained = {pair.pdf.resolve() for s in train_sets for pair in s.pairs}
    evaluated = {pair.pdf.resolve() for s in eval_sets for pair in s.pairs}
    assert trained and evaluated and not trained & evaluated
