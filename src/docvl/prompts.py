"""The prompt sent with every page. Defined once: training, eval, serve and convert all call `build_prompt`.

No anchoring text (the PDF's own text layer) is sent: the model reads the page image alone, as at
inference on scans. The reply format is the page format of `docvl.page` (front matter, then Markdown).
"""

from __future__ import annotations

from docvl.config import PromptConfig
from docvl.page import FIELD_NAMES

_PROMPTS = {
    "docvl-v1": (
        "Attached is one page of a document that you must process. "
        "Just return the plain text representation of this document as if you were reading it naturally. "
        "Convert equations to LaTeX (\\( \\) inline, \\[ \\] for display) and tables to HTML.\n"
        "If there are any figures or charts, label them with the following markdown syntax "
        "![Alt text describing the contents of the figure](page_startx_starty_width_height.png)\n"
        "Return your output as markdown, with a front matter section on top specifying values for the "
        + ", ".join(FIELD_NAMES[:-1])
        + f", and {FIELD_NAMES[-1]} parameters."
    ),
}


def build_prompt(config: PromptConfig | None = None) -> str:
    """The prompt text for a prompt config (the default config when None)."""
    return _PROMPTS[(config or PromptConfig()).name]
