"""Where does a tiny reader lose the words: in what its image tokens carry, or in the text model reading them?

For every upright, non-blank page of a synthetic page set, the first word of the body is the class, and the
features are those of the page's top-left region (the first two rows by four columns of merged image tokens,
where every synthetic page starts its text), taken at two points of the checkpoint's own vision path:

- `patch`: the patch embedding (the frozen random projection of the pixels), the four patches of each merged
  token side by side, i.e. what the merger reads;
- `tokens`: the merger's output, the image tokens the text model attends to;
- `tokens_bag`: the sum of those tokens, which is what attention spread evenly over the region passes on.

A linear probe (softmax regression, trained on the train split, scored on the held-out split) measures how much
of the word each carries. Beside it, what the text model makes of them: the teacher-forced loss of the first body
token on held-out pages shown with their own image, with the next page's image, and with a blank one (zero
pixels are paper white). High probe accuracy beside an own-image loss no lower than another page's means the
words reach the text model and it has not learned to read them.

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/reader_probe.py CKPT PAGES
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from docvl.config import DatasetSpec
from docvl.data.dataset import PageDataset, load_pageset
from docvl.data.pipeline import SamplePipeline
from docvl.models.registry import load_model, load_processor
from docvl.page import parse_page
from docvl.runconfig import resolve_run_config

REGION_ROWS, REGION_COLUMNS = 2, 4


def corner(model, item: dict, point: str) -> torch.Tensor:
    """The top-left region of one rendered page at `point` (patch or tokens): rows x columns x features."""
    visual = model.model.visual
    pixels, grid = item["pixel_values"], item["image_grid_thw"]
    with torch.no_grad():
        if point == "patch":  # the merger's input
            features = visual.patch_embed(pixels)
            features = features.view(-1, 4 * features.shape[-1])  # the processor keeps each 2x2 group together
        else:
            out = visual(pixels, grid_thw=grid)
            features = getattr(out, "pooler_output", out)
    _, rows, columns = (int(n) // 2 for n in grid[0].tolist())
    return features.view(rows, columns, -1)[:REGION_ROWS, :REGION_COLUMNS]


def first_words(checkpoint: Path, pages: Path, split: str, processor) -> tuple[list[dict], list[str]]:
    """Model inputs and first body word of each upright page with text in `split` (no augmentation)."""
    config = resolve_run_config(checkpoint, overrides=["data.rotation_augmentation_p=0"])
    pageset = load_pageset(DatasetSpec(name="probe", path=str(pages)), split)
    dataset = PageDataset(pageset.pairs, SamplePipeline(config, processor))
    items, words = [], []
    for index, pair in enumerate(pageset.pairs):
        page = parse_page(pair.md.read_text(encoding="utf-8"))
        if page.front_matter.rotation_correction or not page.text.strip():
            continue
        if (item := dataset[index]) is not None:
            items.append(item)
            words.append(page.text.split()[0].strip(".").lower())
    return items, words


def first_body_token_loss(model, tokenizer, item: dict, pixels: torch.Tensor) -> float:
    """Teacher-forced loss of the reply's first body token (after the front matter), the page shown as `pixels`."""
    batch = {key: item[key].unsqueeze(0) for key in ("input_ids", "attention_mask", "mm_token_type_ids")}
    with torch.no_grad():  # mm_token_type_ids: without it the image tokens get plain 1-D positions, not mrope's
        logits = model(**batch, pixel_values=pixels, image_grid_thw=item["image_grid_thw"])
    logits, targets = logits.logits[0, :-1], item["labels"][1:]
    reply = (targets != -100).nonzero().flatten().tolist()
    for n in range(len(reply)):
        prefix = tokenizer.decode(targets[reply[: n + 1]])
        if prefix.count("---") == 2 and prefix.rsplit("---", 1)[1].strip():
            at = slice(reply[n], reply[n] + 1)
            return torch.nn.functional.cross_entropy(logits[at], targets[at]).item()
    raise ValueError("reply without a body")


def probe(train: torch.Tensor, train_y: torch.Tensor, test: torch.Tensor, test_y: torch.Tensor, classes: int) -> float:
    """Held-out accuracy of a softmax regression on standardized features (full batch, fixed steps, seeded)."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    torch.manual_seed(0)
    linear = torch.nn.Linear(train.shape[1], classes)
    optimizer = torch.optim.AdamW(linear.parameters(), lr=1e-3, weight_decay=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(linear(train), train_y).backward()
        optimizer.step()
    with torch.no_grad():
        return (linear(test).argmax(1) == test_y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("pages", type=Path, help="a synthetic page set with train/ and eval/ splits")
    args = parser.parse_args()
    config = resolve_run_config(args.checkpoint)
    processor = load_processor(args.checkpoint, config.model)
    model = load_model(args.checkpoint, config.model).eval()
    train_items, train_words = first_words(args.checkpoint, args.pages, "train", processor)
    test_items, test_words = first_words(args.checkpoint, args.pages, "eval", processor)
    vocabulary = {word: i for i, word in enumerate(sorted(set(train_words)))}
    kept = [i for i, word in enumerate(test_words) if word in vocabulary]
    train_y = torch.tensor([vocabulary[word] for word in train_words])
    test_y = torch.tensor([vocabulary[test_words[i]] for i in kept])
    result = {
        "train_pages": len(train_y),
        "test_pages": len(test_y),
        "words": len(vocabulary),
        "majority": max((test_y == c).float().mean().item() for c in range(len(vocabulary))),
    }
    for point in ("patch", "tokens"):
        train = torch.stack([corner(model, item, point) for item in train_items])
        test = torch.stack([corner(model, test_items[i], point) for i in kept])
        features = {point: lambda regions: regions.flatten(1)}
        if point == "tokens":
            features["tokens_bag"] = lambda regions: regions.sum((1, 2))
        for name, view in features.items():
            result[f"probe_{name}"] = round(probe(view(train), train_y, view(test), test_y, len(vocabulary)), 3)
    result["majority"] = round(result["majority"], 3)
    tested = [test_items[i] for i in kept]
    shown = {
        "own": [item["pixel_values"] for item in tested],
        "other": [tested[(i + 1) % len(tested)]["pixel_values"] for i in range(len(tested))],
        "blank": [torch.zeros_like(item["pixel_values"]) for item in tested],
    }
    for name, images in shown.items():
        losses = [
            first_body_token_loss(model, processor.tokenizer, item, pixels)
            for item, pixels in zip(tested, images, strict=True)
            if pixels.shape == item["pixel_values"].shape
        ]
        result[f"first_token_loss_{name}"] = round(sum(losses) / len(losses), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
