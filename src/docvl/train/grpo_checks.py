"""GRPO's checks before any model is loaded (kept light: `plan` runs them for every `docvl train`)."""

from __future__ import annotations

import os

from docvl.config import DocvlConfig
from docvl.errors import ConfigError
from docvl.train.grpo_data import grpo_steps


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
