"""The chat messages for a page, and their token encoding: shared by training and the transformers engine.

Training and inference must send the model the same token sequence up to the assistant turn; both build it
with `page_messages` and `encode_prompt`, so the image position (`data.image_first`), the prompt text and the
chat template cannot drift apart. Training appends the reply with `encode_training_sample`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docvl.errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image

IGNORE_INDEX = -100


def page_messages(
    image: Image.Image | None, prompt: str, *, image_first: bool = True, reply: str | None = None
) -> list[dict[str, Any]]:
    """Chat messages for one page: a user turn with the image and the prompt, plus the assistant reply if given.

    The reply is plain string content: every Qwen template renders that the same way.
    """
    image_part: dict[str, Any] = {"type": "image"} if image is None else {"type": "image", "image": image}
    text_part = {"type": "text", "text": prompt}
    content = [image_part, text_part] if image_first else [text_part, image_part]
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    if reply is not None:
        messages.append({"role": "assistant", "content": reply})
    return messages


def _strip_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without the PIL objects (templates only need to know an image is there)."""
    return [
        {**m, "content": [{"type": "image"} if p.get("type") == "image" else p for p in m["content"]]}
        if isinstance(m["content"], list)
        else m
        for m in messages
    ]


def prompt_text(processor: Any, *, image_first: bool, prompt: str) -> str:
    """The chat-template text up to and including the assistant header (what generation starts from)."""
    return processor.apply_chat_template(
        page_messages(None, prompt, image_first=image_first), tokenize=False, add_generation_prompt=True
    )


def encode_prompt(processor: Any, image: Image.Image, prompt: str, *, image_first: bool = True) -> Any:
    """Model inputs for generating one page's reply: input_ids, attention_mask, pixel_values, image_grid_thw.

    Returns the processor's BatchFeature (batch of one, torch tensors); call `.to(model.device)` before generate.
    """
    text = prompt_text(processor, image_first=image_first, prompt=prompt)
    return processor(text=[text], images=[image], return_tensors="pt")


def encode_training_sample(
    processor: Any, image: Image.Image, prompt: str, reply: str, *, image_first: bool = True
) -> dict[str, Any]:
    """`encode_prompt` plus the reply, with labels on the reply and its closing end-of-turn token only.

    The reply is tokenized on its own after the prompt (the assistant header ends in a newline, a pre-token
    boundary, so this equals tokenizing the whole text). Whatever the template writes after the end token
    (a newline) is kept in the input but not learned.
    """
    import torch

    from docvl.models.registry import END_OF_TURN

    tokenizer = processor.tokenizer
    head = prompt_text(processor, image_first=image_first, prompt=prompt)
    full = processor.apply_chat_template(
        _strip_images(page_messages(None, prompt, image_first=image_first, reply=reply)), tokenize=False
    )
    if not full.startswith(head):
        raise ConfigError("the chat template renders the prompt differently with and without the reply")
    end_token = END_OF_TURN
    tail = full[len(head) :]
    if end_token in reply:
        raise ValueError(f"the reply contains the end-of-turn token {end_token}")
    cut = tail.find(end_token)
    if cut < 0:
        raise ConfigError(f"the chat template does not close the assistant turn with {end_token}")
    learned = tokenizer(tail[: cut + len(end_token)], add_special_tokens=False)["input_ids"]
    rest = tokenizer(tail[cut + len(end_token) :], add_special_tokens=False)["input_ids"]
    inputs = encode_prompt(processor, image, prompt, image_first=image_first)
    prompt_ids = inputs["input_ids"][0]
    reply_ids = torch.tensor(learned + rest, dtype=prompt_ids.dtype)
    sample = {
        "input_ids": torch.cat([prompt_ids, reply_ids]),
        "labels": torch.cat(
            [
                torch.full_like(prompt_ids, IGNORE_INDEX),
                torch.tensor(learned, dtype=prompt_ids.dtype),
                torch.full((len(rest),), IGNORE_INDEX, dtype=prompt_ids.dtype),
            ]
        ),
        "pixel_values": inputs["pixel_values"],
        "image_grid_thw": inputs["image_grid_thw"],
    }
    if "mm_token_type_ids" in inputs:
        sample["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"][0], torch.zeros_like(reply_ids)])
    sample["attention_mask"] = torch.ones_like(sample["input_ids"])
    return sample
