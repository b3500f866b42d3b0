"""Teacher-forced loss of a checkpoint on held-out page sets: `DocvlTrainer.evaluate` on the training sample
pipeline (same rendering, target and label masking), so it is the number the trainer logs as
`eval_<set>_loss` for the same weights. `docvl eval` reports it beside the generation metrics."""

from __future__ import annotations

from pathlib import Path

from docvl.config import DocvlConfig
from docvl.data.dataset import PageSet


def teacher_forced_losses(
    checkpoint: Path | str, config: DocvlConfig, sets: list[PageSet], work_dir: Path
) -> dict[str, tuple[float | None, int]]:
    """(loss, skipped samples) per set: `DocvlTrainer.evaluate` on the training sample pipeline."""
    import math

    from transformers.trainer_callback import ProgressCallback

    from docvl.data.dataset import PageDataset
    from docvl.data.pipeline import SamplePipeline
    from docvl.models import registry
    from docvl.train.collator import PageCollator
    from docvl.train.run import training_arguments
    from docvl.train.trainer import DocvlTrainer

    train = config.train.model_copy(
        update={"output_dir": str(work_dir / "trainer"), "report_to": [], "deepspeed": None}
    )
    args = training_arguments(config.model_copy(update={"train": train}), None, has_eval=False)
    processor = registry.load_processor(checkpoint, config.model)
    model = registry.load_model(checkpoint, config.model, bf16=config.train.bf16)
    trainer = DocvlTrainer(
        model=model, args=args, data_collator=PageCollator(processor.tokenizer.pad_token_id), processing_class=processor
    )
    trainer.remove_callback(ProgressCallback)
    losses: dict[str, tuple[float | None, int]] = {}
    try:
        for pageset in sets:
            prefix = f"eval_{pageset.name}"
            metrics = trainer.evaluate(
                PageDataset(pageset.pairs, SamplePipeline(config, processor)), metric_key_prefix=prefix
            )
            loss = metrics.get(f"{prefix}_loss")
            finite = loss is not None and math.isfinite(loss)
            losses[pageset.name] = (loss if finite else None, int(metrics.get("eval_skipped_samples", 0)))
    finally:
        del trainer, model
        _release_memory()
    return losses


def _release_memory() -> None:
    """Give the loss model's memory back before an engine (vLLM) claims the GPU."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
