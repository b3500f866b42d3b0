"""`docvl eval` end to end on CPU: a tiny model trained for two steps through the real training path, evaluated
on a held-out page set (alone and side by side), on olmOCR-bench with pre-written and generated outputs, and
on bad input; plus the per-page scoring rules and the generation eval logged during training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_invoke import invoke

from docvl.config import load_config, save_config
from docvl.judge import Outcome, Reason
from docvl.page import FrontMatter, Page
from docvl.results import PageResult
from docvl.scoring import score_bench
from docvl.scoring.pages import score_page
from docvl.train.run import train

EVAL_PAGES = ("edgar", "untable", "blanktext")  # text, an HTML table, a blank page
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoints: dict[str, Path]) -> Path:
    """`train()` for two steps, a checkpoint after each, eval loss and generation eval logged at step 2."""
    root = tmp_path_factory.mktemp("eval")
    pages = root / "pages"
    for split, names in (("train", ("edgar",)), ("eval", EVAL_PAGES)):
        (pages / split).mkdir(parents=True)
        for name in names:
            for suffix in (".pdf", ".md"):
                shutil.copy(EXAMPLES / "pairs" / f"{name}{suffix}", pages / split / f"{name}{suffix}")
    config = load_config(
        None,
        [
            "model.name_or_path=tiny:qwen2_5_vl",
            f"data.train=[{{name: pages, path: '{pages}'}}]",
            f"data.eval=[{{name: pages, path: '{pages}'}}]",
            "data.target_longest_image_dim=112",
            "data.rotation_augmentation_p=0.0",
            f"train.output_dir={root / 'run'}",
            "train.use_cpu=true",
            "train.report_to=[]",
            "train.max_steps=2",
            "train.learning_rate=5e-3",
            "train.warmup_ratio=0.0",
            "train.logging_steps=1",
            "train.save_strategy=steps",
            "train.save_steps=1",
            "train.eval_strategy=steps",
            "train.eval_steps=2",
            "eval.max_new_tokens=8",
            "eval.generate_every_steps=2",
            "eval.generate_samples=2",
            "convert.temperatures=[0.0]",
            "convert.render_workers=1",
            "serve.backend=transformers",
        ],
    )
    train(config)
    save_config(config, root)
    return root


def test_eval_checkpoint_end_to_end(run_dir: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    code, stdout, stderr = invoke("eval", "checkpoint-2", "--config", str(run_dir / "docvl.yaml"), "--json",
                                  "--report", str(report_file))  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert json.loads(report_file.read_text()) == report
    assert report["checkpoint"] == str(run_dir / "run" / "checkpoint-2")
    pages = report["sets"]["pages"]
    assert pages["pages"] == 3
    # the loss is the trainer's own eval loss for the same weights
    history = json.loads((run_dir / "run" / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    trained = next(entry["eval_pages_loss"] for entry in history if "eval_pages_loss" in entry)
    assert pages["loss"] == pytest.approx(trained, rel=1e-5)
    # random weights never close the front matter within 8 tokens: every page falls back, scored as empty
    assert pages["rates"]["fallback"] == 1.0 and pages["rates"]["truncated"] == 1.0
    assert pages["front_matter"]["language"] is None
    assert pages["teds"] == 0.0 and pages["teds_pages"] == 1
    assert pages["edit_distance"] == pytest.approx(2 / 3)  # the blank page matches its empty reference
    assert pages["tokens_per_s"] > 0 and pages["pages_per_s"] > 0
    assert [Path(w["pdf"]).stem for w in pages["worst"]][-1] == "blanktext"
    assert all(Path(w["md"]).is_file() for w in pages["worst"])
    # the generation eval during training was logged like the loss
    generated = next(entry for entry in history if "eval_pages_gen_edit_distance" in entry)
    assert generated["step"] == 2 and generated["eval_pages_gen_fallback_rate"] == 1.0


def test_two_checkpoints_side_by_side_and_a_missing_one(run_dir: Path) -> None:
    code, stdout, stderr = invoke("eval", "checkpoint-1", str(run_dir / "run" / "checkpoint-2"), "checkpoint-9",
                                  "--config", str(run_dir / "docvl.yaml"))  # fmt: skip
    assert code == 1  # one checkpoint could not be evaluated; the others were
    assert [line for line in stderr.splitlines() if "checkpoint-9" in line] == [
        f"problem checkpoint-9: checkpoint not found (neither a folder nor one in train.output_dir {run_dir / 'run'})"
    ]
    header = next(line for line in stdout.splitlines() if "metric" in line)
    assert "checkpoint-1" in header and "checkpoint-2" in header
    loss_row = next(line for line in stdout.splitlines() if "pages loss" in line)
    assert loss_row.count("*") == 1  # the better loss of the two is marked
    assert "worst pages of checkpoint-1 on pages:" in stdout


def test_missing_checkpoint_alone_is_a_usage_error(run_dir: Path) -> None:
    code, _, stderr = invoke("eval", "nope", "--config", str(run_dir / "docvl.yaml"))
    assert code == 2 and "nope: checkpoint not found" in stderr
    code, _, stderr = invoke("eval")
    assert code == 2 and "nothing to evaluate" in stderr


def test_bench_outputs_scored_through_the_cli() -> None:
    bench, outputs = EXAMPLES / "bench", EXAMPLES / "bench" / "docvl_example"
    code, stdout, _ = invoke("eval", "--bench", str(bench), "--outputs", str(outputs), "--json")
    assert code == 0
    result = json.loads(stdout)["bench"]
    expected = score_bench(bench, outputs)
    assert (result["overall"], result["ci_low"], result["ci_high"]) == (expected.overall, expected.ci_low,
                                                                        expected.ci_high)  # fmt: skip
    assert result["per_file"] == expected.per_file
    assert [{k: t[k] for k in ("id", "type", "pass")} for t in result["tests"]] == [
        {"id": t["id"], "type": t["type"], "pass": t["pass"]} for t in expected.tests
    ]


@pytest.fixture
def bad_bench(tmp_path: Path) -> Path:
    """examples/bench plus a line that does not parse, a test of a missing PDF and one of an unknown type."""
    bench = tmp_path / "bench"
    shutil.copytree(EXAMPLES / "bench", bench)
    with (bench / "text.jsonl").open("a") as jsonl:
        jsonl.write('{"pdf": "small_page_size.pdf", "page": 1, "id": "broken", \n')
        jsonl.write('{"pdf": "gone.pdf", "page": 1, "id": "gone_present", "type": "present", "text": "x"}\n')
        jsonl.write('{"pdf": "ambiguous.pdf", "page": 1, "id": "odd", "type": "sparkle", "text": "x"}\n')
    return bench


def test_bad_bench_lines_one_line_each_rest_scored(bad_bench: Path) -> None:
    outputs = bad_bench / "docvl_example"
    code, stdout, stderr = invoke("eval", "--bench", str(bad_bench), "--outputs", str(outputs), "--json")
    assert code == 0
    report = json.loads(stdout)
    problems = report["problems"]
    assert len(problems) == 3 and len([line for line in stderr.splitlines() if line.startswith("problem ")]) == 3
    assert "text.jsonl:8: malformed JSON" in problems[0]
    assert "text.jsonl:9: test 'gone_present': PDF pdfs/gone.pdf not found" in problems[1]
    assert "text.jsonl:10: test 'odd'" in problems[2] and "sparkle" in problems[2]
    clean = score_bench(EXAMPLES / "bench", EXAMPLES / "bench" / "docvl_example")
    assert report["bench"]["per_file"] == clean.per_file


def test_bench_generated_with_the_checkpoint(run_dir: Path, bad_bench: Path, tmp_path: Path) -> None:
    work, html = tmp_path / "work", tmp_path / "report.html"
    code, stdout, stderr = invoke("eval", "checkpoint-2", "--config", str(run_dir / "docvl.yaml"), "--bench",
                                  str(bad_bench), "--work-dir", str(work), "--set", "eval.bench_repeats=2",
                                  "--html", str(html), "--json")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["sets"] == {} and len(report["problems"]) == 3
    written = sorted(p.name for p in (work / "00-checkpoint-2" / "bench").glob("*.md"))
    assert written == [f"{stem}_pg1_repeat{k}.md" for stem in ("ambiguous", "lots_of_sci_tables", "small_page_size")
                       for k in (1, 2)]  # fmt: skip
    bench = report["bench"]
    assert set(bench["per_file"]) == {"table.jsonl", "text.jsonl", "baseline"}
    assert {t["id"] for t in bench["tests"]} >= {"sci_table_01", "sps_present_01", "ambiguous_present"}
    assert 0.0 <= bench["ci_low"] <= bench["overall"] <= bench["ci_high"] <= 1.0
    page = html.read_text(encoding="utf-8")
    assert page.count('<section class="page"') == 3 and "no output for this page" not in page


REFERENCE = Page(FrontMatter("en", is_table=True), "Total | 3\n\n<table><tr><td>a</td></tr></table>")


def test_score_page_rules() -> None:
    reply = PageResult(1, False, FrontMatter("en"), REFERENCE.text, rotation=90, completion_tokens=7,
                       outcomes=[Outcome(Reason.ROTATED, "90"), Outcome(Reason.OK)])  # fmt: skip
    score = score_page(REFERENCE, reply)
    assert score.edit_distance == 0.0 and score.teds == 1.0
    # convert turned the page by 90 before the accepted reply: the page as given was not upright
    assert score.front_matter == {"language": True, "rotation_valid": False, "rotation_correction": False,
                                  "table": False, "diagram": True}  # fmt: skip
    outcomes = [Outcome(Reason.UNPARSEABLE, "no front matter"), Outcome(Reason.REPETITION), Outcome(Reason.LENGTH)]
    score = score_page(REFERENCE, PageResult(1, True, None, REFERENCE.text, outcomes=outcomes))
    assert score.edit_distance == 1.0 and score.teds == 0.0 and score.front_matter is None  # text layer not credited
    assert score.flags == {"parse_failure": True, "repetition": True, "truncated": True, "empty": False,
                           "fallback": True}  # fmt: skip
    empty = score_page(REFERENCE, PageResult(1, False, FrontMatter("en"), "", outcomes=[Outcome(Reason.OK)]))
    assert empty.flags["empty"] and empty.front_matter["rotation_valid"] and empty.edit_distance == 1.0


def test_server_generation_scores_front_matter_without_loss(run_dir: Path) -> None:
    from docvl.infer.fakes import FakeOpenAIServer

    with FakeOpenAIServer() as fake:  # every reply: valid front matter (en, no table), "# A page\n\nSome text."
        code, stdout, stderr = invoke("eval", "--server", fake.base_url, "--sets", f"p={run_dir / 'pages'}",
                                      "--set", "convert.render_workers=1", "--set", "data.target_longest_image_dim=112",
                                      "--json")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    pages = report["sets"]["p"]
    assert report["checkpoint"] is None and pages["loss"] is None and pages["pages"] == 3
    assert pages["rates"]["fallback"] == 0.0 and pages["rates"]["empty"] == 0.0
    assert pages["front_matter"]["language"] == pytest.approx(1.0)
    assert pages["front_matter"]["table"] == pytest.approx(1 / 3)  # edgar and untable are labelled is_table
    assert 0.0 < pages["edit_distance"] < 1.0


def test_problems_are_counted_and_in_the_json(run_dir: Path, tmp_path: Path) -> None:
    held = tmp_path / "held"
    shutil.copytree(run_dir / "pages" / "eval", held)
    (held / "edgar.pdf").unlink()  # a broken pair: a problem line, and the rest is evaluated
    args = ("eval", "checkpoint-2", "--config", str(run_dir / "docvl.yaml"), "--sets", f"held={held}")
    code, stdout, stderr = invoke(*args)
    problem = f"held: {held / 'edgar.md'}: PDF missing"
    assert code == 0 and f"problem {problem}" in stderr.splitlines()
    assert "evaluated 1 run(s); 1 problem(s)" in stdout
    code, stdout, _ = invoke(*args, "--json")
    assert json.loads(stdout)["problems"] == [problem]
