"""`prepare --kind synthetic`: reproducible pages whose gold Markdown is exact, and unit tests they pass."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from PIL import ImageChops
from typer.testing import CliRunner

from docvl.cli import app
from docvl.config import SyntheticConfig
from docvl.data.synthetic_layout import plan_page
from docvl.data.synthetic_render import render_image_only, render_vector
from docvl.page import parse_page, rotate_image
from docvl.pdf import PdfFile
from docvl.scoring.normalize import normalize_text

runner = CliRunner()
# Every page kind shows up within a dozen pages.
VARIED = [
    "synthetic.pages=12",
    "synthetic.seed=7",
    "synthetic.rotated_ratio=0.3",
    "synthetic.blank_ratio=0.1",
    "synthetic.image_only_ratio=0.3",
    "synthetic.two_column_ratio=0.3",
    "synthetic.table_ratio=0.3",
    "synthetic.math_ratio=0.2",
    "synthetic.list_ratio=0.2",
    "synthetic.header_footer_ratio=0.7",
]


def _prepare(out: Path, *overrides: str) -> dict:
    args = ["prepare", "--kind", "synthetic", "--out", str(out), "--jobs", "1", "--eval-fraction", "0.5", "--json"]
    result = runner.invoke(app, [*args, *[a for o in overrides for a in ("--set", o)]])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_pages_are_reproducible_and_parse_and_the_bench_passes_on_gold(tmp_path: Path) -> None:
    summary = _prepare(tmp_path / "a", *VARIED)
    assert (summary["pages"], summary["failed"], summary["duplicates"]) == (12, 0, 0)
    _prepare(tmp_path / "b", *VARIED)
    for split in ("train", "eval"):
        for path in sorted((tmp_path / "a" / split).iterdir()):
            assert path.read_bytes() == (tmp_path / "b" / split / path.name).read_bytes(), path.name

    pages = {p.stem: parse_page(p.read_text()) for p in (tmp_path / "a").glob("*/*.md")}
    assert any(p.front_matter.rotation_correction for p in pages.values())
    assert any(p.front_matter.is_table for p in pages.values())
    assert any(not p.text for p in pages.values())
    assert all(p.front_matter.is_rotation_valid == (p.front_matter.rotation_correction == 0) for p in pages.values())

    bench = tmp_path / "a" / "bench"
    records = [json.loads(line) for line in (bench / "synthetic.jsonl").read_text().splitlines()]
    assert {r["type"] for r in records} >= {"present", "order", "baseline"}
    assert {Path(r["pdf"]).stem for r in records} == {p.stem for p in (tmp_path / "a" / "eval").glob("*.pdf")}
    outputs = tmp_path / "gold-outputs"
    outputs.mkdir()
    for name, page in pages.items():
        (outputs / f"{name}_pg1_repeat1.md").write_text(page.text)
    scored = runner.invoke(app, ["eval", "--bench", str(bench), "--outputs", str(outputs), "--json"])
    report = json.loads(scored.stdout)
    assert report["bench"]["overall"] == 1.0, [t for t in report["bench"]["tests"] if not t["pass"]]


def test_both_pdf_kinds_carry_the_gold_text(tmp_path: Path) -> None:
    cfg = SyntheticConfig(rotated_ratio=0, blank_ratio=0, table_ratio=0, math_ratio=0, list_ratio=0)
    plan = plan_page(cfg, 3)
    body = parse_page(plan.markdown).text
    with PdfFile(render_vector(plan)) as pdf:
        layer = normalize_text(pdf.text(0))
    words = normalize_text(body.replace("#", "")).split()
    assert words and all(word in layer for word in words)
    with PdfFile(render_image_only(plan, 72)) as pdf:
        assert pdf.text(0).strip() == ""
        scan = pdf.render(0, 400).convert("L")
    with PdfFile(render_vector(plan)) as pdf:
        vector = pdf.render(0, 400).convert("L")
    dark = sum(ImageChops.difference(scan, vector).point(lambda v: 255 if v > 128 else 0).histogram()[255:])
    assert dark < 0.01 * 400 * 400  # the scan shows the same page


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_turned_pages_come_upright_with_their_rotation_correction(rotation: int) -> None:
    upright = plan_page(SyntheticConfig(rotated_ratio=0, blank_ratio=0), 5)
    turned = dataclasses.replace(upright, rotation=rotation)
    assert parse_page(turned.markdown).front_matter.rotation_correction == rotation
    with PdfFile(render_vector(turned)) as pdf:
        fixed = rotate_image(pdf.render(0, 300), rotation).convert("L")
    with PdfFile(render_vector(upright)) as pdf:
        reference = pdf.render(0, 300).convert("L")
    assert fixed.size == reference.size
    off = ImageChops.difference(fixed, reference).point(lambda v: 255 if v > 128 else 0).histogram()[255]
    assert off < 0.01 * fixed.size[0] * fixed.size[1]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("synthetic.font_size_max=400", "synthetic.font_size_max"),
        ("synthetic.pages=-1", "synthetic.pages"),
        ("synthetic.language=ru", "synthetic.language"),
        ("synthetic.fonts=[Comic-Sans]", "synthetic.fonts"),
        ("synthetic.font_size_min=20", "synthetic.font_size_min"),
    ],
)
def test_keys_that_cannot_work_fail_before_generation_naming_the_key(tmp_path: Path, override: str, key: str) -> None:
    result = runner.invoke(app, ["prepare", "--kind", "synthetic", "--out", str(tmp_path / "p"), "--set", override])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], result.output
    assert not (tmp_path / "p" / "manifest.jsonl").exists()


def test_synthetic_takes_no_sources_and_other_kinds_need_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", str(tmp_path), "--kind", "synthetic", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "takes no sources" in result.output
    result = runner.invoke(app, ["prepare", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "no sources" in result.output


def test_turned_pages_train_as_they_are_and_augmentation_composes_with_their_turn(
    tmp_path: Path, tiny_checkpoints: dict[str, Path]
) -> None:
    """The learnable recipe leaves out `filter_rotated` (synthetic turn labels are exact): a turned page keeps its
    label, and a further augmentation turn yields the correction that undoes both."""
    from docvl.config import load_config
    from docvl.data.pipeline import DEFAULT_PIPELINE, Sample, SamplePipeline
    from docvl.models.registry import load_processor
    from docvl.quickstart import learn_config

    steps = load_config(learn_config()).data.pipeline
    assert steps and "filter_rotated" not in steps and set(steps) == set(DEFAULT_PIPELINE) - {"filter_rotated"}
    turned = dataclasses.replace(plan_page(SyntheticConfig(rotated_ratio=0, blank_ratio=0), 5), rotation=90)
    (tmp_path / "p.pdf").write_bytes(render_vector(turned))
    (tmp_path / "p.md").write_text(turned.markdown)
    processor = load_processor(tiny_checkpoints["qwen2_5_vl"])
    corrections = {}
    for p in (0.0, 1.0):
        config = load_config(learn_config(), [f"data.rotation_augmentation_p={p}"])
        sample = SamplePipeline(config, processor)(Sample(id="p", pdf=tmp_path / "p.pdf", md=tmp_path / "p.md"))
        fm = sample.page.front_matter
        assert fm.is_rotation_valid == (fm.rotation_correction == 0)
        assert f"rotation_correction: {fm.rotation_correction}" in sample.target
        upright = rotate_image(sample.image, fm.rotation_correction)
        assert (upright.size[0] > upright.size[1]) == (turned.width > turned.height)  # upright again
        corrections[p] = (fm.rotation_correction, sample.notes.get("rotated", 0))
    assert corrections[0.0] == (90, 0)
    correction, turn = corrections[1.0]
    assert turn and correction == (90 + 360 - turn) % 360
