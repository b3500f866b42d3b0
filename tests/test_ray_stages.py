"""The parts of `convert --ray` that need no Ray: the render stage before the vLLM processor, the processor's
arguments (derived from the checkpoint as `serve` derives them), its pre/post-processing, and `--ray` without an
address on the command line."""

from __future__ import annotations

import pickle
from pathlib import Path

from docvl.cli import ray_without_address
from docvl.config import load_config
from docvl.infer.encode import decode_data_url
from docvl.infer.inputs import InputDoc
from docvl.infer.ray_stages import (
    PageJob,
    pack,
    render_batch,
    unpack,
    vllm_postprocess,
    vllm_preprocess,
    vllm_processor_kwargs,
)
from docvl.infer.request import request_for
from docvl.infer.types import chat_messages
from docvl.infer.vllm_cmd import build_vllm_command, max_model_len


def test_vllm_processor_gets_the_engine_arguments_serve_derives(tiny_checkpoints: dict[str, Path]) -> None:
    ckpt = tiny_checkpoints["qwen2_5_vl"]
    config = load_config(None, ["serve.tensor_parallel_size=2", "serve.max_num_seqs=32", "convert.concurrency=16",
                                "model.torch_dtype=bfloat16"])  # fmt: skip
    kwargs = vllm_processor_kwargs(ckpt, config, gpus=8)
    assert kwargs == {
        "model_source": str(ckpt),
        "engine_kwargs": {
            "limit_mm_per_prompt": {"image": 1, "video": 0},
            "max_model_len": max_model_len(ckpt, config),
            "gpu_memory_utilization": 0.9,
            "tensor_parallel_size": 2,
            "max_num_seqs": 32,
            "dtype": "bfloat16",
        },
        "concurrency": 4,  # 8 GPUs, 2 per engine
        "batch_size": 16,
        "prepare_multimodal_stage": {"enabled": True, "chat_template_content_format": "openai"},
        "chat_template_stage": {"enabled": True},
        "tokenize_stage": {"enabled": True},
        "detokenize_stage": {"enabled": True},
    }
    # every engine flag of the serve command is there, spelled as vLLM's engine arguments
    command = build_vllm_command(ckpt, config, cuda=True)
    flags = {word.removeprefix("--").replace("-", "_") for word in command if word.startswith("--")}
    server_only = {"host", "port", "served_model_name", "chat_template_content_format", "data_parallel_size"}
    assert flags - server_only == set(kwargs["engine_kwargs"])


def test_vllm_processor_gets_a_configured_chat_template(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    template = tmp_path / "template.jinja"
    template.write_text("{{ messages }}", encoding="utf-8")
    config = load_config(None, [f"serve.chat_template={template}"])
    kwargs = vllm_processor_kwargs(tiny_checkpoints["qwen2_5_vl"], config, gpus=1)
    assert kwargs["chat_template_stage"] == {"enabled": True, "chat_template": "{{ messages }}"}
    assert "chat_template" not in kwargs["engine_kwargs"] and kwargs["concurrency"] == 1


def test_vllm_rows_carry_the_request_every_engine_sends_and_come_back_as_replies() -> None:
    config = load_config(None, ["convert.max_new_tokens=50"])
    request = request_for("data:image/png;base64,AAAA", config, temperature=0.3)
    job = PageJob(InputDoc("a.pdf", "a.pdf", "pdf"), index=0, image_url=request.image_url, request=request)
    row = vllm_preprocess(pack([job]))
    assert row["messages"] == chat_messages(request)
    assert row["sampling_params"] == {"temperature": 0.3, "max_tokens": 50}
    (stopped,) = unpack(
        vllm_postprocess({**row, "generated_text": "x", "num_generated_tokens": 7, "num_input_tokens": 90})
    )
    assert stopped.reply is not None and (stopped.reply.text, stopped.reply.finish_reason) == ("x", "stop")
    assert (stopped.reply.prompt_tokens, stopped.reply.completion_tokens) == (90, 7)
    assert stopped.image_url is None and stopped.request.image_url == ""  # the image does not go back to the driver
    (cut,) = unpack(
        vllm_postprocess({**row, "generated_text": "xx", "num_generated_tokens": 50, "num_input_tokens": 9})
    )
    assert cut.reply is not None and cut.reply.finish_reason == "length"
    # a job with nothing to ask (its page could not be rendered) costs one token, and gets no reply
    nothing = vllm_preprocess(pack([PageJob(job.doc, index=0, page_error="broken")]))
    assert nothing["sampling_params"] == {"max_tokens": 1}
    assert unpack(vllm_postprocess({**nothing, "generated_text": "y", "num_generated_tokens": 1}))[0].reply is None
    assert pickle.loads(nothing["job"])[0].page_error == "broken"


def test_ray_without_an_address_is_a_local_ray() -> None:
    assert ray_without_address(["convert", "in", "--ray"]) == ["convert", "in", "--ray=local"]
    assert ray_without_address(["convert", "in", "--ray", "--json"]) == ["convert", "in", "--ray=local", "--json"]
    assert ray_without_address(["convert", "in", "--ray", "head:6379"]) == ["convert", "in", "--ray", "head:6379"]


def test_render_stage_gives_the_processor_a_page_a_row_each_asked_as_the_local_path_asks(fixtures_dir: Path) -> None:
    """Pages of a document rendered as a chunk, a turned page rendered turned, a page asked again given its image,
    and a document that cannot be rendered: every job comes back, a row each, in order."""
    config = load_config(None, ["data.target_longest_image_dim=64"])
    doc = InputDoc(str(fixtures_dir / "pdfs" / "lots_of_sci_tables.pdf"), "tables.pdf", "pdf")
    again = request_for("", config, temperature=0.3)
    broken = InputDoc(str(fixtures_dir / "README.md"), "broken.pdf", "pdf")
    jobs = [PageJob(doc, index=0), PageJob(doc, index=1), PageJob(doc, index=2, request=again),
            PageJob(doc, index=3, rotation=90), PageJob(broken, index=0)]  # fmt: skip
    batch = render_batch({"job": [pickle.dumps([job]) for job in jobs]}, config)
    rows = [unpack({"job": blob}) for blob in batch["job"]]
    assert [len(row) for row in rows] == [1] * 5
    out = [row[0] for row in rows]
    assert [(job.doc.relpath, job.index) for job in out] == [(job.doc.relpath, job.index) for job in jobs]
    for job in out[:4]:
        assert job.request is not None and job.request.image_url == job.image_url and job.text_layer
    first = config.convert.temperatures[0]
    assert out[0].request.temperature == first != 0.3 and out[2].request.temperature == 0.3  # first attempt; asked
    upright, turned = decode_data_url(out[1].image_url), decode_data_url(out[3].image_url)
    assert turned.size == upright.size[::-1] != upright.size
    assert out[4].image_url is None and out[4].request is None and "not a PDF" in (out[4].page_error or "")
