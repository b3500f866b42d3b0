"""Model registry, tiny checkpoints and the page chat messages."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from docvl.config import ModelConfig
from docvl.errors import ConfigError
from docvl.models import registry
from docvl.models.messages import encode_prompt, encode_training_sample, page_messages
from docvl.models.tiny import build_tiny

FAMILIES = {"qwen2_5_vl": "Qwen2.5-VL", "qwen3_vl": "Qwen3-VL"}


def test_tiny_build_is_deterministic_and_fast(tmp_path: Path, tiny_checkpoints: dict[str, Path]) -> None:
    start = time.perf_counter()
    build_tiny("qwen3_vl", tmp_path / "a", seed=3)
    elapsed = time.perf_counter() - start
    build_tiny("qwen3_vl", tmp_path / "b", seed=3)
    build_tiny("qwen3_vl", tmp_path / "c", seed=4)
    weights = [(tmp_path / name / "model.safetensors").read_bytes() for name in "abc"]
    assert weights[0] == weights[1] != weights[2]
    assert elapsed < 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_family_comes_from_model_type_not_name(tmp_path: Path, tiny_checkpoints: dict[str, Path], family: str) -> None:
    misleading = tmp_path / ("qwen3-vl-run" if family == "qwen2_5_vl" else "qwen2.5-vl-run")
    shutil.copytree(tiny_checkpoints[family], misleading)
    assert registry.family_of(registry.resolve_checkpoint(str(misleading))).name == FAMILIES[family]


def test_bad_checkpoints_are_config_errors(tmp_path: Path, tiny_checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="no checkpoint at .*missing"):
        registry.resolve_checkpoint(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        registry.resolve_checkpoint(str(tmp_path / "empty"))
    odd = tmp_path / "odd"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], odd)
    (odd / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ConfigError, match="unsupported model_type 'llama'"):
        registry.family_of(registry.resolve_checkpoint(str(odd)))
    with pytest.raises(ConfigError, match="unknown tiny model"):
        registry.resolve_checkpoint("tiny:gpt2")


def test_a_missing_local_path_is_not_taken_for_a_hub_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "final").mkdir(parents=True)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^no checkpoint at runs/fnal \(no such folder\)$"):
        registry.resolve_checkpoint("runs/fnal")  # `runs/` is a folder here: a typo, not a hub id
    assert registry.resolve_checkpoint("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"
    from huggingface_hub import constants

    from docvl.system import free_port

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")  # a hub nobody answers for
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    with pytest.raises(ConfigError, match="hub .* cannot be reached"):
        registry.family_of(registry.resolve_checkpoint("someone/fnal"))
    assert time.perf_counter() - started < 10


def test_image_size_is_set_through_size_dict(tmp_path: Path, tiny_checkpoints: dict[str, Path]) -> None:
    config = ModelConfig(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64)
    processor = registry.load_processor(tiny_checkpoints["qwen2_5_vl"], config)
    assert processor.image_processor.size["longest_edge"] == 28 * 28 * 64
    inputs = encode_prompt(processor, Image.new("RGB", (1000, 1288), "white"), "Read.")
    grid = inputs["image_grid_thw"][0]
    assert int(grid.prod()) // 4 <= 64
    processor.save_pretrained(tmp_path)
    reloaded = registry.load_processor(tmp_path)
    assert reloaded.image_processor.size["longest_edge"] == 28 * 28 * 64
    with pytest.raises(ConfigError, match="larger than"):
        registry.set_image_size(processor, 100, 10)


def test_attention_implementation() -> None:
    assert registry.attn_implementation("auto", cuda=False) == "sdpa"
    assert registry.attn_implementation("eager", cuda=True) == "eager"
    assert registry.attn_implementation("auto", cuda=True) in {"sdpa", "flash_attention_2"}


@pytest.mark.parametrize("family", FAMILIES)
def test_freeze_groups(tiny_checkpoints: dict[str, Path], family: str) -> None:
    checkpoint = tiny_checkpoints[family]
    config = ModelConfig(tune_mm_vision=False, tune_mm_mlp=True, tune_mm_llm=False)
    model = registry.load_model(checkpoint, config)
    counts = registry.apply_freeze(model, registry.family_of(checkpoint), config)
    assert counts["vision"] == 0 and counts["llm"] == 0 and counts["mlp"] > 0
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("merger" in name for name in trainable)
    with pytest.raises(ConfigError, match="nothing to train"):
        registry.apply_freeze(model, registry.family_of(checkpoint), ModelConfig(tune_mm_mlp=False, tune_mm_llm=False))


def test_messages_order_and_labels(tiny_checkpoints: dict[str, Path]) -> None:
    image = Image.new("RGB", (112, 140), "white")
    first = page_messages(image, "Read.", image_first=True)[0]["content"]
    last = page_messages(image, "Read.", image_first=False, reply="x")
    assert [p["type"] for p in first] == ["image", "text"]
    assert [p["type"] for p in last[0]["content"]] == ["text", "image"] and last[1]["content"] == "x"
    processor = registry.load_processor(tiny_checkpoints["qwen2_5_vl"])
    reply = "---\nprimary_language: en\n---\nHello <b>world</b>"
    sample = encode_training_sample(processor, image, "Read.", reply, image_first=False)
    learned = sample["labels"][sample["labels"] != -100]
    assert processor.tokenizer.decode(learned) == reply + "<|im_end|>"
    prompt = encode_prompt(processor, image, "Read.", image_first=False)["input_ids"][0]
    assert sample["input_ids"][: len(prompt)].tolist() == prompt.tolist()
    assert processor.tokenizer.decode(prompt).endswith(
        "Read.<|vision_start|>" + "<|image_pad|>" * 20 + "<|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    )


def test_vllm_args() -> None:
    args = registry.vllm_args("ckpt", max_model_len=9000)
    assert args[args.index("--max-model-len") + 1] == "9000"
    assert json.loads(args[args.index("--limit-mm-per-prompt") + 1]) == {"image": 1, "video": 0}


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_image_tokens_follow_the_processors_own_resize(tiny_checkpoints: dict[str, Path], family: str) -> None:
    """The registry's resize and token count equal the real processor's image_grid_thw: small pages scaled up to
    min_pixels, letter and skinny pages in range, large ones scaled down to max_pixels, sides not multiples of
    the factor."""
    model = ModelConfig(min_pixels=56 * 56 * 4, max_pixels=448 * 448)
    processor = registry.load_processor(tiny_checkpoints[family], model)
    spec = registry.family_of(tiny_checkpoints[family])
    merge = processor.image_processor.merge_size
    for size in [(60, 90), (337, 449), (396, 512), (130, 1000), (1288, 1288), (2000, 900), (999, 1001)]:
        inputs = processor.image_processor(images=[Image.new("RGB", size, "white")], return_tensors="pt")
        _, rows, cols = (int(v) for v in inputs["image_grid_thw"][0])
        patch = spec.patch_size
        assert spec.resize(*size, model.min_pixels, model.max_pixels) == (cols * patch, rows * patch), size
        assert spec.image_tokens(*size, model.min_pixels, model.max_pixels) == rows * cols // merge**2, size
