"""`docvl eval --parity` against docvl's own transformers server (no vLLM needed): the same model agrees with
itself; a server that sizes images differently from training is caught by the image-token count, exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from docvl.eval.parity import MIN_IDENTICAL, PageParity, first_difference, parity_line, summarize
from docvl.system import free_port


def test_first_difference_and_tolerance() -> None:
    assert first_difference("abc", "abc") is None
    assert first_difference("abc", "abd") == 2 and first_difference("ab", "abc") == 2
    pages = [PageParity(f"p{i}", 10, 10, None, True, transformers_text="x", served_text="x") for i in range(19)]
    pages.append(PageParity("p19", 10, 10, None, False, 3, "abcd", "abce"))
    assert summarize(pages, 1.0, 1.0)["ok"] and MIN_IDENTICAL == 0.95  # 19 of 20 identical is enough
    pages[0].identical = False
    assert not summarize(pages, 1.0, 1.0)["ok"]  # 18 of 20 is not
    pages[0].identical, pages[1].image_tokens_served = True, 9
    result = summarize(pages, 2.0, 1.0)
    assert not result["ok"] and result["image_tokens_match"] == 19  # an image-token difference never passes
    assert [d["page"] for d in result["differences"]] == ["p1", "p19"] and result["transformers_pages_per_s"] == 10
    assert parity_line("ckpt", result).splitlines() == [
        "ckpt: parity FAILED: 19/20 pages identical (at least 95% needed), image tokens match on 19, 0 errors; "
        "pages/s transformers 10.0, served 20.0",
        "  p1: image tokens 10 in training, 9 served",
        "  p19: text differs from character 3",
    ]


@pytest.mark.slow
def test_token_ids_decide_where_the_decoders_differ() -> None:
    """A barely trained model emits bytes that form no character: transformers decodes them as U+FFFD, vLLM's
    incremental detokenizer holds them back. Same ids (vLLM's ending in the stop token) are the same reply."""
    from docvl.eval.parity import first_difference, same_token_ids

    assert first_difference(" \ufffd \ufffd", "") == 0
    assert same_token_ids((5, 9, 5), [5, 9, 5, 2], end_ids={2}) is True
    assert same_token_ids((5, 9, 5), [5, 9, 6, 2], end_ids={2}) is False
    assert same_token_ids((5, 9, 5), None, end_ids={2}) is None


def test_parity_against_a_server(tiny_checkpoints: dict[str, Path], fixtures_dir: Path, tmp_path: Path) -> None:
    ckpt = str(tiny_checkpoints["qwen2_5_vl"])
    port = free_port()
    small = ["--set", "data.target_longest_image_dim=224", "--set", "eval.max_new_tokens=8"]
    server = subprocess.Popen(
        [sys.executable, "-m", "docvl.cli", "serve", ckpt, "--backend", "transformers", "--port", str(port), *small],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        args = ["eval", ckpt, "--parity", "--server", url, "--sets", f"held={fixtures_dir / 'pairs'}", "--json"]
        same = subprocess.run([sys.executable, "-m", "docvl.cli", *args, *small], capture_output=True, text=True)
        assert same.returncode == 0, same.stderr[-2000:]
        parity = json.loads(same.stdout)["parity"]
        assert parity["pages"] == parity["identical"] == parity["image_tokens_match"] == 3 and parity["ok"]
        # training at a quarter of the pixels: the server (the checkpoint's own sizes) gets more image tokens
        smaller = [*small, "--set", "model.max_pixels=12544"]
        other = subprocess.run([sys.executable, "-m", "docvl.cli", *args, *smaller], capture_output=True, text=True)
        assert other.returncode == 1, other.stderr[-2000:]
        parity = json.loads(other.stdout)["parity"]
        assert parity["image_tokens_match"] == 0 and not parity["ok"] and len(parity["differences"]) == 3
        page = parity["differences"][0]
        assert page["image_tokens_train"] <= 16 < page["image_tokens_served"]  # 12544 pixels: 16 tokens at most
    finally:
        server.terminate()
        server.wait(60)
