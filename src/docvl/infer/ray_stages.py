"""What `convert --ray` runs on Ray's workers: hashing and listing on CPU, then rendering and inference.

Every row is a pickled list of `PageJob`s in the column `job` (one schema for every stage, whatever a page
carries): a page a row where a stage's batch size counts pages, a whole batch a row where the jobs go back to the
driver (from the survey, from inference), so the driver gets a block a batch.
The stages are plain functions and classes (no `import ray` here): Ray Data calls them, and they call the same
code as the local path (`docvl.infer.render`, `PagePolicy.request`, the engines of `docvl.infer.factory`).
Rendering and inference are one of: `RenderAskStage` (an actor that renders its pages and asks its engine:
OpenAI-compatible servers, load-balanced, or the transformers engine on CPU), or render tasks feeding Ray Data's
vLLM processor (`vllm_processor_kwargs`, one engine per GPU)."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.errors import PdfEmptyError
from docvl.infer.convert import PageDialog, PagePolicy, failure_message
from docvl.infer.inputs import InputDoc
from docvl.infer.render import list_pages, render_pages
from docvl.infer.types import Engine, EngineUnavailableError, PageRequest, Reply
from docvl.rendering import RenderSettings

if TYPE_CHECKING:
    from docvl.config import DocvlConfig

Row = dict[str, Any]
Batch = dict[str, Any]


@dataclass
class PageJob:
    """One page on its way through the stages (or, with `index` -1, a document that has no page to send).

    The driver sets `request` for a page's later attempts (the image is kept when it was not turned); the render
    stage fills `image_url`, `text_layer` and the request of a first attempt; inference fills `reply`."""

    doc: InputDoc
    index: int = -1
    sha256: str | None = None
    rotation: int = 0
    request: PageRequest | None = None
    image_url: str | None = None
    text_layer: str = ""
    page_error: str | None = None  # this page could not be rendered
    chunk_error: str | None = None  # the document failed while its pages were rendered
    doc_error: str | None = None  # the document cannot be opened (its only row)
    empty: bool = False
    reply: Reply | None = None
    unavailable: str | None = None  # the server cannot be reached: the run stops


def pack(jobs: list[PageJob]) -> Row:
    return {"job": pickle.dumps(jobs, protocol=pickle.HIGHEST_PROTOCOL)}


def unpack(row: Row) -> list[PageJob]:
    return pickle.loads(row["job"])


def _rows(batch: Batch) -> list[PageJob]:
    return [job for blob in batch["job"] for job in pickle.loads(blob)]


def _batch(jobs: list[PageJob], *, one_row: bool = False) -> Batch:
    """`jobs` a row each, or all in `one_row`."""
    groups = [jobs] if one_row else [[job] for job in jobs]
    return {"job": [pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL) for group in groups]}


# -- CPU stages


def survey_batch(batch: Batch, settings: RenderSettings, pages: str | None) -> Batch:
    """Each document's content hash and page jobs, read where the document lives (a node, not the driver): one
    job per page to convert, or one job (`index` -1) saying why there is none (unreadable: no hash; cannot be
    opened, or empty). The driver admits a document by its hash before any of its pages is rendered."""
    from docvl.io import sha256_file

    jobs: list[PageJob] = []
    for job in _rows(batch):
        try:
            job.sha256 = sha256_file(job.doc.path)
        except OSError as exc:
            jobs.append(replace(job, doc_error=f"cannot read file: {exc.strerror}"))
            continue
        try:
            indices = list_pages(job.doc, settings, pages)
        except Exception as exc:  # any failure to open one input is that input's failure
            jobs.append(replace(job, doc_error=failure_message(exc), empty=isinstance(exc, PdfEmptyError)))
            continue
        jobs += [replace(job, index=index) for index in indices] or [job]
    return _batch(jobs, one_row=True)


def _render_chunks(jobs: list[PageJob], config: DocvlConfig) -> Iterator[list[PageJob]]:
    """The jobs of a batch in order, a chunk at a time as it is rendered: the pages that have no image yet are
    rendered (consecutive pages of a document as one chunk, as the local path does), and each page with an image
    gets a first attempt's request from the one `PagePolicy` (a later attempt's, its image)."""
    settings, policy = RenderSettings.from_config(config), PagePolicy(config)
    for (_, rotation, todo), group in groupby(jobs, key=lambda job: (job.doc.key, job.rotation, _needs_image(job))):
        chunk = list(group)
        if todo:
            try:
                rendered = render_pages(chunk[0].doc, settings, [job.index for job in chunk], rotation)
            except Exception as exc:  # the document failed while rendering: these pages cannot be asked
                for job in chunk:
                    job.chunk_error = failure_message(exc)
            else:
                for job, page in zip(chunk, rendered, strict=True):
                    job.image_url, job.page_error = page.image_url, page.error
                    job.text_layer = job.text_layer or page.text
        for job in chunk:
            if job.image_url is None:
                continue
            if job.request is None:
                job.request = policy.request(PageDialog(job.index, job.image_url, job.text_layer))
            elif not job.request.image_url:
                job.request = replace(job.request, image_url=job.image_url)
        yield chunk


def _needs_image(job: PageJob) -> bool:
    return job.index >= 0 and job.image_url is None


def render_batch(batch: Batch, config: DocvlConfig) -> Batch:
    """The render stage before Ray Data's vLLM processor: a batch's pages rendered, a row each (the processor's
    unit)."""
    return _batch([job for chunk in _render_chunks(_rows(batch), config) for job in chunk])


# -- inference


@dataclass(frozen=True)
class EngineSpec:
    """Which engine each inference actor opens: OpenAI-compatible servers (`servers`, load-balanced), or a
    checkpoint (`model`) run by the transformers engine on the actor's CPU."""

    servers: tuple[str, ...] = ()
    api_key: str | None = None
    model: str | None = None


class BalancedEngine(Engine):
    """Several engines as one: each request goes to the one with the fewest requests in flight."""

    def __init__(self, engines: list[Engine]):
        self.engines = engines
        self.in_flight = [0] * len(engines)
        self.lock = threading.Lock()

    def submit(self, request: PageRequest) -> Future[Reply]:
        with self.lock:
            chosen = min(range(len(self.engines)), key=self.in_flight.__getitem__)
            self.in_flight[chosen] += 1
        future = self.engines[chosen].submit(request)
        future.add_done_callback(lambda _: self._done(chosen))
        return future

    def _done(self, chosen: int) -> None:
        with self.lock:
            self.in_flight[chosen] -= 1

    def close(self) -> None:
        for engine in self.engines:
            engine.close()


def open_stage_engine(spec: EngineSpec, config: DocvlConfig) -> Engine:
    """The engine an inference actor runs (the same factory as the local path)."""
    from docvl.infer.factory import open_engine

    if spec.servers:
        engines: list[Engine] = []
        try:
            for url in spec.servers:
                engines.append(open_engine(config, server=url, api_key=spec.api_key, model=spec.model))
        except BaseException:
            for engine in engines:
                engine.close()
            raise
        return engines[0] if len(engines) == 1 else BalancedEngine(engines)
    cpu = config.model_copy(update={"serve": config.serve.model_copy(update={"backend": "transformers"})})
    return open_engine(cpu, model=spec.model)


def drop_image(job: PageJob) -> None:
    """A page's image is not sent back to the driver: a page asked again is rendered again (the same image)."""
    job.image_url = None
    if job.request is not None:
        job.request = replace(job.request, image_url="")


class RenderAskStage:
    """An actor that renders and asks: each chunk of a batch is sent to the engine (OpenAI-compatible servers,
    load-balanced, or the transformers engine on CPU) as soon as it is rendered, so rendering the next overlaps
    the replies to the last, and a page's image never leaves the process that made it. A reply that did not come
    is an attempt that failed; an unreachable server stops the run."""

    def __init__(self, spec: EngineSpec, config: DocvlConfig):
        self.config = config
        self.engine = open_stage_engine(spec, config)

    def __call__(self, batch: Batch) -> Batch:
        jobs: list[PageJob] = []
        asked: list[tuple[PageJob, Future[Reply]]] = []
        for chunk in _render_chunks(_rows(batch), self.config):
            jobs += chunk
            asked += [(job, self.engine.submit(job.request)) for job in chunk if job.request and job.image_url]
        for job, future in asked:
            try:
                job.reply = future.result()
            except EngineUnavailableError as exc:
                job.unavailable = exc.message
            except Exception as exc:  # one failed attempt, as in the local path
                job.reply = Reply(error=failure_message(exc))
            drop_image(job)
        return _batch(jobs, one_row=True)

    def __del__(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()


# -- Ray Data's vLLM processor (one engine per GPU)

# `vllm serve` flags that are not the engine's: the server's own (the processor has no HTTP server; the template
# and its content format go to the processor's own stages), and data parallelism (Ray runs one engine per GPU).
_NOT_ENGINE_FLAGS = {"--host", "--port", "--served-model-name", "--chat-template", "--chat-template-content-format",
                     "--data-parallel-size"}  # fmt: skip


def vllm_engine_kwargs(command: list[str]) -> dict[str, Any]:
    """vLLM engine arguments from a `build_vllm_command` argv (what `serve` would run): `--flag VALUE` ->
    {flag: VALUE} with vLLM's own spelling (dashes to underscores, numbers as numbers, JSON as objects, a bare
    flag as True), flags that are not the engine's left out; a later flag wins, as argparse reads it."""
    import json

    kwargs: dict[str, Any] = {}
    words = command[command.index("serve") + 2 :]  # after `vllm serve CHECKPOINT`
    i = 0
    while i < len(words):
        flag, _, inline = words[i].partition("=")
        value: Any = True
        if inline:
            value = inline
        elif i + 1 < len(words) and not words[i + 1].startswith("--"):
            value = words[i + 1]
            i += 1
        i += 1
        if flag in _NOT_ENGINE_FLAGS:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        kwargs[flag.removeprefix("--").replace("-", "_")] = value
    return kwargs


def vllm_processor_kwargs(checkpoint: Path, config: DocvlConfig, gpus: int) -> dict[str, Any]:
    """The arguments of `ray.data.llm.vLLMEngineProcessorConfig` for `checkpoint`: the engine arguments `serve`
    derives (`docvl.infer.vllm_cmd.build_vllm_command` on a CUDA machine), one engine per `serve.tensor_parallel_size`
    of the cluster's `gpus`, batches of `convert.concurrency` pages, the template's parts in training's order
    (content format "openai", as `serve` passes it)."""
    from docvl.infer.vllm_cmd import build_vllm_command, option_value

    command = build_vllm_command(checkpoint, config, cuda=True)
    kwargs: dict[str, Any] = {
        "model_source": str(checkpoint),
        "engine_kwargs": vllm_engine_kwargs(command),
        "concurrency": max(1, gpus // config.serve.tensor_parallel_size),
        "batch_size": config.convert.concurrency,
        "prepare_multimodal_stage": {"enabled": True, "chat_template_content_format": "openai"},
        "chat_template_stage": {"enabled": True},
        "tokenize_stage": {"enabled": True},
        "detokenize_stage": {"enabled": True},
    }
    if template := option_value(command, "--chat-template"):
        kwargs["chat_template_stage"]["chat_template"] = Path(template).read_text(encoding="utf-8")
    return kwargs


def vllm_preprocess(row: Row) -> Row:
    """A page job as the processor's input: the chat message (`chat_messages`, as every engine sends it) and the
    sampling parameters of this attempt. A job with nothing to ask gets max_tokens 1, and its reply is ignored."""
    from docvl.infer.types import chat_messages

    (job,) = unpack(row)
    request = job.request if job.request is not None and job.image_url else None
    messages = chat_messages(request) if request else [{"role": "user", "content": "-"}]
    sampling = {"temperature": request.temperature, "max_tokens": request.max_tokens} if request else {"max_tokens": 1}
    return {**row, "messages": messages, "sampling_params": sampling}


def vllm_postprocess(row: Row) -> Row:
    """The processor's output as the job's reply. vLLM's processor gives no finish reason: a reply that used
    every token it was allowed stopped at the limit (`length`), any other stopped by itself (`stop`)."""
    (job,) = unpack(row)
    if job.request is not None and job.image_url:
        generated = int(row.get("num_generated_tokens") or 0)
        job.reply = Reply(
            text=str(row.get("generated_text") or ""),
            finish_reason="length" if generated >= job.request.max_tokens else "stop",
            prompt_tokens=int(row.get("num_input_tokens") or 0),
            completion_tokens=generated,
        )
    drop_image(job)
    return pack([job])


def iter_jobs(rows: Iterator[Row]) -> Iterator[PageJob]:
    for row in rows:
        yield from unpack(row)
