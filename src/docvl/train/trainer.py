"""`DocvlTrainer`: the HF Trainer, made safe for batches in which the pipeline rejected every sample.

The collator returns None for such a batch. The Trainer touches a batch in several places, and each one is
guarded (transformers 5.23 signatures): `floating_point_ops`, `_get_num_items_in_batch` (gradient
accumulation hands it a list that may hold None next to real batches: the real ones still set the loss
scale), `_track_num_input_tokens`, `training_step` and `prediction_step`. Skipped samples are counted and
logged as `skipped_samples` / `eval_skipped_samples`, summed over processes.

A checkpoint is complete or absent: it is written into `output_dir/.saving/`, completed by `on_checkpoint`
(docvl.yaml), then renamed into place, so an interrupted save never leaves a `checkpoint-N` to resume from.

Under DeepSpeed or DDP an empty step still runs a backward of zero (through the last real batch, or the
parameters): every process must join the gradient collectives, and DeepSpeed steps its optimizer inside
`backward`. In a single process an empty step does nothing, so an all-empty accumulation step leaves the
weights exactly as they were.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import DistributedType
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import rotate_checkpoints

from docvl.train.collator import SKIPPED_KEY

STAGING_DIR = ".saving"


def skipped_in(log_history: list[dict[str, Any]]) -> int:
    """The training samples skipped so far, as last logged."""
    return next((entry["skipped_samples"] for entry in reversed(log_history) if "skipped_samples" in entry), 0)


class CompleteCheckpoints:
    """Trainer mixin (before the Trainer class in the bases): complete-or-absent `checkpoint-N` folders, completed by
    `on_checkpoint` (docvl.yaml) before they appear, and resume through `from_pretrained`. Shared by SFT and GRPO."""

    on_checkpoint: Callable[[Path], None] | None = None

    # --- resume ---------------------------------------------------------------------------------------------
    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        """Load checkpoint weights through `from_pretrained`, which maps saved key names to module names.

        transformers 5.23 loads them with a raw `load_state_dict(strict=False)`, and Qwen2.5-VL saves legacy
        names (`visual.*`, `model.layers.*`): every weight went missing with only a warning, and the resumed run
        kept training the base model. (DeepSpeed resumes through its own engine state and is unaffected.)
        """
        target = model if model is not None else self.model
        if hasattr(target, "peft_config") or not (Path(resume_from_checkpoint) / "config.json").is_file():
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        dtype = next(target.parameters()).dtype
        loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=dtype)
        target.load_state_dict(loaded.state_dict(), strict=True)
        return None

    # --- saving -------------------------------------------------------------------------------------------
    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        run_dir = Path(self._get_output_dir(trial=trial))
        name = f"checkpoint-{self.state.global_step}"
        staging, target = run_dir / STAGING_DIR, run_dir / name
        if self.args.should_save and (staging / name).exists():  # left by an earlier interrupted save
            shutil.rmtree(staging / name)
        self.accelerator.wait_for_everyone()
        self._get_output_dir = lambda trial=None: str(staging)  # type: ignore[method-assign]
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
        self.accelerator.wait_for_everyone()  # every rank's shards are written
        if self.args.should_save:
            if self.on_checkpoint is not None:
                self.on_checkpoint(staging / name)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / name, target)
            with contextlib.suppress(OSError):  # leave no empty folder behind
                staging.rmdir()
            if self.state.best_model_checkpoint == str(staging / name):
                self.state.best_model_checkpoint = str(target)
            rotate_checkpoints(
                output_dir=str(run_dir),
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=True,
            )
        self.accelerator.wait_for_everyone()


class DocvlTrainer(CompleteCheckpoints, Trainer):
    """Trainer with None-batch handling, skipped-sample counts, optional length-grouped sampling and
    complete-or-absent checkpoints."""

    _real_micro_batches: int | None = None
    _accumulation_steps: int = 1

    def __init__(
        self,
        *args: Any,
        train_lengths: list[int] | None = None,
        on_checkpoint: Callable[[Path], None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.train_lengths = train_lengths
        self.on_checkpoint = on_checkpoint
        self.skipped = {"train": 0, "eval": 0}
        self._skipped_before: int | None = None  # what a resumed run had skipped already (from its log history)
        self._last_batch: dict[str, Any] | None = None

    # --- sampling -----------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        if self.train_lengths is None:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch, lengths=self.train_lengths)

    # --- the None-batch paths -----------------------------------------------------------------------------
    def floating_point_ops(self, inputs: dict[str, Any] | None) -> int:
        return 0 if inputs is None else super().floating_point_ops(inputs)

    def get_batch_samples(self, epoch_iterator: Any, num_batches: int, device: torch.device) -> tuple[list, Any]:
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        self._real_micro_batches = sum(batch is not None for batch in batch_samples)
        return batch_samples, num_items_in_batch

    @property
    def current_gradient_accumulation_steps(self) -> int:
        """The loss divisor of models that do not take `num_items_in_batch` (Qwen2.5-VL): the real micro-batches
        of this step, so an empty micro-batch neither adds to the mean loss nor dilutes it."""
        if self._real_micro_batches is None:
            return self._accumulation_steps
        return max(1, self._real_micro_batches)

    @current_gradient_accumulation_steps.setter
    def current_gradient_accumulation_steps(self, value: int) -> None:
        self._accumulation_steps = value

    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | int | None:
        real = [batch for batch in batch_samples if batch is not None]
        if not real:
            return None
        return super()._get_num_items_in_batch(real, device)

    def _track_num_input_tokens(self, inputs: dict[str, Any] | None) -> None:
        if inputs is not None:
            super()._track_num_input_tokens(inputs)

    def training_step(
        self, model: torch.nn.Module, inputs: dict[str, Any] | None, num_items_in_batch: Any = None
    ) -> torch.Tensor:
        if inputs is None:
            self.skipped["train"] += self.args.per_device_train_batch_size
            return self._empty_step(model)
        self.skipped["train"] += inputs.pop(SKIPPED_KEY, 0)
        if self.accelerator.distributed_type != DistributedType.NO:
            self._last_batch = inputs
        return super().training_step(model, inputs, num_items_in_batch)

    def _empty_step(self, model: torch.nn.Module) -> torch.Tensor:
        zero = torch.zeros((), device=self.args.device)
        if self.accelerator.distributed_type == DistributedType.NO:
            return zero
        model.train()
        if self._last_batch is not None:
            with self.compute_loss_context_manager():
                loss = self.compute_loss(model, self._prepare_inputs(self._last_batch)) * 0.0
        else:
            loss = sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0
        kwargs = {"scale_wrt_gas": False} if self.accelerator.distributed_type == DistributedType.DEEPSPEED else {}
        self.accelerator.backward(loss, **kwargs)
        return zero

    def prediction_step(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any] | None,
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        if inputs is None:
            self.skipped["eval"] += self.args.per_device_eval_batch_size
            # NaN on the model's device: every process still joins the loss gather, and the Trainer's
            # non-finite filter keeps it out of eval_loss (a 0.0 would pull the mean down).
            return torch.tensor(float("nan"), device=self.args.device), None, None
        self.skipped["eval"] += inputs.pop(SKIPPED_KEY, 0)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    # --- logging ------------------------------------------------------------------------------------------
    def _summed(self, count: int) -> int:
        if self.args.world_size <= 1:
            return count
        return int(self.accelerator.reduce(torch.tensor(count, device=self.args.device), reduction="sum").item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs or "train_runtime" in logs:
            if self._skipped_before is None:
                self._skipped_before = skipped_in(self.state.log_history)
            logs["skipped_samples"] = self._skipped_before + self._summed(self.skipped["train"])
        elif any(key.endswith("_loss") and key.startswith("eval") for key in logs):
            logs["eval_skipped_samples"] = self._summed(self.skipped["eval"])  # per eval set: reset after
            self.skipped["eval"] = 0
        super().log(logs, start_time)
