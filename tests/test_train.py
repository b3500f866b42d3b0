"""Training end to end on tiny models and real rendered pages: loss, resume, None batches, freezing, ZeRO-2,
checkpoints, LoRA export, and the bad inputs that must fail before any model is loaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pageset_factory import text_layer_pages
from safetensors.torch import load_file
from typer.testing import CliRunner

from docvl.config import DocvlConfig, find_saved_config, load_config
from docvl.models import registry
from docvl.pdf import PdfFile
from docvl.train.run import TrainResult, train

PDFS = ("edgar.pdf", "olmo-page-1.pdf", "dolma-page-1.pdf", "some_ocr1.pdf")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    """Four real one-page PDFs, each labelled with the first words of its own text layer."""
    return text_layer_pages(fixtures_dir, tmp_path_factory.mktemp("pages"), PDFS, 12)


def config_for(data: Path, out: Path, *extra: str, family: str = "qwen2_5_vl") -> DocvlConfig:
    return load_config(
        None,
        [
            f"model.name_or_path=tiny:{family}",
            f"data.train=[{{name: pages, path: '{data}'}}]",
            "data.target_longest_image_dim=112",
            "data.rotation_augmentation_p=0.0",
            f"train.output_dir={out}",
            "train.use_cpu=true",
            "train.report_to=[]",
            "train.logging_steps=1",
            "train.learning_rate=2e-3",
            "train.warmup_ratio=0.0",
            "train.save_strategy='no'",
            "train.eval_strategy='no'",
            *extra,
        ],
    )


def with_bad_pages(pages: Path, root: Path, count: int) -> Path:
    """A copy of `pages` plus `count` pages whose Markdown has no front matter (rejected by the pipeline)."""
    target = root / f"mixed{count}"
    shutil.copytree(pages, target)
    for index in range(count):
        shutil.copy(pages / PDFS[0], target / f"bad{index}.pdf")
        (target / f"bad{index}.md").write_text("no front matter here", encoding="utf-8")
    return target


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_loss_goes_down_and_frozen_groups_stay(tmp_path: Path, pages: Path, tiny_checkpoints, family: str) -> None:
    config = config_for(
        pages,
        tmp_path,
        "train.max_steps=30",
        "train.per_device_train_batch_size=2",
        "train.save_strategy=steps",
        "train.save_steps=30",
        family=family,
    )
    result = train(config)
    losses = [loss for _, loss in result.losses]
    assert len(losses) == 30 and mean(losses[-5:]) < 0.7 * mean(losses[:5])

    base = load_file(tiny_checkpoints[family] / "model.safetensors")
    trained = load_file(result.final_dir / "model.safetensors")
    fam = registry.family_of(tiny_checkpoints[family])
    changed = {"vision": [], "mlp": [], "llm": []}
    for name, tensor in base.items():
        changed[registry.param_group(name, fam)].append(not torch.equal(tensor, trained[name]))
    assert changed["vision"] and not any(changed["vision"])
    assert all(changed["mlp"]) and any(changed["llm"])

    # The checkpoint reloads with from_pretrained alone and generates; it carries the run's config and size.
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from docvl.models.messages import encode_prompt
    from docvl.prompts import build_prompt

    checkpoint = tmp_path / "checkpoint-30"
    saved = find_saved_config(checkpoint)
    assert saved is not None and saved.data.target_longest_image_dim == 112
    model = AutoModelForImageTextToText.from_pretrained(checkpoint)
    processor = AutoProcessor.from_pretrained(checkpoint)
    assert processor.image_processor.size["longest_edge"] == config.model.max_pixels
    with PdfFile(pages / PDFS[0]) as pdf:
        image = pdf.render(0, saved.data.target_longest_image_dim)
    inputs = encode_prompt(processor, image, build_prompt(saved.prompt), image_first=saved.data.image_first)
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    exported = json.loads((result.final_dir / "config.json").read_text())
    assert exported["architectures"] == [fam.vllm_architecture]


def test_resume_matches_straight_run(tmp_path: Path, pages: Path, tiny_checkpoints) -> None:
    extra = ("train.max_steps=6", "train.save_strategy=steps", "train.save_steps=3", "data.rotation_augmentation_p=0.5")
    straight = train(config_for(pages, tmp_path / "a", *extra))
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    resumed = train(config_for(pages, tmp_path / "b", *extra), resume="auto")
    assert resumed.global_step == 6
    assert [item for item in resumed.losses if item[0] > 3] == [item for item in straight.losses if item[0] > 3]
    a = load_file(tmp_path / "a" / "checkpoint-6" / "model.safetensors")
    b = load_file(tmp_path / "b" / "checkpoint-6" / "model.safetensors")
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_all_rejected_batches_under_grad_accumulation(tmp_path: Path, pages: Path, tiny_checkpoints) -> None:
    data = with_bad_pages(pages, tmp_path, 4)  # 4 good + 4 bad pages, batch 1: some accumulation steps are all bad
    config = config_for(
        data,
        tmp_path / "out",
        "train.num_train_epochs=1",
        "train.gradient_accumulation_steps=2",
        f"data.eval=[{{name: held, path: '{data}'}}]",
        "train.eval_strategy=steps",
        "train.eval_steps=2",
    )
    result = train(config)
    assert result.global_step == 4
    assert result.skipped_samples == 4 and result.rejected == {"parse_front_matter": 4}
    assert result.eval_metrics["eval_skipped_samples"] == 4 and result.eval_metrics["eval_held_loss"] > 0


def test_trainer_none_paths(tmp_path: Path, tiny_checkpoints) -> None:
    from transformers import TrainingArguments

    from docvl.train.trainer import DocvlTrainer

    model = registry.load_model(tiny_checkpoints["qwen2_5_vl"], load_config().model)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    trainer = DocvlTrainer(model=model, args=args)
    labels = torch.tensor([[-100, 5, 6, -100]])
    assert trainer.floating_point_ops(None) == 0
    trainer.model_accepts_loss_kwargs = True  # as for models that take num_items_in_batch (Qwen2.5-VL does not)
    assert trainer._get_num_items_in_batch([None], torch.device("cpu")) is None
    assert int(trainer._get_num_items_in_batch([None, {"labels": labels}], torch.device("cpu"))) == 2
    loss, logits, _ = trainer.prediction_step(model, None, prediction_loss_only=True)
    assert torch.isnan(loss) and loss.device == trainer.args.device and logits is None
    assert trainer.training_step(model, None).item() == 0.0 and trainer.skipped == {"train": 8, "eval": 8}


def test_lora_export_merged_outputs_equal_base_plus_adapter(
    tmp_path: Path, pages: Path, tiny_checkpoints, fixtures_dir: Path
) -> None:
    from peft import PeftModel

    from docvl.models.messages import encode_prompt
    from docvl.pdf import render_page
    from docvl.train.checkpoint import ADAPTER_DIR

    config = config_for(pages, tmp_path, "train.max_steps=3", "model.lora={r: 4, alpha: 8}")
    final = train(config).final_dir
    assert not any("lora" in name for name in load_file(final / "model.safetensors"))
    processor = registry.load_processor(final, config.model)
    image = render_page(fixtures_dir / "pdfs" / "edgar.pdf", 0, 112)
    inputs = encode_prompt(processor, image, "Transcribe this page.")
    merged = registry.load_model(final, config.model).eval()
    adapted = PeftModel.from_pretrained(
        registry.load_model(tiny_checkpoints["qwen2_5_vl"], config.model), str(final / ADAPTER_DIR)
    ).eval()
    with torch.inference_mode():
        merged_logits = merged(**inputs).logits
        adapted_logits = adapted(**inputs).logits
        with adapted.disable_adapter():
            base_logits = adapted(**inputs).logits
    assert (adapted_logits - base_logits).abs().max() > 1e-3  # the adapter learned something to merge
    torch.testing.assert_close(merged_logits, adapted_logits, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_zero2_two_cpu_processes(tmp_path: Path, pages: Path, tiny_checkpoints, repo_dir: Path) -> None:
    data = with_bad_pages(pages, tmp_path, 1)
    command = [
        sys.executable, "-m", "docvl.cli", "train", str(repo_dir / "configs" / "tiny-cpu.yaml"),
        f"data.train=[{{name: pages, path: '{data}'}}]", "data.eval=[]", "data.target_longest_image_dim=112",
        f"train.output_dir={tmp_path / 'out'}", "train.max_steps=3", "train.save_steps=3", "train.report_to=[]",
        f"train.deepspeed={repo_dir / 'configs' / 'deepspeed' / 'zero2.json'}", "--gpus", "2",
    ]  # fmt: skip
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    shards = sorted((tmp_path / "out" / "checkpoint-3" / "global_step3").glob("*optim_states.pt"))
    assert len(shards) == 2
    states = [torch.load(s, weights_only=False)["optimizer_state_dict"] for s in shards]
    sizes = [sum(t.numel() for t in s["single_partition_of_fp32_groups"]) for s in states]
    model = registry.load_model(tiny_checkpoints["qwen2_5_vl"], load_config().model)
    trainable = sum(
        registry.apply_freeze(model, registry.family_of(tiny_checkpoints["qwen2_5_vl"]), load_config().model).values()
    )
    assert all(s["partition_count"] == [2, 2] for s in states)
    assert sizes[0] == sizes[1] and trainable <= sum(sizes) < trainable + 64
    assert (tmp_path / "out" / "final" / "docvl.yaml").is_file()


def cli(*args: str) -> tuple[int, str]:
    from docvl.cli import app

    result = CliRunner().invoke(app, ["train", *args])
    return result.exit_code, result.output


@pytest.fixture
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr(registry, "load_model", refuse)
    monkeypatch.setattr(registry, "load_processor", refuse)


def test_bad_inputs_fail_before_loading(
    tmp_path: Path, pages: Path, repo_dir: Path, tiny_checkpoints, no_model_loading
) -> None:
    tiny = str(repo_dir / "configs" / "tiny-cpu.yaml")
    good = f"data.train=[{{name: pages, path: '{pages}'}}]"
    no_config = tmp_path / "noconfig"
    no_config.mkdir()
    odd = tmp_path / "odd"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], odd)
    (odd / "config.json").write_text(json.dumps({"model_type": "bert"}))
    bad_json = tmp_path / "ds.json"
    bad_json.write_text("{ not json")
    cases = {
        "does not exist": [f"data.train=[{{name: gone, path: '{tmp_path / 'gone'}'}}]"],
        "no config.json": [good, f"model.name_or_path={no_config}"],
        "unsupported model_type 'bert'": [good, f"model.name_or_path={odd}"],
        "does not parse as JSON": [good, f"train.deepspeed={bad_json}"],
        "--gpus 4 but this machine has 0 GPU": [good, "train.use_cpu=false", "--gpus", "4"],
        "not a checkpoint to resume": [good, "--resume", str(tmp_path)],
    }
    for message, args in cases.items():
        code, output = cli(tiny, *args)
        assert code == 2 and message in output, (message, output)
        assert len(output.strip().splitlines()) <= 2, output


def test_broken_pairs_train_on_the_good_ones(tmp_path: Path, pages: Path, tiny_checkpoints) -> None:
    data = tmp_path / "broken"
    shutil.copytree(pages, data)
    (data / PDFS[1]).unlink()
    result = train(config_for(data, tmp_path / "out", "train.max_steps=1"))
    assert isinstance(result, TrainResult) and result.global_step == 1
    assert result.broken_pairs == [(str((data / PDFS[1]).with_suffix(".md")), "PDF missing")]


def test_resume_auto_passes_over_an_incomplete_checkpoint(
    tmp_path: Path, pages: Path, tiny_checkpoints, caplog: pytest.LogCaptureFixture
) -> None:
    extra = ("train.save_strategy=steps", "train.save_steps=2")
    out = tmp_path / "out"
    train(config_for(pages, out, "train.max_steps=2", *extra))
    interrupted = out / "checkpoint-4"  # what Ctrl-C during a save left in 0.1.0: weights config, no state
    interrupted.mkdir()
    shutil.copy(out / "checkpoint-2" / "config.json", interrupted)
    with caplog.at_level("WARNING"):
        resumed = train(config_for(pages, out, "train.max_steps=4", *extra), resume="auto")
    assert "passed over incomplete checkpoint-4" in caplog.text and "resuming from checkpoint-2" in caplog.text
    assert resumed.global_step == 4 and (out / "checkpoint-4" / "trainer_state.json").is_file()
    assert (out / "checkpoint-4" / "docvl.yaml").is_file()


def test_an_interrupted_save_leaves_no_checkpoint(
    tmp_path: Path, pages: Path, tiny_checkpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docvl.train.checkpoint import checkpoints_in, resolve_resume
    from docvl.train.trainer import DocvlTrainer

    def interrupt(self: DocvlTrainer, output_dir: str) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the weights, before the trainer state

    monkeypatch.setattr(DocvlTrainer, "_save_rng_state", interrupt)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train(config_for(pages, out, "train.max_steps=1", "train.save_strategy=steps", "train.save_steps=1"))
    assert (out / ".saving" / "checkpoint-1" / "model.safetensors").is_file()
    assert checkpoints_in(out) == [] and resolve_resume("auto", out) is None


def test_a_second_run_into_the_same_folder_is_refused(
    tmp_path: Path, pages: Path, repo_dir: Path, no_model_loading
) -> None:
    from docvl.train.checkpoint import check_output_dir

    out = tmp_path / "out"
    for name in ("checkpoint-3", "final"):
        (out / name).mkdir(parents=True)
    tiny = str(repo_dir / "configs" / "tiny-cpu.yaml")
    code, output = cli(tiny, f"data.train=[{{name: pages, path: '{pages}'}}]", f"train.output_dir={out}")
    assert code == 2 and output.strip().splitlines() == [
        f"error: {out}: already holds a training run (checkpoint-3, final) "
        "(--resume auto continues it, --overwrite starts again)"
    ]
    check_output_dir(out, "auto", overwrite=False)  # resuming is what the folder is for
    check_output_dir(out, None, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == []


def test_resumed_run_keeps_counting_skipped_samples_and_evaluates_the_last_step_once(
    tmp_path: Path, pages: Path, tiny_checkpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docvl.train.trainer import DocvlTrainer

    data = with_bad_pages(pages, tmp_path, 4)
    held = f"data.eval=[{{name: held, path: '{pages}'}}]"
    extra = ("train.max_steps=6", "train.save_strategy=steps", "train.save_steps=3", held,
             "train.eval_strategy=steps", "train.eval_steps=6")  # fmt: skip
    evaluations = []
    loop = DocvlTrainer.evaluation_loop
    counted = lambda self, *args, **kwargs: evaluations.append(1) or loop(self, *args, **kwargs)  # noqa: E731
    monkeypatch.setattr(DocvlTrainer, "evaluation_loop", counted)
    straight = train(config_for(data, tmp_path / "a", *extra))
    assert len(evaluations) == 1 and straight.eval_metrics["eval_held_loss"] > 0  # step 6's eval is the final one
    before = json.loads((tmp_path / "a" / "checkpoint-3" / "trainer_state.json").read_text())["log_history"]
    assert before[-1]["skipped_samples"] > 0  # the resumed part must add to what was skipped before
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    resumed = train(config_for(data, tmp_path / "b", *extra), resume="auto")
    assert resumed.skipped_samples == straight.skipped_samples


def test_cli_training_is_quiet_about_what_users_cannot_change(tmp_path: Path, pages: Path, repo_dir: Path) -> None:
    command = [
        sys.executable, "-m", "docvl", "train", str(repo_dir / "configs" / "tiny-cpu.yaml"),
        f"data.train=[{{name: pages, path: '{pages}'}}]", "data.eval=[]", "data.target_longest_image_dim=112",
        f"train.output_dir={tmp_path / 'out'}", "train.max_steps=1", "train.logging_steps=5", "train.report_to=[]",
        "train.gradient_checkpointing=true",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("DS_ACCELERATOR", None)
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "FutureWarning" not in run.stderr and "Setting accelerator to CPU" not in run.stderr, run.stderr
    assert re.search(r"trained 1 steps: mean loss \d+\.\d{4}, ", run.stdout), run.stdout  # not "last loss -"


def test_every_sample_rejected_fails_before_training(
    tmp_path: Path, pages: Path, repo_dir: Path, tiny_checkpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 item 14: not "loss 0.0000", an untrained final/ and exit 0, but exit 1 naming the reasons."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded although no sample is usable")

    monkeypatch.setattr(registry, "load_model", refuse)
    data = with_bad_pages(pages, tmp_path, 2)
    out = tmp_path / "out"
    code, output = cli(
        str(repo_dir / "configs" / "tiny-cpu.yaml"),
        f"data.train=[{{name: pages, path: '{data}'}}]",
        "data.target_longest_image_dim=112",
        "data.max_length=20",
        f"train.output_dir={out}",
    )
    assert code == 1, output
    assert "no usable training sample: all 6 were rejected" in output
    assert "too_long 4 (longer than data.max_length 20" in output and "parse_front_matter 2" in output
    assert not (out / "final").exists()
