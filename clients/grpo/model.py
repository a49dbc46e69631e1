"""Loading the policy, its tokenizer and the frozen reference model.

Pretrained models load offline only (``local_files_only``): from a local
folder, a Hub id already in the Hugging Face cache, or a GGUF file (dequantised
by transformers through the ``gguf`` package). ``model.tiny`` builds a random
GPT-2-style model and a character tokenizer in code, for tests and the CPU example.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from referee.clients.grpo.config import ModelConfig, TinyModelConfig
from referee.clients.grpo.tokenizer import CharTokenizer, HFTokenizer, Tokenizer

__all__ = ["LoadedModel", "frozen_copy", "load_model", "pick_device", "pick_dtype"]


@dataclass
class LoadedModel:
    """The policy (a transformers causal LM) and its tokenizer."""

    model: Any
    tokenizer: Tokenizer


def pick_device(setting: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device is cuda but no CUDA device is available")
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on a GPU that supports it, float32 otherwise (CPU included)."""
    if setting == "bfloat16":
        return torch.bfloat16
    if setting == "float32":
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_model(cfg: ModelConfig, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    """Build or load the policy on ``device`` in ``dtype``, in train mode."""
    if cfg.tiny is not None:
        loaded = _tiny(cfg.tiny)
    else:
        loaded = _pretrained(cfg.path or "", cfg.gguf_file, dtype)
    model = loaded.model.to(device=device, dtype=dtype)
    _disable_dropout(model)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    model.train()
    return LoadedModel(model, loaded.tokenizer)


def _disable_dropout(model: Any) -> None:
    """Dropout off: the sampling policy and the trained one must be the same function."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    for name in ("attention_dropout", "attn_pdrop", "resid_pdrop", "embd_pdrop"):
        if hasattr(model.config, name):
            setattr(model.config, name, 0.0)


def frozen_copy(model: Any) -> Any:
    """A copy of the model with no gradients, for the KL reference."""
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def _tiny(tiny: TinyModelConfig) -> LoadedModel:
    from transformers import GPT2Config, GPT2LMHeadModel

    if tiny.n_embd % tiny.n_head:
        raise ValueError("model.tiny.n_head must divide model.tiny.n_embd")
    tokenizer = CharTokenizer(tiny.alphabet)
    config = GPT2Config(
        vocab_size=tokenizer.vocab_size,
        n_positions=tiny.n_positions,
        n_embd=tiny.n_embd,
        n_layer=tiny.n_layer,
        n_head=tiny.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LoadedModel(GPT2LMHeadModel(config), tokenizer)


def _pretrained(path: str, gguf_file: str | None, dtype: torch.dtype) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    return LoadedModel(model, HFTokenizer(tokenizer))
