"""TRL's GRPOTrainer trains two steps with Referee's reward functions against a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
import trl
from support import Server

from referee.clients.trl import AsyncRefereeReward, RefereeReward, reward_function

# TRL and transformers warn about their own deprecations; those are not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings(f"ignore::{category}:{module}")
    for category in ("FutureWarning", "DeprecationWarning", "UserWarning")
    for module in ("transformers.*", "trl.*", "accelerate.*", "torch.*")
]

REGEX = {"name": "regex", "params": {"pattern": "a.*"}}
CHARS = "abc12 "


def _tiny_model_and_tokenizer() -> tuple[Any, Any]:
    """A random 2-layer GPT-2 and a character tokenizer, built here: nothing is downloaded."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(CHARS)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config), tokenizer


def test_grpo_trainer_logs_referee_rewards(server: Server, tmp_path: Path) -> None:
    from datasets import Dataset

    model, tokenizer = _tiny_model_and_tokenizer()
    dataset = Dataset.from_dict(
        {"prompt": ["ab", "ba", "c1", "2a"], "solution": ["a", "b", "1", "2"]}
    )
    regex = reward_function(server.url, REGEX, reference_column=None, name="starts_with_a")
    exact = reward_function(server.url, "exact_match", asynchronous=True)
    assert isinstance(regex, RefereeReward)
    assert isinstance(exact, AsyncRefereeReward)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=4,
        max_steps=2,
        learning_rate=1e-3,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        seed=0,
        temperature=1.5,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[regex, exact],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    try:
        trainer.train()
    finally:
        regex.close()
        exact.close()

    completions = list(trainer._logs["completion"])
    logged = {name: list(values) for name, values in trainer._logs["rewards"].items()}
    assert set(logged) == {"starts_with_a", "referee_exact_match"}
    assert len(completions) == 8
    # What Referee answers for those completions, asked directly over HTTP.
    raw = httpx.post(
        server.url + "/score",
        json={"items": [{"response": c, "verifier": REGEX} for c in completions]},
        timeout=60,
    ).json()["results"]
    assert logged["starts_with_a"] == [r["reward"] for r in raw]
    assert 0 < sum(logged["starts_with_a"]) < len(completions), "a toy task with reward variance"
    history = {k for entry in trainer.state.log_history for k in entry}
    assert "rewards/starts_with_a/mean" in history
    assert "starts_with_a/cache_hit_share" in history
    assert "referee_exact_match/error_share" in history


def test_conversational_completions_and_errors(server: Server) -> None:
    reward = reward_function(server.url, "misbehave", reference_column="answer")
    completions = [
        [{"role": "assistant", "content": "fine"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "raise"}]}],
    ]
    prompts = [[{"role": "user", "content": "q"}]] * 2
    metrics: dict[str, float] = {}
    rewards = reward(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2], [3]],
        answer=[None, None],
        log_metric=metrics.__setitem__,
    )
    reward.close()
    assert rewards == [1.0, None]  # an errored item is masked by TRL, never a fake 0
    assert metrics["referee_misbehave/error_share"] == 0.5
    assert metrics["referee_misbehave/outcome/correct"] == 1.0


def test_missing_reference_column_names_the_columns(server: Server) -> None:
    reward = reward_function(server.url, "math")
    with pytest.raises(KeyError, match=r"'solution'.*\['answer'\]"):
        reward(prompts=["q"], completions=["1"], answer=["1"], trainer_state=None)
