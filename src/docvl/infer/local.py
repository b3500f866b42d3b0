"""The model in this process: the CPU path of serve and convert, what the tests run, and the generation the
training callback measures with.

`generate_replies` is the one generation routine: requests in, replies out, grouped by sampling settings,
with the token sequence up to the reply from `docvl.models.messages.prompt_text` (what training encodes).
`TransformersEngine` loads a checkpoint and batches concurrent requests into it; the training callback calls
`generate_replies` with the model being trained.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.infer.encode import decode_data_url
from docvl.infer.types import Engine, PageRequest, Reply

if TYPE_CHECKING:
    from docvl.config import DocvlConfig


def end_token_ids(tokenizer: Any, generation_config: Any) -> set[int]:
    """The ids generation stops at: the end of the chat turn and the model's own end-of-sequence ids."""
    from docvl.models.registry import END_OF_TURN

    eos = generation_config.eos_token_id
    ids = {tokenizer.convert_tokens_to_ids(END_OF_TURN)}
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids - {None}


def generate_replies(
    model: Any, processor: Any, requests: list[PageRequest], stop: Callable[[int], bool] | None = None
) -> list[Reply]:
    """Replies in request order; requests with equal (temperature, max_tokens) are generated as one batch.
    The processor's tokenizer must pad on the left (a batch continues every row at its end). `stop(i)`, asked
    after every token, ends request i's generation early (its client left, the server stops)."""
    key = lambda i: (requests[i].temperature, requests[i].max_tokens)  # noqa: E731
    replies: dict[int, Reply] = {}
    for _, group in groupby(sorted(range(len(requests)), key=key), key=key):
        members = list(group)
        stop_rows = (lambda members=members: [stop(i) for i in members]) if stop else None
        for index, reply in zip(
            members, _generate_batch(model, processor, [requests[i] for i in members], stop_rows), strict=True
        ):
            replies[index] = reply
    return [replies[i] for i in range(len(requests))]


def _generate_batch(
    model: Any, processor: Any, requests: list[PageRequest], stop_rows: Callable[[], list[bool]] | None = None
) -> list[Reply]:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    from docvl.models.messages import prompt_text

    class _StopRows(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:  # one bool per row: True ends it
            return torch.tensor(stop_rows(), dtype=torch.bool, device=input_ids.device)

    start = time.perf_counter()
    temperature, max_tokens = requests[0].temperature, requests[0].max_tokens
    end_ids = end_token_ids(processor.tokenizer, model.generation_config)
    texts = [prompt_text(processor, image_first=r.image_first, prompt=r.prompt) for r in requests]
    images = [decode_data_url(r.image_url) for r in requests]
    inputs = processor(text=texts, images=images, return_tensors="pt", padding=True).to(model.device)
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    criteria = StoppingCriteriaList([_StopRows()] if stop_rows else [])
    with torch.inference_mode():
        output = model.generate(
            **inputs, max_new_tokens=max_tokens, eos_token_id=sorted(end_ids), stopping_criteria=criteria, **sampling
        )
    prompt_len = inputs["input_ids"].shape[1]
    seconds = time.perf_counter() - start
    replies = []
    for row, mask in zip(output[:, prompt_len:].tolist(), inputs["attention_mask"].tolist(), strict=True):
        end = next((i for i, token in enumerate(row) if token in end_ids), None)
        tokens = row if end is None else row[:end]
        replies.append(
            Reply(
                text=processor.tokenizer.decode(tokens, skip_special_tokens=True),
                finish_reason="length" if end is None else "stop",
                prompt_tokens=int(sum(mask)),
                completion_tokens=len(tokens) + (end is not None),
                token_ids=tuple(tokens),
                seconds=seconds,
            )
        )
    return replies


def load_for_generation(checkpoint: str | Path, config: DocvlConfig) -> tuple[Any, Any]:
    """(model in eval mode, processor padding on the left) of a checkpoint, ready for `generate_replies`."""
    from docvl.models.registry import load_model, load_processor, resolve_checkpoint

    path = resolve_checkpoint(str(checkpoint))
    processor = load_processor(path, config.model)
    processor.tokenizer.padding_side = "left"
    return load_model(path, config.model).eval(), processor


class TransformersEngine(Engine):
    """A checkpoint loaded in this process. One thread generates; requests that arrive within
    `batch_wait_ms` of each other (up to `max_batch_size`) are generated together."""

    def __init__(self, checkpoint: str | Path, config: DocvlConfig, *, model_name: str | None = None):
        self.model, self.processor = load_for_generation(checkpoint, config)
        self.model_name = model_name or Path(str(checkpoint)).name
        self.max_batch_size = config.serve.max_batch_size
        self.batch_wait_s = config.serve.batch_wait_ms / 1000
        self._queue: queue.Queue[tuple[PageRequest, Future[Reply]] | None] = queue.Queue()
        self._dropped: set[Future[Reply]] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="docvl-generate", daemon=True)
        self._thread.start()

    def submit(self, request: PageRequest) -> Future[Reply]:
        future: Future[Reply] = Future()
        self._queue.put((request, future))
        return future

    def drop(self, future: Future[Reply]) -> None:
        """Its client is gone: never generate that request, or stop generating it at the next token."""
        if not future.cancel() and not future.done():
            self._dropped.add(future)

    def _next_batch(self) -> list[tuple[PageRequest, Future[Reply]]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.max_batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = [(req, fut) for req, fut in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            futures = [fut for _, fut in live]

            def unwanted(i: int, futures: list[Future[Reply]] = futures) -> bool:
                return self._closing or futures[i] in self._dropped

            try:
                replies = generate_replies(self.model, self.processor, [req for req, _ in live], stop=unwanted)
            except Exception as exc:  # a failed batch fails its requests, never the server
                replies = [Reply(error=f"generation failed: {exc.__class__.__name__}: {exc}")] * len(live)
            for future, reply in zip(futures, replies, strict=True):
                if self._closing:
                    reply = Reply(error="stopped: the server is shutting down")
                elif future in self._dropped:
                    self._dropped.discard(future)
                    reply = Reply(error="stopped: the client left")
                future.set_result(reply)
        while True:  # closed: requests still queued get an answer instead of waiting forever
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item[1].set_running_or_notify_cancel():
                item[1].set_result(Reply(error="stopped: the server is shutting down"))

    def close(self) -> None:
        """Stop: the batch being generated ends at its next token, queued requests are answered with an error."""
        self._closing = True
        self._queue.put(None)
        self._thread.join(timeout=60)
