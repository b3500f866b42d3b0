"""Tiny random-weight Qwen2.5-VL / Qwen3-VL checkpoints, built offline in code for tests and the quickstart.

`tiny:qwen2_5_vl` or `tiny:qwen3_vl` as `model.name_or_path` resolves to a folder built here (once, then cached),
holding a real HF checkpoint: config.json, weights, a ByteLevel-BPE tokenizer trained on a fixed corpus with the
Qwen special tokens, a Qwen-style chat template (with `{% generation %}` markers) and the family's processor.
Every setting that must agree between tokenizer, text model and vision tower is derived here in one place
(see ../shared/NOTES-cpu-stack.md for what breaks when they do not).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from docvl.errors import ConfigError

TINY_PREFIX = "tiny:"
TINY_FAMILIES = ("qwen2_5_vl", "qwen3_vl")
# Bump when the tiny recipe changes, so stale cached folders are not reused.
TINY_VERSION = 1
DEFAULT_SEED = 0

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2-VL's template, with the assistant turn wrapped in {% generation %} so assistant masks work.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}"
    "{%- set parts = [{'type': 'text', 'text': message['content']}] -%}"
    "{%- else -%}{%- set parts = message['content'] -%}{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- generation -%}"
    "{%- for part in parts -%}{{ part['text'] }}{%- endfor -%}"
    "{{ '<|im_end|>' }}"
    "{%- endgeneration -%}"
    "{{ '\\n' }}"
    "{%- else -%}"
    "{%- for part in parts -%}"
    "{%- if part['type'] == 'image' or 'image' in part -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def _corpus() -> list[str]:
    """Fixed text the tokenizer learns its merges from: the prompt, the page format and typical page content."""
    from docvl.page import FrontMatter, Page, serialize_page
    from docvl.prompts import build_prompt

    page = serialize_page(Page(FrontMatter(primary_language="en", is_table=True), "Annual population estimates"))
    return [
        build_prompt(),
        page,
        "<table><thead><tr><th>Year</th><th>Value</th></tr></thead><tbody><tr><td>2003</td></tr></tbody></table>",
        "The quick brown fox jumps over the lazy dog. Edgar was King of the English from 959 until his death.",
        "Equations: \\( x^2 + y^2 = z^2 \\) and \\[ \\int_0^1 f(x)\\,dx \\]. Figures ![Alt](page_1_2_3_4.png)",
        "# Heading\n\n- item one\n- item two\n\n**bold** and *italic* text, numbers 0123456789.",
    ]


def build_tokenizer(vocab_size: int = 480):
    """A ByteLevel-BPE `PreTrainedTokenizerFast` with the Qwen special tokens and chat template, built offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        chat_template=CHAT_TEMPLATE,
        model_max_length=32768,
    )
    tokenizer.padding_side = "right"
    return tokenizer


def _token_ids(tokenizer) -> dict[str, int]:
    ids = {
        name: tokenizer.convert_tokens_to_ids(token)
        for name, token in [
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        ]
    }
    return ids


def _text_config(tokenizer, head_dim: int, **extra) -> dict:
    """Shared tiny text-model settings: hidden 64 in heads of `head_dim` (16: 4 heads; 64, a size vLLM's CPU
    attention supports: 1 head), and `mrope_section` [2, 3, 3] scaled to sum to head_dim / 2."""
    if head_dim not in (16, 32, 64):
        raise ConfigError(f"tiny text head_dim {head_dim} is not 16, 32 or 64")
    heads = 64 // head_dim
    return {
        "vocab_size": len(tokenizer) + (-len(tokenizer) % 64),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": max(1, heads // 2),
        "head_dim": head_dim,
        "max_position_embeddings": 32768,
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def _mrope_section(head_dim: int) -> list[int]:
    return [part * head_dim // 16 for part in (2, 3, 3)]


def _build_qwen2_5_vl(tokenizer, head_dim: int):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer,
            head_dim,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": _mrope_section(head_dim)},
        ),
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "fullatt_block_indexes": [1],
            "window_size": 112,
        },
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )
    return Qwen2_5_VLForConditionalGeneration(config), Qwen2VLImageProcessor()


def _build_qwen3_vl(tokenizer, head_dim: int):
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration

    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer,
            head_dim,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": _mrope_section(head_dim),
                "mrope_interleaved": True,
            },
        ),
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "patch_size": 16,
            "num_position_embeddings": 2304,
            "deepstack_visual_indexes": [0],
        },
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )
    image_processor = Qwen2VLImageProcessor(
        patch_size=16,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        size={"shortest_edge": 65536, "longest_edge": 16777216},
    )
    return Qwen3VLForConditionalGeneration(config), image_processor


def _build_processor(family: str, tokenizer, image_processor):
    from transformers import Qwen2_5_VLProcessor, Qwen3VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    if family == "qwen2_5_vl":
        return Qwen2_5_VLProcessor(image_processor, tokenizer, Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE)
    return Qwen3VLProcessor(image_processor, tokenizer, Qwen3VLVideoProcessor(), chat_template=CHAT_TEMPLATE)


def build_tiny(family: str, directory: str | Path, seed: int = DEFAULT_SEED, head_dim: int = 16) -> Path:
    """Write a tiny random checkpoint of `family` into `directory` (same seed, same bytes of weights).
    `head_dim` is the text attention head size (vLLM's CPU attention serves 64, not 16)."""
    import torch

    if family not in TINY_FAMILIES:
        raise ConfigError(f"unknown tiny model family '{family}'", hint=f"one of {', '.join(TINY_FAMILIES)}")
    tokenizer = build_tokenizer()
    builder = _build_qwen2_5_vl if family == "qwen2_5_vl" else _build_qwen3_vl
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, image_processor = builder(tokenizer, head_dim)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    target = Path(directory)
    model.save_pretrained(target)
    _build_processor(family, tokenizer, image_processor).save_pretrained(target)
    return target


def tiny_cache_dir() -> Path:
    """Where built tiny checkpoints are kept: $DOCVL_TINY_CACHE, else ~/.cache/docvl/tiny."""
    return Path(os.environ.get("DOCVL_TINY_CACHE") or Path.home() / ".cache" / "docvl" / "tiny")


def resolve_tiny(name: str, cache_dir: str | Path | None = None) -> Path:
    """`tiny:<family>` -> a cached checkpoint folder, built on first use (atomically, so racing processes agree)."""
    family = name.removeprefix(TINY_PREFIX)
    if family not in TINY_FAMILIES:
        raise ConfigError(
            f"unknown tiny model '{name}'", hint=f"one of {', '.join(TINY_PREFIX + f for f in TINY_FAMILIES)}"
        )
    root = Path(cache_dir) if cache_dir else tiny_cache_dir()
    target = root / f"{family}-v{TINY_VERSION}-s{DEFAULT_SEED}"
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{family}.", dir=root))
    try:
        build_tiny(family, staging)
        os.replace(staging, target)
    except OSError:
        if not (target / "config.json").is_file():  # a concurrent builder did not win the race either
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
