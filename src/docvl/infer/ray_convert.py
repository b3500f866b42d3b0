"""`docvl convert --ray`: the same conversion as `docvl.infer.convert`, its stages run by Ray Data on a cluster.

Ray Data schedules the stages over the cluster's CPUs and GPUs and retries a task or restarts an actor whose
worker died; docvl keeps what Ray Data does not give: each document done exactly once, across killed drivers and
other clients writing to the same output folder. Stages (`docvl.infer.ray_stages`):

1. hash each document and list its pages (on the nodes, a few documents per task), then the driver admits each
   through the same `Ledger` as the local path (done-set, claims, take-over of a dead worker's documents);
2. render the admitted documents' pages (in chunks of consecutive pages, as locally) and ask: actors that render
   a batch and send each chunk as soon as it is rendered to their engine (OpenAI-compatible servers,
   load-balanced; or transformers on CPU), or render tasks feeding Ray Data's vLLM processor (an engine per GPU);
3. the driver judges every reply with the one `PagePolicy` and writes each document with the one
   `DocumentWriter` as soon as its last page settles.

A page whose reply is not accepted goes round again (its next temperature, or rendered turned): the pages still
open after a pass over the dataset form the next, smaller, dataset. Documents go in waves of `WAVE_DOCS`, so
the claims held and the pages waiting in the driver stay bounded however many documents there are.

Ray's cost is per task and per object (scheduling, a worker's round trip, the object store, the driver's
bookkeeping): a task surveys `SURVEY_DOCS` documents; rendering and asking in one actor keeps each page's image
(hundreds of KB) in the process that made it, and a batch's replies go back to the driver as one row. Rows the
vLLM processor gives go back one by one (`PAGE_BLOCK_BYTES`), so the driver writes each document as soon as its
last page settles.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig
from docvl.errors import UsageError
from docvl.infer.convert import (
    CLAIM_POLL_S,
    RENDER_CHUNK,
    ConvertSummary,
    DocState,
    DocumentWriter,
    PagePolicy,
    PageState,
    Publish,
    Step,
    admit,
    close_doc,
    conversion_run,
    refuse,
    run_collected,
)
from docvl.infer.inputs import InputDoc
from docvl.infer.ray_stages import (
    EngineSpec,
    PageJob,
    RenderAskStage,
    iter_jobs,
    open_stage_engine,
    pack,
    render_batch,
    survey_batch,
    unpack,
    vllm_postprocess,
    vllm_preprocess,
    vllm_processor_kwargs,
)
from docvl.infer.types import EngineUnavailableError
from docvl.judge import Outcome, Reason
from docvl.rendering import RenderSettings
from docvl.results import results_name
from docvl.system import usable_cpus

WAVE_DOCS = 2048  # each wave pays a Ray Data run's start and its actors' (seconds): it should hold far more work
PAGE_BLOCK_BYTES = 1  # the largest block a stage returns: every row its own block (see ray_session)
SURVEY_DOCS = 16  # documents hashed and listed per task
CPUS_PER_CPU_ENGINE = 4  # transformers actors on CPU: one per this many of the cluster's CPUs (at least one)


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray for one run: joins the cluster at `address`, or starts a local one (loopback, no dashboard, this
    machine's CPUs) that ends with the run. Ray Data's own progress bars are off: docvl shows its own."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UsageError(f"--ray needs Ray Data: pip install 'docvl[ray]' ({exc})") from None
    for name in ("ray", "ray.data"):  # Ray's notes on each dataset run: docvl's summary line says what happened
        logging.getLogger(name).setLevel(logging.ERROR)
    quiet: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(address="local", num_cpus=usable_cpus(), include_dashboard=False, _node_ip_address="127.0.0.1",
                 **quiet)  # fmt: skip
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # without this, the rows a task returns stay in one block until the task ends (a task of the vLLM processor
    # is a whole batch of pages), so replies would reach the driver, which writes documents, long after they came
    context.target_max_block_size = PAGE_BLOCK_BYTES
    try:
        yield
    finally:
        ray.shutdown()


def _in_blocks(jobs: list[PageJob], rows: int) -> Any:
    """A dataset of `jobs`, in order, in blocks of about `rows` (a task's batch: one task, one object per block)."""
    import ray.data

    return ray.data.from_items([pack([job]) for job in jobs], override_num_blocks=max(1, -(-len(jobs) // rows)))


class RayConverter:
    """One run of `convert --ray` over a document list (see the module docstring)."""

    def __init__(
        self,
        engine: EngineSpec,
        config: DocvlConfig,
        out: Path,
        *,
        pages: str | None = None,
        shard: tuple[int, int] | None = None,
        report: Callable[[str], None] | None = None,
        on_page: Callable[[int, int], None] | None = None,
        publish: Publish | None = None,
    ):
        self.engine = engine
        self.config = config
        self.out = out
        self.pages_spec = pages
        self.report = report or (lambda line: None)
        self.on_page = on_page or (lambda pages, fallbacks: None)
        self.settings = RenderSettings.from_config(config)
        self.policy = PagePolicy(config)
        self.summary = ConvertSummary()
        self.writer = DocumentWriter(out, out / results_name(shard), config, self.summary, self.report, publish)
        self.open_docs: dict[str, DocState] = {}

    # -- stages

    def _surveyed(self, docs: list[InputDoc]) -> Iterator[list[PageJob]]:
        """Stage 1 on the nodes, one Ray Data run for all of `docs`: each document's page jobs, its hash on each
        (see `survey_batch`), as they come. The driver takes them a wave at a time; while a wave converts, Ray Data
        surveys ahead (as far as its backpressure lets it), so a wave does not wait for a survey to start."""
        if not docs:
            return
        rows = _in_blocks([PageJob(doc) for doc in docs], SURVEY_DOCS)
        for row in rows.map_batches(survey_batch, fn_args=(self.settings, self.pages_spec),
                                    batch_size=SURVEY_DOCS).iter_rows():  # fmt: skip
            for _, pages in groupby(unpack(row), key=lambda job: job.doc.key):  # a batch holds whole documents
                yield sorted(pages, key=lambda job: job.index)

    def _admit(self, surveyed: list[list[PageJob]]) -> list[PageJob]:
        """Stage 1 here: admit surveyed documents through the ledger; the page jobs of those this run converts."""
        jobs = []
        for pages in surveyed:
            first, doc = pages[0], pages[0].doc
            if first.sha256 is None:
                self.writer.bad_input(doc, None, first.doc_error or "")
                continue
            claim = admit(self.ledger, doc, first.sha256, self.summary, self._refuse)
            if claim is None:
                continue
            indices = [job.index for job in pages if job.index >= 0]
            state = self.open_docs[doc.key] = DocState(doc, first.sha256, claim, time.perf_counter(), indices)
            if first.doc_error:
                self.writer.bad_input(doc, first.sha256, first.doc_error, empty=first.empty)
                close_doc(self.open_docs, state)
            elif not indices:  # no pages to convert
                self._finish(state)
            else:
                jobs += pages
        return jobs

    def _refuse(self, line: str) -> None:
        refuse(self.summary, self.report, line)

    def _pass(self, jobs: list[PageJob]) -> list[PageJob]:
        """Stages 2 and 3 over page jobs (a document's pages consecutive); the jobs that need another pass."""
        again: list[PageJob] = []
        for job in iter_jobs(self._render_and_ask(jobs).iter_rows()):
            again += self._take(job)
        return again

    def _render_and_ask(self, jobs: list[PageJob]) -> Any:
        """Stages 2 and 3 as a dataset of answered page jobs: with servers, or the checkpoint by `serve.backend`
        (`auto`: vLLM when the cluster has GPUs, else transformers on CPU actors)."""
        import ray
        import ray.data

        spec, opts = self.engine, self.config.convert
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        backend = self.config.serve.backend if self.config.serve.backend != "auto" else "vllm" if gpus else "cpu"
        if not spec.servers and backend == "vllm":
            from ray.data.llm import build_llm_processor, vLLMEngineProcessorConfig

            if not gpus:
                raise UsageError("serve.backend is vllm but the Ray cluster has no GPU")
            kwargs = vllm_processor_kwargs(Path(str(spec.model)), self.config, gpus)
            processor = build_llm_processor(
                vLLMEngineProcessorConfig(**kwargs), preprocess=vllm_preprocess, postprocess=vllm_postprocess
            )
            # render tasks (one whose worker died is run again: Ray's max_retries), a page a row for the processor
            rendered = _in_blocks(jobs, RENDER_CHUNK).map_batches(render_batch, fn_args=(self.config,),
                                                                  batch_size=RENDER_CHUNK)  # fmt: skip
            return processor(rendered)
        # actors that render and ask: with servers one per CPU (rendering is their work, replies come over the
        # network), at most `convert.concurrency` pages in flight between them; the transformers engine on CPU
        # needs several CPUs of its own per actor
        actors = min(cpus if spec.servers else max(1, cpus // CPUS_PER_CPU_ENGINE), opts.concurrency)
        batch = opts.concurrency // actors
        # Ray Data restarts an actor whose process died and retries its batches (max_restarts, max_task_retries -1)
        return _in_blocks(jobs, batch).map_batches(
            RenderAskStage,
            fn_constructor_args=(spec, self.config),
            batch_size=batch,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
        )

    def _wave(self, surveyed: list[list[PageJob]]) -> None:
        jobs = self._admit(surveyed)
        while jobs:
            jobs = self._pass(jobs)

    # -- the driver's part of each page: the verdict, the next attempt, settling and writing

    def _take(self, job: PageJob) -> list[PageJob]:
        """What one job coming back means; the job for its page's next attempt, if it needs one."""
        if job.unavailable:
            raise EngineUnavailableError(job.unavailable)
        state = self.open_docs[job.doc.key]
        page = state.pages.get(job.index)
        if page is None:
            page = state.pages[job.index] = PageState(job.index, None, job.text_layer, doc=state)
        first = not page.outcomes
        state.rendered_any |= job.chunk_error is None
        if job.chunk_error and not state.render_error:
            state.render_error = job.chunk_error
        if job.reply is None:  # not rendered (a re-render that fails keeps the verdicts it had)
            if first:
                page.outcomes.append(Outcome(Reason.NOT_RENDERED, job.chunk_error or job.page_error or ""))
            self._settle(page, None)
            return []
        step, parsed = self.policy.take_reply(page, job.reply)
        if step is Step.SETTLE:
            self._settle(page, parsed)
            return []
        request = self.policy.request(page)  # without its image: the render stage makes it (turned, for TURN)
        return [replace(job, rotation=page.rotation, image_url=None, request=request, reply=None)]

    def _settle(self, page: PageState, parsed: Any) -> None:
        last = page.doc.settle(page, parsed)
        self.on_page(1, int(parsed is None))
        if last:
            self._finish(page.doc)

    def _finish(self, state: DocState) -> None:
        self.writer.finish(state)
        close_doc(self.open_docs, state)

    def run(self, docs: list[InputDoc]) -> ConvertSummary:
        """Convert `docs` (already filtered to this shard) on the Ray cluster this process is connected to."""
        with conversion_run(self.out, self.config, self.summary, self.open_docs) as self.ledger:
            pending = list(docs)
            while True:
                surveyed = self._surveyed(pending)
                while wave := list(islice(surveyed, WAVE_DOCS)):
                    self._wave(wave)
                if not self.ledger.held:
                    break
                time.sleep(CLAIM_POLL_S)  # documents other workers hold: finished by them, or taken over
                pending = self.ledger.retry()
        return self.summary


def ray_convert_docs(
    docs: list[InputDoc],
    refused: list[str],
    out: str | Path,
    engine: EngineSpec,
    config: DocvlConfig,
    *,
    address: str | None = None,
    pages: str | None = None,
    shard: tuple[int, int] | None = None,
    report: Callable[[str], None] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    publish: Publish | None = None,
) -> ConvertSummary:
    """`convert_docs` on Ray with `engine` (servers, or a checkpoint): joins the cluster at `address` (None: a
    local Ray for this run)."""
    for url in engine.servers:  # an unreachable server stops the run here, before Ray starts, as locally
        open_stage_engine(EngineSpec(servers=(url,), api_key=engine.api_key, model=engine.model), config).close()
    converter = RayConverter(
        engine, config, Path(out), pages=pages, shard=shard, report=report, on_page=on_page, publish=publish
    )  # fmt: skip
    with ray_session(address):
        return run_collected(converter.run, docs, refused, shard, report)
