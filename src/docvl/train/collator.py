"""Batching pipeline outputs: drop rejected (None) samples, pad the rest, concatenate the images.

An all-rejected batch becomes None, which `DocvlTrainer` skips in every path that touches a batch. A batch
with some rejected samples carries their count as `num_skipped` (popped before the model sees it).
"""

from __future__ import annotations

from typing import Any

from docvl.models.messages import IGNORE_INDEX

SKIPPED_KEY = "num_skipped"


class PageCollator:
    """Right-pads input_ids (pad id), labels (-100), attention_mask and mm_token_type_ids (0)."""

    def __init__(self, pad_token_id: int):
        self.pad_values = {
            "input_ids": pad_token_id,
            "labels": IGNORE_INDEX,
            "attention_mask": 0,
            "mm_token_type_ids": 0,
        }

    def __call__(self, features: list[dict[str, Any] | None]) -> dict[str, Any] | None:
        import torch

        kept = [f for f in features if f is not None]
        if not kept:
            return None
        longest = max(len(f["input_ids"]) for f in kept)
        batch: dict[str, Any] = {}
        for key, pad in self.pad_values.items():
            if key in kept[0]:
                batch[key] = torch.stack(
                    [torch.nn.functional.pad(f[key], (0, longest - len(f[key])), value=pad) for f in kept]
                )
        batch["pixel_values"] = torch.cat([f["pixel_values"] for f in kept])
        batch["image_grid_thw"] = torch.cat([f["image_grid_thw"] for f in kept])
        batch[SKIPPED_KEY] = len(features) - len(kept)
        return batch


def padding_waste(batches: list[dict[str, Any]]) -> float:
    """Pad tokens / all tokens over batches (what length grouping lowers)."""
    total = sum(b["attention_mask"].numel() for b in batches)
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    return (total - real) / total if total else 0.0
