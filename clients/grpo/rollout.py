"""Sampling a step's batch: generate group after group while earlier groups are being scored.

Generation runs in a worker thread (``asyncio.to_thread``) so that the event
loop keeps sending finished groups to the server: each group's scoring request
starts as soon as that group is generated, and the step waits only for the
scores still missing when the last group is done (``reward_wait_s``).

With dynamic sampling (DAPO), groups whose rewards are all equal carry no
signal and are dropped; more prompts are sampled, in further rounds, until the
batch is full or ``max_sampling_rounds`` is reached.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from referee.clients.grpo.config import AlgorithmConfig
from referee.clients.grpo.data import PromptRow, PromptSampler
from referee.clients.grpo.generation import GenerationBackend, Sample
from referee.clients.grpo.scoring import Reward, Scorer

__all__ = ["Group", "StepRollouts", "has_signal", "sample_step"]


@dataclass
class Group:
    """One prompt's samples and their rewards, in the same order."""

    row: PromptRow
    samples: list[Sample]
    rewards: list[Reward]


@dataclass
class StepRollouts:
    """Everything sampled for one step; ``kept`` are the groups trained on."""

    sampled: list[Group] = field(default_factory=list)
    kept: list[Group] = field(default_factory=list)
    rounds: int = 0
    generation_s: float = 0.0
    reward_wait_s: float = 0.0
    scoring_s: float = 0.0  # summed latency of the groups' scoring requests


def has_signal(group: Group) -> bool:
    """Whether the group's judged rewards differ (at least two, not all equal)."""
    values = [r.reward for r in group.rewards if r.reward is not None]
    return len(values) >= 2 and max(values) != min(values)


async def sample_step(
    sampler: PromptSampler,
    backend: GenerationBackend,
    scorer: Scorer,
    cfg: AlgorithmConfig,
) -> StepRollouts:
    """Sample ``cfg.prompts_per_step`` groups (refilling dropped ones with dynamic sampling)."""
    out = StepRollouts()
    wanted = cfg.prompts_per_step
    to_sample = wanted
    while True:
        out.rounds += 1
        groups = await _sample_round(sampler, backend, scorer, cfg.group_size, to_sample, out)
        out.sampled.extend(groups)
        if not cfg.dynamic_sampling:
            out.kept.extend(groups)
            break
        new = [g for g in groups if has_signal(g)]
        out.kept.extend(new)
        missing = wanted - len(out.kept)
        if missing <= 0 or out.rounds >= cfg.max_sampling_rounds:
            break
        # Sample as many as the keep rate seen so far says should fill the batch.
        keep_rate = max(len(out.kept) / len(out.sampled), 1.0 / wanted)
        to_sample = min(wanted, math.ceil(missing / keep_rate))
    out.kept = out.kept[:wanted]
    return out


async def _timed(
    scorer: Scorer, row: PromptRow, samples: list[Sample], out: StepRollouts
) -> list[Reward]:
    start = time.perf_counter()
    try:
        return await scorer(row, samples)
    finally:
        out.scoring_s += time.perf_counter() - start


async def _sample_round(
    sampler: PromptSampler,
    backend: GenerationBackend,
    scorer: Scorer,
    group_size: int,
    n_prompts: int,
    out: StepRollouts,
) -> list[Group]:
    rows: list[PromptRow] = []
    samples: list[list[Sample]] = []
    pending: list[asyncio.Task[list[Reward]]] = []
    try:
        for _ in range(n_prompts):
            row = sampler.next()
            start = time.perf_counter()
            group = await asyncio.to_thread(backend.generate, list(row.prompt_ids), group_size)
            out.generation_s += time.perf_counter() - start
            rows.append(row)
            samples.append(group)
            pending.append(asyncio.create_task(_timed(scorer, row, group, out)))
        start = time.perf_counter()
        rewards = await asyncio.gather(*pending)
        out.reward_wait_s += time.perf_counter() - start
    except BaseException:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    for group, group_rewards in zip(samples, rewards, strict=True):
        if len(group_rewards) != len(group):
            raise RuntimeError(f"{len(group_rewards)} rewards for {len(group)} samples")
    return [Group(r, s, w) for r, s, w in zip(rows, samples, rewards, strict=True)]
