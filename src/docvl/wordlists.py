"""The word lists that ship with the package: synthetic pages draw their text from them and the tiny reader
model's tokenizer is trained on them, so the two always agree."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from docvl.errors import ConfigError

WORDS_DIR = Path(__file__).resolve().parent / "_bundled" / "words"


def languages() -> list[str]:
    """The languages with a word list (`<language>.txt`)."""
    return sorted(p.stem for p in WORDS_DIR.glob("*.txt"))


@cache
def word_list(language: str) -> tuple[str, ...]:
    """The language's words in file order, duplicates and `#` comment lines dropped."""
    path = WORDS_DIR / f"{language}.txt"
    if not path.is_file():
        raise ConfigError(f"synthetic.language: no word list for '{language}' (known: {', '.join(languages())})")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return tuple(dict.fromkeys(line for line in lines if line and not line.startswith("#")))
