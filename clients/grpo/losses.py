"""Group-relative advantages and the clipped policy loss of GRPO, DAPO and Dr. GRPO.

Pure tensor functions, no model: the trainer calls them per micro-batch with
normalisers computed once over the whole (global) batch, so that summing the
micro-batch losses gives exactly the loss of the batch, whatever the split.

Shapes: ``B`` sequences, ``T`` completion positions. ``mask`` is 1.0 on the
completion tokens that count in the loss, 0.0 elsewhere (padding, and every
token of a masked sample: an ``error`` result, a truncated completion).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "LossStats",
    "LossType",
    "ScaleRewards",
    "group_advantages",
    "k3_kl",
    "loss_normaliser",
    "policy_loss",
]

ScaleRewards = Literal["group", "batch", "none"]
LossType = Literal["grpo", "dapo", "dr_grpo"]

# Added to the standard deviation so that a group of equal rewards divides 0 by a
# small number rather than by zero (its advantages are all 0 either way).
_STD_EPS = 1e-4


def group_advantages(
    rewards: Sequence[float | None], group_size: int, scale: ScaleRewards
) -> list[float]:
    """Advantage of each sample: its reward minus its group's mean, optionally scaled.

    ``rewards`` holds ``n * group_size`` values, group by group; ``None`` is a
    sample with no reward (an ``error`` result), which is left out of every mean
    and standard deviation and gets advantage 0 (the trainer also masks it).
    ``scale``: ``"group"`` divides by the group's standard deviation (GRPO),
    ``"batch"`` by the standard deviation of all rewards of the batch,
    ``"none"`` does not divide (Dr. GRPO). Standard deviations are the sample
    (n - 1) kind; fewer than two rewards give 0.
    """
    if group_size < 1 or len(rewards) % group_size:
        raise ValueError(f"{len(rewards)} rewards do not split into groups of {group_size}")
    valid = [r for r in rewards if r is not None]
    batch_std = _std(valid)
    advantages: list[float] = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start : start + group_size]
        present = [r for r in group if r is not None]
        mean = sum(present) / len(present) if present else 0.0
        if scale == "group":
            denominator = _std(present) + _STD_EPS
        elif scale == "batch":
            denominator = batch_std + _STD_EPS
        else:
            denominator = 1.0
        advantages.extend(0.0 if r is None else (r - mean) / denominator for r in group)
    return advantages


def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def loss_normaliser(mask: torch.Tensor, loss_type: LossType, max_completion_tokens: int) -> float:
    """The constant a batch's summed loss is divided by, computed on the whole batch.

    ``grpo``: the number of sequences with at least one token in the loss (each
    sequence's loss is first averaged over its own tokens). ``dapo``: the number
    of loss tokens in the batch (token-level mean). ``dr_grpo``: the number of
    sequences times ``max_completion_tokens``, the same for every batch.
    """
    if loss_type == "grpo":
        value = float((mask.sum(dim=1) > 0).sum().item())
    elif loss_type == "dapo":
        value = float(mask.sum().item())
    else:
        value = float(mask.shape[0] * max_completion_tokens)
    return max(value, 1.0)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(policy || reference): exp(r) - r - 1, r = ref - policy."""
    diff = ref_logp - logp
    return torch.exp(diff) - diff - 1.0


@dataclass(frozen=True)
class LossStats:
    """Sums over the micro-batch's loss tokens, for the step's metrics."""

    tokens: float
    clipped: float
    kl_sum: float


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    loss_type: LossType,
    normaliser: float,
    epsilon_low: float,
    epsilon_high: float,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
) -> tuple[torch.Tensor, LossStats]:
    """The clipped surrogate loss of a micro-batch, already divided by the batch normaliser.

    Per token: ``-min(ratio * A, clip(ratio, 1 - epsilon_low, 1 + epsilon_high) * A)``
    with ``ratio = exp(logp - old_logp)`` and ``A`` the sequence's advantage,
    plus ``beta * k3_kl`` when a reference is given. ``grpo`` averages each
    sequence over its own tokens before summing; ``dapo`` and ``dr_grpo`` sum
    tokens. The result summed over all micro-batches of a batch is the batch's loss.
    """
    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - epsilon_low, 1.0 + epsilon_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl_sum = 0.0
    if beta and ref_logp is not None:
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + beta * kl
        kl_sum = float((kl.detach() * mask).sum().item())
    if loss_type == "grpo":
        lengths = mask.sum(dim=1)
        per_sequence = (per_token * mask).sum(dim=1) / lengths.clamp(min=1.0)
        total = per_sequence.sum()
    else:
        total = (per_token * mask).sum()
    # A token is clipped when the clip took the gradient away from it.
    was_clipped = ((ratio < 1.0 - epsilon_low) & (adv < 0)) | (
        (ratio > 1.0 + epsilon_high) & (adv > 0)
    )
    stats = LossStats(
        tokens=float(mask.sum().item()),
        clipped=float((was_clipped.float() * mask).sum().item()),
        kl_sum=kl_sum,
    )
    return total / normaliser, stats
