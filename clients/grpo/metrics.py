"""Per-step metrics (one JSON line each in ``metrics.jsonl``) and the training plot.

Every figure is computed from what the step sampled, before any dynamic-sampling
filter, except the update's own (loss, clip fraction, KL), which are over the
trained batch. docs/grpo.md explains each key.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from referee.clients.grpo.rollout import StepRollouts
from referee.clients.grpo.update import UpdateStats

__all__ = ["METRICS_FILE", "PLOT_FILE", "plot_metrics", "read_metrics", "step_metrics"]

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "training.png"


def step_metrics(
    step: int,
    rollouts: StepRollouts,
    update: UpdateStats | None,
    *,
    trained_samples: int,
    step_s: float,
    update_s: float,
) -> dict[str, Any]:
    """The metrics line of one step."""
    samples = [s for g in rollouts.sampled for s in g.samples]
    rewards = [r for g in rollouts.sampled for r in g.rewards]
    values = [r.reward for r in rewards if r.reward is not None]
    mean = sum(values) / len(values) if values else None
    std = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        if values and mean is not None
        else None
    )
    lengths = [len(s.completion_ids) for s in samples]
    tokens = sum(lengths)
    outcomes = Counter(r.outcome for r in rewards)
    return {
        "step": step,
        "reward_mean": mean,
        "reward_std": std,
        "samples": len(samples),
        "groups_sampled": len(rollouts.sampled),
        "groups_kept": len(rollouts.kept),
        "trained_samples": trained_samples,
        "sampling_rounds": rollouts.rounds,
        "outcomes": dict(sorted(outcomes.items())),
        "errors": sum(1 for r in rewards if r.reward is None),
        "truncated": sum(1 for s in samples if s.truncated),
        "response_length_mean": tokens / len(samples) if samples else 0.0,
        "response_length_max": max(lengths, default=0),
        "loss": update.loss if update else None,
        "clip_fraction": update.clip_fraction if update else None,
        "kl": update.kl if update else None,
        "grad_norm": update.grad_norm if update else None,
        "tokens_per_s": tokens / step_s if step_s > 0 else 0.0,
        "step_s": step_s,
        "generation_s": rollouts.generation_s,
        "update_s": update_s,
        "reward_wait_s": rollouts.reward_wait_s,
        "scoring_s": rollouts.scoring_s,
        "reward_wait_share": rollouts.reward_wait_s / step_s if step_s > 0 else 0.0,
    }


def read_metrics(output_dir: Path) -> list[dict[str, Any]]:
    path = output_dir / METRICS_FILE
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_metrics(output_dir: Path) -> Path:
    """Draw reward (mean with a ±std band) and response length per step into training.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(output_dir) if r.get("reward_mean") is not None]
    steps = [r["step"] for r in rows]
    mean = [r["reward_mean"] for r in rows]
    std = [r["reward_std"] or 0.0 for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(steps, mean, color="tab:blue", label="reward mean")
    top.fill_between(
        steps,
        [m - s for m, s in zip(mean, std, strict=True)],
        [m + s for m, s in zip(mean, std, strict=True)],
        color="tab:blue",
        alpha=0.2,
        label="± std",
    )
    top.set_ylabel("reward")
    top.legend(loc="lower right")
    top.grid(alpha=0.3)
    bottom.plot(steps, [r["response_length_mean"] for r in rows], color="tab:orange")
    bottom.set_ylabel("response length (tokens)")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    fig.suptitle(f"GRPO training: {output_dir.name}")
    fig.tight_layout()
    out = output_dir / PLOT_FILE
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
