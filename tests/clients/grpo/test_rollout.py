"""Sampling a step with stand-in generation and scoring: overlap, dynamic sampling, errors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from referee.clients.grpo.config import AlgorithmConfig
from referee.clients.grpo.data import PromptRow, PromptSampler
from referee.clients.grpo.generation import Sample
from referee.clients.grpo.rollout import sample_step
from referee.clients.grpo.scoring import Reward

ROWS = [PromptRow(i, f"p{i}", (i + 1,), f"ref{i}", None) for i in range(6)]


class Backend:
    """Generates in the calling thread; records which thread and when."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: set[int] = set()
        self.calls = 0

    def sync_weights(self, model: Any) -> None:
        pass

    def generate(self, prompt_ids: list[int], n: int) -> list[Sample]:
        self.threads.add(threading.get_ident())
        self.calls += 1
        time.sleep(self.delay)
        return [Sample(prompt_ids, [7, 0], f"{prompt_ids[0]}-{i}", False) for i in range(n)]


class Scorer:
    """Rewards by prompt: rows 0 and 3 get all-equal groups, row 4 gets an error."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.started: list[float] = []

    async def __call__(self, row: PromptRow, samples: Sequence[Sample]) -> list[Reward]:
        self.started.append(time.perf_counter())
        await asyncio.sleep(self.delay)
        out = []
        for i, _ in enumerate(samples):
            if row.index in (0, 3):
                out.append(Reward(1.0, "correct"))
            elif row.index == 4 and i == 0:
                out.append(Reward(None, "error:verifier_crashed"))
            else:
                out.append(Reward(float(i % 2), "correct" if i % 2 else "incorrect"))
        return out

    async def aclose(self) -> None:
        pass


def _ordered_sampler() -> PromptSampler:
    return PromptSampler(ROWS, seed=0, shuffle=False)


async def test_without_dynamic_sampling_every_group_is_kept() -> None:
    cfg = AlgorithmConfig(group_size=4, prompts_per_step=3)
    out = await sample_step(_ordered_sampler(), Backend(), Scorer(), cfg)
    assert [g.row.index for g in out.kept] == [0, 1, 2]
    assert out.sampled == out.kept
    assert out.rounds == 1
    assert all(len(g.samples) == len(g.rewards) == 4 for g in out.kept)


async def test_dynamic_sampling_drops_equal_groups_and_refills() -> None:
    cfg = AlgorithmConfig(group_size=4, prompts_per_step=3, dynamic_sampling=True)
    sampler = _ordered_sampler()
    out = await sample_step(sampler, Backend(), Scorer(), cfg)
    # Round 1: rows 0 (dropped), 1, 2: 1 missing at a keep rate of 2/3, so round 2
    # samples 2 prompts: rows 3 (dropped) and 4 (kept although one sample is an error).
    assert [g.row.index for g in out.sampled] == [0, 1, 2, 3, 4]
    assert [g.row.index for g in out.kept] == [1, 2, 4]
    assert out.rounds == 2
    assert sampler.position == 5


async def test_dynamic_sampling_trims_a_batch_that_overfills() -> None:
    rows = [ROWS[3], ROWS[0], ROWS[1], ROWS[2], ROWS[4], ROWS[5]]
    cfg = AlgorithmConfig(group_size=4, prompts_per_step=3, dynamic_sampling=True)
    out = await sample_step(PromptSampler(rows, 0, shuffle=False), Backend(), Scorer(), cfg)
    # Round 1 keeps 1 of 3; round 2 samples min(3, 2 / (1/3)) = 3 prompts, all kept.
    assert [g.row.index for g in out.sampled] == [3, 0, 1, 2, 4, 5]
    assert [g.row.index for g in out.kept] == [1, 2, 4]


async def test_dynamic_sampling_stops_after_max_rounds() -> None:
    rows = [ROWS[0], ROWS[3]]  # every group all-equal
    cfg = AlgorithmConfig(
        group_size=2, prompts_per_step=2, dynamic_sampling=True, max_sampling_rounds=2
    )
    out = await sample_step(PromptSampler(rows, 0, shuffle=False), Backend(), Scorer(), cfg)
    assert out.kept == []
    assert out.rounds == 2
    assert len(out.sampled) == 4


async def test_scoring_overlaps_generation_and_the_step_waits_only_for_the_tail() -> None:
    """Generation takes 0.1 s a group in a worker thread, scoring 0.25 s a group: the
    scoring of group k runs while groups k+1.. are generated."""
    backend, scorer = Backend(delay=0.1), Scorer(delay=0.25)
    cfg = AlgorithmConfig(group_size=2, prompts_per_step=4)
    start = time.perf_counter()
    out = await sample_step(_ordered_sampler(), backend, scorer, cfg)
    elapsed = time.perf_counter() - start
    assert threading.get_ident() not in backend.threads
    # Each group's scoring started before the next group's generation ended.
    gaps = [b - a for a, b in zip(scorer.started, scorer.started[1:], strict=False)]
    assert all(gap < 0.25 for gap in gaps)
    # Sequential would be 4 * (0.1 + 0.25) = 1.4 s; overlapped about 0.4 + 0.25.
    assert elapsed < 1.2
    assert out.reward_wait_s < 0.25 + 0.15
    assert out.scoring_s >= 4 * 0.25
    assert out.generation_s >= 0.4
