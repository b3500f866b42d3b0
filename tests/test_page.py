from pathlib import Path

import pytest

from docvl.errors import PageFormatError
from docvl.page import FrontMatter, Page, parse_page, serialize_page

CANONICAL = (
    "---\nprimary_language: en\nis_rotation_valid: True\nrotation_correction: 0\n"
    "is_table: False\nis_diagram: False\n---\nHello\n\nWorld"
)


def test_fixture_pairs_round_trip_exactly(fixtures_dir: Path) -> None:
    for md in sorted((fixtures_dir / "pairs").glob("*.md")):
        text = md.read_text(encoding="utf-8")
        assert serialize_page(parse_page(text)) == text, md.name


def test_blank_page_is_front_matter_only(fixtures_dir: Path) -> None:
    page = parse_page((fixtures_dir / "pairs" / "blanktext.md").read_text())
    assert page.text == ""
    assert serialize_page(page).endswith("is_diagram: False\n---")


def test_parse_values() -> None:
    page = parse_page(CANONICAL)
    assert page == Page(FrontMatter("en", True, 0, False, False), "Hello\n\nWorld")


def test_accepts_real_world_spellings_and_normalizes() -> None:
    text = (
        "---\nprimary_language: None\nis_rotation_valid: true\nrotation_correction: 90\n"
        "is_table: false\nis_diagram: 'False'\n---\nx"
    )
    page = parse_page(text)
    assert page.front_matter == FrontMatter(None, True, 90, False, False)
    assert serialize_page(page).startswith("---\nprimary_language: null\nis_rotation_valid: True\n")


def test_language_no_stays_a_string() -> None:
    page = parse_page(CANONICAL.replace("primary_language: en", "primary_language: no"))
    assert page.front_matter.primary_language == "no"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("rotation_correction: 0", "rotation_correction: 45"), "must be one of 0, 90, 180, 270 (got 45)"),
        (("is_table: False\n", ""), "missing field is_table"),
        (("is_table", "is_tabel"), "unknown field 'is_tabel' (did you mean 'is_table'?)"),
        (("is_diagram: False", "is_diagram: maybe"), "'is_diagram' must be True or False"),
        (("---\nHello", "Hello"), "not closed"),
        (("---\nprimary", "primary"), "no front matter"),
    ],
)
def test_strict_errors(change: tuple[str, str], message: str) -> None:
    with pytest.raises(PageFormatError) as info:
        parse_page(CANONICAL.replace(*change, 1))
    assert message in str(info.value)


def test_lenient_mode_for_model_output() -> None:
    reply = "```yaml\n---\nprimary_language: fr\nis_table: True\nextra: 1\n---\n\nBonjour\n```\n"
    page = parse_page(reply, strict=False)
    assert page.front_matter == FrontMatter("fr", True, 0, True, False)
    assert page.text == "Bonjour"
    with pytest.raises(PageFormatError):
        parse_page("just text, no front matter", strict=False)
    with pytest.raises(PageFormatError, match="got 45"):
        parse_page("---\nrotation_correction: 45\n---\n", strict=False)


def test_serialize_then_parse_is_identity() -> None:
    page = Page(FrontMatter(None, False, 270, True, True), "| not | a table |\n---\nmore")
    assert parse_page(serialize_page(page)) == page


def test_rotation_correction_undoes_the_turn() -> None:
    from PIL import Image

    from docvl.page import rotate_image

    image = Image.new("L", (4, 2))
    image.putpixel((0, 0), 255)  # a marker in the top-left corner of an upright page
    for turn in (90, 180, 270):
        turned = rotate_image(image, turn)
        correction = (360 - turn) % 360  # what training labels a page it turned by `turn`
        assert list(rotate_image(turned, correction).getdata()) == list(image.getdata())
    assert rotate_image(image, 90).size == (2, 4)
    assert rotate_image(image, 90).getpixel((0, 3)) == 255  # counter-clockwise: top-left goes to bottom-left
