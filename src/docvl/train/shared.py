"""What SFT and GRPO runs share (docvl.train.run, docvl.train.grpo): the checked plan of a run, the
TrainingArguments values from the `train` section, LoRA, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig
from docvl.data.dataset import PageSet
from docvl.models import registry

# TrainConfig fields that are not TrainingArguments (docvl handles them itself).
_NOT_TRAINING_ARGS = {"deepspeed", "warmup_ratio", "method"}


@dataclass
class TrainResult:
    """What a training run did. `losses` are (step, training loss) as logged; `metrics` the final eval."""

    output_dir: Path
    final_dir: Path | None = None
    global_step: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_metrics: dict[str, float] = field(default_factory=dict)
    skipped_samples: int = 0
    train_loss: float | None = None  # the mean over the run (when no step logged a loss: logging_steps > steps)
    rejected: dict[str, int] = field(default_factory=dict)
    broken_pairs: list[tuple[str, str]] = field(default_factory=list)
    pages_without_gold: int = 0  # GRPO: pages with neither unit tests nor gold text, skipped
    history: list[dict[str, Any]] = field(default_factory=list)  # GRPO: the Trainer's log (rewards/<name>/mean...)
    exit_code: int = 0


@dataclass
class Plan:
    """Everything checked before loading: the resolved checkpoint, family, data, DeepSpeed dict, resume."""

    checkpoint: Path | str
    family: registry.ModelFamily
    train_sets: list[PageSet]
    eval_sets: list[PageSet]
    deepspeed: dict[str, Any] | None
    resume: str | None


def training_values(config: DocvlConfig, deepspeed: dict[str, Any] | None, has_eval: bool) -> dict[str, Any]:
    """The TrainingArguments keyword arguments from the `train` section (same names), plus what docvl's data needs;
    GRPO's GRPOConfig extends the same set."""
    values = config.train.model_dump(exclude=_NOT_TRAINING_ARGS)
    # transformers 5.23 renamed gradient_checkpointing (a FutureWarning on every run under the old name).
    values["activation_checkpointing"] = values.pop("gradient_checkpointing")
    # transformers 5 folded warmup_ratio into warmup_steps: a float below 1 is a ratio (1.0 would mean 1 step).
    values["warmup_steps"] = min(config.train.warmup_ratio, 0.9999)
    if not has_eval:
        values["eval_strategy"] = "no"
    return {
        **values,
        "deepspeed": deepspeed,
        "remove_unused_columns": False,  # pipeline outputs are model inputs already
        "activation_checkpointing_kwargs": {"use_reentrant": False} if config.train.gradient_checkpointing else None,
    }


def apply_lora(model: Any, config: DocvlConfig, family: registry.ModelFamily) -> Any:
    """LoRA adapters on the language model's projections only (the vision tower has same-named layers)."""
    from peft import LoraConfig, get_peft_model

    lora = config.model.lora
    target = rf"^(?!(.*\.)?{family.vision_module}\.).*\.({'|'.join(lora.target_modules)})$"
    return get_peft_model(
        model, LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=target)
    )
