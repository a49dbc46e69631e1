"""One optimisation step on a sampled batch: log-probabilities, the clipped loss, AdamW.

Sequences are laid out as ``[left padding, prompt, completion, right padding]``
so that every completion starts at the same column: the model is asked for the
logits of the completion columns only (``logits_to_keep``), which keeps a large
vocabulary's logits off the rest of the sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from referee.clients.grpo.config import AlgorithmConfig
from referee.clients.grpo.generation import Sample
from referee.clients.grpo.losses import loss_normaliser, policy_loss

__all__ = ["Batch", "UpdateStats", "build_batch", "completion_logprobs", "optimise"]


@dataclass
class Batch:
    """A padded batch; ``mask`` marks the completion tokens that count in the loss."""

    input_ids: torch.Tensor  # (B, P + T)
    attention_mask: torch.Tensor  # (B, P + T)
    completion_len: int  # T
    mask: torch.Tensor  # (B, T) float
    advantages: torch.Tensor  # (B,)

    def rows(self, index: slice) -> Batch:
        return Batch(
            self.input_ids[index],
            self.attention_mask[index],
            self.completion_len,
            self.mask[index],
            self.advantages[index],
        )


def build_batch(
    samples: Sequence[Sample],
    advantages: Sequence[float],
    trainable: Sequence[bool],
    pad_id: int,
    device: torch.device,
) -> Batch:
    """Pad samples into a batch; a sample that is not ``trainable`` gets an all-zero mask."""
    prompt_len = max(len(s.prompt_ids) for s in samples)
    completion_len = max(max(len(s.completion_ids) for s in samples), 1)
    ids, attention, mask = [], [], []
    for s, use in zip(samples, trainable, strict=True):
        left = prompt_len - len(s.prompt_ids)
        right = completion_len - len(s.completion_ids)
        ids.append([pad_id] * left + s.prompt_ids + s.completion_ids + [pad_id] * right)
        attention.append(
            [0] * left + [1] * (len(s.prompt_ids) + len(s.completion_ids)) + [0] * right
        )
        mask.append([float(use)] * len(s.completion_ids) + [0.0] * right)
    return Batch(
        torch.tensor(ids, dtype=torch.long, device=device),
        torch.tensor(attention, dtype=torch.long, device=device),
        completion_len,
        torch.tensor(mask, dtype=torch.float32, device=device),
        torch.tensor(list(advantages), dtype=torch.float32, device=device),
    )


def completion_logprobs(model: Any, batch: Batch, temperature: float) -> torch.Tensor:
    """Log-probability of each completion token under ``model`` at the sampling temperature."""
    positions = (batch.attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    t = batch.completion_len
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions,
        logits_to_keep=t + 1,
        use_cache=False,
    ).logits
    # The logit at column c predicts the token at c + 1.
    logits = logits[:, -(t + 1) : -1, :].float() / temperature
    targets = batch.input_ids[:, -t:]
    logp = torch.log_softmax(logits, dim=-1)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


@dataclass
class UpdateStats:
    loss: float
    clip_fraction: float
    kl: float | None
    grad_norm: float


def optimise(
    model: Any,
    ref_model: Any | None,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    cfg: AlgorithmConfig,
    *,
    micro_batch_size: int,
    max_new_tokens: int,
    temperature: float,
    max_grad_norm: float,
) -> UpdateStats:
    """``cfg.updates_per_batch`` optimiser steps, each accumulating over all micro-batches."""
    n = batch.input_ids.shape[0]
    chunks = [slice(i, min(i + micro_batch_size, n)) for i in range(0, n, micro_batch_size)]
    normaliser = loss_normaliser(batch.mask, cfg.loss_type, max_new_tokens)
    with torch.no_grad():
        ref = (
            [completion_logprobs(ref_model, batch.rows(c), temperature) for c in chunks]
            if ref_model is not None and cfg.beta > 0
            else None
        )
        # With one update per batch the policy has not moved: old = current (ratio 1).
        old = (
            [completion_logprobs(model, batch.rows(c), temperature) for c in chunks]
            if cfg.updates_per_batch > 1
            else None
        )
    tokens = clipped = kl_sum = loss_sum = grad_norm = 0.0
    for _ in range(cfg.updates_per_batch):
        optimizer.zero_grad(set_to_none=True)
        for k, c in enumerate(chunks):
            part = batch.rows(c)
            logp = completion_logprobs(model, part, temperature)
            loss, stats = policy_loss(
                logp,
                old[k] if old is not None else logp.detach(),
                part.advantages,
                part.mask,
                loss_type=cfg.loss_type,
                normaliser=normaliser,
                epsilon_low=cfg.epsilon_low,
                epsilon_high=cfg.epsilon_high,
                beta=cfg.beta,
                ref_logp=ref[k] if ref is not None else None,
            )
            loss.backward()  # type: ignore[no-untyped-call]
            loss_sum += float(loss.item())
            tokens += stats.tokens
            clipped += stats.clipped
            kl_sum += stats.kl_sum
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
        optimizer.step()
    return UpdateStats(
        loss=loss_sum / cfg.updates_per_batch,
        clip_fraction=clipped / tokens if tokens else 0.0,
        kl=kl_sum / tokens if ref is not None and tokens else None,
        grad_norm=grad_norm,
    )
