"""`train()`: the function `docvl train` calls. Validate everything cheap, then load, train, save, export.

Every input problem (missing dataset, model folder without config.json, unknown model_type, unparsable
DeepSpeed file, bad pipeline, more GPUs than present, bad --resume) is a ConfigError/UsageError raised
before any model weights are loaded.

Run as a module (`python -m docvl.train.run CONFIG [--resume X]`) inside each process torchrun starts.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig, load_config, save_config
from docvl.data.dataset import PageDataset, build_datasets, mix, require_usable_sample
from docvl.data.pipeline import DEFAULT_PIPELINE, SamplePipeline, check_pipeline
from docvl.models import registry
from docvl.system import name_cpu_accelerator
from docvl.train.deepspeed import load_deepspeed_config
from docvl.train.launcher import Launch, check_launch, inside_launcher, relaunch
from docvl.train.shared import Plan, TrainResult, apply_lora, training_values

log = logging.getLogger(__name__)


def plan(config: DocvlConfig, launch: Launch, resume: str | None, overwrite: bool = False) -> Plan:
    """All input validation, with typed errors; touches no model weights."""
    from docvl.train.checkpoint import check_output_dir, resolve_resume

    check_launch(launch, config)
    if not inside_launcher():  # the launching process checked (and with --overwrite cleared) it already
        check_output_dir(config.train.output_dir, resume, overwrite)
    check_pipeline(tuple(config.data.pipeline or DEFAULT_PIPELINE))
    deepspeed = load_deepspeed_config(config.train.deepspeed)
    train_sets, eval_sets = build_datasets(config)
    checkpoint = registry.resolve_checkpoint(config.model.name_or_path)
    family = registry.family_of(checkpoint)
    if config.train.method == "grpo":
        from docvl.train.grpo_plan import check_grpo

        check_grpo(config, launch.processes * launch.nnodes)
    return Plan(checkpoint, family, train_sets, eval_sets, deepspeed, resolve_resume(resume, config.train.output_dir))


def training_arguments(config: DocvlConfig, deepspeed: dict[str, Any] | None, has_eval: bool) -> Any:
    """HF TrainingArguments for SFT."""
    from transformers import TrainingArguments

    return TrainingArguments(**training_values(config, deepspeed, has_eval), label_names=["labels"])


def train(
    config: DocvlConfig,
    *,
    gpus: int | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    resume: str | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train `config` (in this process, or under torchrun for --gpus N > 1 / --nnodes > 1). An output_dir
    that holds an earlier run needs `resume` (continue it) or `overwrite` (remove its checkpoints first)."""
    launch = Launch(gpus=gpus, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr)
    checked = plan(config, launch, resume, overwrite)
    name_cpu_accelerator()
    if launch.distributed and not inside_launcher():
        return TrainResult(Path(config.train.output_dir), exit_code=relaunch(launch, config, resume))
    return _train_in_process(config, checked)


def _train_in_process(config: DocvlConfig, checked: Plan) -> TrainResult:
    # peft still asks for the old name; nothing a user can change (transformers 5.23 renamed it).
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    if config.train.method == "grpo":
        from docvl.train.grpo import train_grpo

        return train_grpo(config, checked)
    from docvl.train.checkpoint import export_final
    from docvl.train.collator import PageCollator
    from docvl.train.generation_eval import add_generation_eval
    from docvl.train.trainer import DocvlTrainer, skipped_in

    args = training_arguments(config, checked.deepspeed, bool(checked.eval_sets))
    processor = registry.load_processor(checked.checkpoint, config.model)
    pipeline = SamplePipeline(config, processor)
    train_data = PageDataset(
        mix(checked.train_sets, [spec.weight for spec in config.data.train], config.train.seed), pipeline
    )
    require_usable_sample(train_data.pairs, SamplePipeline(config, processor), config)
    eval_data = {s.name: PageDataset(s.pairs, SamplePipeline(config, processor)) for s in checked.eval_sets}
    broken = [item for s in checked.train_sets + checked.eval_sets for item in s.broken]
    for name, why in broken:
        log.warning("skipping broken pair %s: %s", name, why)

    model = registry.load_model(checked.checkpoint, config.model, bf16=config.train.bf16)
    counts = registry.apply_freeze(model, checked.family, config.model)
    log.info("trainable parameters by group: %s", counts)
    if config.model.lora is not None:
        model = apply_lora(model, config, checked.family)

    trainer = DocvlTrainer(
        model=model,
        args=args,
        train_dataset=train_data,
        eval_dataset=eval_data or None,
        data_collator=PageCollator(processor.tokenizer.pad_token_id),
        processing_class=processor,
        on_checkpoint=lambda folder: save_config(config, folder),
        train_lengths=train_data.length_estimates(checked.family, config) if config.data.group_by_length else None,
    )
    add_generation_eval(trainer, config, processor, checked.eval_sets)
    output = trainer.train(resume_from_checkpoint=checked.resume)
    history = trainer.state.log_history
    metrics = _final_eval(trainer, history) if eval_data else {}
    final = export_final(trainer, processor, config)
    return TrainResult(
        output_dir=Path(args.output_dir),
        final_dir=final,
        global_step=trainer.state.global_step,
        losses=[(entry["step"], entry["loss"]) for entry in history if "loss" in entry],
        eval_metrics=metrics,
        skipped_samples=skipped_in(history),
        train_loss=output.training_loss,
        rejected=dict(pipeline.rejected),
        broken_pairs=broken,
    )


def _final_eval(trainer: Any, history: list[dict[str, Any]]) -> dict[str, float]:
    """The eval metrics at the last step: those the Trainer logged there already (eval_steps dividing the step
    count), else a fresh evaluation, so the last eval never runs twice."""
    step = trainer.state.global_step
    logged: dict[str, float] = {}
    for entry in history:
        if entry.get("step") == step and any(key.startswith("eval_") and key.endswith("_loss") for key in entry):
            logged.update({key: value for key, value in entry.items() if key.startswith("eval_")})
    return logged or trainer.evaluate()


def main(argv: list[str] | None = None) -> int:
    """Entry point of each torchrun process: train a resolved config file."""
    parser = argparse.ArgumentParser(prog="python -m docvl.train.run")
    parser.add_argument("config")
    parser.add_argument("--resume")
    options = parser.parse_args(argv)
    train(load_config(options.config), resume=options.resume)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
