"""Checkpoints that carry everything later stages need, resume resolution, and the final vLLM-ready export.

`output_dir/checkpoint-N/` = HF weights (or LoRA adapter) + optimizer/scheduler/RNG state (the Trainer's) +
the processor (chat template, and the image `size` training used) + `docvl.yaml`. `output_dir/final/` holds
full weights (LoRA merged) that `from_pretrained` and vLLM load with nothing else; after a LoRA run also
`final/adapter/`, the adapter it was merged from, so `docvl eval final --parity` can check the merge.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig, save_config
from docvl.errors import UsageError
from docvl.io import check_writable

FINAL_DIR = "final"
ADAPTER_DIR = "adapter"
TRAINER_STATE = "trainer_state.json"  # the Trainer writes it last: a checkpoint without it is incomplete
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")

log = logging.getLogger(__name__)


def checkpoints_in(output_dir: str | Path) -> list[Path]:
    """The `checkpoint-N` folders of a run, oldest (lowest N) first."""
    out = Path(output_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir() if (m := _CHECKPOINT_NAME.match(p.name)) and p.is_dir()]
    return [path for _, path in sorted(found)]


def resolve_resume(resume: str | None, output_dir: str | Path) -> str | None:
    """`auto` -> the newest complete checkpoint in output_dir (None: start fresh), saying which incomplete ones
    it passed over; a path must be a complete checkpoint."""
    if resume is None:
        return None
    if resume == "auto":
        found = checkpoints_in(output_dir)
        complete = [path for path in found if (path / TRAINER_STATE).is_file()]
        newest = complete[-1] if complete else None
        passed = [path.name for path in found[found.index(newest) + 1 :]] if newest else [p.name for p in found]
        if passed:
            log.warning(
                "resume: passed over incomplete %s in %s (no %s); %s",
                ", ".join(passed),
                output_dir,
                TRAINER_STATE,
                f"resuming from {newest.name}" if newest else "starting fresh",
            )
        return str(newest) if newest else None
    path = Path(resume)
    if not (path / TRAINER_STATE).is_file():
        raise UsageError(f"not a checkpoint to resume (no {TRAINER_STATE})", path, "--resume auto|PATH")
    return str(path)


def check_output_dir(output_dir: str | Path, resume: str | None, overwrite: bool) -> None:
    """Refuse an output folder that cannot be written, and one holding an earlier run unless the user resumes it
    or said --overwrite (which removes its checkpoints, so a later `--resume auto` cannot pick a stale one)."""
    out = Path(output_dir)
    check_writable(out, folder=True)
    earlier = [*checkpoints_in(out), *([out / FINAL_DIR] if (out / FINAL_DIR).is_dir() else [])]
    if not earlier or resume is not None:
        return
    if not overwrite:
        names = ", ".join(path.name for path in earlier[:3]) + (", ..." if len(earlier) > 3 else "")
        raise UsageError(
            f"already holds a training run ({names})", out, "--resume auto continues it, --overwrite starts again"
        )
    for path in earlier:
        shutil.rmtree(path)


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
