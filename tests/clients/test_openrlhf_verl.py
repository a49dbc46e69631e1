"""OpenRLHF's and veRL's own reward-calling code against a live server.

OpenRLHF and veRL are installed without their dependencies (``make install``):
OpenRLHF's ``openrlhf.utils.agent`` imports with aiohttp, so its real HTTP path
(``SingleTurnAgentExecutor._fetch_rewards_via_http``) and its local reward-file
path (``reward_func`` loaded from a .py file) run here. veRL's package root needs
Ray, so its loader ``verl/utils/import_utils.py`` (standard library only) is loaded
from the installed file and the call is made as ``NaiveRewardManager.run_single``
makes it (``experimental/reward_loop/reward_manager/naive.py``), with
``reward_kwargs`` merged as ``trainer/ppo/reward.py:_call_with_kwargs`` does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openrlhf.utils.agent import SingleTurnAgentExecutor
from support import Server

from referee.clients import RefereeError

PROMPT = "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n"

# OpenRLHF's module imports deprecated names of its dependencies.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _fetch(executor: SingleTurnAgentExecutor, response: str, label: str) -> Any:
    # As execute() does: the query is prompt + response decoded with special tokens kept.
    query = PROMPT + response + "<|im_end|><|endoftext|>"
    return asyncio.run(executor._fetch_rewards_via_http([query], [PROMPT], [label]))


def test_openrlhf_remote_reward_model(server: Server) -> None:
    executor = SingleTurnAgentExecutor(f"{server.url}/openrlhf?verifier=math")
    (right,) = _fetch(executor, "6*7 = \\boxed{42}", "42")
    (wrong,) = _fetch(executor, "\\boxed{41}", "42")
    assert right["rewards"] == [1.0]
    assert right["scores"] == [1.0]
    assert wrong["rewards"] == [0.0]
    assert right["extra_logs"]["referee_correct"] == [1.0]


def test_openrlhf_local_reward_file(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFEREE_URL", server.url)
    monkeypatch.setenv("REFEREE_VERIFIER", "math")
    reward_file = tmp_path / "reward.py"
    reward_file.write_text("from referee.clients.openrlhf import reward_func\n")
    executor = SingleTurnAgentExecutor(str(reward_file))
    assert executor.reward_func is not None
    queries = [PROMPT + "\\boxed{42}<|im_end|>"]
    (result,) = asyncio.run(executor._fetch_rewards_via_func(queries, [PROMPT], ["42"]))
    assert result["rewards"] == [1.0]


def _verl_import_utils() -> ModuleType:
    spec = importlib.util.find_spec("verl")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "utils" / "import_utils.py"
    module_spec = importlib.util.spec_from_file_location("verl_import_utils", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_verl_custom_reward_function(server: Server, tmp_path: Path, name: str) -> None:
    reward_file = tmp_path / "reward.py"
    reward_file.write_text(
        "from referee.clients.verl import compute_score, compute_score_async  # noqa: F401\n"
    )
    raw_fn = _verl_import_utils().load_extern_object(str(reward_file), name)
    reward_kwargs = {
        "url": server.url,
        "verifiers": {"toy/regex": {"name": "regex", "params": {"pattern": "ok"}}},
    }

    def call(data_source: str, solution: str, ground_truth: Any) -> dict[str, Any]:
        kwargs = {
            "data_source": data_source,
            "solution_str": solution,
            "ground_truth": ground_truth,
            "extra_info": {"num_turns": None, "rollout_reward_scores": {}},
        }
        merged = {**kwargs, **reward_kwargs}
        if inspect.iscoroutinefunction(raw_fn):
            result: dict[str, Any] = asyncio.run(raw_fn(**merged))
        else:
            result = raw_fn(**merged)
        return result

    first = call("openai/gsm8k", "so #### \\boxed{72}", "72")
    assert (first["score"], first["acc"], first["error"]) == (1.0, 1.0, 0.0)
    assert call("openai/gsm8k", "so #### \\boxed{72}", "72")["cached"] == 1.0
    assert call("openai/gsm8k", "\\boxed{71}", "72")["score"] == 0.0
    assert call("toy/regex", "ok", None)["score"] == 1.0  # mapped data_source, another verifier


def test_verl_batch_and_errors(server: Server) -> None:
    from referee.clients.verl import compute_score, compute_score_batch

    scores = compute_score_batch(
        data_sources=["a", "a", "b"],
        solution_strs=["\\boxed{1}", "\\boxed{2}", "fine"],
        ground_truths=["1", "1", None],
        extra_infos=[{}, {}, {}],
        url=server.url,
        verifiers={"b": "misbehave"},
    )
    assert [s["score"] for s in scores] == [1.0, 0.0, 1.0]
    with pytest.raises(RefereeError, match="verifier_error"):
        compute_score("b", "raise", None, url=server.url, verifiers={"b": "misbehave"})
    fallback = compute_score(
        "b", "raise", None, url=server.url, verifiers={"b": "misbehave"}, error_score=0.0
    )
    assert fallback == {"score": 0.0, "acc": 0.0, "cached": 0.0, "error": 1.0}
