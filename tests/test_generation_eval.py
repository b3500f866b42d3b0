"""The training callback generates with inference's own routine: the same request gives the same reply."""

from __future__ import annotations

from pathlib import Path

from docvl.config import load_config
from docvl.data.pageset import Pair
from docvl.infer.local import TransformersEngine
from docvl.infer.request import page_request
from docvl.judge import judge
from docvl.pdf import PdfFile
from docvl.train.generation_eval import GenerationEval


def test_callback_reply_equals_the_engines(tiny_checkpoints: dict[str, Path], fixtures_dir: Path) -> None:
    config = load_config(None, ["data.target_longest_image_dim=112", "eval.max_new_tokens=6"])
    pair = Pair(fixtures_dir / "pairs" / "edgar.pdf", fixtures_dir / "pairs" / "edgar.md")
    engine = TransformersEngine(tiny_checkpoints["qwen2_5_vl"], config)
    try:
        with PdfFile(pair.pdf) as pdf:
            image = pdf.render(0, config.data.target_longest_image_dim)
        (reply,) = engine.generate([page_request(image, config, max_tokens=config.eval.max_new_tokens)])
        (result,) = GenerationEval(None, config, engine.processor, [])._results(engine.model, [pair])
    finally:
        engine.close()
    assert reply.text and result.completion_tokens == reply.completion_tokens
    # random weights never write front matter: the same text, judged the same (the message quotes the text)
    assert result.outcomes == [judge(reply, config.convert.repetition_min_chars).outcome]
