"""Rewards on hand-made replies: each reward's exact value, worked out by hand from the page below.

The gold body, once normalized (whitespace runs to one space), is H + " " + S1 + " " + S2: 15 + 1 + 47 + 1 + 34 = 98
characters. The page has five tests: S1 present, S2 present, S1 before S2, "Page 7" absent, baseline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docvl.errors import ConfigError
from docvl.scoring.bench import LoadedTests, score_outputs
from docvl.scoring.bench_tests import load_test
from docvl.scoring.rewards import REWARDS, Completion, PageGold, reward_name_problem, score_rewards
from docvl.scoring.testgen import generate_tests

H = "# Annual Report"
S1 = "The harvest was larger than expected this year."
S2 = "Prices fell in the second quarter."
GOLD_LENGTH = 98
FRONT = """---
primary_language: en
is_rotation_valid: True
rotation_correction: 0
is_table: False
is_diagram: False
---
"""
GOLD = FRONT + f"{H}\n{S1}\n{S2}"
RECORDS = [
    {"type": "present", "text": S1},
    {"type": "present", "text": S2},
    {"type": "order", "before": "The harvest was larger", "after": "Prices fell in the second"},
    {"type": "absent", "text": "Page 7"},
    {"type": "baseline"},
]
TESTS = tuple(
    load_test({"pdf": "report.pdf", "page": 1, "id": f"t{n}", "max_diffs": 0, **r}) for n, r in enumerate(RECORDS)
)
PAGE = PageGold(pdf="report.pdf", markdown=GOLD, tests=TESTS)
BROKEN_FRONT = FRONT.replace("rotation_correction: 0", "rotation_correction: 45")
# The broken reply's whole text, normalized, is its front matter block then the gold body: only insertions.
BROKEN_PREFIX = (
    "--- primary_language: en is_rotation_valid: True rotation_correction: 45 is_table: False is_diagram: False --- "
)
LOOP = " la" * 400  # 1200 characters of one 3-character unit: over convert's 1000, and 400 > baseline's 30 repeats

REPLIES = {
    # name: (reply, finished, unit_tests, front_matter, eos, similarity)
    "perfect": (GOLD, True, 1.0, 1.0, 1.0, 1.0),
    # S2 is neither present nor after S1: two of five tests fail.
    "missing a sentence": (FRONT + f"{H}\n{S1}", True, 3 / 5, 1.0, 1.0, 1 - 35 / GOLD_LENGTH),
    "wrong order": (FRONT + f"{S2}\n{H}\n{S1}", True, 4 / 5, 1.0, 1.0, 1 - 70 / GOLD_LENGTH),
    "wrong table flag": (GOLD.replace("is_table: False", "is_table: True"), True, 1.0, 4 / 5, 1.0, 1.0),
    "broken front matter": (
        BROKEN_FRONT + f"{H}\n{S1}\n{S2}",
        True,
        1.0,
        0.0,
        1.0,
        1 - len(BROKEN_PREFIX) / (len(BROKEN_PREFIX) + GOLD_LENGTH),
    ),
    "cut off at length": (FRONT + f"{H}\n{S1}\nPrices fell in", False, 3 / 5, 1.0, 0.0, 1 - 20 / GOLD_LENGTH),
    "repetitive": (GOLD + LOOP, True, 4 / 5, 1.0, 0.0, GOLD_LENGTH / (GOLD_LENGTH + len(LOOP))),
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_each_reward_has_its_hand_computed_value(name: str) -> None:
    text, finished, *expected = REPLIES[name]
    completion = Completion(text, finished)
    got = [REWARDS[reward](completion, PAGE) for reward in ("unit_tests", "front_matter", "eos", "similarity")]
    assert got == pytest.approx(expected, abs=1e-12)


def test_unit_tests_reward_is_the_bench_verdict(tmp_path: Path) -> None:
    """The replies convert would deliver, scored by `docvl eval --bench`'s scorer, give the same fraction."""
    for name, (text, finished, *_) in REPLIES.items():
        if name == "broken front matter":
            continue  # convert delivers no text for it (judged on its whole text, see test above)
        out = tmp_path / name.replace(" ", "_")
        out.mkdir()
        body = text.split("---\n", 2)[2]  # eval writes the delivered body; every reply here has a front matter block
        (out / "report_pg1_repeat1.md").write_text(body, encoding="utf-8")
        report = score_outputs(LoadedTests({"page.jsonl": list(TESTS)}, []), out)
        assert REWARDS["unit_tests"](Completion(text, finished), PAGE) == report.overall, name


def test_tests_generated_from_the_gold_page_pass_on_it() -> None:
    tests = tuple(load_test(record) for record in generate_tests(GOLD, "report.pdf", absent=["Page 7"]))
    page = PageGold("report.pdf", GOLD, tests)
    assert REWARDS["unit_tests"](Completion(GOLD, True), page) == 1.0
    assert REWARDS["unit_tests"](Completion(FRONT + H, True), page) < 1.0


def test_rewards_without_what_they_need_do_not_apply() -> None:
    reply = Completion(GOLD, True)
    no_tests = PageGold("report.pdf", GOLD, ())
    tests_only = PageGold("report.pdf", "", TESTS)
    body_only = PageGold("report.pdf", f"{H}\n{S1}\n{S2}", TESTS)
    assert REWARDS["unit_tests"](reply, no_tests) is None
    assert REWARDS["front_matter"](reply, tests_only) is None
    assert REWARDS["similarity"](reply, tests_only) is None
    assert REWARDS["front_matter"](reply, body_only) is None
    assert REWARDS["similarity"](reply, body_only) == 1.0
    assert REWARDS["eos"](reply, tests_only) == 1.0


def test_total_is_the_weighted_mean_over_the_rewards_that_apply() -> None:
    weights = {"unit_tests": 3.0, "front_matter": 1.0, "eos": 1.0, "similarity": 0.0}
    text, finished, *_ = REPLIES["cut off at length"]
    scores = score_rewards(weights, Completion(text, finished), PAGE)
    assert scores.parts == pytest.approx(
        {"unit_tests": 3 / 5, "front_matter": 1.0, "eos": 0.0, "similarity": 1 - 20 / GOLD_LENGTH}
    )
    assert scores.total == pytest.approx((3 * 3 / 5 + 1.0 + 0.0) / 5)
    # Without tests, unit_tests does not apply and the other weights share the whole.
    no_tests = score_rewards(weights, Completion(text, finished), PageGold("report.pdf", GOLD, ()))
    assert no_tests.parts["unit_tests"] is None
    assert no_tests.total == pytest.approx(0.5)
    # Nothing weighted applies: no total rather than a silent zero.
    assert score_rewards({"front_matter": 1.0}, Completion(GOLD, True), PageGold("p.pdf", "", TESTS)).total is None


def test_unknown_reward_names_say_what_was_meant() -> None:
    assert reward_name_problem("unit_tests") is None
    assert reward_name_problem("unit_test") == "unknown reward 'unit_test' (did you mean 'unit_tests'?)"
    assert "known: unit_tests, front_matter, eos, similarity" in str(reward_name_problem("zzz"))
    with pytest.raises(ConfigError, match="did you mean 'front_matter'"):
        score_rewards({"frontmatter": 1.0}, Completion(GOLD, True), PAGE)
    with pytest.raises(ConfigError, match="negative weight"):
        score_rewards({"eos": -1.0}, Completion(GOLD, True), PAGE)
