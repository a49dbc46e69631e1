"""Sampling a group of completions for one prompt: transformers ``generate`` or colocated vLLM.

A backend turns one prompt (token ids) into ``n`` ``Sample``s. vLLM is an
optional extra: it is imported only when ``generation.backend`` is ``vllm``,
and its weights are refreshed from the policy before each step's sampling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from referee.clients.grpo.config import GenerationConfig
from referee.clients.grpo.tokenizer import Tokenizer

__all__ = ["GenerationBackend", "HFGeneration", "Sample", "VLLMGeneration", "make_backend"]


@dataclass
class Sample:
    """One completion: ids include the end token when the model produced one."""

    prompt_ids: list[int]
    completion_ids: list[int]
    text: str
    truncated: bool


class GenerationBackend(Protocol):
    def sync_weights(self, model: Any) -> None: ...

    def generate(self, prompt_ids: list[int], n: int) -> list[Sample]: ...


def _to_sample(prompt_ids: list[int], ids: list[int], tokenizer: Tokenizer) -> Sample:
    """Cut a generated row at its first end token (kept) and decode it."""
    eos = tokenizer.eos_token_id
    if eos in ids:
        ids = ids[: ids.index(eos) + 1]
        truncated = False
    else:
        truncated = True
    return Sample(prompt_ids, ids, tokenizer.decode(ids), truncated)


class HFGeneration:
    """transformers ``generate`` with sampling, on the policy itself (CPU or GPU)."""

    def __init__(self, model: Any, tokenizer: Tokenizer, cfg: GenerationConfig) -> None:
        self._model = model
        self._tok = tokenizer
        self._cfg = cfg

    def sync_weights(self, model: Any) -> None:
        """Nothing to do: generation runs on the policy's own weights."""

    def _generation_config(self) -> Any:
        # A fresh config, not the model's generation_config.json: its repetition
        # penalty or top-k would make the sampling policy differ from the trained one.
        from transformers import GenerationConfig as HFGenerationConfig

        return HFGenerationConfig(  # type: ignore[no-untyped-call]
            do_sample=True,
            temperature=self._cfg.temperature,
            top_p=self._cfg.top_p,
            top_k=self._cfg.top_k,
            max_new_tokens=self._cfg.max_new_tokens,
            eos_token_id=self._tok.eos_token_id,
            pad_token_id=self._tok.pad_token_id,
            use_cache=True,
        )

    @torch.no_grad()
    def generate(self, prompt_ids: list[int], n: int) -> list[Sample]:
        model = self._model
        device = next(model.parameters()).device
        input_ids = torch.tensor([prompt_ids] * n, dtype=torch.long, device=device)
        was_training = model.training
        model.eval()
        try:
            out = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=self._generation_config(),
            )
        finally:
            if was_training:
                model.train()
        rows = out[:, len(prompt_ids) :].tolist()
        return [_to_sample(prompt_ids, row, self._tok) for row in rows]


class VLLMGeneration:
    """A colocated vLLM engine on the training GPU (tensor parallel 1).

    Needs ``pip install vllm`` (not part of the ``train`` extra). The engine runs
    in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) so that the policy's
    weights can be loaded into it directly before each step.
    """

    def __init__(self, model_path: str, tokenizer: Tokenizer, cfg: GenerationConfig) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        try:
            import vllm
        except ImportError as exc:
            raise RuntimeError(
                "generation.backend is vllm but vllm is not installed (pip install vllm)"
            ) from exc
        self._vllm = vllm
        self._tok = tokenizer
        self._cfg = cfg
        self._llm = vllm.LLM(
            model=model_path,
            gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
            enable_prefix_caching=True,
            tensor_parallel_size=1,
        )

    def sync_weights(self, model: Any) -> None:
        weights = [(name, p.detach()) for name, p in model.named_parameters()]
        self._llm.apply_model(lambda m: m.load_weights(weights))
        self._llm.reset_prefix_cache()

    def generate(self, prompt_ids: list[int], n: int) -> list[Sample]:
        params = self._vllm.SamplingParams(
            n=n,
            temperature=self._cfg.temperature,
            top_p=self._cfg.top_p,
            top_k=self._cfg.top_k if self._cfg.top_k > 0 else -1,
            max_tokens=self._cfg.max_new_tokens,
        )
        outputs = self._llm.generate([{"prompt_token_ids": prompt_ids}], params, use_tqdm=False)
        return [_to_sample(prompt_ids, list(c.token_ids), self._tok) for c in outputs[0].outputs]


def make_backend(
    cfg: GenerationConfig, model: Any, tokenizer: Tokenizer, model_path: str | None
) -> GenerationBackend:
    """The configured backend; vllm needs a pretrained model path."""
    if cfg.backend == "vllm":
        if model_path is None:
            raise ValueError("generation.backend vllm needs model.path (not model.tiny)")
        return VLLMGeneration(model_path, tokenizer, cfg)
    return HFGeneration(model, tokenizer, cfg)
