import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from docvl import __version__
from docvl.cli import app

runner = CliRunner()


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom docvl.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("NO-TORCH")
    assert "Example:" in result.stdout


def test_every_command_help_shows_an_example() -> None:
    commands = ["prepare", "validate", "train", "eval", "serve", "convert", "quickstart", "env"]
    for command in [*[[c] for c in commands], ["config", "schema"], ["config", "show"]]:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.stdout, command


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.stdout.strip() == f"docvl {__version__}"


def test_validate_config_prints_resolved(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1.0e-5\n")
    result = runner.invoke(app, ["validate", "--config", str(path), "--set", "train.seed=3"])
    assert result.exit_code == 0, result.output
    assert "learning_rate: 1.0e-05" in result.stdout and "seed: 3" in result.stdout


def test_unknown_config_key_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rat: 1.0e-5\n")
    result = runner.invoke(app, ["validate", "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: unknown config key 'train.learning_rat' (did you mean 'train.learning_rate'?)"
    ]


def test_global_flags_may_follow_the_command(tmp_path: Path) -> None:
    from docvl.cli import hoist_global_flags

    assert hoist_global_flags(["validate", "x", "-q"]) == ["-q", "validate", "x"]
    assert hoist_global_flags(["serve", "c", "-v", "--", "-q"]) == ["-v", "serve", "c", "--", "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "docvl", "validate", "--config", str(tmp_path / "none.yaml"), "-q"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "config file does not exist" in done.stderr
