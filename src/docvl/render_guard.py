"""Render pages (and read their text) under a memory and a time limit, so a deflate bomb costs one page.

A PDF's content streams are compressed: 1.5 MB of file can inflate to 800 MB of drawing operators, which PDFium
parses into many GB of objects before it draws a pixel. So every stage that renders or reads page text (validate,
the training pipeline, convert; prepare only splits and copies pages, which parses no content stream) asks a
helper process: its address space is capped with RLIMIT_AS at what it uses
at rest plus `data.render_memory_mb`, and it is killed when one page takes longer than `data.render_timeout_s`.
That page then fails with a `PdfRenderError` naming the limit; the next page gets a fresh helper.

One helper per calling process (a forked child starts its own), started on first use. It keeps the last document
open, so rendering page after page of one PDF opens it once. Limits of 0 mean "no limit"; with both at 0 pages are
rendered in the calling process as before.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl import errors
from docvl.config import DataConfig, field_default
from docvl.errors import PdfRenderError

if TYPE_CHECKING:
    from PIL import Image

_START_TIMEOUT_S = 120


@dataclass(frozen=True)
class RenderLimits:
    """Per page: `memory_mb` above the helper's resting size, `timeout_s` of wall time (0: no limit)."""

    memory_mb: int = field_default(DataConfig, "render_memory_mb")
    timeout_s: float = field_default(DataConfig, "render_timeout_s")

    @classmethod
    def from_config(cls, data: DataConfig) -> RenderLimits:
        return cls(data.render_memory_mb, data.render_timeout_s)

    @property
    def off(self) -> bool:
        return not self.memory_mb and not self.timeout_s


def render(
    source: str | Path, index: int, longest_side: int, limits: RenderLimits, max_page_inches: float
) -> Image.Image:
    """Page `index` of the PDF file `source` as an RGB image (see `PdfFile.render`), within `limits`."""
    from PIL import Image

    from docvl.pdf import PdfFile

    if limits.off:
        with PdfFile(source, max_page_inches=max_page_inches) as pdf:
            return pdf.render(index, longest_side)
    mode, size, pixels = _helper(limits).ask(("render", str(source), index, longest_side, max_page_inches), index)
    return Image.frombytes(mode, size, pixels)


def check_renders(
    source: str | Path, index: int, longest_side: int, limits: RenderLimits, max_page_inches: float
) -> None:
    """`render` for a verdict only (validate): the image stays in the helper, nothing is copied back."""
    if limits.off:
        render(source, index, longest_side, limits, max_page_inches)
    else:
        _helper(limits).ask(("check", str(source), index, longest_side, max_page_inches), index)


def text(source: str | Path, index: int, limits: RenderLimits, max_page_inches: float) -> str:
    """The text layer of page `index` (see `PdfFile.text`): reading it parses the same content streams."""
    from docvl.pdf import PdfFile

    if limits.off:
        with PdfFile(source, max_page_inches=max_page_inches) as pdf:
            return pdf.text(index)
    return _helper(limits).ask(("text", str(source), index, 0, max_page_inches), index)


class _Helper:
    """The helper process of one calling process and its two pipe ends."""

    def __init__(self, limits: RenderLimits):
        self.limits = limits
        self.owner = os.getpid()
        src = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH"))))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docvl.render_guard", str(limits.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.requests = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.replies = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        # Starting Python and PDFium is not the page's time: wait for the helper to be ready before any timeout runs.
        try:
            ready = self.replies.poll(_START_TIMEOUT_S) and self.replies.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise PdfRenderError(f"the render helper did not start within {_START_TIMEOUT_S} s")

    def ask(self, request: tuple[Any, ...], index: int) -> Any:
        """Send one request and wait for its answer; a helper over a limit is stopped and the page fails."""
        path = request[1]
        try:
            self.requests.send(request)
            if self.limits.timeout_s and not self.replies.poll(self.limits.timeout_s):
                self.stop()
                raise PdfRenderError(
                    f"page {index + 1} took longer than {self.limits.timeout_s:g} s to render "
                    "(data.render_timeout_s), stopped",
                    path,
                )
            status, *answer = self.replies.recv()
        except (EOFError, OSError):
            code = self.stop()
            cause = (
                f"needs more than {self.limits.memory_mb} MB to render (data.render_memory_mb), stopped"
                if self.limits.memory_mb
                else "killed its render helper"
            )
            raise PdfRenderError(f"page {index + 1} {cause} (render helper exit code {code})", path) from None
        if status == "ok":
            return answer[0]
        if status == "memory":
            self.stop()
            raise PdfRenderError(
                f"page {index + 1} needs more than {self.limits.memory_mb} MB to render (data.render_memory_mb), "
                "stopped",
                path,
            )
        kind, message, where = answer
        raise getattr(errors, kind)(message, where)

    def stop(self) -> int | None:
        """Kill the helper (a no-op when it is gone) and forget it; returns its exit code."""
        global _current
        if _current is self:
            _current = None
        if self.owner == os.getpid():
            self.process.kill()
            self.process.wait()
        self.requests.close()
        self.replies.close()
        return self.process.returncode


_current: _Helper | None = None


def _helper(limits: RenderLimits) -> _Helper:
    """This process's helper for `limits`, started when there is none (or it belongs to the parent we forked from)."""
    global _current
    if _current is not None and (_current.owner != os.getpid() or _current.limits != limits):
        if _current.owner == os.getpid():
            _current.stop()
        _current = None
    if _current is None:
        _current = _Helper(limits)
    return _current


# ---------------------------------------------------------------- the helper process


def _resting_address_space() -> int:
    """Bytes of address space this process uses now (VmSize), what the memory limit is added to."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _answer(request: tuple[Any, ...], open_doc: dict[str, Any]) -> tuple[Any, ...]:
    from docvl.pdf import PdfFile

    kind, path, index, longest_side, max_page_inches = request
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size, max_page_inches)
    if open_doc.get("key") != key:
        if open_doc.get("pdf") is not None:
            open_doc.pop("pdf").close()
        open_doc["pdf"] = PdfFile(path, max_page_inches=max_page_inches)
        open_doc["key"] = key
    pdf = open_doc["pdf"]
    if kind == "text":
        return ("ok", pdf.text(index))
    image = pdf.render(index, longest_side)
    return ("ok", None if kind == "check" else (image.mode, image.size, image.tobytes()))


def serve(memory_mb: int) -> None:
    """Answer requests from stdin on stdout until stdin closes (the caller exited or stopped us)."""
    import PIL.Image  # noqa: F401  (imported before the limit is set: part of the resting size)

    import docvl.pdf  # noqa: F401

    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the reply pipe
    requests = Connection(os.dup(0), writable=False)
    if memory_mb and hasattr(resource, "RLIMIT_AS"):
        limit = _resting_address_space() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    open_doc: dict[str, Any] = {}
    replies.send(("ready",))
    while True:
        try:
            request = requests.recv()
        except EOFError:
            return
        try:
            reply = _answer(request, open_doc)
        except MemoryError:
            replies.send(("memory",))
            return
        except errors.DocvlError as exc:
            reply = ("error", type(exc).__name__, exc.message, exc.path)
        except OSError as exc:
            reply = ("error", "PdfError", f"cannot read file: {exc.strerror}", request[1])
        except Exception as exc:  # whatever else one page does must not end the helper for the next
            reply = ("error", "PdfRenderError", f"page {request[2] + 1} does not render ({exc})", request[1])
        replies.send(reply)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
