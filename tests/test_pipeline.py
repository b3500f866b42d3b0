"""The sample pipeline, page-set loading and mixing, and the collator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from docvl.config import DatasetSpec, load_config
from docvl.data.dataset import PageDataset, build_datasets, load_pageset, mix
from docvl.data.pipeline import Sample, SamplePipeline, check_pipeline, reformat_bold_italic
from docvl.errors import ConfigError, UsageError
from docvl.models.registry import FAMILIES, load_processor
from docvl.page import parse_page, serialize_page
from docvl.train.collator import PageCollator, padding_waste

FRONT = (
    "---\nprimary_language: en\nis_rotation_valid: {valid}\nrotation_correction: {rot}\nis_table: False\n"
    "is_diagram: False\n---\n"
)


def write_pair(root: Path, name: str, body: str, fixtures_dir: Path, *, valid: bool = True, rot: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixtures_dir / "pairs" / "edgar.pdf", root / f"{name}.pdf")
    (root / f"{name}.md").write_text(FRONT.format(valid=valid, rot=rot) + body, encoding="utf-8")
    return root / f"{name}.md"


@pytest.fixture(scope="module")
def processor(tiny_checkpoints: dict[str, Path]):
    return load_processor(tiny_checkpoints["qwen2_5_vl"])


def run(config, processor, md: Path) -> tuple[Sample | None, SamplePipeline]:
    pipeline = SamplePipeline(config, processor)
    return pipeline(Sample(id=md.stem, pdf=md.with_suffix(".pdf"), md=md)), pipeline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a \\textbf{b} c", "a **b** c"),
        ("\\textit{x \\textbf{y}}", "*x **y***"),
        ("\\(\\textbf{v}\\) and \\textbf{w}", "\\(\\textbf{v}\\) and **w**"),
        ("\\[\\textit{m} \\\\[2pt]\\] \\textit{n}", "\\[\\textit{m} \\\\[2pt]\\] *n*"),
        ("$\\textit{m}$", "$*m*$"),  # dollars are no math delimiters in the page format (a text rule rejects them)
        ("\\textbf{open", "\\textbf{open"),
    ],
)
def test_reformat_bold_italic(text: str, expected: str) -> None:
    assert reformat_bold_italic(text) == expected


def test_labels_decode_to_exact_target(tmp_path: Path, fixtures_dir: Path, processor) -> None:
    config = load_config(None, ["data.target_longest_image_dim=112", "data.image_first=false"])
    md = write_pair(
        tmp_path, "p", "Edgar was \\textbf{King} of the English.\n\n<table><tr><td>1</td></tr></table>", fixtures_dir
    )
    sample, _ = run(config, processor, md)
    labels = sample.encoded["labels"]
    target = serialize_page(parse_page(md.read_text().replace("\\textbf{King}", "**King**")))
    assert processor.tokenizer.decode(labels[labels != -100]) == target + "<|im_end|>"
    assert max(sample.image.size) == 112
    text = processor.tokenizer.decode(sample.encoded["input_ids"])
    assert text.index("Attached is one page") < text.index("<|vision_start|>")


def test_rejections_are_counted(tmp_path: Path, fixtures_dir: Path, processor) -> None:
    config = load_config(None, ["data.target_longest_image_dim=112", "data.max_length=200"])
    cases = {
        "parse_front_matter": write_pair(tmp_path, "bad", "x", fixtures_dir),
        "filter_rotated": write_pair(tmp_path, "rot", "x", fixtures_dir, valid=False, rot=90),
        "text_rules": write_pair(tmp_path, "pipe", "| a | b |\n|---|---|\n| 1 | 2 |", fixtures_dir),
        "too_long": write_pair(tmp_path, "long", "word " * 400, fixtures_dir),
        "render": write_pair(tmp_path, "nopdf", "x", fixtures_dir),
    }
    cases["parse_front_matter"].write_text("no front matter")
    cases["render"].with_suffix(".pdf").write_bytes(b"%PDF-1.4 garbage")
    for reason, md in cases.items():
        sample, pipeline = run(config, processor, md)
        assert sample is None and pipeline.rejected == {reason: 1}, reason


def test_rotation_augmentation(tmp_path: Path, fixtures_dir: Path, processor) -> None:
    config = load_config(None, ["data.target_longest_image_dim=112", "data.rotation_augmentation_p=1.0"])
    md = write_pair(tmp_path, "p", "Hello", fixtures_dir)
    first, _ = run(config, processor, md)
    again, _ = run(config, processor, md)
    turn = first.notes["rotated"]
    assert again.notes["rotated"] == turn
    fm = first.page.front_matter
    assert not fm.is_rotation_valid and fm.rotation_correction == (360 - turn) % 360
    upright = first.image.transpose(
        {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}[turn]
    )
    assert upright.size[1] == 112 and upright.size[0] < 112
    assert "rotation_correction: " + str(fm.rotation_correction) in first.target


def test_a_moved_page_set_trains_the_same(tmp_path: Path, fixtures_dir: Path, processor) -> None:
    """Augmentation is drawn per pair from its place in the set, not its path on disk: the same set in two
    folders (the quickstart's, a test's temporary one) gives the same training items."""
    config = load_config(None, ["data.target_longest_image_dim=112", "data.rotation_augmentation_p=0.5"])
    for name in "abcdefgh":
        write_pair(tmp_path / "here" / "train", name, f"Page {name}", fixtures_dir)
    shutil.copytree(tmp_path / "here", tmp_path / "elsewhere" / "deeper")
    items = []
    for root in (tmp_path / "here", tmp_path / "elsewhere" / "deeper"):
        pageset = load_pageset(DatasetSpec(name="s", path=str(root)), "train")
        dataset = PageDataset(pageset.pairs, SamplePipeline(config, processor))
        items.append([dataset[i] for i in range(len(dataset))])
    turned = ["is_rotation_valid: False" in processor.tokenizer.decode(item["input_ids"]) for item in items[0]]
    assert any(turned) and not all(turned)
    for here, there in zip(*items, strict=True):
        assert here["input_ids"].tolist() == there["input_ids"].tolist()
        assert here["pixel_values"].tolist() == there["pixel_values"].tolist()


def test_pipeline_config_checked_before_use() -> None:
    with pytest.raises(ConfigError, match="unknown pipeline step 'rendr'"):
        check_pipeline(["parse_front_matter", "rendr"])
    with pytest.raises(ConfigError, match="needs page"):
        check_pipeline(["render", "front_matter_output", "parse_front_matter", "prompt", "tokenize"])
    with pytest.raises(ConfigError, match="tokenize"):
        check_pipeline(["parse_front_matter", "render"])
    check_pipeline(["parse_front_matter", "render", "prompt", "front_matter_output", "tokenize"])


def test_pagesets_broken_pairs_and_mixing(tmp_path: Path, fixtures_dir: Path) -> None:
    good = tmp_path / "set"
    for name in "abcd":
        write_pair(good, name, "Hello", fixtures_dir)
    (good / "d.pdf").unlink()
    pageset = load_pageset(DatasetSpec(name="s", path=str(good)), "train")
    assert len(pageset.pairs) == 3 and pageset.broken == [(str(good / "d.md"), "PDF missing")]
    mixed = mix([pageset, pageset], [2.0, 1 / 3], seed=1)
    assert len(mixed) == 7 and mixed == mix([pageset, pageset], [2.0, 1 / 3], seed=1)
    with pytest.raises(UsageError, match="does not exist"):
        load_pageset(DatasetSpec(name="m", path=str(tmp_path / "missing")), "train")
    with pytest.raises(UsageError, match="no training data"):
        build_datasets(load_config())


def test_collator_pads_and_drops(tmp_path: Path, fixtures_dir: Path, processor) -> None:
    config = load_config(None, ["data.target_longest_image_dim=112"])
    write_pair(tmp_path, "s", "Hi", fixtures_dir)
    write_pair(tmp_path, "l", "Hello there " * 10, fixtures_dir)
    dataset = PageDataset(
        load_pageset(DatasetSpec(name="t", path=str(tmp_path)), "train").pairs, SamplePipeline(config, processor)
    )
    items = [dataset[i] for i in range(len(dataset))]
    collate = PageCollator(processor.tokenizer.pad_token_id)
    batch = collate([items[0], None, items[1]])
    assert batch["num_skipped"] == 1 and batch["input_ids"].shape[0] == 2
    assert batch["pixel_values"].shape[0] == sum(int(g.prod()) for g in batch["image_grid_thw"])
    shorter = int(batch["attention_mask"].sum(1).min())
    assert (batch["labels"][batch["attention_mask"].sum(1).argmin(), shorter:] == -100).all()
    assert collate([None, None]) is None
    assert 0 < padding_waste([batch]) < 0.5
    estimates = dict(
        zip([p.md.stem for p in dataset.pairs], dataset.length_estimates(FAMILIES["qwen2_5_vl"], config), strict=True)
    )
    assert estimates["l"] > estimates["s"] > 0
