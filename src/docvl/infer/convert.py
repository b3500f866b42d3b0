"""`docvl convert`: PDFs and images in, one Markdown file and one JSONL record per document out.

One thread runs an event loop; a process pool renders pages and encodes them as data URLs; the engine keeps
up to `convert.concurrency` requests in flight. Rendering never runs ahead of the replies by more than
`max_pages_in_flight` pages, so memory stays flat however large the corpus is.

Each page is asked with the temperature schedule `convert.temperatures` (one attempt per entry). A reply is
accepted when it finished with `stop`, parses as front matter + Markdown, and does not end in degenerate
repetition. A page the model calls rotated is rendered again, turned by its `rotation_correction`, and asked
again (`rotation_retries` times). A page with no accepted reply after the last attempt falls back to the
PDF's text layer and is marked `fallback`. A document is always written; it counts as failed when it has
more fallback pages than `max_page_errors`.

Output layout (read back by `docvl.data.converted` for `prepare --kind converted`):
- `OUT/<input relative to its root>.md` (suffix replaced): the page bodies joined by a blank line;
- `OUT/results.jsonl` (`results.shard-I-of-N.jsonl` with `--shard`): one record per document, with the
  source's sha256 and per-page fields (front matter, text, fallback flag, attempts, tokens, seconds);
- `OUT/.docvl/`: claim locks and done markers that make runs resumable and let workers share `OUT`.

Resuming and sharing: a document is skipped when a record or done marker with the same path and hash exists.
Before working on a document a worker takes an exclusive `flock` on its claim file; the kernel drops the lock
when the process dies, so a killed run leaves no stale claims. Order of writes per document: Markdown
(atomic rename), record (one appended line, fsynced), marker; then the lock is released.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import queue
import socket
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docvl import render_guard
from docvl.config import DocvlConfig
from docvl.errors import PageFormatError, PdfEmptyError, PdfError, UsageError
from docvl.infer.engines import Engine, EngineUnavailableError, PageRequest, Reply
from docvl.io import atomic_write_text, read_jsonl, sha256_file
from docvl.page import Page, parse_page
from docvl.prompts import build_prompt
from docvl.render_guard import RenderLimits
from docvl.system import usable_cpus

PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
STATE_DIR = ".docvl"
RENDER_CHUNK = 8


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InputDoc:
    """One input document: where it is and the relative path its output is named after."""

    path: str
    relpath: str
    kind: str  # "pdf" or "image"

    @property
    def key(self) -> str:
        return hashlib.sha1(self.relpath.encode()).hexdigest()

    @property
    def markdown_relpath(self) -> str:
        return str(Path(self.relpath).with_suffix(".md"))


def _kind(path: Path) -> str:
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "pdf"


def _from_dir(directory: Path, root: Path | None = None) -> list[InputDoc]:
    wanted = PDF_SUFFIXES | IMAGE_SUFFIXES
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in wanted and p.is_file())
    return [InputDoc(str(p), p.relative_to(root or directory).as_posix(), _kind(p)) for p in files]


def _from_list(list_file: Path) -> list[InputDoc]:
    docs = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry) if Path(entry).is_absolute() else list_file.parent / entry
        rel = Path(entry).name if Path(entry).is_absolute() else Path(os.path.normpath(entry)).as_posix()
        docs.append(InputDoc(str(path), rel, _kind(path)))
    return docs


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]]
    return Path(*fixed) if fixed else Path(".")


def collect_inputs(inputs: list[str]) -> tuple[list[InputDoc], list[str]]:
    """Expand PDFs, images, directories (recursive), globs and `.txt` lists into documents.

    Returns (documents, problems): an argument that names nothing is a UsageError; two inputs that would
    write the same output file are a problem line each, and only the first is kept.
    """
    docs: list[InputDoc] = []
    for arg in inputs:
        path = Path(arg)
        if glob.has_magic(arg):
            root = _glob_root(arg)
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
            if not matches:
                raise UsageError("glob matches no file", arg)
            for match in matches:
                rel = match.relative_to(root).as_posix()
                docs += _from_dir(match, root) if match.is_dir() else [InputDoc(str(match), rel, _kind(match))]
        elif path.is_dir():
            docs += _from_dir(path)
        elif path.is_file() and path.suffix.lower() == ".txt":
            docs += _from_list(path)
        elif path.is_file():
            docs.append(InputDoc(str(path), path.name, _kind(path)))
        else:
            raise UsageError("input does not exist", arg)
    unique: dict[str, InputDoc] = {}
    problems = []
    for doc in docs:
        first = unique.setdefault(doc.markdown_relpath, doc)
        if first is not doc and first.path != doc.path:
            problems.append(f"{doc.path}: skipped, its output {doc.markdown_relpath} is also {first.path}'s")
    return list(unique.values()), problems


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` (1-based: 1/4 .. 4/4) -> (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r} is not like 1/4") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


def in_shard(doc: InputDoc, shard: tuple[int, int] | None) -> bool:
    """Stable split by the output path, independent of input order and of the machine."""
    return shard is None or int(doc.key[:12], 16) % shard[1] == shard[0] - 1


# ---------------------------------------------------------------- rendering (in worker processes)


@dataclass(frozen=True)
class RenderSettings:
    longest_side: int
    image_format: str
    max_page_inches: float
    limits: RenderLimits = RenderLimits()


@dataclass
class RenderedPage:
    index: int
    image_url: str | None
    text: str
    error: str | None = None


def _render_image_file(path: str, settings: RenderSettings, rotation: int) -> RenderedPage:
    from PIL import Image

    from docvl.infer.encode import to_data_url
    from docvl.page import rotate_image

    try:
        with Image.open(path) as source:
            image = source.convert("RGB")
    except OSError as exc:
        raise PdfError(f"not a readable image ({exc})", path) from None
    scale = settings.longest_side / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return RenderedPage(0, to_data_url(rotate_image(image, rotation), settings.image_format), "")


def render_pages(
    doc: InputDoc,
    settings: RenderSettings,
    *,
    spec: str | None = None,
    indices: list[int] | None = None,
    limit: int = RENDER_CHUNK,
    rotation: int = 0,
) -> tuple[list[int], list[RenderedPage]]:
    """Worker: (every selected page index, the first `limit` of them rendered and encoded).

    The first call per document passes `spec` and learns the page list; later calls pass `indices`.
    A page that fails to render carries its error (it becomes a fallback page); a document that fails to
    open raises its PdfError.
    """
    from docvl.infer.encode import to_data_url
    from docvl.page import rotate_image
    from docvl.pdf import PdfFile, parse_page_spec

    if doc.kind == "image":
        return [0], [_render_image_file(doc.path, settings, rotation)][:limit]
    with PdfFile(doc.path, max_page_inches=settings.max_page_inches) as pdf:
        if indices is None:
            indices = parse_page_spec(spec, len(pdf)) if spec else list(range(len(pdf)))
        pages = []
        for index in indices[:limit]:
            text = ""
            try:  # text and image both parse the page's content streams: both under the render limits
                text = render_guard.text(doc.path, index, settings.limits, settings.max_page_inches)
                image = render_guard.render(
                    doc.path, index, settings.longest_side, settings.limits, settings.max_page_inches
                )
                pages.append(
                    RenderedPage(index, to_data_url(rotate_image(image, rotation), settings.image_format), text)
                )
            except PdfError as exc:
                pages.append(RenderedPage(index, None, text, exc.message))
        return indices, pages


# ---------------------------------------------------------------- judging replies


def is_degenerate(text: str, min_chars: int, max_period: int = 200) -> bool:
    """True when the text ends in one unit (1..max_period chars) repeated over at least `min_chars` chars."""
    tail = text.rstrip()[-4 * min_chars :]
    for period in range(1, min(max_period, len(tail) // 2) + 1):
        unit = tail[-period:]
        repeats, end = 1, len(tail) - period
        while end - period >= 0 and tail[end - period : end] == unit:
            repeats += 1
            end -= period
        if repeats >= 4 and repeats * period >= min_chars:
            return True
    return False


def judge(reply: Reply, repetition_min_chars: int) -> tuple[Page | None, str]:
    """(the parsed page, "ok") for an acceptable reply, else (None, why not)."""
    if reply.error:
        return None, reply.error
    if reply.finish_reason != "stop":
        return None, f"finish_reason {reply.finish_reason}"
    try:
        page = parse_page(reply.text, strict=False)
    except PageFormatError as exc:
        return None, f"unparseable: {exc.message}"
    if is_degenerate(page.text, repetition_min_chars):
        return None, "degenerate repetition"
    return page, "ok"


# ---------------------------------------------------------------- bookkeeping


def _plain(text_layer: str) -> str:
    """A text layer as fallback Markdown: pdfium's CRLF line ends made LF, outer whitespace dropped."""
    return text_layer.replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass
class PageState:
    doc: DocState
    index: int
    image_url: str | None
    text_layer: str
    rotation: int = 0
    rotation_asks: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None


@dataclass
class DocState:
    doc: InputDoc
    sha256: str
    lock_fd: int
    started: float
    indices: list[int] | None = None
    next_chunk: int = 0
    pages: dict[int, PageState] = field(default_factory=dict)
    finished: int = 0


@dataclass
class ConvertSummary:
    """What a run did. `failed_documents` exceeded their error budget; `bad_inputs` could not be read."""

    documents: int = 0
    pages: int = 0
    fallback_pages: int = 0
    failed_documents: int = 0
    bad_inputs: int = 0
    skipped: int = 0
    busy: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3), "pages_per_s": round(self.pages_per_s, 2)}

    def line(self) -> str:
        return (
            f"converted {self.documents} documents, {self.pages} pages in {self.seconds:.1f} s "
            f"({self.pages_per_s:.2f} pages/s): {self.fallback_pages} fallback pages, "
            f"{self.failed_documents} failed documents, {self.bad_inputs} bad inputs, "
            f"{self.skipped} already done, {self.busy} taken by other workers"
        )


def results_name(shard: tuple[int, int] | None) -> str:
    return "results.jsonl" if shard is None else f"results.shard-{shard[0]}-of-{shard[1]}.jsonl"


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line under an exclusive lock; a torn line left by a killed writer is closed first."""
    import json

    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_results(out: str | Path) -> dict[str, dict[str, Any]]:
    """The latest record per document path from every results file under `out` (what a consumer wants)."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(out).glob("results*.jsonl")):
        for record in read_jsonl(path):
            previous = records.get(record.get("path", ""))
            if previous is None or record.get("finished_at", "") >= previous.get("finished_at", ""):
                records[record.get("path", "")] = record
    return records


def done_keys(out: Path) -> set[tuple[str, str]]:
    """(relpath, sha256) of every document recorded in any results file or done marker under `out`."""
    done = {(r.get("path", ""), r.get("sha256", "")) for f in out.glob("results*.jsonl") for r in read_jsonl(f)}
    markers = out / STATE_DIR / "done"
    if markers.is_dir():
        for marker in markers.iterdir():
            relpath, _, digest = marker.read_text(encoding="utf-8").partition("\n")
            done.add((relpath, digest.strip()))
    return done


# ---------------------------------------------------------------- the run


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
    ):
        self.engine = engine
        self.config = config
        self.opts = config.convert
        self.out = out
        self.pages_spec = pages
        self.workers = render_workers or self.opts.render_workers or usable_cpus()
        self.window = self.opts.max_pages_in_flight or 2 * self.opts.concurrency
        self.results = out / results_name(shard)
        self.shard = shard
        self.report = report or (lambda line: None)
        self.on_page = on_page or (lambda pages, fallbacks: None)
        self.prompt = build_prompt(config.prompt)
        self.settings = RenderSettings(
            config.data.target_longest_image_dim,
            self.opts.image_format,
            config.data.max_page_inches,
            RenderLimits.from_config(config.data),
        )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.events: queue.Queue[tuple[str, Any, Future[Any]]] = queue.Queue()
        self.in_flight = 0
        self.open_docs: dict[str, DocState] = {}
        self.waiting: deque[DocState] = deque()
        self.summary = ConvertSummary()

    # -- claims

    def _claim(self, doc: InputDoc) -> int | None:
        """An fd holding the exclusive lock on the document's claim file, or None when another worker has it."""
        path = self.out / STATE_DIR / "claims" / f"{doc.key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _marker(self, doc: InputDoc) -> Path:
        return self.out / STATE_DIR / "done" / doc.key

    def _done_elsewhere(self, doc: InputDoc, digest: str) -> bool:
        marker = self._marker(doc)
        return marker.is_file() and marker.read_text(encoding="utf-8") == f"{doc.relpath}\n{digest}"

    # -- event plumbing

    def _submit_render(self, state: DocState, tag: Any, **kwargs: Any) -> None:
        future = self.pool.submit(render_pages, state.doc, self.settings, **kwargs)
        future.add_done_callback(lambda f: self.events.put(("rendered", (state, tag), f)))

    def _ask(self, page: PageState) -> None:
        temperature = self.opts.temperatures[len(page.attempts)]
        request = PageRequest(
            page.image_url or "", self.prompt, temperature, self.opts.max_new_tokens, self.config.data.image_first
        )
        future = self.engine.submit(request)
        future.add_done_callback(lambda f: self.events.put(("reply", page, f)))

    # -- documents

    def _start(self, doc: InputDoc, done: set[tuple[str, str]]) -> None:
        try:
            digest = sha256_file(doc.path)
        except OSError as exc:
            self._bad_input(doc, None, f"cannot read file: {exc.strerror}")
            return
        if (doc.relpath, digest) in done:
            self.summary.skipped += 1
            return
        fd = self._claim(doc)
        if fd is None:
            self.summary.busy += 1
            return
        if self._done_elsewhere(doc, digest):
            os.close(fd)
            self.summary.skipped += 1
            return
        state = DocState(doc, digest, fd, time.perf_counter())
        self.open_docs[doc.key] = state
        self.in_flight += RENDER_CHUNK
        self._submit_render(state, "first", spec=self.pages_spec, limit=RENDER_CHUNK)

    def _more_chunks(self) -> None:
        """Render further chunks of open documents (oldest first) while the window has room."""
        while self.waiting and self.in_flight < self.window:
            state = self.waiting[0]
            assert state.indices is not None
            chunk = state.indices[state.next_chunk : state.next_chunk + RENDER_CHUNK]
            state.next_chunk += len(chunk)
            self.in_flight += len(chunk)
            self._submit_render(state, "chunk", indices=chunk, limit=len(chunk))
            if state.next_chunk >= len(state.indices):
                self.waiting.popleft()

    def _on_rendered(self, state: DocState, tag: Any, future: Future[Any]) -> None:
        try:
            indices, rendered = future.result()
        except PdfError as exc:
            self.in_flight -= RENDER_CHUNK
            self._close_doc(state)
            self._bad_input(state.doc, state.sha256, exc.message, empty=isinstance(exc, PdfEmptyError))
            return
        if isinstance(tag, PageState):  # a rotated re-render of one page
            tag.image_url = rendered[0].image_url
            if tag.image_url is None:
                self._settle(tag, None)
            else:
                self._ask(tag)
            return
        if tag == "first":
            state.indices = indices
            state.next_chunk = len(rendered)
            self.in_flight += len(rendered) - RENDER_CHUNK
            if not indices:
                self._finish_doc(state)
                return
        for item in rendered:
            page = PageState(state, item.index, item.image_url, item.text)
            state.pages[item.index] = page
            if item.image_url is None:
                page.attempts.append({"temperature": None, "reason": item.error})
                self._settle(page, None)
            else:
                self._ask(page)
        if state.indices is not None and state.next_chunk < len(state.indices):
            self.waiting.append(state)

    def _on_reply(self, page: PageState, future: Future[Reply]) -> None:
        exc = future.exception()
        if isinstance(exc, EngineUnavailableError):
            raise exc
        reply = future.result() if exc is None else Reply(error=f"{exc.__class__.__name__}: {exc}")
        parsed, reason = judge(reply, self.opts.repetition_min_chars)
        page.attempts.append(
            {
                "temperature": self.opts.temperatures[len(page.attempts)],
                "reason": reason,
                "finish_reason": reply.finish_reason,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "seconds": round(reply.seconds, 3),
            }
        )
        more = len(page.attempts) < len(self.opts.temperatures)
        if parsed is not None:
            fm = parsed.front_matter
            if not fm.is_rotation_valid and fm.rotation_correction and more:
                if page.rotation_asks < self.opts.rotation_retries:
                    page.rotation_asks += 1
                    page.rotation = (page.rotation + fm.rotation_correction) % 360
                    page.attempts[-1]["reason"] = f"rotated by {fm.rotation_correction}"
                    self._submit_render(page.doc, page, indices=[page.index], limit=1, rotation=page.rotation)
                    return
            self._settle(page, parsed)
        elif more:
            self._ask(page)
        else:
            self._settle(page, None)

    def _settle(self, page: PageState, parsed: Page | None) -> None:
        """Record a page's outcome (accepted, or the text-layer fallback) and finish its document when last."""
        attempts = page.attempts
        page.result = {
            "page": page.index + 1,
            "fallback": parsed is None,
            "front_matter": asdict(parsed.front_matter) if parsed else None,
            "text": parsed.text if parsed else _plain(page.text_layer),
            "rotation": page.rotation,
            "attempts": len([a for a in attempts if a["temperature"] is not None]),
            "reasons": [a["reason"] for a in attempts],
            "temperatures": [a["temperature"] for a in attempts if a["temperature"] is not None],
            "prompt_tokens": sum(a.get("prompt_tokens", 0) for a in attempts),
            "completion_tokens": sum(a.get("completion_tokens", 0) for a in attempts),
            "seconds": round(sum(a.get("seconds", 0.0) for a in attempts), 3),
        }
        page.image_url = None
        page.text_layer = ""
        self.in_flight -= 1
        state = page.doc
        state.finished += 1
        self.summary.pages += 1
        self.summary.fallback_pages += parsed is None
        self.on_page(1, int(parsed is None))
        if state.indices is not None and state.finished == len(state.indices):
            self._finish_doc(state)

    def _record(self, doc: InputDoc, digest: str | None, status: str, **fields: Any) -> dict[str, Any]:
        return {
            "path": doc.relpath,
            "source": os.path.abspath(doc.path),
            "sha256": digest,
            "status": status,
            "worker": self.worker_id,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **fields,
        }

    def _commit(self, doc: InputDoc, record: dict[str, Any], markdown: str | None) -> None:
        """Markdown (atomic), record (appended, fsynced), done marker: the order resume relies on."""
        if markdown is not None:
            atomic_write_text(self.out / doc.markdown_relpath, markdown)
        append_record(self.results, record)
        if record["sha256"]:
            atomic_write_text(self._marker(doc), f"{doc.relpath}\n{record['sha256']}")

    def _finish_doc(self, state: DocState) -> None:
        pages = [state.pages[i].result for i in state.indices or []]
        fallbacks = sum(1 for p in pages if p and p["fallback"])
        status = "failed" if fallbacks > self.opts.max_page_errors else "ok"
        markdown = "\n\n".join(p["text"] for p in pages if p and p["text"])
        record = self._record(
            state.doc,
            state.sha256,
            status,
            markdown=state.doc.markdown_relpath,
            num_pages=len(pages),
            fallback_pages=fallbacks,
            seconds=round(time.perf_counter() - state.started, 3),
            pages=pages,
        )
        self._commit(state.doc, record, markdown)
        self.summary.documents += 1
        self.summary.failed_documents += status == "failed"
        if status == "failed":
            self.report(f"{state.doc.path}: {fallbacks} of {len(pages)} pages fell back to the text layer")
        self._close_doc(state)

    def _bad_input(self, doc: InputDoc, digest: str | None, message: str, *, empty: bool = False) -> None:
        """A document that cannot be read: one line, counted, recorded (an empty PDF also gets an empty .md)."""
        self.summary.bad_inputs += 1
        self.summary.problems.append(f"{doc.path}: {message}")
        self.report(f"{doc.path}: {message}")
        record = self._record(doc, digest, "empty" if empty else "error", error=message, num_pages=0, pages=[])
        if empty:
            record["markdown"] = doc.markdown_relpath
        self._commit(doc, record, "" if empty else None)

    def _close_doc(self, state: DocState) -> None:
        self.open_docs.pop(state.doc.key, None)
        os.close(state.lock_fd)

    # -- main loop

    def run(self, docs: list[InputDoc]) -> ConvertSummary:
        """Convert `docs` (already filtered to this shard); stops with EngineUnavailableError when the
        server cannot be reached, keeping every document finished so far."""
        if not self.opts.temperatures:
            raise UsageError("convert.temperatures is empty: no attempt would be made")
        self.out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        done = done_keys(self.out)
        pending = iter(docs)
        exhausted = False
        from multiprocessing import get_context

        self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"))
        try:
            while True:
                self._more_chunks()
                while not exhausted and self.in_flight < self.window:
                    doc = next(pending, None)
                    if doc is None:
                        exhausted = True
                    else:
                        self._start(doc, done)
                if not self.open_docs and exhausted:
                    break
                kind, tag, future = self.events.get()
                if kind == "rendered":
                    self._on_rendered(*tag, future)
                else:
                    self._on_reply(tag, future)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            for state in list(self.open_docs.values()):
                self._close_doc(state)
            self.summary.seconds = time.perf_counter() - start
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
) -> ConvertSummary:
    """Convert every input document into `out` (see the module docstring for the layout and guarantees)."""
    docs, problems = collect_inputs(inputs)
    for line in problems:
        (report or (lambda _: None))(line)
    converter = Converter(
        engine,
        config,
        Path(out),
        pages=pages,
        render_workers=render_workers,
        shard=shard,
        report=report,
        on_page=on_page,
    )
    summary = converter.run([doc for doc in docs if in_shard(doc, shard)])
    summary.problems = problems + summary.problems
    return summary
