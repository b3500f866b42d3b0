"""`docvl export --soup`: the element-wise mean of two tiny checkpoints, loadable and evaluable; one clear error
for checkpoints that are not one model, for LoRA adapters and for an output in the way, never a half-written DIR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_invoke import invoke
from safetensors.torch import load_file, save_file

from docvl.config import load_config, save_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OVERRIDES = [
    "model.name_or_path=tiny:qwen2_5_vl",
    "data.target_longest_image_dim=112",
    "eval.max_new_tokens=8",
    "convert.temperatures=[0.0]",
    "convert.render_workers=1",
    "serve.backend=transformers",
]


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two tiny Qwen2.5-VL checkpoints that differ only in their random seed, each with its docvl.yaml."""
    from docvl.models.tiny import build_tiny

    root = tmp_path_factory.mktemp("soup")
    checkpoints = (build_tiny("qwen2_5_vl", root / "a", seed=1), build_tiny("qwen2_5_vl", root / "b", seed=2))
    for path in checkpoints:
        save_config(load_config(None, OVERRIDES), path)
    return checkpoints


def _clone(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_soup_is_the_mean_and_loads_and_evaluates(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    out = tmp_path / "soup"
    code, stdout, stderr = invoke("export", "--soup", str(a), str(b), "--out", str(out), "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["out"] == str(out)
    weights_a, weights_b = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    souped = load_file(out / "model.safetensors")
    assert souped.keys() == weights_a.keys()
    for name, tensor in souped.items():
        x, y = weights_a[name], weights_b[name]
        assert tensor.dtype == x.dtype
        assert tensor.equal(((x.float() + y.float()) / 2).to(x.dtype)), name
    assert any(not weights_a[n].equal(weights_b[n]) for n in souped)  # the seeds did make different weights
    saved = load_config(out / "docvl.yaml")
    assert saved.model.souped_from == [str(a.resolve()), str(b.resolve())]
    assert saved.model.model_copy(update={"souped_from": []}) == load_config(a / "docvl.yaml").model
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in a.iterdir())
    # transformers loads it with nothing else, and docvl evaluates it with its own config.
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(out)
    assert model.get_input_embeddings().weight.equal(souped["model.embed_tokens.weight"])
    AutoProcessor.from_pretrained(out)
    pages = tmp_path / "pages"
    pages.mkdir()
    for suffix in (".pdf", ".md"):
        shutil.copy(EXAMPLES / "pairs" / f"edgar{suffix}", pages / f"edgar{suffix}")
    code, stdout, stderr = invoke("eval", str(out), "--sets", f"p={pages}", "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["sets"]["p"]["pages"] == 1


def _no_output(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".soup-" in p.name]  # no staging folder left behind


def test_checkpoints_of_different_models_are_refused(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    out = tmp_path / "soup"
    other = _clone(b, tmp_path / "other-config")
    save_config(load_config(None, [*OVERRIDES, "model.max_pixels=50000"]), other)
    code, _, stderr = invoke("export", "--soup", str(a), str(other), "--out", str(out))
    assert code == 2
    assert f"{other}: not the same model as {a}: model.max_pixels: 1646400 != 50000" in " ".join(stderr.split())
    _no_output(out)

    fewer = _clone(b, tmp_path / "fewer")
    tensors = load_file(fewer / "model.safetensors")
    dropped = sorted(tensors)[0]
    save_file({k: v for k, v in tensors.items() if k != dropped}, fewer / "model.safetensors", {"format": "pt"})
    code, _, stderr = invoke("export", "--soup", str(a), str(fewer), "--out", str(out))
    assert code == 2 and f"it has no tensor '{dropped}'" in " ".join(stderr.split())
    _no_output(out)

    reshaped = _clone(b, tmp_path / "reshaped")
    tensors = load_file(reshaped / "model.safetensors")
    tensors["model.norm.weight"] = tensors["model.norm.weight"][:-1]
    save_file(tensors, reshaped / "model.safetensors", {"format": "pt"})
    code, _, stderr = invoke("export", "--soup", str(a), str(reshaped), "--out", str(out))
    assert code == 2 and "tensor 'model.norm.weight' is torch.float32 [" in stderr
    _no_output(out)  # found while writing: the staging folder is removed


def test_lora_adapters_are_merged_into_their_base_then_averaged(two: tuple[Path, Path], tmp_path: Path) -> None:
    """Two adapter checkpoints of one base: the soup is the mean of the two merged models, not of the adapters."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import Qwen2_5_VLForConditionalGeneration

    base = two[0]
    config = load_config(None, [*OVERRIDES, f"model.name_or_path={base}", "model.lora={r: 2, alpha: 4}"])
    adapters = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(base)
        lora = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], init_lora_weights=False)
        get_peft_model(model, lora).save_pretrained(tmp_path / f"checkpoint-{seed}")
        save_config(config, tmp_path / f"checkpoint-{seed}")
        adapters.append(tmp_path / f"checkpoint-{seed}")
    out = tmp_path / "soup"
    code, _, stderr = invoke("export", "--soup", *map(str, adapters), "--out", str(out))
    assert code == 0, stderr
    merged = [
        PeftModel.from_pretrained(Qwen2_5_VLForConditionalGeneration.from_pretrained(base), str(path))
        .merge_and_unload()
        .state_dict()
        for path in adapters
    ]
    souped = Qwen2_5_VLForConditionalGeneration.from_pretrained(out).state_dict()
    plain = Qwen2_5_VLForConditionalGeneration.from_pretrained(base).state_dict()
    assert souped.keys() == merged[0].keys()
    changed = [name for name in souped if not plain[name].equal(merged[0][name])]
    assert changed and all("q_proj" in name for name in changed)  # the adapters moved the q projections only
    for name, tensor in souped.items():
        assert torch.allclose(tensor, (merged[0][name] + merged[1][name]) / 2, rtol=0, atol=1e-6), name
    assert load_config(out / "docvl.yaml").model.souped_from == [str(p.resolve()) for p in adapters]
    assert not (out / "adapter_config.json").exists() and (out / "tokenizer.json").is_file()


def test_single_checkpoints_and_occupied_outputs_are_usage_errors(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    out = tmp_path / "soup"
    cases = {
        "at least two checkpoints": ("--soup", str(a), "--out", str(out)),
        "say what to export": (str(a), str(b), "--out", str(out)),
        "not a docvl checkpoint": ("--soup", str(a), str(tmp_path), "--out", str(out)),
    }
    for message, args in cases.items():
        code, _, stderr = invoke("export", *args)
        assert code == 2 and message in stderr, (message, stderr)
        _no_output(out)
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, stderr = invoke("export", "--soup", str(a), str(b), "--out", str(out))
    assert code == 2 and "not an empty folder" in stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
