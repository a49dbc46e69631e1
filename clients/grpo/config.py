"""The trainer's configuration: one YAML file validated by pydantic, every field documented.

``load_config(path)`` reads the YAML; the server address in it is overridden by
the ``REFEREE_URL`` environment variable, and relative paths are taken from the
YAML file's folder. docs/grpo.md lists every field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AlgorithmConfig",
    "DataConfig",
    "GenerationConfig",
    "ModelConfig",
    "ServerConfig",
    "TinyModelConfig",
    "TrainConfig",
    "TrainingConfig",
    "load_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """Where the Referee server is and how to call it."""

    url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of `referee serve`; the REFEREE_URL environment variable wins.",
    )
    api_key: str | None = Field(
        None, description="Bearer key; unset reads REFEREE_API_KEY, as the client does."
    )
    timeout_s: float = Field(300.0, gt=0, description="Per HTTP request.")
    retries: int = Field(5, ge=0, description="Retries on connection errors, 429 and 503.")


class TinyModelConfig(_Section):
    """A randomly initialised GPT-2-style model with a character tokenizer, built in code."""

    alphabet: str = Field(description="Characters the tokenizer knows (an end token is added).")
    n_layer: int = Field(2, ge=1, description="Transformer blocks.")
    n_embd: int = Field(64, ge=8, description="Hidden size.")
    n_head: int = Field(4, ge=1, description="Attention heads (must divide n_embd).")
    n_positions: int = Field(64, ge=8, description="Longest prompt + completion in tokens.")


class ModelConfig(_Section):
    """The policy: a pretrained model (local folder, Hub id in the local cache, GGUF) or tiny."""

    path: str | None = Field(
        None,
        description="Local folder, or a Hub id already in the Hugging Face cache (loaded "
        "offline, never downloaded). A folder or id holding GGUF files needs gguf_file.",
    )
    gguf_file: str | None = Field(
        None, description="Name of the .gguf file inside `path` (dequantised at load)."
    )
    tiny: TinyModelConfig | None = Field(
        None, description="Build a random tiny model instead of loading one (tests, examples)."
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="auto: bfloat16 on a GPU that supports it, else float32."
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in backward (GPU memory for time)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.path is None) == (self.tiny is None):
            raise ValueError("set exactly one of model.path and model.tiny")
        return self


class DataConfig(_Section):
    """The prompts: a JSONL file with a prompt and a reference per line."""

    path: Path = Field(description="JSONL file; relative paths are from the config's folder.")
    prompt_field: str = Field("prompt", description="Column holding the prompt text.")
    reference_field: str = Field(
        "reference", description="Column holding the verifier's reference (any JSON)."
    )
    verifier_field: str | None = Field(
        "verifier",
        description="Optional column with a per-row verifier spec overriding `verifier`; "
        "rows without it use the default.",
    )
    chat_template: bool = Field(
        False, description="Wrap each prompt in the tokenizer's chat template."
    )
    system_prompt: str | None = Field(None, description="System message (chat template only).")
    shuffle: bool = Field(True, description="Seeded shuffle each epoch; false: file order.")
    prompt_template: str = Field(
        "{prompt}", description="Python format string applied to the prompt first."
    )


class AlgorithmConfig(_Section):
    """GRPO and its variants."""

    group_size: int = Field(8, ge=2, description="G: completions sampled per prompt.")
    prompts_per_step: int = Field(8, ge=1, description="Groups per optimisation step.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group",
        description="Divide advantages by the group's reward std (GRPO), the batch's, or not "
        "at all (Dr. GRPO).",
    )
    loss_type: Literal["grpo", "dapo", "dr_grpo"] = Field(
        "dapo",
        description="grpo: mean over each sequence, then over sequences; dapo: mean over "
        "all tokens of the batch; dr_grpo: sum over tokens / (sequences x max_new_tokens).",
    )
    epsilon_low: float = Field(0.2, ge=0, description="Lower clip: ratio >= 1 - epsilon_low.")
    epsilon_high: float = Field(
        0.28, ge=0, description="Upper clip (DAPO clip-higher): ratio <= 1 + epsilon_high."
    )
    updates_per_batch: int = Field(
        1, ge=1, description="mu: optimiser passes over each sampled batch (PPO epochs)."
    )
    beta: float = Field(
        0.0,
        ge=0,
        description="k3 KL penalty weight to a frozen copy of the initial model; 0 "
        "loads no reference model.",
    )
    dynamic_sampling: bool = Field(
        False,
        description="DAPO: drop groups whose rewards are all equal and sample more prompts "
        "until prompts_per_step groups remain (or max_sampling_rounds is reached).",
    )
    max_sampling_rounds: int = Field(
        3, ge=1, description="Sampling rounds per step with dynamic sampling."
    )
    mask_truncated: bool = Field(
        True,
        description="Leave completions cut at max_new_tokens (no end token) out of the loss.",
    )


class GenerationConfig(_Section):
    """How completions are sampled."""

    backend: Literal["hf", "vllm"] = Field(
        "hf", description="hf: transformers generate; vllm: colocated vLLM (optional extra)."
    )
    max_new_tokens: int = Field(256, ge=1, description="Longest completion in tokens.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling.")
    top_k: int = Field(0, ge=0, description="Top-k sampling; 0 is off.")
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, lt=1, description="Share of GPU memory vLLM may take (vllm backend)."
    )


class TrainingConfig(_Section):
    """Optimisation, devices, checkpoints."""

    steps: int = Field(100, ge=1, description="Optimisation steps (sampled batches).")
    learning_rate: float = Field(1e-6, gt=0, description="AdamW learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping by global norm.")
    micro_batch_size: int = Field(
        8, ge=1, description="Sequences per forward pass; gradients accumulate over the batch."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda if present.")
    torch_threads: int | None = Field(
        None, ge=1, description="torch.set_num_threads; unset keeps torch's default."
    )
    save_every: int = Field(0, ge=0, description="Checkpoint every N steps (0: only at the end).")
    resume: bool = Field(True, description="Continue from OUTPUT_DIR/checkpoint.pt when it exists.")
    plot: bool = Field(True, description="Write OUTPUT_DIR/training.png at the end.")
    log_rollouts: bool = Field(
        False,
        description="Append every sampled completion with its reward to OUTPUT_DIR/rollouts.jsonl.",
    )
    progress: bool = Field(True, description="Show a progress bar on stderr.")


class TrainConfig(_Section):
    """A whole run: ``referee train --config run.yaml``."""

    seed: int = Field(0, description="Seeds Python, torch and the prompt order.")
    output_dir: Path = Field(
        Path("grpo-output"), description="metrics.jsonl, the plot, checkpoints; --output-dir wins."
    )
    server: ServerConfig = Field(default_factory=lambda: ServerConfig())
    model: ModelConfig
    data: DataConfig
    verifier: Any = Field(
        description="Default verifier spec sent with every item: a name, a "
        '{"name", "params", "weight"} component, or a list of components.'
    )
    algorithm: AlgorithmConfig = Field(default_factory=lambda: AlgorithmConfig())
    generation: GenerationConfig = Field(default_factory=lambda: GenerationConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())


def load_config(path: Path, output_dir: Path | None = None) -> TrainConfig:
    """Read and validate a YAML config; apply REFEREE_URL and ``output_dir`` overrides."""
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    base = path.resolve().parent
    data: dict[str, Any] = dict(raw)
    if isinstance(data.get("data"), dict):
        data["data"] = {**data["data"]}
        if "path" in data["data"]:
            data["data"]["path"] = str(_from(base, str(data["data"]["path"])))
    if isinstance(data.get("model"), dict) and data["model"].get("path"):
        candidate = _from(base, str(data["model"]["path"]))
        if candidate.exists():
            data["model"] = {**data["model"], "path": str(candidate)}
    env_url = os.environ.get("REFEREE_URL")
    if env_url:
        data["server"] = {**(data.get("server") or {}), "url": env_url}
    if output_dir is not None:
        data["output_dir"] = str(output_dir)
    return TrainConfig.model_validate(data)


def _from(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
