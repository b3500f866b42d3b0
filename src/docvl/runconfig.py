"""The one rule for a run's config: which file decides which section.

Every command that runs or talks to a model (serve, convert, eval) resolves its config here:

1. The base is the config the model was trained with: a checkpoint's saved `docvl.yaml`, or the config a
   running docvl server reports for the checkpoint it serves. It decides how pages are rendered, prompted,
   generated and parsed (model, data, prompt, eval, convert).
2. A `--config` file then sets only the `RUNTIME_SECTIONS` (with no base: the whole file is the config).
3. Dotted `--set` overrides come last and may set anything.

A checkpoint is data, not a program: the `USER_ONLY_KEYS` (which program runs, which address is bound)
are never taken from a checkpoint or a server's report; they come from the command line, the `--config`
file or the defaults. A checkpoint that sets them differently gets one warning line saying they were ignored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docvl.config import (
    CONFIG_FILENAME,
    DocvlConfig,
    apply_overrides,
    build_config,
    load_config,
    read_yaml,
)

# Sections a `--config` file may set over a checkpoint's own config: how this run runs, not what the model is.
RUNTIME_SECTIONS = ("serve", "convert", "eval")
# Keys that choose programs and network addresses: only ever from the user (command line, --config, defaults).
USER_ONLY_KEYS = (("serve", "vllm_executable"), ("serve", "host"), ("serve", "port"), ("serve", "backend"))

Warn = Callable[[str], None]


def _warn_stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def saved_config_path(checkpoint: str | Path | None) -> Path | None:
    """The `docvl.yaml` inside a local checkpoint folder, or None (tiny models, hub ids, folders without one)."""
    if checkpoint is None or str(checkpoint).startswith("tiny:"):
        return None
    path = Path(checkpoint).expanduser() / CONFIG_FILENAME
    return path if path.is_file() else None


def _strip_user_only(data: dict[str, Any], source: str, warn: Warn | None) -> dict[str, Any]:
    """`data` without the USER_ONLY_KEYS; with `warn`, one line names those that differ from the defaults."""
    defaults = DocvlConfig().model_dump(mode="json")
    ignored = []
    for section, key in USER_ONLY_KEYS:
        values = data.get(section)
        if isinstance(values, dict) and key in values:
            value = values.pop(key)
            if value != defaults[section][key]:
                ignored.append(f"{section}.{key}={value!r}")
    if ignored and warn is not None:
        warn(
            f"{source}: ignored {', '.join(ignored)}: a checkpoint's config never chooses programs or addresses "
            "(set them with --config, --set or the command's options)"
        )
    return data


def resolve_run_config(
    checkpoint: str | Path | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    served: Mapping[str, Any] | None = None,
    served_from: str = "the server",
    warn: Warn = _warn_stderr,
) -> DocvlConfig:
    """The config of a run (see the module docstring). `served` is a config reported by a running server,
    used as the base when `checkpoint` has no saved config of its own."""
    saved_path = saved_config_path(checkpoint)
    base: dict[str, Any] | None = None
    if saved_path is not None:
        base = _strip_user_only(load_config(saved_path).model_dump(mode="json"), str(saved_path), warn)
    elif served is not None:
        # a server's own host and program are no choice offered to its clients: dropped without a word
        base = _strip_user_only(build_config(dict(served), served_from).model_dump(mode="json"), served_from, None)
    if base is None:
        return load_config(config_file, list(overrides))
    if config_file:
        extra = read_yaml(Path(config_file))
        for section in RUNTIME_SECTIONS:
            if isinstance(extra.get(section), dict):
                base[section] = {**base.get(section, {}), **extra[section]}
    source = str(config_file or saved_path or served_from)
    return build_config(apply_overrides(base, list(overrides)), source)
