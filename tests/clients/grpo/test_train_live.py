"""The tiny CPU example trained end to end, its rewards fetched from a live ``referee serve``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support import REFEREE, Server

from referee.clients.grpo import load_config, train

EXAMPLE = Path(__file__).parents[3] / "examples" / "grpo-tiny-cpu.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def _score_requests(server: Server) -> int:
    """How many POST /score requests the server has answered (its Prometheus counter)."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("referee_http_request_duration_seconds_count{") and (
            'route="/score"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny_example_learns(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setenv("REFEREE_URL", server.url)  # the config's own URL is overridden
    cfg = load_config(EXAMPLE, tmp_path / "run").model_copy(update={"seed": seed})
    assert cfg.server.url == server.url
    before = _score_requests(server)
    out = train(cfg)
    metrics = _jsonl(out / "metrics.jsonl")
    rollouts = _jsonl(out / "rollouts.jsonl")

    assert [m["step"] for m in metrics] == list(range(1, cfg.training.steps + 1))
    assert cfg.training.steps >= 20
    # One request per generated group, every group sent to the server.
    assert _score_requests(server) - before == sum(m["groups_sampled"] for m in metrics)
    for m in metrics:
        step = [r for r in rollouts if r["step"] == m["step"]]
        assert len(step) == m["samples"] == 64
        # reward_mean is over every completion sampled in the step
        assert m["reward_mean"] == pytest.approx(_mean([r["reward"] for r in step]))
        assert sum(m["outcomes"].values()) == m["samples"]
        for key in ("reward_std", "clip_fraction", "tokens_per_s", "step_s", "reward_wait_s"):
            assert m[key] is not None and m[key] >= 0
        assert 0 <= m["reward_wait_share"] <= 1
    # The verifier really judged: exact match of the one-character answer.
    prompts = [json.loads(x) for x in cfg.data.path.read_text().splitlines()]
    for r in rollouts:
        expected = 1.0 if r["response"] == prompts[r["prompt_index"]]["reference"] else 0.0
        assert r["reward"] == expected
        # ":" and the end token normalise to an empty answer
        assert r["outcome"] in (("correct",) if expected else ("incorrect", "no_answer"))
    rewards = [m["reward_mean"] for m in metrics]
    assert 0.0 < _mean(rewards[:10]) < 0.8, "groups need reward variance from the start"
    assert _mean(rewards[-10:]) - _mean(rewards[:10]) >= 0.3, rewards
    assert (out / "training.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "checkpoint.pt").is_file()


@pytest.mark.timeout(240)  # a fresh interpreter imports torch and transformers
def test_cli_variants_resume_and_plot(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`referee train` with the other options on: sequence-mean loss, batch scaling, two
    updates per batch, a KL reference, dynamic sampling; resumed from its checkpoint;
    then `referee plot`."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["data"]["path"] = str(EXAMPLE.parent / raw["data"]["path"])
    raw["algorithm"].update(
        loss_type="grpo",
        scale_rewards="batch",
        updates_per_batch=2,
        beta=0.04,
        dynamic_sampling=True,
        max_sampling_rounds=2,
    )
    raw["training"].update(steps=4, save_every=2, micro_batch_size=24)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    env = {**os.environ, "REFEREE_URL": server.url}

    cmd = [REFEREE, "train", "--config", str(config), "--output-dir", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    first = _jsonl(out / "metrics.jsonl")
    assert len(first) == 4
    for m in first:
        assert m["kl"] is not None and m["kl"] >= 0
        assert m["groups_kept"] <= 8 <= m["groups_sampled"]
        step = [r for r in _jsonl(out / "rollouts.jsonl") if r["step"] == m["step"]]
        # before the dynamic-sampling filter: dropped groups count in reward_mean
        assert len(step) == m["samples"] == 8 * m["groups_sampled"]
        assert m["reward_mean"] == pytest.approx(_mean([r["reward"] for r in step]))
        assert sum(r["kept"] for r in step) == 8 * m["groups_kept"]
    raw["training"]["steps"] = 6
    config.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("REFEREE_URL", server.url)
    train(load_config(config, out))  # resumes at step 5 from checkpoint.pt
    metrics = _jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert metrics[:4] == first

    (out / "training.png").unlink()
    done = subprocess.run([REFEREE, "plot", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (out / "training.png").read_bytes()[:8] == PNG_MAGIC


def test_cli_rejects_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model: {tiny: {alphabet: ab}}\ndata: {path: x.jsonl}\nverifier: math\n"
        "algorithm: {loss_type: ppo}\n"
    )
    done = subprocess.run(
        [REFEREE, "train", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "algorithm.loss_type" in done.stderr
