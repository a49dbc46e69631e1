"""Advantages and loss variants against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from referee.clients.grpo.losses import group_advantages, k3_kl, loss_normaliser, policy_loss

EPS = 1e-4  # the std epsilon of losses.py
SQRT_THIRD = math.sqrt(1 / 3)
A_HALF = 0.5 / (SQRT_THIRD + EPS)
ONE_THIRD = 1 / 3 / (SQRT_THIRD + EPS)


@pytest.mark.parametrize(
    ("rewards", "size", "scale", "expected"),
    [
        # mean 0.5, sample std sqrt(1/3)
        (
            [1.0, 0.0, 0.0, 1.0],
            4,
            "group",
            [A_HALF, -A_HALF, -A_HALF, A_HALF],
        ),
        ([1.0, 0.0, 0.0, 1.0], 4, "none", [0.5, -0.5, -0.5, 0.5]),
        ([2.0, 0.0, 1.0], 3, "none", [1.0, -1.0, 0.0]),
        # all-equal groups carry no signal: 0 whatever the scaling
        ([1.0, 1.0, 1.0, 1.0], 4, "group", [0.0] * 4),
        ([0.0, 0.0, 0.0], 3, "batch", [0.0] * 3),
        # batch scaling: std of [1, 0, 1, 1] is 0.5; the second group is all equal
        ([1.0, 0.0, 1.0, 1.0], 2, "batch", [0.5 / (0.5 + EPS), -0.5 / (0.5 + EPS), 0.0, 0.0]),
        # group scaling per group: [1, 0] has std sqrt(1/2), [1, 1] has none
        (
            [1.0, 0.0, 1.0, 1.0],
            2,
            "group",
            [0.5 / (math.sqrt(0.5) + EPS), -0.5 / (math.sqrt(0.5) + EPS), 0.0, 0.0],
        ),
        # a masked (error) sample is out of the mean and std and gets 0:
        # present [1, 0, 0]: mean 1/3, sample std sqrt(1/3)
        (
            [1.0, None, 0.0, 0.0],
            4,
            "group",
            [
                2 / 3 / (SQRT_THIRD + EPS),
                0.0,
                -1 / 3 / (SQRT_THIRD + EPS),
                -1 / 3 / (SQRT_THIRD + EPS),
            ],
        ),
        ([None, 1.0, None, 0.0], 2, "none", [0.0, 0.0, 0.0, 0.0]),
        ([None, None], 2, "group", [0.0, 0.0]),
    ],
)
def test_group_advantages(
    rewards: list[float | None], size: int, scale: str, expected: list[float]
) -> None:
    got = group_advantages(rewards, size, scale)  # type: ignore[arg-type]
    assert got == pytest.approx(expected, abs=1e-9)


def test_group_advantages_refuses_ragged_groups() -> None:
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages([1.0, 0.0, 1.0], 4, "group")


def _loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: list[float],
    mask: torch.Tensor,
    loss_type: str = "dapo",
    max_tokens: int = 4,
    **kw: float,
) -> tuple[torch.Tensor, float]:
    normaliser = loss_normaliser(mask, loss_type, max_tokens)  # type: ignore[arg-type]
    loss, stats = policy_loss(
        logp,
        old,
        torch.tensor(adv),
        mask,
        loss_type=loss_type,  # type: ignore[arg-type]
        normaliser=normaliser,
        epsilon_low=kw.get("epsilon_low", 0.2),
        epsilon_high=kw.get("epsilon_high", 0.28),
        beta=kw.get("beta", 0.0),
        ref_logp=kw.get("ref_logp"),  # type: ignore[arg-type]
    )
    return loss, stats.clipped / max(stats.tokens, 1.0)


# Two sequences: A has 2 loss tokens with advantage 1, B has 1 with advantage -3; ratio 1,
# so each token's loss is -advantage: A's tokens -1, -1; B's token +3.
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
ZERO = torch.zeros(2, 3)


@pytest.mark.parametrize(
    ("loss_type", "expected"),
    [
        ("grpo", ((-1 - 1) / 2 + 3 / 1) / 2),  # sequence means, then mean over 2 sequences
        ("dapo", (-1 - 1 + 3) / 3),  # over the batch's 3 tokens
        ("dr_grpo", (-1 - 1 + 3) / (2 * 4)),  # 2 sequences x max 4 tokens
    ],
)
def test_loss_aggregation(loss_type: str, expected: float) -> None:
    loss, clip = _loss(ZERO, ZERO, [1.0, -3.0], MASK, loss_type)
    assert loss.item() == pytest.approx(expected)
    assert clip == 0.0


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_masked_sample_changes_nothing(loss_type: str) -> None:
    """A third sequence with an all-zero mask (error or truncated) adds no loss and no
    token or sequence to the normaliser (dr_grpo's constant counts every sequence)."""
    base, _ = _loss(ZERO, ZERO, [1.0, -3.0], MASK, loss_type)
    mask3 = torch.cat([MASK, torch.zeros(1, 3)])
    with_masked, _ = _loss(
        torch.zeros(3, 3), torch.zeros(3, 3), [1.0, -3.0, 100.0], mask3, loss_type
    )
    if loss_type == "dr_grpo":
        assert with_masked.item() == pytest.approx(base.item() * 2 / 3)
    else:
        assert with_masked.item() == pytest.approx(base.item())


def test_micro_batches_sum_to_the_batch_loss() -> None:
    torch.manual_seed(0)
    logp, old = torch.randn(4, 5) * 0.1 - 1, torch.randn(4, 5) * 0.1 - 1
    mask = (torch.rand(4, 5) > 0.3).float()
    adv = [1.0, -0.5, 0.25, -2.0]
    for loss_type in ("grpo", "dapo", "dr_grpo"):
        norm = loss_normaliser(mask, loss_type, 5)  # type: ignore[arg-type]
        kw = {"loss_type": loss_type, "normaliser": norm, "epsilon_low": 0.2, "epsilon_high": 0.28}
        whole, _ = policy_loss(logp, old, torch.tensor(adv), mask, **kw)  # type: ignore[arg-type]
        halves = sum(
            policy_loss(logp[s], old[s], torch.tensor(adv)[s], mask[s], **kw)[0]  # type: ignore[arg-type]
            for s in (slice(0, 1), slice(1, 4))
        )
        assert float(halves) == pytest.approx(whole.item(), rel=1e-6)


@pytest.mark.parametrize(
    ("ratio", "adv", "token_loss", "clipped"),
    [
        (1.5, 1.0, -1.28, True),  # above 1 + eps_high with A > 0: clipped at 1.28
        (1.25, 1.0, -1.25, False),  # clip-higher: 1.25 < 1.28 is not clipped (0.2 would be)
        (1.5, -1.0, 1.5, False),  # A < 0: the unclipped ratio is the pessimistic one
        (0.5, -1.0, 0.8, True),  # below 1 - eps_low with A < 0: clipped at 0.8
        (0.5, 1.0, -0.5, False),
    ],
)
def test_asymmetric_clip(ratio: float, adv: float, token_loss: float, clipped: bool) -> None:
    old = torch.zeros(1, 1)
    logp = torch.full((1, 1), math.log(ratio), requires_grad=True)
    loss, clip = _loss(logp, old, [adv], torch.ones(1, 1))
    assert loss.item() == pytest.approx(token_loss)
    assert clip == (1.0 if clipped else 0.0)
    loss.backward()  # type: ignore[no-untyped-call]
    assert logp.grad is not None
    # A clipped token gives no gradient; an unclipped one d(-ratio * A)/dlogp = -ratio * A.
    assert logp.grad.item() == pytest.approx(0.0 if clipped else -ratio * adv)


def test_k3_kl_value_and_penalty() -> None:
    logp, ref = torch.tensor([[math.log(0.5)]]), torch.tensor([[math.log(0.25)]])
    # r = log(0.25 / 0.5) = -log 2: exp(r) - r - 1 = 0.5 + log 2 - 1
    expected = 0.5 + math.log(2) - 1
    assert k3_kl(logp, ref).item() == pytest.approx(expected)
    assert k3_kl(logp, logp).item() == 0.0
    loss, _ = _loss(logp, logp, [0.0], torch.ones(1, 1), beta=0.1, ref_logp=ref)  # type: ignore[arg-type]
    assert loss.item() == pytest.approx(0.1 * expected)
