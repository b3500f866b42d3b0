"""Exit codes of every command's usage errors (2, with Typer's usage message or one `error:` line), and the
cheap checks that must come before any work or model load: inputs, outputs, report paths, ports."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docvl.cli import app
from docvl.models import registry

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before the cheap checks")

    monkeypatch.setattr(registry, "load_model", refuse)
    monkeypatch.setattr(registry, "load_processor", refuse)


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A plain file: any path below it cannot be written, even by root."""
    path = tmp_path / "a-file"
    path.write_text("x")
    return path


def usage_cases(tmp_path: Path, a_file: Path, ckpt: Path, busy_port: int) -> dict[str, tuple[list[str], str]]:
    """command -> (arguments, what stderr must say); each must exit 2 without doing the work."""
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    pdf = str(Path(__file__).parent / "fixtures" / "pdfs" / "edgar.pdf")
    pairs = str(Path(__file__).parent / "fixtures" / "pairs")
    return {
        "prepare no source": (["prepare", "--out", str(tmp_path / "o")], "no sources given"),
        "prepare eval fraction": (["prepare", pdf, "--out", str(tmp_path / "o"), "--eval-fraction", "1.5"],
                                  "Invalid value for --eval-fraction"),
        "prepare missing source": (["prepare", str(tmp_path / "gone"), "--out", str(tmp_path / "o")],
                                   "source does not exist"),
        "validate nothing": (["validate"], "give a PAGESET"),
        "validate empty": (["validate", str(empty)], f"{empty}: no page pairs to check"),
        "validate report": (["validate", pairs, "--report", str(a_file / "r.jsonl")], "cannot write here"),
        "train no config": (["train"], "Missing argument"),
        "train config missing": (["train", str(tmp_path / "none.yaml")], "config file does not exist"),
        "train output unwritable": (["train", str(Path(__file__).parents[1] / "configs" / "tiny-cpu.yaml"),
                                     f"train.output_dir={a_file / 'run'}"], "cannot write here"),
        "eval nothing": (["eval"], "nothing to evaluate"),
        "eval report": (["eval", str(ckpt), "--report", str(a_file / "r.json")], "cannot write here"),
        "serve no checkpoint": (["serve"], "Missing argument"),
        "serve dry run": (["serve", str(ckpt), "--backend", "transformers", "--dry-run"], "need --backend vllm"),
        "serve missing": (["serve", str(tmp_path / "runs" / "nope")], "no checkpoint at"),
        "serve port": (["serve", str(ckpt), "--backend", "transformers", "--port", str(busy_port)],
                       f"cannot serve on 127.0.0.1:{busy_port}"),
        "convert no engine": (["convert", pdf, "--out", str(tmp_path / "o")], "give --server URL or --model"),
        "convert empty": (["convert", str(empty), "--out", str(tmp_path / "o"), "--model", str(ckpt)],
                          f"no documents to convert in {empty}"),
        "convert missing": (["convert", str(tmp_path / "gone.pdf"), "--out", str(tmp_path / "o"), "--model", str(ckpt)],
                            "input does not exist"),
        "convert out": (["convert", pdf, "--out", str(a_file / "o"), "--model", str(ckpt)], "cannot write here"),
        "convert model": (["convert", pdf, "--out", str(tmp_path / "o"), "--model", str(tmp_path / "runs" / "fnal")],
                          "no checkpoint at"),
        "convert shard": (["convert", pdf, "--out", str(tmp_path / "o"), "--model", str(ckpt), "--shard", "5/4"],
                          "I must be between 1 and N"),
        "quickstart steps": (["quickstart", "--steps", "many"], "Invalid value for '--steps'"),
        "config schema": (["config", "schema", "--bogus"], "No such option"),
        "config show": (["config", "show", str(tmp_path / "none.yaml")], "config file does not exist"),
        "env": (["env", "--bogus"], "No such option"),
    }  # fmt: skip


def test_usage_errors_exit_2_before_any_work(
    tmp_path: Path, a_file: Path, tiny_checkpoints: dict[str, Path], no_model_loading: None
) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], ckpt)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases = usage_cases(tmp_path, a_file, ckpt, busy.getsockname()[1])
        for name, (args, message) in cases.items():
            code, stdout, stderr = invoke(*args)
            assert code == 2 and message in stderr, (name, code, stderr)
            assert "Traceback" not in stderr and "run with -v" not in stderr, (name, stderr)
    assert not (tmp_path / "o").exists()  # no command began its work


def test_exit_codes_0_and_1(tmp_path: Path, fixtures_dir: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(fixtures_dir / "pairs", pages)
    code, _, _ = invoke("validate", str(pages), "--no-render")
    assert code in (0, 1)
    first = next(pages.glob("*.md"))
    first.write_text("no front matter", encoding="utf-8")
    code, stdout, _ = invoke("validate", str(pages), "--no-render", "--json")
    assert code == 1 and json.loads(stdout)["failed"] >= 1  # the work found a failure
    code, _, _ = invoke("config", "show")
    assert code == 0


def test_report_that_cannot_be_written_keeps_the_results(
    tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docvl.io

    def fail(path: object, text: str) -> None:
        raise docvl.io.WriteError("cannot write this file (No space left on device)", str(path))

    pages = tmp_path / "pages"
    shutil.copytree(fixtures_dir / "pairs", pages)
    monkeypatch.setattr(docvl.io, "atomic_write_text", fail)  # the disk fills up during the run
    code, stdout, stderr = invoke("validate", str(pages), "--no-render", "--json", "--report", str(tmp_path / "r"))
    assert code == 2 and "No space left on device" in stderr
    assert json.loads(stdout)["checked"] == len(list(pages.glob("*.md")))


def test_write_errors_name_the_users_path(tmp_path: Path, a_file: Path) -> None:
    from docvl.errors import WriteError
    from docvl.io import atomic_write_text

    with pytest.raises(WriteError) as caught:
        atomic_write_text(a_file / "docvl.yaml", "x")
    assert str(caught.value).startswith(f"{a_file / 'docvl.yaml'}: cannot write this file")
    assert ".tmp" not in str(caught.value) and caught.value.exit_code == 2


def test_config_errors_name_the_culprit(tmp_path: Path, repo_dir: Path) -> None:
    misplaced = tmp_path / "c.yaml"
    misplaced.write_text("deepspeed: configs/deepspeed/zero2.json\n")
    code, _, stderr = invoke("config", "show", str(misplaced))
    assert code == 2 and stderr.strip() == (
        f"error: {misplaced}: unknown config key 'deepspeed' (did you mean 'train.deepspeed'?)"
    )
    tiny = str(repo_dir / "configs" / "tiny-cpu.yaml")
    code, _, stderr = invoke("train", tiny, "train.max_steps=2", "train.lerning_rate=1e-5")
    assert code == 2 and stderr.strip() == (
        "error: override 'train.lerning_rate=1e-5': unknown config key 'train.lerning_rate' "
        "(did you mean 'train.learning_rate'?)"
    )


def test_quiet_hides_the_loading_bars_and_deepspeed_is_not_warning(
    tmp_path: Path, tiny_checkpoints: dict[str, Path], fixtures_dir: Path
) -> None:
    import subprocess
    import sys

    command = [
        sys.executable, "-m", "docvl", "-q", "convert", str(fixtures_dir / "pdfs" / "edgar.pdf"),
        "--model", str(tiny_checkpoints["qwen2_5_vl"]), "--out", str(tmp_path / "out"), "--workers", "1",
        "--set", "convert.max_new_tokens=4", "--set", "convert.temperatures=[0.0]",
        "--set", "data.target_longest_image_dim=112",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert (tmp_path / "out" / "results.jsonl").is_file()  # the model was loaded and ran
    assert "Loading weights" not in done.stderr and "%|" not in done.stderr, done.stderr
    assert "Setting accelerator to CPU" not in done.stderr  # DeepSpeed's warning nobody can act on


def test_help_schema_and_validate_show_what_applies(tmp_path: Path, fixtures_dir: Path) -> None:
    from docvl.config_docs import rows

    for command in (["validate"], ["serve"], ["train"], ["config", "schema"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0 and "<bool>" not in result.stdout, command  # flags take no value
    result = runner.invoke(app, ["config", "schema"], env={"COLUMNS": "120"})
    keys = [row[0] for row in rows()]
    assert [key for key in keys if f"│ {key} " not in result.stdout] == []  # no key cut at 120 columns
    pages = tmp_path / "pages"
    shutil.copytree(fixtures_dir / "pairs", pages)
    code, stdout, _ = invoke("validate", str(pages), "--no-render", "--json")
    counts = json.loads(stdout)["counts"]
    assert "token_length" not in counts and "pdf_renders" not in counts and "front_matter" in counts
    code, stdout, _ = invoke("validate", str(pages), "--no-render")
    assert "token_length" not in stdout  # the table lists only checks that ran


def test_convert_bar_total_counts_the_pages_left(tmp_path: Path, fixtures_dir: Path) -> None:
    from docvl.cli import _pages_to_convert
    from docvl.infer.fakes import FakeOpenAIServer
    from docvl.infer.inputs import collect_inputs
    from docvl.pdf import page_count

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for name in ("edgar.pdf", "lots_of_sci_tables.pdf"):
        shutil.copy(fixtures_dir / "pdfs" / name, src / name)
    docs = collect_inputs([str(src)], out)[0]
    sci = page_count(src / "lots_of_sci_tables.pdf")
    assert sci > 1 and _pages_to_convert(docs, out, None, None) == 1 + sci
    assert _pages_to_convert(docs, out, "1-2", None) == 1 + 2
    assert _pages_to_convert(docs, out, None, (1, 2)) + _pages_to_convert(docs, out, None, (2, 2)) == 1 + sci
    with FakeOpenAIServer() as fake:
        code, _, stderr = invoke("convert", str(src / "edgar.pdf"), "--out", str(out), "--server", fake.base_url)
    assert code == 0, stderr
    assert _pages_to_convert(docs, out, None, None) == sci  # a resumed run does not count what is done
