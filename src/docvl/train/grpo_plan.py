"""GRPO's part of planning a run, before any model is loaded (kept light: no TRL, no torch): the config as the
starting checkpoint shows pages, and the checks of GRPO's own settings."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from docvl.config import DocvlConfig, build_config, find_saved_config
from docvl.errors import ConfigError
from docvl.train.grpo_data import grpo_steps

log = logging.getLogger(__name__)

# What the model sees, decided by the checkpoint it starts from (its saved docvl.yaml).
VIEW_KEYS = (
    ("data", "target_longest_image_dim"),
    ("data", "image_first"),
    ("prompt", "name"),
    ("model", "min_pixels"),
    ("model", "max_pixels"),
)


def checkpoint_view(config: DocvlConfig, checkpoint: Path | str) -> DocvlConfig:
    """`config` with the VIEW_KEYS of the checkpoint's saved config (a warning names those that differed)."""
    saved = find_saved_config(checkpoint) if isinstance(checkpoint, Path) else None
    if saved is None:
        return config
    data = config.model_dump(mode="json")
    changed = []
    for section, key in VIEW_KEYS:
        theirs = getattr(getattr(saved, section), key)
        if data[section][key] != theirs:
            changed.append(f"{section}.{key}={theirs!r} (not {data[section][key]!r})")
            data[section][key] = theirs
    if changed:
        log.warning("GRPO shows pages as %s was trained: %s", checkpoint, ", ".join(changed))
    return build_config(data, f"{checkpoint}/docvl.yaml")


def check_grpo(config: DocvlConfig, processes: int) -> None:
    """ConfigError unless the prompt pipeline works and every generation batch holds whole groups of
    `grpo.num_generations` completions. `processes`: this launch's (torchrun's WORLD_SIZE wins inside it)."""
    grpo_steps(config)
    train, grpo = config.train, config.grpo
    processes = int(os.environ.get("WORLD_SIZE", processes))
    steps = grpo.steps_per_generation or train.gradient_accumulation_steps
    completions = train.per_device_train_batch_size * steps * processes
    if completions % grpo.num_generations:
        raise ConfigError(
            f"a generation batch of {completions} completions (train.per_device_train_batch_size x steps per "
            f"generation x {processes} process(es)) is not a whole number of groups of grpo.num_generations "
            f"{grpo.num_generations}"
        )
