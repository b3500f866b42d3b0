"""Inference: engines (OpenAI HTTP, vLLM child process, transformers in-process), `serve` and `convert`.

For code that needs Markdown for pages (eval, scripts):

    engine = open_engine(config, server="http://127.0.0.1:8000/v1")   # or model=CHECKPOINT
    replies = engine.generate([page_request(image, config) for image in images])   # raw replies
    summary = convert(["a.pdf", "dir/"], out_dir, engine, config)               # the whole pipeline
    records = read_results(out_dir)                                            # {relpath: record}
"""

from docvl.infer.convert import ConvertSummary, convert, read_results
from docvl.infer.engines import (
    Engine,
    EngineError,
    EngineUnavailableError,
    PageRequest,
    Reply,
    open_engine,
    page_request,
)

__all__ = [
    "ConvertSummary",
    "Engine",
    "EngineError",
    "EngineUnavailableError",
    "PageRequest",
    "Reply",
    "convert",
    "open_engine",
    "page_request",
    "read_results",
]
