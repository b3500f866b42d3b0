"""Convert one PDF page through a running `docvl serve` (or any OpenAI-compatible server), in a few lines.

    docvl serve runs/tiny/final --backend transformers --port 8000 &
    python examples/client.py examples/pdfs/some_ocr1.pdf --server http://127.0.0.1:8000/v1 \
        --config runs/tiny/final/docvl.yaml

The page is rendered, encoded and prompted exactly as in training (the checkpoint's docvl.yaml says how),
sent as one chat completion, and the reply is parsed as front matter + Markdown (a reply that is not a page,
as from a barely trained model, is printed as it came, with one line saying so, exit code 1). `docvl convert`
does the same for whole corpora, with retries, fallbacks and resuming.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request

from docvl.config import load_config
from docvl.errors import PageFormatError
from docvl.infer.request import page_request
from docvl.infer.types import chat_messages
from docvl.page import parse_page
from docvl.pdf import PdfFile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf")
    parser.add_argument("--server", default="http://127.0.0.1:8000/v1", help="base URL of the API")
    parser.add_argument("--page", type=int, default=1, help="1-based page number")
    parser.add_argument("--config", help="the checkpoint's docvl.yaml (prompt and image size)")
    args = parser.parse_args()

    config = load_config(args.config)
    with PdfFile(args.pdf) as pdf:
        image = pdf.render(args.page - 1, config.data.target_longest_image_dim)
    request = page_request(image, config)

    with urllib.request.urlopen(f"{args.server}/models", timeout=30) as reply:
        model = json.load(reply)["data"][0]["id"]
    body = {
        "model": model,
        "messages": chat_messages(request),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    post = urllib.request.Request(
        f"{args.server}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(post, timeout=600) as reply:
        choice = json.load(reply)["choices"][0]

    reply_text = choice["message"]["content"] or ""
    try:
        page = parse_page(reply_text, strict=False)
    except PageFormatError as exc:  # an untrained or tiny model rarely writes the page format
        print(reply_text)
        sys.exit(
            f"the reply is not a page (front matter + Markdown): {exc.message}; finish_reason={choice['finish_reason']}"
        )
    print(f"<!-- {page.front_matter} finish_reason={choice['finish_reason']} -->")
    print(page.text)


if __name__ == "__main__":
    main()
