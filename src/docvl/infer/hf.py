"""Generation with transformers, in-process: the CPU path of serve and convert, and what the tests run.

The model, processor and image size come from `docvl.models.registry`, the token sequence up to the reply from
`docvl.models.messages.prompt_text`: the same functions training uses, so both see identical inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from docvl.infer.encode import decode_data_url
from docvl.infer.engines import PageRequest, Reply

if TYPE_CHECKING:
    from docvl.config import DocvlConfig


class HFGenerator:
    """A checkpoint loaded for generation. Not thread-safe: `TransformersEngine` calls it from one thread."""

    def __init__(self, checkpoint: str | Path, config: DocvlConfig):
        import torch

        from docvl.models.registry import load_model, load_processor, resolve_checkpoint

        path = resolve_checkpoint(str(checkpoint))
        self.processor = load_processor(path, config.model)
        self.processor.tokenizer.padding_side = "left"  # batched generation continues every row at the end
        self.model = load_model(path, config.model).eval()
        eos = self.model.generation_config.eos_token_id
        self.end_ids = {self.processor.tokenizer.convert_tokens_to_ids("<|im_end|>")}
        self.end_ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self._torch = torch

    def generate(self, requests: list[PageRequest], stop: Callable[[int], bool] | None = None) -> list[Reply]:
        """Replies in request order. Requests are generated in groups of equal sampling settings. `stop(i)`,
        asked after every token, ends request i's generation early (its client left, the server stops)."""
        replies: dict[int, Reply] = {}
        order = sorted(range(len(requests)), key=lambda i: (requests[i].temperature, requests[i].max_tokens))
        for (temperature, max_tokens), group in groupby(
            order, key=lambda i: (requests[i].temperature, requests[i].max_tokens)
        ):
            members = list(group)
            stop_rows = (lambda members=members: [stop(i) for i in members]) if stop else None
            group_replies = self._generate_group([requests[i] for i in members], temperature, max_tokens, stop_rows)
            for index, reply in zip(members, group_replies, strict=True):
                replies[index] = reply
        return [replies[i] for i in range(len(requests))]

    def _generate_group(
        self,
        requests: list[PageRequest],
        temperature: float,
        max_tokens: int,
        stop_rows: Callable[[], list[bool]] | None = None,
    ) -> list[Reply]:
        from transformers import StoppingCriteria, StoppingCriteriaList

        from docvl.models.messages import prompt_text

        torch = self._torch

        class _StopRows(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # one bool per row: True ends that row
                return torch.tensor(stop_rows(), dtype=torch.bool, device=input_ids.device)

        start = time.perf_counter()
        texts = [prompt_text(self.processor, image_first=r.image_first, prompt=r.prompt) for r in requests]
        images = [decode_data_url(r.image_url) for r in requests]
        inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True).to(self.model.device)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with self._torch.inference_mode():
            criteria = StoppingCriteriaList([_StopRows()] if stop_rows else [])
            output = self.model.generate(**inputs, max_new_tokens=max_tokens, stopping_criteria=criteria, **sampling)
        prompt_len = inputs["input_ids"].shape[1]
        seconds = time.perf_counter() - start
        replies = []
        for row, mask in zip(output[:, prompt_len:].tolist(), inputs["attention_mask"].tolist(), strict=True):
            end = next((i for i, token in enumerate(row) if token in self.end_ids), None)
            tokens = row if end is None else row[:end]
            replies.append(
                Reply(
                    text=self.processor.tokenizer.decode(tokens, skip_special_tokens=True),
                    finish_reason="length" if end is None else "stop",
                    prompt_tokens=int(sum(mask)),
                    completion_tokens=len(tokens) + (end is not None),
                    seconds=seconds,
                )
            )
        return replies
