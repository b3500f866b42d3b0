"""The one typed config every stage reads.

A YAML file (or nothing: the defaults are the embedded tiny CPU setup) plus dotted command-line overrides
(`train.learning_rate=1e-5`) give a `DocvlConfig`. Unknown keys are rejected with a "did you mean" hint.
The resolved config is written as `docvl.yaml` next to every output (page sets, checkpoints), so later
stages render, prompt and parse exactly as the stage that made the output did.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docvl.errors import ConfigError
from docvl.judge import DEFAULT_REPETITION_MIN_CHARS

CONFIG_FILENAME = "docvl.yaml"
SCHEMA_VERSION = 1
_YAML11_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraConfig(Section):
    """Optional LoRA through peft; `merge` at export writes full weights vLLM can load."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


class ModelConfig(Section):
    """Which model to start from and which of its parameter groups to train."""

    name_or_path: str = Field(
        "tiny:qwen2_5_vl",
        description="A local HF checkpoint folder, a hub id, or tiny:<family> for a random tiny model built in code.",
    )
    torch_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Weights dtype; auto: bfloat16 when train.bf16, else float32."
    )
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        "auto", description="auto: flash_attention_2 on GPU when installed, sdpa otherwise."
    )
    min_pixels: int = Field(28 * 28 * 16, description="Smallest image area the processor keeps (set via `size`).")
    max_pixels: int = Field(28 * 28 * 2100, description="Largest image area the processor keeps (set via `size`).")
    tune_mm_vision: bool = Field(False, description="Train the vision encoder (frozen in the Qwen recipe).")
    tune_mm_mlp: bool = Field(True, description="Train the merger/projector between vision and language.")
    tune_mm_llm: bool = Field(True, description="Train the language model.")
    lora: LoraConfig | None = Field(None, description="Set to train LoRA adapters (peft) instead of full weights.")
    souped_from: list[str] = Field(
        default_factory=list, description="Set by `docvl export --soup`: the checkpoints these weights are the mean of."
    )


class DatasetSpec(Section):
    """A named page set; `weight` sets its share of the training mix."""

    name: str
    path: str
    weight: float = Field(1.0, gt=0)


class DataConfig(Section):
    """Where the pages are and how a page becomes a training sample."""

    train: list[DatasetSpec] = Field(
        default_factory=list, description="Named page sets to train on: [{name, path, weight}]."
    )
    eval: list[DatasetSpec] = Field(
        default_factory=list, description="Named page sets to evaluate on, each reported separately."
    )
    max_length: int = Field(8192, gt=0, description="Samples longer than this are dropped and counted, never cut.")
    target_longest_image_dim: int = Field(1288, gt=0, description="Pages are rendered so their longest side is this.")
    max_page_inches: float = Field(
        120.0, gt=0, description="Pages with a longer side are rejected as absurd (A0 is 46.8 in)."
    )
    render_memory_mb: int = Field(
        1024, ge=0, description="Memory one page may take to render (beyond the renderer's own); 0: no limit."
    )
    render_timeout_s: float = Field(60.0, ge=0, description="Time one page may take to render; 0: no limit.")
    pipeline: list[str] | None = Field(
        None, description="Ordered sample-pipeline step names; None means the default pipeline."
    )
    rotation_augmentation_p: float = Field(
        0.02, ge=0, le=1, description="Chance a training page is turned and labelled with its correction."
    )
    image_first: bool = Field(True, description="Put the page image before the prompt text in the user message.")
    group_by_length: bool = Field(False, description="Batch samples of similar length to waste less padding.")


class PromptConfig(Section):
    """The prompt sent with every page, in training and inference alike (text lives in docvl.prompts)."""

    name: Literal["docvl-v1"] = Field("docvl-v1", description="Which prompt text (see docvl.prompts).")


class TrainConfig(Section):
    """Trainer settings. Names follow Hugging Face `TrainingArguments` wherever one exists."""

    method: Literal["sft", "grpo"] = Field(
        "sft",
        description="sft: learn the gold replies; grpo: reinforcement learning against unit-test rewards "
        "(the `grpo` section), usually from an SFT checkpoint.",
    )
    output_dir: str = "runs/tiny"
    num_train_epochs: float = 1.0
    max_steps: int = Field(-1, description="Overrides num_train_epochs when > 0.")
    per_device_train_batch_size: int = Field(1, gt=0)
    per_device_eval_batch_size: int = Field(1, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    bf16: bool = False
    gradient_checkpointing: bool = False
    torch_compile: bool = False
    seed: int = 42
    logging_steps: int = 10
    eval_strategy: Literal["no", "steps", "epoch"] = "steps"
    eval_steps: int = 500
    save_strategy: Literal["no", "steps", "epoch"] = "steps"
    save_steps: int = 500
    save_total_limit: int | None = None
    report_to: list[str] = Field(default_factory=lambda: ["tensorboard"])
    use_cpu: bool = False
    dataloader_num_workers: int = 0
    deepspeed: str | dict[str, Any] | None = Field(
        None, description="A DeepSpeed JSON file path or the JSON inline. It belongs here, inside `train`."
    )


class EvalConfig(Section):
    """Held-out evaluation settings (`docvl eval`, and the generation eval during training)."""

    max_new_tokens: int = Field(
        4096, gt=0, description="Longest reply generated per page (replaces convert.max_new_tokens in eval)."
    )
    worst_pages: int = Field(10, ge=0, description="How many worst pages (by edit distance) to list.")
    bench_repeats: int = Field(1, gt=0, description="Generations per bench page; a test passes on most of them.")
    generate_every_steps: int = Field(
        0, ge=0, description="During training: a generation eval on a small sample every N steps (0: off)."
    )
    generate_samples: int = Field(4, gt=0, description="During training: pages per eval set the generation eval uses.")


class ServeConfig(Section):
    """How `docvl serve` runs a checkpoint."""

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 to serve other machines).")
    port: int = Field(8000, description="Port of the OpenAI-compatible API.")
    backend: Literal["auto", "vllm", "transformers"] = Field(
        "auto",
        description="vllm (GPUs) or transformers (our own small server: CPU, tests); "
        "auto: vllm when a CUDA GPU and serve.vllm_executable are present, else transformers.",
    )
    vllm_executable: str = Field("vllm", description="The `vllm` program of vLLM's own environment.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vLLM --gpu-memory-utilization.")
    tensor_parallel_size: int = Field(1, gt=0, description="vLLM --tensor-parallel-size.")
    data_parallel_size: int = Field(1, gt=0, description="vLLM --data-parallel-size.")
    max_num_seqs: int = Field(256, gt=0, description="vLLM --max-num-seqs: requests batched together.")
    max_model_len: int | None = Field(
        None, description="None: the longest image the config renders + prompt + convert.max_new_tokens."
    )
    served_model_name: str | None = Field(None, description="None: the checkpoint folder's name.")
    chat_template: str | None = Field(
        None, description="A Jinja file for checkpoints that carry no chat template of their own."
    )
    startup_timeout_s: float = Field(900.0, gt=0, description="How long vLLM may take to answer /v1/models.")
    max_restarts: int = Field(3, ge=0, description="Times a vLLM that died is started again during one run.")
    max_batch_size: int = Field(8, gt=0, description="transformers backend: requests generated together.")
    batch_wait_ms: float = Field(10.0, ge=0, description="transformers backend: wait for more requests to batch.")


class ConvertConfig(Section):
    """How `docvl convert` turns PDFs into Markdown."""

    max_new_tokens: int = Field(8000, gt=0, description="Longest reply per page; a reply cut here is retried.")
    temperatures: list[float] = Field(
        default_factory=lambda: [0.1, 0.1, 0.2, 0.3, 0.5, 0.8],
        description="One attempt per entry, in order; after the last, the text-layer fallback.",
    )
    request_timeout_s: float = Field(600.0, gt=0, description="Seconds one request may take.")
    concurrency: int = Field(64, gt=0, description="Requests in flight at once.")
    max_page_errors: int = Field(0, ge=0, description="Failed pages a document may have and still count as done.")
    image_format: Literal["png", "jpeg"] = Field(
        "png", description="How pages travel to the model: png (lossless, as in training) or jpeg (q95, smaller)."
    )
    connect_retries: int = Field(3, ge=0, description="Retries of a refused connection before the run stops.")
    rotation_retries: int = Field(1, ge=0, description="Re-asks on the rotated page when the model says it is rotated.")
    repetition_min_chars: int = Field(
        DEFAULT_REPETITION_MIN_CHARS,
        gt=0,
        description="A reply ending in a unit repeated over this many characters is degenerate.",
    )
    render_workers: int | None = Field(None, gt=0, description="Rendering processes; None: one per CPU.")
    max_pages_in_flight: int | None = Field(
        None, gt=0, description="Rendered pages not yet finished; None: twice `concurrency`. Bounds memory."
    )


class PrepareConfig(Section):
    """How `docvl prepare` made a page set (its flags fill this); recorded in the page set's docvl.yaml."""

    kind: Literal["auto", "pdfs", "converted", "olmocr-mix", "pairs", "synthetic"] = Field(
        "auto", description="Source kind: auto detects it per source."
    )
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="Share of source documents held out for eval.")
    seed: int = Field(0, description="Seed of the train/eval split.")


class SyntheticConfig(Section):
    """`prepare --kind synthetic`: generated pages with exact gold Markdown and unit tests (docvl.data.synthetic).

    Ratios are chances per page (blank, rotated, two columns, header/footer, image-only) or per block (table,
    list, math); sizes are in PDF points. Keys that cannot work together fail before generation.
    """

    pages: int = Field(200, ge=0, description="How many pages to generate.")
    seed: int = Field(0, description="Same seed and keys, same pages byte for byte.")
    language: str = Field("en", description="Word list to draw text from (docvl/_bundled/words/<language>.txt).")
    vocabulary: int = Field(0, ge=0, description="Use only the first N words of the word list (0: all of it).")
    fonts: list[str] = Field(
        default_factory=lambda: ["Helvetica", "Times-Roman", "Courier"],
        description="Standard PDF fonts to pick from per page (they ship with every PDF reader; no system fonts).",
    )
    page_width_pt: float = Field(612.0, gt=0, description="Page width of an upright page (612: US letter).")
    page_height_pt: float = Field(792.0, gt=0, description="Page height of an upright page (792: US letter).")
    margin_pt: float = Field(54.0, ge=0, description="Margin on every side; headers and footers sit inside it.")
    font_size_min: float = Field(9.0, gt=0, description="Smallest body font size, per page.")
    font_size_max: float = Field(12.0, gt=0, description="Largest body font size, per page.")
    heading_scale: float = Field(1.5, ge=1, description="Heading size as a multiple of the body size.")
    blocks_min: int = Field(2, ge=1, description="Fewest blocks (heading, paragraph, list, table, math) per page.")
    blocks_max: int = Field(8, ge=1, description="Most blocks per page (fewer when the page is full).")
    paragraph_words_min: int = Field(6, ge=1, description="Fewest words in a paragraph.")
    paragraph_words_max: int = Field(60, ge=1, description="Most words in a paragraph.")
    numbers_ratio: float = Field(0.2, ge=0, le=1, description="Chance a paragraph or list item carries a number.")
    list_items_max: int = Field(5, ge=1, description="Most items in a list.")
    table_rows_max: int = Field(6, ge=2, description="Most rows in a table, heading row included.")
    table_cols_max: int = Field(4, ge=2, description="Most columns in a table.")
    table_ratio: float = Field(0.15, ge=0, le=1, description="Chance a block is an HTML table.")
    list_ratio: float = Field(0.15, ge=0, le=1, description="Chance a block is a list.")
    math_ratio: float = Field(0.1, ge=0, le=1, description="Chance a block is a display formula.")
    heading_ratio: float = Field(0.7, ge=0, le=1, description="Chance a page starts with a heading.")
    header_footer_ratio: float = Field(
        0.5, ge=0, le=1, description="Chance a page has a running header and a page number."
    )
    two_column_ratio: float = Field(0.2, ge=0, le=1, description="Chance a page is set in two columns.")
    blank_ratio: float = Field(0.03, ge=0, le=1, description="Chance a page is blank.")
    rotated_ratio: float = Field(0.1, ge=0, le=1, description="Chance a page is turned by 90, 180 or 270 degrees.")
    image_only_ratio: float = Field(0.3, ge=0, le=1, description="Chance a page is an image only (like a scan).")
    scan_dpi: int = Field(100, ge=36, le=600, description="Resolution of image-only pages.")


class GrpoConfig(Section):
    """`train.method: grpo`: GRPO on TRL's GRPOTrainer, rewarded by docvl's scorer (docvl.scoring.rewards).

    Names are TRL's `GRPOConfig` names; the learning rate, batch sizes and steps stay in `train`
    (`train.per_device_train_batch_size` counts completions, a multiple of `num_generations` per step).
    """

    num_generations: int = Field(
        8, ge=2, description="Completions sampled per page; each is rewarded against the others."
    )
    temperature: float = Field(0.8, gt=0, description="Sampling temperature of the completions.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling of the completions.")
    max_completion_length: int = Field(4096, gt=0, description="Longest completion; one cut here is not finished.")
    beta: float = Field(0.0, ge=0, description="KL penalty against the starting checkpoint (0: no reference model).")
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo"] = Field(
        "dapo", description="TRL's loss formulation (how token losses are normalized)."
    )
    importance_sampling_level: Literal["token", "sequence"] = Field(
        "token", description="token: GRPO's per-token ratios; sequence: GSPO's one ratio per completion."
    )
    epsilon: float = Field(0.2, gt=0, description="Clipping range of the policy ratio.")
    num_iterations: int = Field(1, ge=1, description="Updates per generated batch (the inner loop of GRPO).")
    steps_per_generation: int | None = Field(
        None, ge=1, description="Optimizer steps per generated batch; None: train.gradient_accumulation_steps."
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Divide advantages by the reward spread of the page's group, the batch, or not at all."
    )
    mask_truncated_completions: bool = Field(
        False, description="Leave completions cut at max_completion_length out of the loss."
    )
    reward_weights: dict[str, float] = Field(
        default_factory=lambda: {"unit_tests": 1.0, "front_matter": 0.1, "eos": 0.1, "similarity": 0.0},
        description="Weight of each named reward (docvl.scoring.rewards) in the total; 0 leaves it out.",
    )
    use_vllm: bool = Field(False, description="Generate with vLLM (GPUs) instead of transformers (CPU, tests).")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate", description="colocate: vLLM inside the training processes; server: a `trl vllm-serve` beside."
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, le=1, description="colocate: share of each GPU's memory vLLM takes beside training."
    )
    vllm_tensor_parallel_size: int = Field(1, gt=0, description="colocate: GPUs one vLLM model is split over.")
    vllm_enable_sleep_mode: bool = Field(False, description="colocate: vLLM frees its memory during the update.")
    vllm_server_host: str = Field("127.0.0.1", description="server: address of the `trl vllm-serve` server.")
    vllm_server_port: int = Field(8000, description="server: its port.")
    vllm_server_timeout: float = Field(240.0, gt=0, description="server: seconds to wait for it to answer.")
    vllm_group_port: int = Field(51216, description="server: port of the weight-update group.")
    trl_executable: str = Field(
        "trl", description="server: the `trl` program of an environment with vLLM (see --vllm-server-command)."
    )

    @field_validator("reward_weights")
    @classmethod
    def _known_rewards(cls, weights: dict[str, float]) -> dict[str, float]:
        from docvl.scoring.rewards import reward_name_problem  # lazy: the scorer is not light

        for name, weight in weights.items():
            problem = reward_name_problem(name)
            if problem:
                raise ValueError(problem)
            if weight < 0:
                raise ValueError(f"reward weight '{name}' is negative ({weight})")
        if not any(weights.values()):
            raise ValueError("every reward weight is 0: nothing to learn from")
        return weights


class DocvlConfig(Section):
    """The whole config. Each stage reads the sections it needs."""

    version: int = Field(SCHEMA_VERSION, description="Config schema version; newer than this docvl is an error.")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    convert: ConvertConfig = Field(default_factory=ConvertConfig)
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    grpo: GrpoConfig = Field(default_factory=GrpoConfig)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(f"config version {value} is newer than this docvl understands ({SCHEMA_VERSION})")
        return value


def field_default(section: type[BaseModel], name: str) -> Any:
    """The default of one config key, for code outside the config that needs the same default (never a copy)."""
    return section.model_fields[name].get_default(call_default_factory=True)


def _section_fields(model: type[BaseModel], path: list[str]) -> dict[str, Any]:
    """The fields valid at `path` (for "did you mean" hints)."""
    for key in path:
        annotation = model.model_fields[key].annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        model = next((a for a in candidates if issubclass(a, BaseModel)), None)  # type: ignore[assignment]
        if model is None:
            return {}
    return dict(model.model_fields)


def _describe(error: dict[str, Any], source: str) -> ConfigError:
    """One line for one pydantic error, with a did-you-mean for unknown keys."""
    loc = [str(part) for part in error["loc"]]
    dotted = ".".join(loc)
    if error["type"] == "extra_forbidden":
        parents = [p for p in loc[:-1] if not p.isdigit()]
        try:
            known = _section_fields(DocvlConfig, parents)
        except KeyError:
            known = {}
        close = difflib.get_close_matches(loc[-1], list(known), n=1, cutoff=0.6)
        elsewhere = [
            f"{section}.{loc[-1]}"
            for section in DocvlConfig.model_fields
            if section != ".".join(parents) and loc[-1] in _section_fields(DocvlConfig, [section])
        ]
        if close:
            hint = f"did you mean '{'.'.join([*parents, close[0]])}'?"
        else:  # a key in the wrong section: top-level `deepspeed:` is `train.deepspeed`
            hint = f"did you mean '{elsewhere[0]}'?" if elsewhere else None
        return ConfigError(f"unknown config key '{dotted}'", source, hint)
    return ConfigError(f"{dotted}: {error['msg']} (got {error.get('input')!r})", source)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value parsed as YAML, so numbers, booleans, lists and null work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{text}' is not key=value", hint="e.g. train.learning_rate=1e-5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if raw.strip().lower() in _YAML11_BOOL_WORDS:  # `eval_strategy=no` means the string, not False
        value = raw.strip()
    # YAML 1.1 reads 1e-5 as a string; a number is what every such key wants.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted override into a nested dict (creating sections as needed)."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[path[-1]] = value
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from a file, with one-line errors for every way that can fail."""
    if not path.exists():
        raise ConfigError("config file does not exist", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("config file is not UTF-8 text", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"YAML does not parse{where}: {getattr(exc, 'problem', exc)}", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config must be a YAML mapping of sections", path)
    return data


def build_config(data: dict[str, Any], source: str = "<config>", overrides: list[str] | None = None) -> DocvlConfig:
    """Validate a nested dict into a `DocvlConfig`; the first problem becomes a ConfigError, named after the
    override that set the key when one did (a typo on the command line is not the YAML file's fault)."""
    try:
        return DocvlConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        culprit = next((text for text in reversed(overrides or []) if _is_prefix(parse_override(text)[0], loc)), None)
        raise _describe(error, f"override '{culprit}'" if culprit else source) from None


def _is_prefix(short: list[str], long: list[str]) -> bool:
    return long[: len(short)] == short


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> DocvlConfig:
    """The resolved config: defaults, then the YAML file (if any), then the overrides."""
    data = read_yaml(Path(path)) if path else {}
    data = apply_overrides(data, overrides or [])
    return build_config(data, str(path) if path else "<overrides>", overrides)


def dump_config(config: DocvlConfig) -> str:
    """The resolved config as YAML: every key, defaults included, so the file alone reproduces the run."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def save_config(config: DocvlConfig, directory: str | Path) -> Path:
    """Write `docvl.yaml` into `directory` atomically and return its path."""
    from docvl.io import atomic_write_text

    target = Path(directory) / CONFIG_FILENAME
    atomic_write_text(target, dump_config(config))
    return target


def find_saved_config(directory: str | Path) -> DocvlConfig | None:
    """The config saved next to an output (page set or checkpoint), or None when there is none."""
    path = Path(directory) / CONFIG_FILENAME
    return load_config(path) if path.is_file() else None
