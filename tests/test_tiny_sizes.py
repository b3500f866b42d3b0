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


def test_reader_image_tokens_carry_the_ink_where_it_is(tiny_checkpoints: dict) -> None:
    """The reader's random vision blocks pass patches through: a white patch gives an exactly zero image token and
    ink lights up the tokens of its own place in the grid (image tokens line up with the page), and its text rope
    turns fast enough for rows and columns to be told apart."""
    import torch
    from PIL import ImageDraw

    checkpoint = resolve_tiny("tiny:qwen2_5_vl-reader")
    assert (
        json.loads((Path(checkpoint) / "config.json").read_text())["text_config"]["rope_parameters"]["rope_theta"]
        == TINY_SIZES["reader"].rope_theta
    )
    processor = registry.load_processor(checkpoint, ModelConfig())
    model = registry.load_model(checkpoint, ModelConfig(torch_dtype="float32", attn_implementation="sdpa"))
    page = Image.new("RGB", (224, 168), "white")
    ImageDraw.Draw(page).rectangle((140, 90, 165, 110), fill="black")  # grid cell row 3, column 5 (28 px cells)
    inputs = processor.image_processor(images=[page], return_tensors="pt")
    with torch.no_grad():
        features = model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"])
    features = getattr(features, "pooler_output", features)
    features = features[0] if isinstance(features, list | tuple) else features
    inked = (features.abs().sum(-1) > 0).reshape(6, 8)
    assert inked.nonzero().tolist() == [[3, 5]]
