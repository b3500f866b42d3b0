"""Issue 10 item 11: a deflate bomb costs one page (killed at the memory or time limit), never the machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pageset_factory import GOOD_MD, copy_good_pairs
from pdf_factory import deflate_bomb_pdf

from docvl import render_guard
from docvl.config import DocvlConfig
from docvl.data.pipeline import STEPS, Sample
from docvl.data.validate import ValidateOptions, validate_pageset
from docvl.errors import PdfRenderError
from docvl.infer.inputs import InputDoc
from docvl.infer.render import list_pages, render_pages
from docvl.render_guard import RenderLimits
from docvl.rendering import RenderSettings

# 8 MB of operators: about 1 s and 250 MB to render unguarded, far over the limit below.
BOMB_BYTES = 8 << 20
SMALL = RenderLimits(memory_mb=64, timeout_s=60)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.pdf"
    path.write_bytes(deflate_bomb_pdf(BOMB_BYTES))
    assert path.stat().st_size < 64 * 1024
    return path


def test_over_the_memory_limit_the_page_fails_and_the_next_page_renders(bomb: Path, fixtures_dir: Path) -> None:
    with pytest.raises(PdfRenderError, match=r"needs more than 64 MB to render \(data.render_memory_mb\)") as caught:
        render_guard.render(bomb, 0, 256, SMALL, 120.0)
    assert caught.value.path == str(bomb)
    image = render_guard.render(fixtures_dir / "pairs" / "edgar.pdf", 0, 256, SMALL, 120.0)
    assert max(image.size) == 256


def test_over_the_time_limit_the_page_fails(bomb: Path) -> None:
    with pytest.raises(PdfRenderError, match=r"longer than 0.2 s to render \(data.render_timeout_s\)"):
        render_guard.render(bomb, 0, 256, RenderLimits(memory_mb=0, timeout_s=0.2), 120.0)


def test_pdf_errors_come_back_typed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnothing here\n%%EOF\n")
    with pytest.raises(Exception, match="corrupt PDF") as caught:
        render_guard.render(broken, 0, 256, SMALL, 120.0)
    assert caught.value.check == "pdf_opens" and caught.value.path == str(broken)


def test_validate_fails_the_bomb_and_passes_the_rest(bomb: Path, fixtures_dir: Path, tmp_path: Path) -> None:
    copy_good_pairs(fixtures_dir, tmp_path)
    shutil.copy(bomb, tmp_path / "bomb.pdf")
    (tmp_path / "bomb.md").write_text(GOOD_MD + "text")
    options = ValidateOptions(render_longest_side=256, render_limits=SMALL)
    report = validate_pageset(tmp_path, options, jobs=1)
    assert report.checked == 3
    assert [(Path(f.path).name, f.check) for f in report.failures] == [("bomb.pdf", "pdf_renders")]
    assert "data.render_memory_mb" in report.failures[0].message


def test_the_training_pipeline_rejects_the_bomb(bomb: Path, fixtures_dir: Path) -> None:
    config = DocvlConfig.model_validate({"data": {"render_memory_mb": 64, "target_longest_image_dim": 256}})
    step = STEPS["render"](config)
    assert step(Sample(id="bomb", pdf=bomb)) is None
    assert step(Sample(id="edgar", pdf=fixtures_dir / "pairs" / "edgar.pdf")).image is not None


def test_convert_renders_the_bomb_as_a_failed_page(bomb: Path) -> None:
    settings = RenderSettings(256, 120.0, "png", SMALL)
    doc = InputDoc(str(bomb), "bomb.pdf", "pdf")
    assert list_pages(doc, settings, None) == [0]
    pages = render_pages(doc, settings, [0])
    assert pages[0].image_url is None and "data.render_memory_mb" in pages[0].error
