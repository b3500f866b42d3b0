from pathlib import Path

from typer.testing import CliRunner

from docvl.cli import app
from docvl.config_docs import markdown, rows

runner = CliRunner()


def test_docs_config_md_is_in_sync(repo_dir: Path) -> None:
    assert (repo_dir / "docs" / "config.md").read_text() == markdown(), (
        "docs/config.md is stale: run `docvl config schema --markdown > docs/config.md`"
    )


def test_every_key_is_documented() -> None:
    keys = [key for key, *_ in rows()]
    assert "train.deepspeed" in keys and "data.max_length" in keys
    assert [key for key, _t, _d, meaning in rows() if not meaning] == []


def test_config_commands() -> None:
    table = runner.invoke(app, ["config", "schema"], env={"COLUMNS": "300"})
    assert table.exit_code == 0 and "train.learning_rate" in table.stdout
    shown = runner.invoke(app, ["config", "show", "train.max_steps=3"])
    assert shown.exit_code == 0 and "max_steps: 3" in shown.stdout


def test_env_report() -> None:
    import json

    result = runner.invoke(app, ["env", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["packages"]["pypdfium2"] and data["cuda"]["available"] in (True, False)
    assert "serve --backend vllm" in data["missing"] or data["vllm_executable"]
