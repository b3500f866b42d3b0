"""`docvl eval CKPT --parity`: does the served model answer as the trained one does?

Every held-out page `docvl eval` would read is rendered as training renders it and generated greedily twice:
by docvl's transformers code in this process (the model, processor and prompt training used) and by vLLM (started
on the checkpoint for the run, or `--server URL`). Per page:

* image tokens: how many image placeholder tokens training's processor produces for the page (`encode_prompt`,
  the encoding the training collator extends) against how many the prompt vLLM built holds. vLLM returns its
  prompt token ids (`return_token_ids`), so the placeholders are counted, and the whole prompt compared
  (`prompt_match`); a server that returns no ids is judged by `usage.prompt_tokens` less the text tokens.
* text: identical replies, else the first differing character. Where vLLM also reports the reply's token ids,
  the same ids count as identical too: the two decoders differ only on bytes that form no character (transformers
  writes U+FFFD for them, vLLM's incremental detokenizer holds them back), which a barely trained model emits.

Tolerance: the check fails (exit 1) when any page's image-token count differs, a page got no reply, or fewer than
`MIN_IDENTICAL` (95%) of the pages give identical text. Text gets a tolerance because the two stacks sum in
different orders (vLLM's attention kernels vs torch's), and where two next tokens have nearly equal logits (a
barely trained model) greedy decoding may then branch; image tokens get none, a different count is a bug.

A checkpoint exported from a LoRA run (`final/` with the `adapter/` it was merged from) is checked as what the
export claims: its base model plus the adapter, unmerged, in transformers, against the merged weights in vLLM.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig

MIN_IDENTICAL = 0.95
IMAGE_TOKEN = "<|image_pad|>"


@dataclass
class PageParity:
    """One page, both ways."""

    page: str
    image_tokens_train: int
    image_tokens_served: int | None = None
    prompt_match: bool | None = None
    identical: bool = False
    first_difference: int | None = None
    token_ids_match: bool | None = None  # None: the server reports no completion token ids
    transformers_text: str = ""
    served_text: str = ""
    error: str | None = None


def same_token_ids(ours: Sequence[int], served: Sequence[int] | None, end_ids: set[int]) -> bool | None:
    """Whether the served reply has our reply's token ids (None when the server reports none). vLLM's ids end
    with the stop token; ours stop before it."""
    return None if served is None else [t for t in served if t not in end_ids] == list(ours)


def first_difference(a: str, b: str) -> int | None:
    """The first index where `a` and `b` differ (the shorter length when one extends the other); None if equal."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def summarize(pages: list[PageParity], transformers_s: float, served_s: float) -> dict[str, Any]:
    """The `parity` section of the eval report, with `ok` as judged by the tolerance in the module docstring."""
    n = len(pages)
    identical = sum(p.identical for p in pages)
    image_match = sum(p.image_tokens_served == p.image_tokens_train for p in pages)
    errors = sum(p.error is not None for p in pages)
    return {
        "pages": n,
        "identical": identical,
        "image_tokens_match": image_match,
        "prompt_match": sum(bool(p.prompt_match) for p in pages),
        "errors": errors,
        "min_identical": MIN_IDENTICAL,
        "ok": n > 0 and image_match == n and errors == 0 and identical >= MIN_IDENTICAL * n,
        "transformers_pages_per_s": round(n / transformers_s, 3) if transformers_s else None,
        "served_pages_per_s": round(n / served_s, 3) if served_s else None,
        "differences": [asdict(p) for p in pages if not p.identical or p.image_tokens_served != p.image_tokens_train],
    }


def parity_line(name: str, parity: dict[str, Any]) -> str:
    """One line per checkpoint for the terminal, then one per differing page."""
    lines = [
        f"{name}: parity {'ok' if parity['ok'] else 'FAILED'}: {parity['identical']}/{parity['pages']} pages identical "
        f"(at least {parity['min_identical']:.0%} needed), image tokens match on {parity['image_tokens_match']}, "
        f"{parity['errors']} errors; pages/s transformers {parity['transformers_pages_per_s']}, "
        f"served {parity['served_pages_per_s']}"
    ]
    for page in parity["differences"]:
        why = page["error"] or (
            f"image tokens {page['image_tokens_train']} in training, {page['image_tokens_served']} served"
            if page["image_tokens_served"] != page["image_tokens_train"]
            else f"text differs from character {page['first_difference']}"
        )
        lines.append(f"  {page['page']}: {why}")
    return "\n".join(lines)


@dataclass
class _InProcess:
    """docvl's in-process generation (`docvl.infer.local`) of one model and its processor."""

    model: Any
    processor: Any

    def generate(self, requests: list[Any]) -> list[Any]:
        from docvl.infer.local import generate_replies

        return generate_replies(self.model, self.processor, requests)


def _transformers_generator(checkpoint: Path, config: DocvlConfig) -> _InProcess:
    """docvl's in-process generator; for a LoRA export, its base model with the adapter applied, unmerged."""
    from docvl.infer.local import load_for_generation
    from docvl.train.checkpoint import ADAPTER_DIR

    adapter = checkpoint / ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        return _InProcess(*load_for_generation(checkpoint, config))
    from peft import PeftModel

    from docvl.models.registry import load_processor

    base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
    model, _ = load_for_generation(base, config)
    processor = load_processor(checkpoint, config.model)  # the export's, as vLLM reads it
    processor.tokenizer.padding_side = "left"
    return _InProcess(PeftModel.from_pretrained(model, str(adapter)).eval(), processor)


def _served(engine: Any, request: Any, image_token_id: int, train_ids: list[int]) -> dict[str, Any]:
    """One greedy chat request to the server, asking vLLM for the prompt it built (`return_token_ids`)."""
    from docvl.infer.types import chat_messages

    payload = {
        "model": engine.model_name,
        "messages": chat_messages(request),
        "temperature": 0.0,
        "max_tokens": request.max_tokens,
        "return_token_ids": True,
    }
    status, body = engine.post_json("/chat/completions", payload, max_tokens=request.max_tokens)
    if status != 200:
        return {"error": f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"}
    answer = json.loads(body)
    prompt_ids = answer.get("prompt_token_ids")
    train_image = train_ids.count(image_token_id)
    if prompt_ids is not None:
        image_tokens = prompt_ids.count(image_token_id)
    else:  # not vLLM: the prompt's length less training's text tokens
        image_tokens = int((answer.get("usage") or {}).get("prompt_tokens") or 0) - (len(train_ids) - train_image)
    choice = answer["choices"][0]
    return {
        "text": choice["message"].get("content") or "",
        "token_ids": choice.get("token_ids"),
        "image_tokens": image_tokens,
        "prompt_match": prompt_ids == train_ids if prompt_ids is not None else None,
    }


def check_parity(
    checkpoint: Path,
    config: DocvlConfig,
    pairs: list[tuple[str, Path]],
    *,
    server: str | None,
    work_dir: Path,
    on_page: Any = None,
) -> dict[str, Any]:
    """Parity of `checkpoint` on `pairs` ((name, single-page PDF)); see the module docstring."""
    from docvl.eval.heldout import eval_generation_config
    from docvl.infer.local import end_token_ids
    from docvl.infer.request import page_request
    from docvl.models.messages import encode_prompt
    from docvl.rendering import RenderSettings

    generation = eval_generation_config(config)
    generator = _transformers_generator(checkpoint, config)
    image_token_id = generator.processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    settings = RenderSettings.from_config(config)
    pages, requests, train_ids, replies = [], [], [], []
    start = time.perf_counter()
    for name, pdf in pairs:
        image = settings.render_pdf_page(pdf)
        request = page_request(image, generation, temperature=0.0)
        ids = encode_prompt(generator.processor, image, request.prompt, image_first=request.image_first)
        train_ids.append(ids["input_ids"][0].tolist())
        reply = generator.generate([request])[0]
        pages.append(PageParity(name, train_ids[-1].count(image_token_id), transformers_text=reply.text))
        replies.append(reply)
        requests.append(request)
        if on_page:
            on_page(1, 0)
    transformers_s = time.perf_counter() - start
    end_ids = end_token_ids(generator.processor.tokenizer, generator.model.generation_config)
    del generator
    with _served_engine(checkpoint, config, server, work_dir) as engine:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(len(requests), config.convert.concurrency) or 1) as pool:
            served = list(pool.map(lambda r, ids: _served(engine, r, image_token_id, ids), requests, train_ids))
        served_s = time.perf_counter() - start
    for page, reply, answer in zip(pages, replies, served, strict=True):
        if "error" in answer:
            page.error = answer["error"]
            continue
        page.served_text, page.image_tokens_served, page.prompt_match = (
            answer["text"],
            answer["image_tokens"],
            answer["prompt_match"],
        )
        page.first_difference = first_difference(page.transformers_text, page.served_text)
        page.token_ids_match = same_token_ids(reply.token_ids, answer["token_ids"], end_ids)
        page.identical = page.first_difference is None or bool(page.token_ids_match)
    return summarize(pages, transformers_s, served_s)


def _served_engine(checkpoint: Path, config: DocvlConfig, server: str | None, work_dir: Path) -> Any:
    """The OpenAI-compatible side: `server`, else vLLM started on the checkpoint for this run."""
    from docvl.infer.factory import open_engine

    vllm = config.model_copy(update={"serve": config.serve.model_copy(update={"backend": "vllm"})})
    return open_engine(vllm, server=server, model=None if server else checkpoint, log_dir=work_dir)
