"""Config loading: overrides, relative paths, strict validation, every field documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from referee.clients.grpo.config import TrainConfig, load_config

ROOT = Path(__file__).parents[3]
MINIMAL = "model: {tiny: {alphabet: ab}}\ndata: {path: rows.jsonl}\nverifier: exact_match\n"


def test_env_url_and_output_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(MINIMAL + "server: {url: http://config:1}\n")
    monkeypatch.delenv("REFEREE_URL", raising=False)
    assert load_config(config).server.url == "http://config:1"
    monkeypatch.setenv("REFEREE_URL", "http://env:2")
    cfg = load_config(config, tmp_path / "out")
    assert cfg.server.url == "http://env:2"
    assert cfg.output_dir == tmp_path / "out"
    assert cfg.data.path == tmp_path / "rows.jsonl"  # relative to the config's folder


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("algorithm: {loss_typ: dapo}\n", "algorithm.loss_typ"),
        ("algorithm: {group_size: 1}\n", "algorithm.group_size"),
        ("algorithm: {scale_rewards: sometimes}\n", "algorithm.scale_rewards"),
        ("generation: {backend: sglang}\n", "generation.backend"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, extra: str, field: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(MINIMAL + extra)
    with pytest.raises(ValidationError) as info:
        load_config(config)
    assert field in str(info.value)


def test_model_needs_exactly_one_source(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(MINIMAL.replace("{tiny: {alphabet: ab}}", "{dtype: auto}"))
    with pytest.raises(ValidationError, match=r"exactly one of model\.path and model\.tiny"):
        load_config(config)


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        nested = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)]
        sub = [a for a in nested if issubclass(a, BaseModel)]
        if sub:
            out += _fields(sub[0], f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def test_docs_list_every_field_with_its_description() -> None:
    docs = (ROOT / "docs" / "grpo.md").read_text()
    names = _fields(TrainConfig)
    assert len(names) > 40
    for name in names:
        assert f"`{name}`" in docs, name


@pytest.mark.parametrize("example", ["grpo-tiny-cpu.yaml", "grpo-gsm8k-gpu.yaml"])
def test_examples_validate(example: str) -> None:
    cfg = load_config(ROOT / "examples" / example)
    assert cfg.data.path.is_file()
