"""Training data path numbers: sample-pipeline throughput beside the render-only floor, padding waste at batch 8
with and without length grouping, and the peak memory of one data-loader worker. Prints one summary line.

Pages: the fixture pairs plus every page of every fixture PDF (labelled with up to 400 words of its text layer,
so target lengths vary as in real data); samples over data.max_length 8192 are dropped, as in training.
Tokenization uses the tiny Qwen2.5-VL processor: its tokenizer is smaller than Qwen's, so absolute token
counts differ; the image path is the real one.

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_pipeline.py [--dim 1288] [--rounds 3] [--fixtures tests/fixtures]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

import torch

from docvl.config import load_config
from docvl.data.dataset import PageDataset
from docvl.data.pageset import find_pairs
from docvl.data.pipeline import Render, Sample, SamplePipeline
from docvl.models.registry import FAMILIES, load_processor, resolve_checkpoint
from docvl.pdf import PdfFile
from docvl.train.collator import PageCollator, padding_waste

REPO = Path(__file__).resolve().parents[1]
FRONT = (
    "---\nprimary_language: en\nis_rotation_valid: True\nrotation_correction: 0\nis_table: False\n"
    "is_diagram: False\n---\n"
)


def build_pages(fixtures: Path, root: Path) -> Path:
    """Fixture pairs + every page of every fixture PDF labelled with its text layer, in one flat page set."""
    for path in (fixtures / "pairs").iterdir():
        shutil.copy(path, root / path.name)
    for pdf_path in sorted((fixtures / "pdfs").glob("*.pdf")):
        with PdfFile(pdf_path) as pdf:
            for index in range(len(pdf)):
                target = root / f"{pdf_path.stem}-{index}.pdf"
                target.write_bytes(pdf.page_pdf_bytes(index))
                words = re.sub(r"[^A-Za-z0-9 .,]", " ", pdf.text(index)).split()
                target.with_suffix(".md").write_text(FRONT + " ".join(words[:400]), encoding="utf-8")
    return root


def per_second(function, items: list, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            function(item)
    return rounds * len(items) / (time.perf_counter() - start)


def batches_of(order: list[int], items: list, collate: PageCollator, size: int) -> list[dict]:
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    return [b for b in (collate([items[i] for i in chunk]) for chunk in chunks) if b is not None]


def worker_peak_mib(dataset: PageDataset, collate: PageCollator) -> float:
    """Peak RSS of one data-loader worker process (ru_maxrss, read inside the worker after each batch)."""

    def collate_and_measure(features: list) -> float:
        collate(features)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=1, collate_fn=collate_and_measure)
    return max(loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=1288)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--fixtures", type=Path, default=REPO / "tests" / "fixtures")
    options = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        root = build_pages(options.fixtures, Path(tmp))
        config = load_config(None, [f"data.target_longest_image_dim={options.dim}", "data.max_length=8192"])
        processor = load_processor(resolve_checkpoint("tiny:qwen2_5_vl"), config.model)
        pipeline = SamplePipeline(config, processor)
        pairs = find_pairs(root)
        samples = [Sample(id=p.name, pdf=p.pdf, md=p.md) for p in pairs]
        render = Render(config)
        floor = per_second(lambda s: render(Sample(id=s.id, pdf=s.pdf)), samples, options.rounds)
        full = per_second(lambda s: pipeline(Sample(id=s.id, pdf=s.pdf, md=s.md)), samples, options.rounds)

        dataset = PageDataset(pairs, pipeline)
        items = [dataset[i] for i in range(len(dataset))]
        collate = PageCollator(processor.tokenizer.pad_token_id)
        generator = torch.Generator().manual_seed(0)
        shuffled = torch.randperm(len(items), generator=generator).tolist()
        from transformers.trainer_pt_utils import LengthGroupedSampler

        grouped = list(
            LengthGroupedSampler(
                options.batch,
                lengths=dataset.length_estimates(FAMILIES["qwen2_5_vl"], config),
                generator=generator,
            )
        )
        waste_random = padding_waste(batches_of(shuffled, items, collate, options.batch))
        waste_grouped = padding_waste(batches_of(grouped, items, collate, options.batch))
        peak = worker_peak_mib(dataset, collate)

    print(
        f"train pipeline @ {options.dim}px, 1 core, {len(samples)} pages: {full:.1f} samples/s "
        f"(render-only floor {floor:.1f}/s, {full / floor:.0%} of it); padding waste at batch {options.batch}: "
        f"{waste_random:.1%} shuffled, {waste_grouped:.1%} length-grouped; "
        f"data-loader worker peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
