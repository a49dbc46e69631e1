"""reasoning-gym tasks whose scorers evaluate text: same verdicts, no evaluation of code."""

from __future__ import annotations

import builtins
import importlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import reasoning_gym
import sympy

from referee.verifiers import _rg_safe
from referee.verifiers.reasoning_gym import REASONING_GYM, ReasoningGymParams

SAFE_TASKS = sorted({**_rg_safe.EVAL_TASKS, **_rg_safe.PARSE_EXPR_TASKS})


def entries(task: str, n: int = 6) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(e)) for e in reasoning_gym.create_dataset(task, size=n, seed=7)]


def candidates(entry: dict[str, Any]) -> list[str]:
    """The right answer, the forms the scorers also read (lists), and wrong answers."""
    answer = str(entry["answer"])
    out = [answer, answer + "1", "0", "", "[1, 2, 3]", "x**2 + C", "(1+2)*8"]
    out.append(repr(list(answer)))  # string_insertion's list-of-characters form
    out.append(
        repr(
            [[int(c) for c in row.split()] for row in answer.splitlines() if row.strip()]
            if all(c.isdigit() or c.isspace() or c == "-" for c in answer)
            else []
        )
    )
    out.append(repr(answer.split()))
    return out


def original(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the library's own eval/parse_expr back (for our own generated inputs only)."""
    if task in _rg_safe.EVAL_TASKS:
        module = importlib.import_module(_rg_safe.EVAL_TASKS[task][0])
        monkeypatch.setattr(module, "eval", builtins.eval)
    else:
        module_name, name = _rg_safe.PARSE_EXPR_TASKS[task]
        module = importlib.import_module(module_name)
        real = sympy if name in ("sp", "sympy") else sympy.parsing.sympy_parser.parse_expr
        monkeypatch.setattr(module, name, real)


@pytest.mark.parametrize("task", SAFE_TASKS)
def test_same_verdicts_as_the_library(task: str) -> None:
    _rg_safe.harden()
    score = reasoning_gym.get_score_answer_fn(task)
    checked = 0
    for entry in entries(task):
        for answer in candidates(entry):
            ours = score(answer, entry)
            with pytest.MonkeyPatch.context() as mp:
                original(task, mp)
                theirs = score(answer, entry)
            assert ours == theirs, (task, answer, entry["answer"])
            checked += 1
        right = score(str(entry["answer"]), entry)
        assert right == 1.0 or task.endswith("integration"), (task, entry["answer"], right)
    assert checked >= 30


def payloads(marker: Path) -> list[str]:
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        touch,
        f"[{touch}]",
        f"({touch}, 1)",
        f"[c for c in [{touch}]]",
        f"().__class__.__base__.__subclasses__() or {touch}",
        f"open({str(marker)!r}, 'w')",
        f"exec({touch!r})",
        f"eval({touch!r})",
        f"lambda: {touch}",
        "breakpoint()",
        "Symbol('x').__class__",
        "x.func",
        "S('1')",
    ]


@pytest.mark.parametrize("task", SAFE_TASKS)
def test_answers_that_are_code_are_not_run(task: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    entry = entries(task, 1)[0]
    reference = {"task": task, "entry": entry}
    for payload in payloads(marker):
        response = f"<answer>{payload}</answer>"
        score = REASONING_GYM.verify(response, reference, ReasoningGymParams())
        assert score.reward < 1.0, payload
        assert not marker.exists(), payload


def test_references_that_are_code_are_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for task, field in [("bitwise_arithmetic", "problem"), ("number_sorting", None)]:
        entry = entries(task, 1)[0]
        if field:
            entry["metadata"][field] = touch
        else:
            entry["answer"] = f"[{touch}]"
        REASONING_GYM.verify(
            "<answer>1</answer>", {"task": task, "entry": entry}, ReasoningGymParams()
        )
    for task in ("polynomial_multiplication", "simple_integration"):
        entry = entries(task, 1)[0]
        entry["answer"] = touch
        entry["metadata"]["integrand"] = touch
        REASONING_GYM.verify(
            "<answer>x</answer>", {"task": task, "entry": entry}, ReasoningGymParams()
        )
    assert not marker.exists()


def test_eval_payload_through_http(client: httpx.Client, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-http"
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    items = []
    for task in ("string_insertion", "spiral_matrix", "binary_matrix", "n_queens", "countdown"):
        entry = entries(task, 1)[0]
        items.append(
            {
                "id": task,
                "response": f"<answer>[{touch}]</answer>",
                "reference": {"task": task, "entry": entry},
            }
        )
        items.append(
            {
                "id": task + "-right",
                "response": f"<answer>{entry['answer']}</answer>",
                "reference": {"task": task, "entry": entry},
            }
        )
    entry = entries("bitwise_arithmetic", 1)[0]
    entry["metadata"]["problem"] = touch
    items.append(
        {
            "id": "bitwise-reference",
            "response": "<answer>1</answer>",
            "reference": {"task": "bitwise_arithmetic", "entry": entry},
        }
    )
    r = client.post("/score", json={"verifier": "reasoning_gym", "items": items})
    assert r.status_code == 200, r.text
    for result in r.json()["results"]:
        if result["id"].endswith("-right"):
            assert result["reward"] == 1.0, result
        else:
            assert result["reward"] < 1.0, result
    assert not marker.exists()
