"""Checkpoints that carry everything later stages need, resume resolution, and the final vLLM-ready export.

`output_dir/checkpoint-N/` = HF weights (or LoRA adapter) + optimizer/scheduler/RNG state (the Trainer's) +
the processor (chat template, and the image `size` training used) + `docvl.yaml`. `output_dir/final/` holds
full weights (LoRA merged) that `from_pretrained` and vLLM load with nothing else; after a LoRA run also
`final/adapter/`, the adapter it was merged from, so `docvl eval final --parity` can check the merge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from docvl.config import DocvlConfig, save_config
from docvl.errors import UsageError

FINAL_DIR = "final"
ADAPTER_DIR = "adapter"


class SaveDocvlConfig(TrainerCallback):
    """Writes the resolved docvl config into every checkpoint folder the Trainer saves."""

    def __init__(self, config: DocvlConfig):
        self.config = config

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            save_config(self.config, Path(args.output_dir) / f"checkpoint-{state.global_step}")


def resolve_resume(resume: str | None, output_dir: str | Path) -> str | None:
    """`auto` -> the latest checkpoint in output_dir (None: start fresh); a path must be a checkpoint."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume is None:
        return None
    if resume == "auto":
        out = Path(output_dir)
        return get_last_checkpoint(str(out)) if out.is_dir() else None
    path = Path(resume)
    if not (path / "trainer_state.json").is_file():
        raise UsageError("not a checkpoint to resume (no trainer_state.json)", path, "--resume auto|PATH")
    return str(path)


def export_final(trainer: Any, processor: Any, config: DocvlConfig) -> Path:
    """Write `output_dir/final/`: merged full weights, processor, docvl.yaml (main process only)."""
    target = Path(trainer.args.output_dir) / FINAL_DIR
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # a peft model: keep the adapter, then fold it into the base weights
        if trainer.args.should_save:
            model.save_pretrained(target / ADAPTER_DIR)
        model = model.merge_and_unload()
    state_dict = trainer.accelerator.get_state_dict(trainer.model_wrapped) if trainer.is_deepspeed_enabled else None
    if state_dict is not None and config.model.lora is not None:
        state_dict = None  # merged weights differ from the engine's adapter state; save the merged module
    if trainer.args.should_save:
        model.save_pretrained(target, state_dict=state_dict)
        processor.save_pretrained(target)
        save_config(config, target)
    return target
