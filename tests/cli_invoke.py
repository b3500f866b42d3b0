"""`docvl` run in-process by Typer's test runner, for tests that check exit codes and output lines."""

from __future__ import annotations

from typer.testing import CliRunner

from docvl.cli import app


def invoke(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `docvl ARGS`; an exception the CLI did not turn into an exit is raised, so a
    traceback fails the test instead of hiding behind exit code 1."""
    result = CliRunner().invoke(app, [*args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
