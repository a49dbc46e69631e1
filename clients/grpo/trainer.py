"""The GRPO training loop: sample and score, compute advantages, update, log, checkpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from referee.clients.grpo.config import TrainConfig
from referee.clients.grpo.data import PromptSampler, load_prompts
from referee.clients.grpo.generation import make_backend
from referee.clients.grpo.losses import group_advantages
from referee.clients.grpo.metrics import METRICS_FILE, plot_metrics, step_metrics
from referee.clients.grpo.model import frozen_copy, load_model, pick_device, pick_dtype
from referee.clients.grpo.rollout import StepRollouts, sample_step
from referee.clients.grpo.scoring import RefereeScorer, Scorer
from referee.clients.grpo.update import UpdateStats, build_batch, optimise

__all__ = ["CHECKPOINT_FILE", "ROLLOUTS_FILE", "train"]

CHECKPOINT_FILE = "checkpoint.pt"
ROLLOUTS_FILE = "rollouts.jsonl"
log = logging.getLogger(__name__)


def train(cfg: TrainConfig, scorer_factory: Callable[[], Scorer] | None = None) -> Path:
    """Run ``cfg`` to its last step; return the output folder.

    ``scorer_factory`` replaces the Referee client (tests of the loop's own logic).
    """
    return asyncio.run(_train(cfg, scorer_factory))


async def _train(cfg: TrainConfig, scorer_factory: Callable[[], Scorer] | None) -> Path:
    out_dir = cfg.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(cfg.model_dump_json(indent=2), encoding="utf-8")
    if cfg.training.torch_threads:
        torch.set_num_threads(cfg.training.torch_threads)
    _seed_everything(cfg.seed)
    device = pick_device(cfg.training.device)
    dtype = pick_dtype(cfg.model.dtype, device)
    loaded = load_model(cfg.model, device, dtype)
    model, tokenizer = loaded.model, loaded.tokenizer
    ref_model = frozen_copy(model) if cfg.algorithm.beta > 0 else None
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.training.learning_rate, weight_decay=cfg.training.weight_decay
    )
    rows = load_prompts(cfg.data, tokenizer)
    start_step, position = 0, 0
    checkpoint = out_dir / CHECKPOINT_FILE
    if cfg.training.resume and checkpoint.exists():
        start_step, position = _load_checkpoint(checkpoint, model, optimizer)
        log.info("resumed from %s at step %d", checkpoint, start_step)
    else:
        for name in (METRICS_FILE, ROLLOUTS_FILE):
            (out_dir / name).unlink(missing_ok=True)
    sampler = PromptSampler(rows, cfg.seed, position, cfg.data.shuffle)
    backend = make_backend(cfg.generation, model, tokenizer, cfg.model.path)
    scorer = scorer_factory() if scorer_factory else RefereeScorer(cfg.server, cfg.verifier)
    alg = cfg.algorithm
    bar = _progress(cfg, start_step)
    try:
        for step in range(start_step + 1, cfg.training.steps + 1):
            t0 = time.perf_counter()
            backend.sync_weights(model)
            rollouts = await sample_step(sampler, backend, scorer, alg)
            samples = [s for g in rollouts.kept for s in g.samples]
            rewards = [r.reward for g in rollouts.kept for r in g.rewards]
            update: UpdateStats | None = None
            t_update = time.perf_counter()
            if samples:
                advantages = group_advantages(rewards, alg.group_size, alg.scale_rewards)
                trainable = [
                    r is not None and not (alg.mask_truncated and s.truncated)
                    for s, r in zip(samples, rewards, strict=True)
                ]
                batch = build_batch(samples, advantages, trainable, tokenizer.pad_token_id, device)
                update = optimise(
                    model,
                    ref_model,
                    optimizer,
                    batch,
                    alg,
                    micro_batch_size=cfg.training.micro_batch_size,
                    max_new_tokens=cfg.generation.max_new_tokens,
                    temperature=cfg.generation.temperature,
                    max_grad_norm=cfg.training.max_grad_norm,
                )
            now = time.perf_counter()
            line = step_metrics(
                step,
                rollouts,
                update,
                trained_samples=len(samples),
                step_s=now - t0,
                update_s=now - t_update,
            )
            with (out_dir / METRICS_FILE).open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            if cfg.training.log_rollouts:
                _log_rollouts(out_dir / ROLLOUTS_FILE, step, rollouts)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    reward=_fmt(line["reward_mean"]), wait=_fmt(line["reward_wait_share"])
                )
            every = cfg.training.save_every
            if step == cfg.training.steps or (every and step % every == 0):
                _save_checkpoint(checkpoint, model, optimizer, step, sampler.position)
    finally:
        if bar is not None:
            bar.close()
        await scorer.aclose()
    if cfg.training.plot:
        plot_metrics(out_dir)
    return out_dir


def _log_rollouts(path: Path, step: int, rollouts: StepRollouts) -> None:
    kept = {id(g) for g in rollouts.kept}
    with path.open("a", encoding="utf-8") as f:
        for group in rollouts.sampled:
            for sample, reward in zip(group.samples, group.rewards, strict=True):
                line = {
                    "step": step,
                    "prompt_index": group.row.index,
                    "response": sample.text,
                    "tokens": len(sample.completion_ids),
                    "truncated": sample.truncated,
                    "reward": reward.reward,
                    "outcome": reward.outcome,
                    "kept": id(group) in kept,
                }
                f.write(json.dumps(line) + "\n")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _progress(cfg: TrainConfig, start: int) -> Any:
    if not cfg.training.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.training.steps, initial=start, unit="step", file=sys.stderr)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _save_checkpoint(
    path: Path, model: Any, optimizer: torch.optim.Optimizer, step: int, position: int
) -> None:
    """Write atomically: a run killed while saving keeps its previous checkpoint."""
    state = {
        "step": step,
        "prompt_position": position,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": {
            "python": random.getstate(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        },
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, model: Any, optimizer: torch.optim.Optimizer) -> tuple[int, int]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    random.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return int(state["step"]), int(state["prompt_position"])
