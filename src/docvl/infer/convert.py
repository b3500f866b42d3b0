"""`docvl convert`: PDFs and images in, one Markdown file and one results record per document out.

One thread runs an event loop; a process pool lists and renders pages and encodes them as data URLs; the
engine keeps up to `convert.concurrency` requests in flight. Four events drive it, each its own type:
`PagesListed` (a document's page list), `ChunkRendered` (a chunk of its pages as images),
`PageRerendered` (one page turned as the model asked) and `ReplyArrived`. The render window is exact:
`held` counts the pages being rendered or waiting for a verdict; a chunk is sized to the room left in
`max_pages_in_flight`, each of its pages gives its place back once, when it settles.

Each page is asked with the temperature schedule `convert.temperatures` (one attempt per entry) and judged by
`docvl.judge`. A page the model calls rotated is rendered again, turned by its `rotation_correction`, and
asked again (`rotation_retries` times). A page with no accepted reply after the last attempt falls back to
the PDF's text layer and is marked `fallback`; so does every page of a chunk that could not be rendered. A
document is written exactly once, when its last page settles; it counts as failed when it has more fallback
pages than `max_page_errors`. Anything that goes wrong with one input (unreadable, not a PDF, an image too
large to decode) is that input's error record, and the run goes on.

Output layout (names, format and the done-set: `docvl.results`; read back by `prepare --kind converted`):
- `OUT/<input relative to its root>.md` (suffix replaced): the page bodies joined by a blank line;
- `OUT/results.jsonl` (`results.shard-I-of-N.jsonl` with `--shard`): one record per document;
- `OUT/.docvl/`: claim locks (`docvl.infer.claims`) and done markers.

Resuming and sharing: a document is skipped when a record or done marker with the same path and hash exists.
Order of writes per document: Markdown (atomic rename), record (appended all or nothing), marker; then the
claim is released. A document another worker holds is retried when this worker's own work is done, and
taken over when its holder died.

An output on an object store: `OUT` is a local stage, and `publish` puts each document written there to the
store (`docvl.infer.remote_out`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig
from docvl.errors import DocvlError, PdfEmptyError, UsageError
from docvl.infer.claims import Admission, Claim, Ledger
from docvl.infer.inputs import InputDoc, collect_inputs, in_shard, output_problem
from docvl.infer.render import RenderedPage, list_pages, render_pages
from docvl.infer.request import request_for
from docvl.infer.types import Engine, EngineUnavailableError, PageRequest, Reply
from docvl.io import is_url, sha256_file
from docvl.judge import Outcome, Reason, judge
from docvl.page import Page
from docvl.rendering import RenderSettings
from docvl.results import DocResult, DocStatus, PageResult, results_name, write_document
from docvl.system import process_pool, usable_cpus

RENDER_CHUNK = 8
Publish = Callable[[str, DocResult, str | None], None]  # (key, record, Markdown): a document written, to publish
CLAIM_POLL_S = 0.5  # how often a worker whose own work is done looks at documents other workers hold


def _plain(text_layer: str) -> str:
    """A text layer as fallback Markdown: pdfium's CRLF line ends made LF, outer whitespace dropped."""
    return text_layer.replace("\r\n", "\n").replace("\r", "\n").strip()


def failure_message(exc: BaseException) -> str:
    """An exception as the one-line reason a page or document records (a docvl error's own message)."""
    return exc.message if isinstance(exc, DocvlError) else f"{exc.__class__.__name__}: {exc}"


@dataclass
class PageDialog:
    """One page's conversation with the model: what it was turned by and every attempt's verdict and cost."""

    index: int
    image_url: str | None
    text_layer: str
    rotation: int = 0
    rotation_asks: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    result: PageResult = field(init=False)

    def settle(self, parsed: Page | None) -> None:
        """Its result: the accepted page, or the text-layer fallback; the image and text layer are let go."""
        self.result = PageResult(
            page=self.index + 1,
            fallback=parsed is None,
            front_matter=parsed.front_matter if parsed else None,
            text=parsed.text if parsed else _plain(self.text_layer),
            rotation=self.rotation,
            outcomes=self.outcomes,
            temperatures=self.temperatures,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            seconds=round(self.seconds, 3),
        )
        self.image_url = None
        self.text_layer = ""


@dataclass
class PageState(PageDialog):
    doc: DocState = field(kw_only=True)


class Step(StrEnum):
    """What a page needs after a verdict: another attempt, rendering turned and another attempt, or nothing."""

    ASK = "ask"
    TURN = "turn"
    SETTLE = "settle"


class PagePolicy:
    """The per-page rules every convert path follows (the local event loop, the Ray stages): the request for
    the next attempt, and what a reply leads to (temperature schedule, rotation re-ask, text-layer fallback)."""

    def __init__(self, config: DocvlConfig):
        self.config = config
        self.opts = config.convert

    def request(self, page: PageDialog) -> PageRequest:
        temperature = self.opts.temperatures[len(page.temperatures)]
        return request_for(page.image_url or "", self.config, temperature=temperature)

    def take_reply(self, page: PageDialog, reply: Reply) -> tuple[Step, Page | None]:
        """Judge `reply` to `page`'s last request and record it; the step it needs (SETTLE: with the accepted
        page, or None for the fallback). TURN has already set the page's new rotation."""
        verdict = judge(reply, self.opts.repetition_min_chars)
        page.temperatures.append(self.opts.temperatures[len(page.temperatures)])
        page.prompt_tokens += reply.prompt_tokens
        page.completion_tokens += reply.completion_tokens
        page.seconds += reply.seconds
        more = len(page.temperatures) < len(self.opts.temperatures)
        parsed = verdict.page
        if parsed is not None and self._wants_turning(page, parsed, more):
            page.rotation_asks += 1
            page.rotation = (page.rotation + parsed.front_matter.rotation_correction) % 360
            page.outcomes.append(Outcome(Reason.ROTATED, str(parsed.front_matter.rotation_correction)))
            return Step.TURN, None
        page.outcomes.append(verdict.outcome)
        return (Step.ASK, None) if parsed is None and more else (Step.SETTLE, parsed)

    def _wants_turning(self, page: PageDialog, parsed: Page, more: bool) -> bool:
        fm = parsed.front_matter
        return (
            not fm.is_rotation_valid
            and bool(fm.rotation_correction)
            and more
            and (page.rotation_asks < self.opts.rotation_retries)
        )


@dataclass
class DocState:
    doc: InputDoc
    sha256: str
    claim: Claim
    started: float
    indices: list[int] | None = None
    next_chunk: int = 0
    pages: dict[int, PageState] = field(default_factory=dict)
    settled: int = 0
    render_error: str | None = None  # the first chunk that could not be rendered at all
    rendered_any: bool = False

    def settle(self, page: PageState, parsed: Page | None) -> bool:
        """Settle one of its pages (the accepted page, or the text-layer fallback); whether it was the last."""
        page.settle(parsed)
        self.settled += 1
        return self.indices is not None and self.settled == len(self.indices)


@dataclass(frozen=True)
class PagesListed:
    state: DocState
    future: Future[list[int]]


@dataclass(frozen=True)
class ChunkRendered:
    state: DocState
    indices: list[int]
    future: Future[list[RenderedPage]]


@dataclass(frozen=True)
class PageRerendered:
    page: PageState
    future: Future[list[RenderedPage]]


@dataclass(frozen=True)
class ReplyArrived:
    page: PageState
    future: Future[Reply]


Event = PagesListed | ChunkRendered | PageRerendered | ReplyArrived


@dataclass
class ConvertSummary:
    """What a run did. Failures: `failed_documents` exceeded their error budget, `bad_inputs` could not be
    read, `refused` inputs were not converted because of their output path (outside --out, an input, a file
    docvl did not write, another input's). `busy` documents were finished by other workers meanwhile,
    `taken_over` ones were left by a worker that died and done here."""

    documents: int = 0
    pages: int = 0
    fallback_pages: int = 0
    failed_documents: int = 0
    bad_inputs: int = 0
    refused: int = 0
    skipped: int = 0
    busy: int = 0
    taken_over: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> int:
        return self.failed_documents + self.bad_inputs + self.refused

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3), "pages_per_s": round(self.pages_per_s, 2)}

    def line(self) -> str:
        return (
            f"converted {self.documents} documents, {self.pages} pages in {self.seconds:.1f} s "
            f"({self.pages_per_s:.2f} pages/s): {self.fallback_pages} fallback pages, "
            f"{self.failed_documents} failed documents, {self.bad_inputs} bad inputs, {self.refused} refused, "
            f"{self.skipped} already done, {self.busy} done by other workers, {self.taken_over} taken over"
        )


def refuse(summary: ConvertSummary, report: Callable[[str], None], line: str) -> None:
    """An input not converted because of its output path: one line, counted as a failure."""
    summary.refused += 1
    summary.problems.append(line)
    report(line)


def admit(
    ledger: Ledger, doc: InputDoc, digest: str, summary: ConvertSummary, refuse_line: Callable[[str], None]
) -> Claim | None:
    """The claim on `doc` when this worker is to convert it; what else it found is counted into `summary`."""
    admission, claim = ledger.admit(doc, digest)
    summary.skipped += admission is Admission.DONE
    summary.busy += admission is Admission.DONE_BY_OTHER
    summary.taken_over += admission is Admission.TAKE_OVER
    if admission is Admission.FOREIGN_OUTPUT:
        target = ledger.out / doc.markdown_relpath
        refuse_line(f"{doc.path}: refused, its output {target} exists and was not written by docvl")
    return claim


def close_doc(open_docs: dict[str, DocState], state: DocState) -> None:
    """Forget an open document (written, failed or given up) and release its claim."""
    del open_docs[state.doc.key]
    state.claim.release()


@contextlib.contextmanager
def conversion_run(
    out: Path, config: DocvlConfig, summary: ConvertSummary, open_docs: dict[str, DocState]
) -> Iterator[Ledger]:
    """What every convert path does around its loop: refuse a run that would make no attempt, open the output's
    ledger, and on the way out (finished, stopped or interrupted) release the claims of documents still open, so
    another run takes them over, and time the run into `summary`."""
    if not config.convert.temperatures:
        raise UsageError("convert.temperatures is empty: no attempt would be made")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        yield Ledger(out)
    finally:
        for state in list(open_docs.values()):
            close_doc(open_docs, state)
        summary.seconds = time.perf_counter() - start


class DocumentWriter:
    """Writes each finished document once (Markdown, record, done marker: `docvl.results.write_document`) and
    counts it into the run's summary: the document error budget and the record format, for every convert path."""

    def __init__(
        self,
        out: Path,
        results: Path,
        config: DocvlConfig,
        summary: ConvertSummary,
        report: Callable[[str], None],
        publish: Publish | None = None,
    ):
        self.out = out
        self.results = results
        self.max_page_errors = config.convert.max_page_errors
        self.summary = summary
        self.report = report
        self.publish = publish
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"

    def _record(self, doc: InputDoc, digest: str | None, status: DocStatus, **fields: Any) -> DocResult:
        return DocResult(
            path=doc.relpath,
            source=doc.path if is_url(doc.path) else os.path.abspath(doc.path),
            sha256=digest,
            status=status,
            worker=self.worker_id,
            finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **fields,
        )

    def finish(self, state: DocState) -> None:
        """A document whose pages have all settled (a bad input when not one page could be rendered)."""
        pages = [state.pages[i].result for i in state.indices or []]
        if state.render_error and not state.rendered_any:  # no page could be made at all: a bad input
            self.bad_input(state.doc, state.sha256, state.render_error)
            return
        result = self._record(
            state.doc,
            state.sha256,
            DocStatus.OK,
            markdown=state.doc.markdown_relpath,
            pages=pages,
            seconds=round(time.perf_counter() - state.started, 3),
        )
        fallbacks = result.fallback_pages
        if fallbacks > self.max_page_errors:
            result.status = DocStatus.FAILED
            self.report(f"{state.doc.path}: {fallbacks} of {len(pages)} pages fell back to the text layer")
        self._write(state.doc.key, result, "\n\n".join(p.text for p in pages if p.text))
        self.summary.documents += 1
        self.summary.pages += len(pages)
        self.summary.fallback_pages += fallbacks
        self.summary.failed_documents += result.status is DocStatus.FAILED

    def bad_input(self, doc: InputDoc, digest: str | None, message: str, *, empty: bool = False) -> None:
        """A document that cannot be read: one line, counted, recorded (an empty PDF also gets an empty .md)."""
        self.summary.bad_inputs += 1
        self.summary.problems.append(f"{doc.path}: {message}")
        self.report(f"{doc.path}: {message}")
        status = DocStatus.EMPTY if empty else DocStatus.ERROR
        record = self._record(doc, digest, status, error=message, markdown=doc.markdown_relpath if empty else None)
        self._write(doc.key, record, "" if empty else None)

    def _write(self, key: str, result: DocResult, markdown: str | None) -> None:
        write_document(self.out, self.results, key, result, markdown)
        if self.publish is not None:
            self.publish(key, result, markdown)


class Converter:
    """One run of `convert` over a document list, an engine and an output directory."""

    def __init__(
        self,
        engine: Engine,
        config: DocvlConfig,
        out: Path,
        *,
        pages: str | None = None,
        render_workers: int | None = None,
        shard: tuple[int, int] | None = None,
        report: Callable[[str], None] | None = None,
        on_page: Callable[[int, int], None] | None = None,
        publish: Publish | None = None,
    ):
        self.engine = engine
        self.config = config
        self.opts = config.convert
        self.out = out
        self.pages_spec = pages
        self.workers = render_workers or self.opts.render_workers or usable_cpus()
        self.window = self.opts.max_pages_in_flight or 2 * self.opts.concurrency
        self.results = out / results_name(shard)
        self.report = report or (lambda line: None)
        self.on_page = on_page or (lambda pages, fallbacks: None)
        self.settings = RenderSettings.from_config(config)
        self.policy = PagePolicy(config)
        self.events: queue.Queue[Event] = queue.Queue()
        self.held = 0  # pages being rendered or waiting for their verdict
        self.listing = 0  # page-list jobs in the pool
        self.open_docs: dict[str, DocState] = {}
        self.waiting: deque[DocState] = deque()  # documents with pages still to render
        self.summary = ConvertSummary()
        self.writer = DocumentWriter(out, self.results, config, self.summary, self.report, publish)

    # -- starting documents

    def _start(self, doc: InputDoc) -> None:
        if problem := output_problem(doc, self.out, set()):  # for callers that build InputDocs themselves
            self._refuse(problem)
            return
        try:
            digest = sha256_file(doc.path)
        except OSError as exc:
            self._bad_input(doc, None, f"cannot read file: {exc.strerror}")
            return
        claim = admit(self.ledger, doc, digest, self.summary, self._refuse)
        if claim is None:
            return
        state = DocState(doc, digest, claim, time.perf_counter())
        self.open_docs[doc.key] = state
        self.listing += 1
        future = self.pool.submit(list_pages, doc, self.settings, self.pages_spec)
        future.add_done_callback(lambda f: self.events.put(PagesListed(state, f)))

    def _refuse(self, line: str) -> None:
        refuse(self.summary, self.report, line)

    # -- rendering and asking

    def _render_more(self) -> None:
        """Render further chunks of open documents (oldest first) into the room the window has."""
        while self.waiting and self.held < self.window:
            state = self.waiting[0]
            assert state.indices is not None
            size = min(RENDER_CHUNK, self.window - self.held)
            chunk = state.indices[state.next_chunk : state.next_chunk + size]
            state.next_chunk += len(chunk)
            self.held += len(chunk)
            future = self.pool.submit(render_pages, state.doc, self.settings, chunk)
            future.add_done_callback(lambda f, s=state, c=chunk: self.events.put(ChunkRendered(s, c, f)))
            if state.next_chunk >= len(state.indices):
                self.waiting.popleft()

    def _ask(self, page: PageState) -> None:
        future = self.engine.submit(self.policy.request(page))
        future.add_done_callback(lambda f: self.events.put(ReplyArrived(page, f)))

    def _rerender(self, page: PageState) -> None:
        future = self.pool.submit(render_pages, page.doc.doc, self.settings, [page.index], page.rotation)
        future.add_done_callback(lambda f: self.events.put(PageRerendered(page, f)))

    # -- events

    def _on_listed(self, event: PagesListed) -> None:
        state = event.state
        self.listing -= 1
        try:
            indices = event.future.result()
        except Exception as exc:  # any failure to open one input is that input's failure
            self._bad_input(
                state.doc, state.sha256, failure_message(exc), empty=isinstance(exc, PdfEmptyError), state=state
            )
            return
        state.indices = indices
        if indices:
            self.waiting.append(state)
        else:
            self._finish_doc(state)

    def _on_chunk(self, event: ChunkRendered) -> None:
        state = event.state
        try:
            rendered = event.future.result()
            state.rendered_any = True
        except Exception as exc:  # the document failed between chunks: its pages here cannot be asked
            state.render_error = state.render_error or failure_message(exc)
            rendered = [RenderedPage(index, None, "", failure_message(exc)) for index in event.indices]
        for item in rendered:
            page = PageState(item.index, item.image_url, item.text, doc=state)
            state.pages[item.index] = page
            if item.image_url is None:
                page.outcomes.append(Outcome(Reason.NOT_RENDERED, item.error or ""))
                self._settle(page, None)
            else:
                self._ask(page)

    def _on_rerendered(self, event: PageRerendered) -> None:
        page = event.page
        try:
            page.image_url = event.future.result()[0].image_url
        except Exception:  # the page cannot be turned: it keeps the verdicts it had
            page.image_url = None
        if page.image_url is None:
            self._settle(page, None)
        else:
            self._ask(page)

    def _on_reply(self, event: ReplyArrived) -> None:
        page = event.page
        exc = event.future.exception()
        if isinstance(exc, EngineUnavailableError):
            raise exc
        reply = event.future.result() if exc is None else Reply(error=failure_message(exc))
        step, parsed = self.policy.take_reply(page, reply)
        if step is Step.TURN:
            self._rerender(page)
        elif step is Step.ASK:
            self._ask(page)
        else:
            self._settle(page, parsed)

    # -- settling and writing

    def _settle(self, page: PageState, parsed: Page | None) -> None:
        """Record a page's outcome (accepted, or the text-layer fallback), give its window place back, and
        finish its document when it is the last."""
        last = page.doc.settle(page, parsed)
        self.held -= 1
        self.on_page(1, int(parsed is None))
        if last:
            self._finish_doc(page.doc)

    def _finish_doc(self, state: DocState) -> None:
        self.writer.finish(state)
        close_doc(self.open_docs, state)

    def _bad_input(
        self, doc: InputDoc, digest: str | None, message: str, *, empty: bool = False, state: DocState | None = None
    ) -> None:
        self.writer.bad_input(doc, digest, message, empty=empty)
        if state is not None:
            close_doc(self.open_docs, state)

    # -- main loop

    def _fill(self, pending: deque[InputDoc]) -> None:
        """Render what the window has room for, then start documents while it still has room."""
        self._render_more()
        while pending and self.held < self.window and self.listing < self.workers and not self.waiting:
            self._start(pending.popleft())
            self._render_more()

    def _dispatch(self, event: Event) -> None:
        match event:
            case PagesListed():
                self._on_listed(event)
            case ChunkRendered():
                self._on_chunk(event)
            case PageRerendered():
                self._on_rerendered(event)
            case ReplyArrived():
                self._on_reply(event)

    def run(self, docs: list[InputDoc]) -> ConvertSummary:
        """Convert `docs` (already filtered to this shard); stops with EngineUnavailableError when the
        server cannot be reached, keeping every document finished so far."""
        with conversion_run(self.out, self.config, self.summary, self.open_docs) as self.ledger:
            pending = deque(docs)
            self.pool = process_pool(self.workers, "forkserver")
            try:
                while True:
                    self._fill(pending)
                    if not self.open_docs and not pending:
                        if not self.ledger.held:
                            break
                        time.sleep(CLAIM_POLL_S)  # documents other workers hold: finished by them, or taken over
                        pending.extend(self.ledger.retry())
                        continue
                    self._dispatch(self.events.get())
            finally:
                self.pool.shutdown(wait=True, cancel_futures=True)
        return self.summary


def convert(
    inputs: list[str],
    out: str | Path,
    engine: Engine,
    config: DocvlConfig,
    *,
    pages: str | None = None,
    render_workers: int | None = None,
    shard: tuple[int, int] | None = None,
    report: Callable[[str], None] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    publish: Publish | None = None,
) -> ConvertSummary:
    """Convert every input document into `out` (see the module docstring for the layout and guarantees)."""
    docs, refused = collect_inputs(inputs, Path(out))
    return convert_docs(
        docs, refused, out, engine, config, pages=pages, render_workers=render_workers, shard=shard,
        report=report, on_page=on_page, publish=publish,
    )  # fmt: skip


def convert_docs(
    docs: list[InputDoc],
    refused: list[str],
    out: str | Path,
    engine: Engine,
    config: DocvlConfig,
    *,
    pages: str | None = None,
    render_workers: int | None = None,
    shard: tuple[int, int] | None = None,
    report: Callable[[str], None] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    publish: Publish | None = None,
) -> ConvertSummary:
    """`convert` of documents already collected (`collect_inputs`), with the problem lines of those it refused;
    `publish` is given each document once it is written (`docvl.infer.remote_out`)."""
    converter = Converter(
        engine,
        config,
        Path(out),
        pages=pages,
        render_workers=render_workers,
        shard=shard,
        report=report,
        on_page=on_page,
        publish=publish,
    )
    return run_collected(converter.run, docs, refused, shard, report)


def run_collected(
    run: Callable[[list[InputDoc]], ConvertSummary],
    docs: list[InputDoc],
    refused: list[str],
    shard: tuple[int, int] | None,
    report: Callable[[str], None] | None,
) -> ConvertSummary:
    """`run` (a convert path) over the shard's documents, with the problem lines of the inputs refused before."""
    for line in refused:
        (report or (lambda _: None))(line)
    summary = run([doc for doc in docs if in_shard(doc, shard)])
    summary.refused += len(refused)
    summary.problems = refused + summary.problems
    return summary
