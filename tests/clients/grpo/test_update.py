"""The padded batch layout and the log-probabilities the loss is computed from."""

from __future__ import annotations

import pytest
import torch

from referee.clients.grpo.config import ModelConfig, TinyModelConfig
from referee.clients.grpo.generation import Sample
from referee.clients.grpo.model import load_model
from referee.clients.grpo.update import build_batch, completion_logprobs

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny() -> object:
    torch.manual_seed(0)
    cfg = ModelConfig(tiny=TinyModelConfig(alphabet="abcdef", n_layer=2, n_embd=32, n_head=2))
    return load_model(cfg, CPU, torch.float32).model


SAMPLES = [
    Sample([1, 2, 3], [4, 5, 0], "de", False),  # finished: the end token is kept
    Sample([2], [6, 1, 2, 3], "fabc", True),  # truncated
    Sample([5, 5], [3], "c", True),
]


def test_build_batch_layout_and_masks() -> None:
    batch = build_batch(SAMPLES, [1.0, -1.0, 0.5], [True, True, False], 0, CPU)
    assert batch.input_ids.tolist() == [
        [1, 2, 3, 4, 5, 0, 0],
        [0, 0, 2, 6, 1, 2, 3],
        [0, 5, 5, 3, 0, 0, 0],
    ]
    assert batch.attention_mask.tolist() == [
        [1, 1, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 1, 1],
        [0, 1, 1, 1, 0, 0, 0],
    ]
    assert batch.completion_len == 4
    assert batch.mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]]
    assert batch.advantages.tolist() == [1.0, -1.0, 0.5]


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_padded_logprobs_equal_each_sequence_alone(tiny: object, temperature: float) -> None:
    batch = build_batch(SAMPLES, [0.0] * 3, [True] * 3, 0, CPU)
    with torch.no_grad():
        padded = completion_logprobs(tiny, batch, temperature)
        for row, s in enumerate(SAMPLES):
            ids = torch.tensor([s.prompt_ids + s.completion_ids])
            logits = tiny(input_ids=ids).logits[0].float() / temperature  # type: ignore[operator]
            logp = torch.log_softmax(logits, dim=-1)
            p = len(s.prompt_ids)
            alone = [logp[p - 1 + t, tok].item() for t, tok in enumerate(s.completion_ids)]
            assert padded[row, : len(alone)].tolist() == pytest.approx(alone, abs=1e-5)
