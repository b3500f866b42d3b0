"""`docvl train CONFIG` with `train.method: grpo`: olmOCR 2's reinforcement learning with unit-test rewards, on
TRL's GRPOTrainer.

It starts from any docvl checkpoint (`model.name_or_path`, usually an SFT `final/`). What the model is shown is
what that checkpoint was trained and served with: its saved `docvl.yaml` decides the render size, image pixels,
prompt and image position (`docvl.train.grpo_plan.VIEW_KEYS`), whatever the GRPO config says. Each page's
completions are sampled (transformers on CPU; vLLM on GPUs, docvl.train.grpo_vllm), scored by docvl's rewards
(docvl.train.grpo_rewards, each logged under `rewards/<name>/mean`), and the policy is updated towards the better
ones of its group.

Checkpoints are complete or absent and carry `docvl.yaml` (method and reward weights included), resume is exact
(`--resume`), `final/` is what `docvl eval` and `serve` load, as in SFT. Every step logs its seconds of
generation, scoring and the rest of the update (`time/generation`, `time/scoring`, `time/update`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from docvl.config import DocvlConfig, save_config
from docvl.data.dataset import mix, require_usable_sample
from docvl.data.pipeline import SamplePipeline
from docvl.models import registry
from docvl.train.checkpoint import export_final
from docvl.train.grpo_data import GRPO_NEEDS, GrpoPages, grpo_steps, with_gold
from docvl.train.grpo_plan import checkpoint_view
from docvl.train.grpo_rewards import ScoringClock, reward_functions
from docvl.train.grpo_vllm import grpo_vllm_kwargs
from docvl.train.shared import Plan, TrainResult, apply_lora, training_values
from docvl.train.trainer import CompleteCheckpoints

log = logging.getLogger(__name__)

# GrpoConfig keys that are TRL GRPOConfig arguments of the same name (the vLLM ones: docvl.train.grpo_vllm).
_TRL_KEYS = (
    "num_generations",
    "temperature",
    "top_p",
    "max_completion_length",
    "beta",
    "loss_type",
    "importance_sampling_level",
    "epsilon",
    "num_iterations",
    "steps_per_generation",
    "scale_rewards",
    "mask_truncated_completions",
)


def grpo_values(config: DocvlConfig, checkpoint: Path | str, reward_weights: list[float]) -> dict[str, Any]:
    """TRL GRPOConfig arguments beyond TrainingArguments: the `grpo` keys under their TRL names, the weights of the
    reward functions in use (in their order), and the generation backend."""
    return {
        **{key: getattr(config.grpo, key) for key in _TRL_KEYS},
        "reward_weights": reward_weights,
        **grpo_vllm_kwargs(checkpoint, config),
    }


def grpo_arguments(
    config: DocvlConfig, checkpoint: Path | str, deepspeed: dict[str, Any] | None, reward_weights: list[float]
) -> GRPOConfig:
    """TRL's GRPOConfig: the `train` section as for SFT (docvl.train.run.training_values), plus `grpo_values`."""
    return GRPOConfig(
        **training_values(config, deepspeed, has_eval=False), **grpo_values(config, checkpoint, reward_weights)
    )


class StepTimes(TrainerCallback):
    """Seconds of each optimizer step spent generating, scoring, and on the rest of the update."""

    def __init__(self, trainer: DocvlGrpoTrainer):
        self.trainer = trainer
        self.started = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()
        self.trainer.generation_seconds = 0.0
        self.trainer.scoring.take()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        total = time.perf_counter() - self.started
        generation, scoring = self.trainer.generation_seconds, self.trainer.scoring.take()
        metrics = self.trainer._metrics["train"]
        metrics["time/generation"].append(generation)
        metrics["time/scoring"].append(scoring)
        metrics["time/update"].append(total - generation - scoring)


class DocvlGrpoTrainer(CompleteCheckpoints, GRPOTrainer):
    """TRL's GRPOTrainer with docvl's complete-or-absent checkpoints and per-step times."""

    def __init__(self, *args: Any, on_checkpoint: Any = None, scoring: ScoringClock | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_checkpoint = on_checkpoint
        self.scoring = scoring or ScoringClock()
        self.generation_seconds = 0.0
        self.add_callback(StepTimes(self))

    def _generate(self, prompts: list) -> Any:
        start = time.perf_counter()
        try:
            return super()._generate(prompts)
        finally:
            self.generation_seconds += time.perf_counter() - start


def train_grpo(config: DocvlConfig, checked: Plan) -> TrainResult:
    """GRPO from `checked.checkpoint` on the train sets' pages that have tests or gold text."""
    config = checkpoint_view(config, checked.checkpoint)
    train_sets, golds, without_gold = with_gold(checked.train_sets, config)
    pages = GrpoPages(mix(train_sets, [spec.weight for spec in config.data.train], config.train.seed), config)
    require_usable_sample(pages.pairs, SamplePipeline(config, names=grpo_steps(config), ends_in=GRPO_NEEDS), config)
    broken = [item for pageset in checked.train_sets for item in pageset.broken]
    for name, why in broken:
        log.warning("skipping broken pair %s: %s", name, why)

    processor = registry.load_processor(checked.checkpoint, config.model)
    model = registry.load_model(checked.checkpoint, config.model, bf16=config.train.bf16)
    log.info("trainable parameters by group: %s", registry.apply_freeze(model, checked.family, config.model))
    if config.model.lora is not None:
        model = apply_lora(model, config, checked.family)

    stops: set[int] = set()  # the trainer's end-of-sequence ids, known once it is built
    scoring = ScoringClock()
    funcs, weights = reward_functions(config.grpo.reward_weights, golds, stops, scoring)
    trainer = DocvlGrpoTrainer(
        model=model,
        reward_funcs=funcs,
        args=grpo_arguments(config, checked.checkpoint, checked.deepspeed, weights),
        train_dataset=pages.dataset(),
        processing_class=processor,
        on_checkpoint=lambda folder: save_config(config, folder),
        scoring=scoring,
    )
    stops.update(trainer.eos_token_ids)
    output = trainer.train(resume_from_checkpoint=checked.resume)
    history = trainer.state.log_history
    return TrainResult(
        output_dir=Path(trainer.args.output_dir),
        final_dir=export_final(trainer, processor, config),
        global_step=trainer.state.global_step,
        losses=[(entry["step"], entry["loss"]) for entry in history if "loss" in entry],
        train_loss=output.training_loss,
        rejected=dict(pages.pipeline.rejected),
        broken_pairs=broken,
        pages_without_gold=without_gold,
        history=list(history),
    )
