from pathlib import Path

import pytest

from docvl.config import (
    CONFIG_FILENAME,
    DocvlConfig,
    dump_config,
    find_saved_config,
    load_config,
    parse_override,
    save_config,
)
from docvl.errors import ConfigError


def test_defaults_are_the_tiny_cpu_setup() -> None:
    cfg = load_config()
    assert cfg.model.name_or_path == "tiny:qwen2_5_vl"
    assert cfg.data.target_longest_image_dim == 1288
    assert cfg.train.deepspeed is None


def test_dotted_overrides_are_typed() -> None:
    cfg = load_config(None, ["train.learning_rate=1e-5", "data.max_length=4096", "train.bf16=true"])
    assert cfg.train.learning_rate == pytest.approx(1e-5)
    assert cfg.data.max_length == 4096
    assert cfg.train.bf16 is True


def test_override_parsing() -> None:
    assert parse_override("a.b=1e-5") == (["a", "b"], 1e-5)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=null") == (["a"], None)
    assert parse_override("train.eval_strategy=no") == (["train", "eval_strategy"], "no")
    assert parse_override("x=true") == (["x"], True)
    with pytest.raises(ConfigError, match="not key=value"):
        parse_override("novalue")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.learning_rat=1", "did you mean 'train.learning_rate'"),
        ("trian.seed=1", "did you mean 'train'"),
        ("data.max_length=abc", "data.max_length"),
        ("train.lr_scheduler_type=exponential", "train.lr_scheduler_type"),
    ],
)
def test_bad_keys_and_values_are_one_line(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_yaml_file_with_nested_deepspeed(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("train:\n  output_dir: out\n  deepspeed: configs/deepspeed/zero2.json\n")
    cfg = load_config(path)
    assert cfg.train.deepspeed == "configs/deepspeed/zero2.json"


def test_deepspeed_at_top_level_is_rejected_with_hint(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("deepspeed: zero2.json\n")
    with pytest.raises(ConfigError, match="unknown config key 'deepspeed'"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("train: [1\n", "does not parse at line"), ("- a\n- b\n", "must be a YAML mapping")],
)
def test_broken_yaml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("nope/none.yaml")


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(None, ["train.seed=7", "data.train=[{name: a, path: /x, weight: 2}]"])
    path = save_config(cfg, tmp_path)
    assert path.name == CONFIG_FILENAME
    again = find_saved_config(tmp_path)
    assert again == cfg
    assert isinstance(again, DocvlConfig)
    assert "seed: 7" in dump_config(cfg)
    assert find_saved_config(tmp_path / "none") is None
