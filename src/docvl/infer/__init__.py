"""Inference: engines (OpenAI HTTP, vLLM child process, transformers in-process), `serve` and `convert`.

Modules by job: `types` (request, reply, engine interface), `request` (the one way to build a request),
`http_client`, `vllm_server` (the supervisor; `vllm_cmd` builds its command), `local` (in-process
generation), `factory` (which engine a run gets), `inputs`, `render`, `claims`, `convert` and `remote_out`
(`convert` into an object store).

For code that needs Markdown for pages (eval, scripts):

    engine = open_engine(config, server="http://127.0.0.1:8000/v1")   # or model=CHECKPOINT
    replies = engine.generate([page_request(image, config) for image in images])   # raw replies
    summary = convert(["a.pdf", "dir/"], out_dir, engine, config)               # the whole pipeline
    records = read_results(out_dir)                                            # {relpath: DocResult}
"""

from docvl.infer.convert import ConvertSummary, convert
from docvl.infer.factory import open_engine
from docvl.infer.request import page_request
from docvl.infer.types import Engine, EngineError, EngineUnavailableError, PageRequest, Reply
from docvl.results import latest as read_results

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
