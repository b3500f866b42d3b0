"""Terminal output in one place: results on stdout, progress and messages on stderr, NO_COLOR respected."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_state: dict[str, Any] = {"quiet": False, "verbose": 0, "results": None}


def configure(quiet: bool = False, verbose: int = 0) -> None:
    """Called once per command; remembers the real stdout as the results stream (see `results_only`)."""
    _state["quiet"], _state["verbose"], _state["results"] = quiet, verbose, sys.stdout
    if quiet:  # transformers' and the hub's bars ("Loading weights"), here and in the processes we start
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()


def results_stream() -> TextIO:
    """Where results (tables, JSON) go: the stdout the command started with."""
    return _state["results"] or sys.stdout


@contextlib.contextmanager
def results_only() -> Iterator[None]:
    """While a command runs, anything else that writes to stdout (library warnings, DeepSpeed's logger,
    stray prints) is sent to stderr, so `--json` output stays parseable and stdout holds results alone."""
    if _state["results"] is None:
        _state["results"] = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        yield


def is_quiet() -> bool:
    return bool(_state["quiet"])


def verbosity() -> int:
    return int(_state["verbose"])


def out() -> Console:
    """Where results go (tables, JSON)."""
    return Console(file=results_stream(), no_color="NO_COLOR" in os.environ, soft_wrap=True)


def err() -> Console:
    """Where progress, warnings and errors go."""
    return Console(stderr=True, no_color="NO_COLOR" in os.environ, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None = None
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(advance, set_total) callbacks for long work; a no-op when quiet or when stderr is not a terminal."""
    console = err()
    if is_quiet() or not console.is_terminal:
        yield (lambda n: None), (lambda n: None)
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield (lambda n: bar.advance(task, n)), (lambda n: bar.update(task, total=n))
