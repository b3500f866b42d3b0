"""DeepSpeed config: `train.deepspeed` names a JSON file or holds the JSON inline (inside `train`, where the
Trainer reads it; the seed notes record a run that silently trained without ZeRO because the key sat outside).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docvl.errors import ConfigError


def load_deepspeed_config(value: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The DeepSpeed config as a dict (None when unset); a missing or unparsable file is a ConfigError."""
    if value is None or isinstance(value, dict):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError("DeepSpeed config file does not exist", path, "train.deepspeed")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"DeepSpeed config does not parse as JSON ({exc})", path) from None
    if not isinstance(data, dict):
        raise ConfigError("DeepSpeed config must be a JSON object", path)
    return data


def zero_stage(config: dict[str, Any] | None) -> int:
    """The ZeRO stage of a DeepSpeed config (0 when there is none)."""
    return int((config or {}).get("zero_optimization", {}).get("stage", 0))
