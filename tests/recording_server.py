"""An OpenAI-compatible server on 127.0.0.1 that records every chat request it gets (tests only).

In-process: `RecordingServer(model_name, config_info)` (a `config_info` makes it answer `/v1/docvl/config`
like `docvl serve`; without one it is vLLM-like). As a program it stands in for `vllm serve CKPT --port P`
(`serve.vllm_executable="python tests/recording_server.py"`), appending each request to $RECORD_TO as JSONL.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docvl.infer.fakes import VALID_REPLY  # noqa: E402
from docvl.infer.server import completion_body  # noqa: E402
from docvl.infer.server_basic import ApiServer  # noqa: E402


def summarize(payload: dict[str, Any]) -> dict[str, Any]:
    """What a chat request asked, in comparable form: image size, part order, prompt text, token limit."""
    from PIL import Image

    parts = payload["messages"][-1]["content"]
    image_url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    with Image.open(io.BytesIO(base64.b64decode(image_url.split(",", 1)[1]))) as image:
        size = image.size
    return {
        "image_size": list(size),
        "order": [p["type"] for p in parts],
        "prompt": "\n".join(p["text"] for p in parts if p["type"] == "text"),
        "max_tokens": payload.get("max_tokens"),
    }


class RecordingServer:
    """`with RecordingServer(...) as server:` serves at `server.base_url`; `server.requests` are summaries."""

    def __init__(
        self,
        model_name: str,
        config_info: dict[str, Any] | None = None,
        record_to: Path | None = None,
        port: int = 0,
    ):
        self.requests: list[dict[str, Any]] = []
        self.models: list[str] = []  # the model each request asked for
        self.record_to = record_to
        self._lock = threading.Lock()
        self.server = ApiServer("127.0.0.1", port, model_name, self._chat, config_info=config_info)

    def _chat(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if isinstance(payload["messages"][-1]["content"], str):  # the one-token probe of a vLLM docvl started
            return 200, completion_body(self.server.model_name, "OK", "length", 1, 1)
        with self._lock:
            self.requests.append(summarize(payload))
            self.models.append(payload.get("model"))
            if self.record_to is not None:
                with self.record_to.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(self.requests[-1]) + "\n")
        return 200, completion_body(self.server.model_name, VALID_REPLY, "stop", 10, 10)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> RecordingServer:
        self.server.start_background()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv: list[str]) -> None:
    """`recording_server.py serve CKPT --served-model-name NAME --port P ...` (the rest ignored), as vLLM."""
    name, port = argv[argv.index("--served-model-name") + 1], int(argv[argv.index("--port") + 1])
    RecordingServer(name, record_to=Path(os.environ["RECORD_TO"]), port=port).server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
