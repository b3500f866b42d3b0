"""Tiny random-weight Qwen2.5-VL / Qwen3-VL checkpoints, built offline in code for tests and the quickstart.

`tiny:qwen2_5_vl` or `tiny:qwen3_vl` as `model.name_or_path` resolves to a folder built here (once, then cached),
and `tiny:qwen2_5_vl-reader` / `tiny:qwen3_vl-reader` to the larger size that can learn to read synthetic pages
on a CPU in minutes (text attention heads of 64, a size vLLM's CPU kernels support; a tokenizer that also
learned the synthetic word lists, so words are one or two tokens). Each size is a real HF checkpoint,
holding a real HF checkpoint: config.json, weights, a ByteLevel-BPE tokenizer trained on a fixed corpus with the
Qwen special tokens, a Qwen-style chat template (with `{% generation %}` markers) and the family's processor.
Every setting that must agree between tokenizer, text model and vision tower is derived here in one place
(token ids, vocabulary size, mrope sections, output widths: each mismatch fails only at the first forward pass).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from docvl.errors import ConfigError

TINY_PREFIX = "tiny:"
TINY_FAMILIES = ("qwen2_5_vl", "qwen3_vl")
# Bump when the tiny recipe changes, so stale cached folders are not reused.
TINY_VERSION = 3
# Pixel normalization of the tiny processors: paper white (1.0) becomes exactly 0 and ink -2. With Qwen2.5-VL's
# bias-free patch embedding and zero-initialized biases, a blank patch then yields a zero feature, so what the
# random tower passes on is the ink alone, not a background shared by every page that drowns it (Qwen3-VL adds
# position embeddings, so there it only removes the shared pixel offset). With the Qwen
# defaults (white = +2) the random tower's features differed by a few percent between pages and the tiny model
# never learned to read (teacher-forced loss the same with a blank image); with this it does (bench/).
PAPER_WHITE_MEAN = [1.0, 1.0, 1.0]
PAPER_WHITE_STD = [0.5, 0.5, 0.5]
DEFAULT_SEED = 0


@dataclass(frozen=True)
class TinySize:
    """The shapes of one tiny size; `mrope_section` must sum to head_dim / 2 = hidden / heads / 2."""

    hidden: int
    heads: int
    kv_heads: int
    layers: int
    intermediate: int
    mrope_section: tuple[int, int, int]
    vision_hidden: int
    vision_heads: int
    vision_depth: int
    vocab: int
    learns_words: bool  # the tokenizer also trains on the synthetic word lists
    rope_theta: float = 10000.0
    vision_pass_through: bool = False  # vision blocks start as identities (see _pass_through_vision_blocks)


TINY_SIZES = {
    # Fast plumbing checks (tests): hidden 64, 4 heads of 16.
    "test": TinySize(64, 4, 2, 2, 128, (2, 3, 3), 32, 2, 2, 480, False),
    # Learns synthetic quickstart pages on a CPU: hidden 128, 2 heads of 64 (vLLM's CPU attention needs 64/128).
    # rope_theta 10: with head_dim 64 and mrope sections (8, 12, 12), theta 10000 leaves the width section
    # (the lowest frequencies) turning by under 0.003 rad per image column, so the text model could not tell
    # where on the page an image token lies (nor a turned page from an upright one); at 10 a column turns
    # 0.1-0.24 rad and a row 0.25-0.56 rad. Text spans here are a few hundred tokens, well within that.
    "reader": TinySize(128, 2, 2, 4, 512, (8, 12, 12), 128, 2, 2, 2048, True, 10.0, True),
}
DEFAULT_SIZE = "test"

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


def _word_corpus() -> list[str]:
    """The synthetic pages' word lists, as lower-case, capitalized and space-led words (how they occur in text),
    and the prompt and page format repeated so that they, too, become few tokens (shorter training samples)."""
    from docvl.wordlists import languages, word_list

    lines = _corpus()[:2] * 8
    for language in languages():
        words = word_list(language)
        lines += [" ".join(words), " ".join(w.capitalize() for w in words), "\n".join(words)]
    return lines


def build_tokenizer(vocab_size: int = 480, learn_words: bool = False):
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
    core.train_from_iterator(_corpus() + (_word_corpus() if learn_words else []), trainer=trainer)
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


def _text_config(tokenizer, size: TinySize, **extra) -> dict:
    """Text-model settings shared by both families for one size."""
    return {
        "vocab_size": len(tokenizer) + (-len(tokenizer) % 64),
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "num_key_value_heads": size.kv_heads,
        "max_position_embeddings": 32768,
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def _vision_config(size: TinySize) -> dict:
    return {
        "depth": size.vision_depth,
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_hidden * 2,
        "num_heads": size.vision_heads,
        "out_hidden_size": size.hidden,
    }


def _build_qwen2_5_vl(tokenizer, size: TinySize):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

    mrope = list(size.mrope_section)
    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer,
            size,
            rope_parameters={"rope_type": "default", "rope_theta": size.rope_theta, "mrope_section": mrope},
        ),
        vision_config={
            **_vision_config(size),
            "fullatt_block_indexes": [size.vision_depth - 1],
            "window_size": 112,
        },
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )
    return Qwen2_5_VLForConditionalGeneration(config), Qwen2VLImageProcessor(
        image_mean=PAPER_WHITE_MEAN, image_std=PAPER_WHITE_STD
    )


def _build_qwen3_vl(tokenizer, size: TinySize):
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration

    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer,
            size,
            head_dim=size.hidden // size.heads,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": size.rope_theta,
                "mrope_section": list(size.mrope_section),
                "mrope_interleaved": True,
            },
        ),
        vision_config={
            **_vision_config(size),
            "patch_size": 16,
            "num_position_embeddings": 2304,
            "deepstack_visual_indexes": [0],
        },
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )
    image_processor = Qwen2VLImageProcessor(
        patch_size=16,
        image_mean=PAPER_WHITE_MEAN,
        image_std=PAPER_WHITE_STD,
        size={"shortest_edge": 65536, "longest_edge": 16777216},
    )
    return Qwen3VLForConditionalGeneration(config), image_processor


def _pass_through_vision_blocks(model) -> None:
    """Zero each vision block's output projections, so the random tower starts as the identity on its patch
    embedding (residual blocks that add nothing until trained; frozen, they stay so). Random blocks mixed every
    patch with its attention window: blank patches took on the window's average and, normalized by the merger,
    looked as inked as text, and the merger learned to map all image tokens to one vector (cosine 0.99 between
    pages) instead of reading them. Passed through, a patch is a random projection of its pixels, and a blank
    one is exactly zero."""
    import torch

    with torch.no_grad():
        for block in model.model.visual.blocks:
            last = getattr(block.mlp, "down_proj", None) or block.mlp.linear_fc2
            for layer in (block.attn.proj, last):
                layer.weight.zero_()
                if layer.bias is not None:
                    layer.bias.zero_()


def _build_processor(family: str, tokenizer, image_processor):
    from transformers import Qwen2_5_VLProcessor, Qwen3VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    if family == "qwen2_5_vl":
        return Qwen2_5_VLProcessor(image_processor, tokenizer, Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE)
    return Qwen3VLProcessor(image_processor, tokenizer, Qwen3VLVideoProcessor(), chat_template=CHAT_TEMPLATE)


def build_tiny(family: str, directory: str | Path, seed: int = DEFAULT_SEED, size: str = DEFAULT_SIZE) -> Path:
    """Write a tiny random checkpoint of `family` and `size` into `directory` (same seed, same bytes of weights)."""
    import torch

    from docvl.system import name_cpu_accelerator

    name_cpu_accelerator()  # before transformers imports DeepSpeed: a first build inside `docvl train` stays quiet

    if family not in TINY_FAMILIES:
        raise ConfigError(f"unknown tiny model family '{family}'", hint=f"one of {', '.join(TINY_FAMILIES)}")
    if size not in TINY_SIZES:
        raise ConfigError(f"unknown tiny model size '{size}'", hint=f"one of {', '.join(TINY_SIZES)}")
    shape = TINY_SIZES[size]
    tokenizer = build_tokenizer(shape.vocab, learn_words=shape.learns_words)
    builder = _build_qwen2_5_vl if family == "qwen2_5_vl" else _build_qwen3_vl
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, image_processor = builder(tokenizer, shape)
    if shape.vision_pass_through:
        _pass_through_vision_blocks(model)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    target = Path(directory)
    model.save_pretrained(target)
    _build_processor(family, tokenizer, image_processor).save_pretrained(target)
    return target


def tiny_cache_dir() -> Path:
    """Where built tiny checkpoints are kept: $DOCVL_TINY_CACHE, else ~/.cache/docvl/tiny."""
    return Path(os.environ.get("DOCVL_TINY_CACHE") or Path.home() / ".cache" / "docvl" / "tiny")


def tiny_names() -> list[str]:
    """Every valid `tiny:` model name."""
    return [
        TINY_PREFIX + family + ("" if size == DEFAULT_SIZE else f"-{size}")
        for size in TINY_SIZES
        for family in TINY_FAMILIES
    ]


def resolve_tiny(name: str, cache_dir: str | Path | None = None) -> Path:
    """`tiny:<family>[-<size>]` -> a cached checkpoint folder, built on first use (atomically, so racing processes
    agree)."""
    family, _, size = name.removeprefix(TINY_PREFIX).partition("-")
    size = size or DEFAULT_SIZE
    if family not in TINY_FAMILIES or size not in TINY_SIZES:
        raise ConfigError(f"unknown tiny model '{name}'", hint=f"one of {', '.join(tiny_names())}")
    root = Path(cache_dir) if cache_dir else tiny_cache_dir()
    label = family if size == DEFAULT_SIZE else f"{family}-{size}"
    target = root / f"{label}-v{TINY_VERSION}-s{DEFAULT_SEED}"
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{family}.", dir=root))
    try:
        build_tiny(family, staging, size=size)
        os.replace(staging, target)
    except OSError:
        if not (target / "config.json").is_file():  # a concurrent builder did not win the race either
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
