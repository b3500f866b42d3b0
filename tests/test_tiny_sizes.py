"""The `reader` tiny size: text heads of 64 (what vLLM's CPU attention supports), words of few tokens, and a
forward pass with a page image in both families."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from docvl.config import ModelConfig
from docvl.errors import ConfigError
from docvl.models import registry
from docvl.models.messages import encode_training_sample
from docvl.models.tiny import TINY_SIZES, resolve_tiny, tiny_names
from docvl.train.collator import PageCollator
from docvl.wordlists import word_list


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_reader_size_has_head_dim_64_and_learns_from_a_page(tiny_checkpoints: dict, family: str) -> None:
    import torch

    checkpoint = resolve_tiny(f"tiny:{family}-reader")
    text = json.loads((Path(checkpoint) / "config.json").read_text())["text_config"]
    head_dim = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    assert head_dim == 64
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    processor = registry.load_processor(checkpoint, ModelConfig())
    words = word_list("en")[:40]
    tokens = sum(len(processor.tokenizer(" " + w)["input_ids"]) for w in words) / len(words)
    assert tokens <= 1.3  # the quickstart vocabulary is read word by word
    model = registry.load_model(checkpoint, ModelConfig(torch_dtype="float32", attn_implementation="sdpa"))
    sample = encode_training_sample(processor, Image.new("RGB", (224, 280), "white"), "Read.", "the data")
    batch = PageCollator(processor.tokenizer.pad_token_id)([sample])
    batch.pop("num_skipped")
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert model.lm_head.weight.grad is not None or model.get_input_embeddings().weight.grad is not None


def test_size_names() -> None:
    assert "tiny:qwen2_5_vl" in tiny_names() and "tiny:qwen3_vl-reader" in tiny_names()
    assert set(TINY_SIZES) == {"test", "reader"}
    with pytest.raises(ConfigError, match="unknown tiny model 'tiny:qwen2_5_vl-huge'"):
        resolve_tiny("tiny:qwen2_5_vl-huge")
