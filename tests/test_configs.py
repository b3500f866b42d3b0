"""Every shipped config loads, validates and says how to run it; the big ones match the seed recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docvl.config import load_config
from docvl.data.pipeline import DEFAULT_PIPELINE, check_pipeline
from docvl.models import registry
from docvl.train.deepspeed import load_deepspeed_config, zero_stage
from docvl.train.launcher import Launch
from docvl.train.run import plan

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
RECIPES = ("qwen2_5_vl_7b", "qwen3_vl_8b")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_validates(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# docvl ") and f"configs/{path.name}" in first
    config = load_config(path)
    check_pipeline(tuple(config.data.pipeline or DEFAULT_PIPELINE))
    deepspeed = load_deepspeed_config(config.train.deepspeed)
    if deepspeed is not None:
        assert zero_stage(deepspeed) in (2, 3)
    if config.train.method == "grpo":  # starts from the final model of an SFT run
        assert config.model.name_or_path.endswith("/final")
    elif not config.model.name_or_path.startswith("tiny:"):
        assert registry.resolve_checkpoint(config.model.name_or_path) == config.model.name_or_path  # a hub id


def test_tiny_config_passes_every_pre_load_check(monkeypatch: pytest.MonkeyPatch, tiny_checkpoints) -> None:
    monkeypatch.chdir(REPO)
    checked = plan(load_config(REPO / "configs" / "tiny-cpu.yaml"), Launch(), None)
    assert checked.family.name == "Qwen2.5-VL" and checked.train_sets[0].pairs and checked.eval_sets


@pytest.mark.parametrize("name", RECIPES)
def test_recipes_match_the_seed_settings(name: str) -> None:
    config = load_config(REPO / "configs" / f"{name}.yaml")
    first = (REPO / "configs" / f"{name}.yaml").read_text().splitlines()[0]
    gpus = int(first.split("--gpus")[1])
    t = config.train
    assert t.per_device_train_batch_size * t.gradient_accumulation_steps * gpus == 64
    assert (t.learning_rate, t.lr_scheduler_type, t.warmup_ratio) == (2e-5, "linear", 0.1)
    assert t.bf16 and t.gradient_checkpointing
    assert config.model.attn_implementation == "flash_attention_2" and not config.model.tune_mm_vision
    assert (config.data.target_longest_image_dim, config.data.max_length) == (1288, 8192)
    deepspeed = load_deepspeed_config(str(REPO / t.deepspeed))
    assert zero_stage(deepspeed) == 2 and "offload_optimizer" not in deepspeed["zero_optimization"]


@pytest.mark.parametrize("name", RECIPES)
def test_grpo_recipes_follow_olmocr2_after_their_sft_recipe(name: str) -> None:
    from docvl.train.grpo_plan import check_grpo

    path = REPO / "configs" / f"{name}_grpo.yaml"
    config, sft = load_config(path), load_config(REPO / "configs" / f"{name}.yaml")
    assert config.model.name_or_path == f"{sft.train.output_dir}/final"
    g, t = config.grpo, config.train
    assert (g.num_generations, g.temperature, t.learning_rate) == (28, 0.8, 2e-6) and 0 <= g.beta <= 0.01
    assert g.use_vllm and g.reward_weights["unit_tests"] == max(g.reward_weights.values())
    check_grpo(config, int(path.read_text().splitlines()[0].split("--gpus")[1]))  # whole groups per batch


def test_deepspeed_files() -> None:
    files = {p.stem: json.loads(p.read_text()) for p in (REPO / "configs" / "deepspeed").glob("*.json")}
    assert set(files) == {"zero2", "zero3", "zero2_offload"}
    for data in files.values():
        assert "optimizer" not in data and "scheduler" not in data  # the Trainer's AdamW and schedule are used
        assert data["train_micro_batch_size_per_gpu"] == "auto" and data["gradient_accumulation_steps"] == "auto"
    assert zero_stage(files["zero3"]) == 3
    assert files["zero2_offload"]["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
