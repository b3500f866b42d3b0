"""Whether a model's reply to a page is accepted, and if not why: one rule for convert, eval and training.

A reply is accepted when it finished with `stop`, parses as front matter + Markdown, and does not end in
degenerate repetition. Every attempt ends in an `Outcome` (a `Reason` plus its detail); results files store
it as the sentence docvl 0.1.0 wrote (`"finish_reason length"`, `"unparseable: ..."`), which `Outcome.parse`
reads back, so consumers compare reasons, never message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from docvl.errors import PageFormatError
from docvl.page import Page, parse_page

DEFAULT_REPETITION_MIN_CHARS = 1000  # convert's default (`convert.repetition_min_chars`), and the eos reward's


class Reason(StrEnum):
    """Why an attempt at a page ended."""

    OK = "ok"
    NO_REPLY = "no_reply"  # HTTP error, timeout, dropped connection, failed generation
    LENGTH = "length"  # stopped at the token limit (where looping models end)
    FINISH = "finish"  # another finish_reason than stop or length
    UNPARSEABLE = "unparseable"
    REPETITION = "repetition"
    ROTATED = "rotated"  # accepted, but the model asks for the page turned: rendered again and re-asked
    NOT_RENDERED = "not_rendered"  # the page image could not be made; never asked


_PREFIXES = {
    Reason.LENGTH: "finish_reason length",
    Reason.FINISH: "finish_reason ",
    Reason.UNPARSEABLE: "unparseable: ",
    Reason.REPETITION: "degenerate repetition",
    Reason.ROTATED: "rotated by ",
    Reason.OK: "ok",
}


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended; `detail` holds the message (the error, the parse problem, the rotation)."""

    reason: Reason
    detail: str = ""

    def __str__(self) -> str:
        if self.reason in (Reason.NO_REPLY, Reason.NOT_RENDERED):
            return self.detail
        if self.reason in (Reason.FINISH, Reason.UNPARSEABLE, Reason.ROTATED):
            return _PREFIXES[self.reason] + self.detail
        return _PREFIXES[self.reason]

    @classmethod
    def parse(cls, text: str, *, asked: bool = True) -> Outcome:
        """The outcome a results file's reason sentence stands for; `asked=False` for a page never sent."""
        if not asked:
            return cls(Reason.NOT_RENDERED, text)
        for reason in (Reason.OK, Reason.LENGTH, Reason.REPETITION):
            if text == _PREFIXES[reason]:
                return cls(reason)
        for reason in (Reason.UNPARSEABLE, Reason.ROTATED, Reason.FINISH):
            if text.startswith(_PREFIXES[reason]):
                return cls(reason, text[len(_PREFIXES[reason]) :])
        return cls(Reason.NO_REPLY, text)


class ReplyLike(Protocol):
    text: str
    finish_reason: str | None
    error: str | None


@dataclass(frozen=True)
class Verdict:
    """The judged reply: `page` is the parsed page when accepted (outcome OK), else None."""

    page: Page | None
    outcome: Outcome


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


def judge(reply: ReplyLike, repetition_min_chars: int) -> Verdict:
    """Accept a reply (its parsed page) or say why not."""
    if reply.error:
        return Verdict(None, Outcome(Reason.NO_REPLY, reply.error))
    if reply.finish_reason == "length":
        return Verdict(None, Outcome(Reason.LENGTH))
    if reply.finish_reason != "stop":
        return Verdict(None, Outcome(Reason.FINISH, str(reply.finish_reason)))
    try:
        page = parse_page(reply.text, strict=False)
    except PageFormatError as exc:
        return Verdict(None, Outcome(Reason.UNPARSEABLE, exc.message))
    if is_degenerate(page.text, repetition_min_chars):
        return Verdict(None, Outcome(Reason.REPETITION))
    return Verdict(page, Outcome(Reason.OK))
