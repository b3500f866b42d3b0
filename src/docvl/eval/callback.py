"""A generation eval during training: every `eval.generate_every_steps` steps, the model being trained writes
the first `eval.generate_samples` pages of each eval set, and the scores are logged like the loss.

Why: the teacher-forced eval loss can fall while the model still cannot finish a page (it never emits the
closing front matter, or loops). This measures what `docvl eval` measures, on a sample, as training goes.

Each page gets one greedy reply (`eval.max_new_tokens`), with the inputs training and inference share
(`docvl.models.messages.encode_prompt`), judged by convert's `judge` and scored by
`docvl.eval.heldout.score_page`: a reply that is not accepted counts as an empty output, and there are no
retries or text-layer fallback, so a failure shows instead of being repaired. Logged per set as
`eval_<set>_gen_<metric>` (edit distance, pooled edit distance, flag rates, front-matter accuracy, TEDS).

Runs on the main process only; under DeepSpeed ZeRO-3 (parameters sharded across processes) it is skipped
with a warning, because generating there needs every process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from transformers import TrainerCallback

from docvl.config import DocvlConfig
from docvl.data.dataset import PageSet
from docvl.data.pageset import Pair
from docvl.errors import DocvlError
from docvl.eval.heldout import SetReport, read_reference, score_page, summarize
from docvl.infer.engines import Reply
from docvl.page import Page

log = logging.getLogger(__name__)


class GenerationEval(TrainerCallback):
    """Scores greedy generations of a fixed sample of eval pages every N steps and logs them via the trainer."""

    def __init__(self, trainer: Any, config: DocvlConfig, processor: Any, sets: list[PageSet]):
        self.trainer = trainer
        self.config = config
        self.processor = processor
        self.samples: dict[str, list[tuple[Pair, Page]]] = {}
        for pageset in sets:
            chosen = []
            for pair in pageset.pairs:
                if len(chosen) == config.eval.generate_samples:
                    break
                try:
                    chosen.append((pair, read_reference(pair)))
                except (OSError, UnicodeDecodeError, DocvlError) as exc:
                    log.warning("generation eval: %s: reference skipped (%s)", pair.md, exc)
            self.samples[pageset.name] = chosen
        tokenizer = processor.tokenizer
        self.end_ids = sorted({tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id} - {None})

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        every = self.config.eval.generate_every_steps
        if not every or state.global_step % every or not state.is_world_process_zero:
            return
        self.trainer.log(self.measure(kwargs["model"]))

    def measure(self, model: Any) -> dict[str, float]:
        """Generate and score the sample with `model` (put back in training mode afterwards)."""
        was_training = model.training
        model.eval()
        metrics: dict[str, float] = {}
        try:
            for name, pages in self.samples.items():
                start = time.perf_counter()
                scores = [score_page(reference, self._result(model, pair)) for pair, reference in pages]
                report = summarize(SetReport(name, ""), scores, time.perf_counter() - start, 0)
                values = {
                    "edit_distance": report.edit_distance,
                    "edit_distance_pooled": report.edit_distance_pooled,
                    "teds": report.teds,
                    **{f"{flag}_rate": rate for flag, rate in report.rates.items()},
                    **{f"{field}_accuracy": accuracy for field, accuracy in report.front_matter.items()},
                }
                metrics.update({f"eval_{name}_gen_{key}": v for key, v in values.items() if v is not None})
        finally:
            model.train(was_training)
        return metrics

    def _result(self, model: Any, pair: Pair) -> dict[str, Any]:
        """One greedy reply, judged, as a convert page record (what `score_page` reads)."""
        from docvl.infer.convert import judge

        reply = self._generate(model, pair)
        parsed, reason = judge(reply, self.config.convert.repetition_min_chars)
        return {
            "fallback": parsed is None,
            "front_matter": asdict(parsed.front_matter) if parsed else None,
            "text": parsed.text if parsed else "",
            "rotation": 0,
            "reasons": [reason],
            "completion_tokens": reply.completion_tokens,
        }

    def _generate(self, model: Any, pair: Pair) -> Reply:
        import torch

        from docvl.models.messages import encode_prompt
        from docvl.prompts import build_prompt
        from docvl.rendering import RenderSettings

        try:
            image = RenderSettings.from_config(self.config).render_pdf_page(pair.pdf)
        except DocvlError as exc:
            return Reply(error=exc.message)
        prompt = build_prompt(self.config.prompt)
        inputs = encode_prompt(self.processor, image, prompt, image_first=self.config.data.image_first)
        inputs = inputs.to(model.device)
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=self.config.eval.max_new_tokens, do_sample=False, eos_token_id=self.end_ids
            )
        tokens = output[0, inputs["input_ids"].shape[1] :].tolist()
        stopped = bool(tokens) and tokens[-1] in self.end_ids
        text = self.processor.tokenizer.decode(tokens[:-1] if stopped else tokens, skip_special_tokens=True)
        return Reply(text=text, finish_reason="stop" if stopped else "length", completion_tokens=len(tokens))


def add_generation_eval(trainer: Any, config: DocvlConfig, processor: Any, sets: list[PageSet]) -> None:
    """Attach `GenerationEval` to `trainer` when `eval.generate_every_steps` asks for it and there are eval sets."""
    if not config.eval.generate_every_steps:
        return
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not sets:
        log.warning("eval.generate_every_steps is set but there is no eval set (data.eval): no generation eval")
    elif is_deepspeed_zero3_enabled():
        log.warning("generation eval is skipped under DeepSpeed ZeRO-3 (sharded parameters)")
    else:
        trainer.add_callback(GenerationEval(trainer, config, processor, sets))
