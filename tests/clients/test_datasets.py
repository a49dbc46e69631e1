"""Dataset rows mapped onto ``code`` references, and judged through ``POST /score``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from referee.clients.datasets import from_code_contests, from_codeforces, from_taco

# A CodeContests-shaped row (deepmind/code_contests fields) for "print two distinct
# integers summing to n", with a CodeContests+-style testlib checker.
CHECKER = r"""
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    long long n = inf.readLong(), a = ouf.readLong(), b = ouf.readLong();
    if (a == b || a + b != n) quitf(_wa, "%lld %lld", a, b);
    quitf(_ok, "fine");
}
"""
CODE_CONTESTS_ROW: dict[str, Any] = {
    "name": "two-distinct",
    "public_tests": {"input": ["3\n"], "output": ["1 2\n"]},
    "private_tests": {"input": ["10\n", "3\n"], "output": ["3 7\n", "1 2\n"]},
    "generated_tests": {"input": ["-4\n"], "output": ["-5 1\n"]},
    "time_limit": {"seconds": 1, "nanos": 500000000},
    "memory_limit_bytes": 256 * 1024 * 1024,
    "checker": CHECKER,
}


def test_code_contests_mapping() -> None:
    reference = from_code_contests(CODE_CONTESTS_ROW)
    assert [t["stdin"] for t in reference["tests"]] == ["3\n", "10\n", "-4\n"]  # "3" once
    assert reference["time_limit_s"] == 1.5
    assert reference["memory_limit_mb"] == 256
    assert (reference["time_limit_mode"], reference["compile_flags"]) == ("cpu", "contest")
    assert reference["checker"] == {"language": "cpp", "source": CHECKER}
    official = from_code_contests(
        {**CODE_CONTESTS_ROW, "checker": None}, splits=("public_tests", "private_tests")
    )
    assert "checker" not in official
    assert len(official["tests"]) == 2


TACO_STDIN = {
    "input_output": json.dumps({"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]}),
    "time_limit": "2 seconds",
    "memory_limit": "256 megabytes",
}
TACO_CALL = {"input_output": json.dumps({"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]})}


def test_taco_and_apps_mapping() -> None:
    stdin = from_taco(TACO_STDIN)
    assert stdin["tests"][1] == {"stdin": "5 5\n", "stdout": "10\n"}
    assert (stdin["time_limit_s"], stdin["memory_limit_mb"]) == (2.0, 256)
    call = from_taco(TACO_CALL)
    assert (call["fn_name"], call["inputs"], call["outputs"]) == ("add", [[1, 2]], [3])
    with pytest.raises(ValueError, match="Python only"):
        from_taco(TACO_CALL, language="cpp")


CODEFORCES_ROW: dict[str, Any] = {
    "id": "1000/A",
    "time_limit": 1.0,
    "memory_limit": 256.0,
    "input_mode": "stdio",
    "interaction_format": None,
    "official_tests": [{"input": "3\n", "output": "1 2\n"}, {"input": "8\n", "output": "1 7\n"}],
}


def test_codeforces_mapping() -> None:
    reference = from_codeforces(CODEFORCES_ROW, checker=CHECKER)
    assert reference["checker"]["language"] == "cpp"
    assert len(reference["tests"]) == 2
    with pytest.raises(ValueError, match="interactor"):
        from_codeforces({**CODEFORCES_ROW, "interaction_format": "Ask queries."})
    with pytest.raises(ValueError, match="stdio"):
        from_codeforces({**CODEFORCES_ROW, "input_mode": "file"})


def test_mapped_rows_are_judged(client: httpx.Client) -> None:
    other_answer = "```python\nn = int(input())\nprint(n - 100, 100)\n```"
    items = [
        {"response": other_answer, "reference": from_code_contests(CODE_CONTESTS_ROW)},
        {"response": other_answer, "reference": from_codeforces(CODEFORCES_ROW, checker=CHECKER)},
        {
            "response": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            "reference": from_taco(TACO_STDIN),
        },
        {
            "response": "```python\ndef add(a, b):\n    return a + b\n```",
            "reference": from_taco(TACO_CALL),
        },
    ]
    r = client.post("/score", json={"verifier": "code", "items": items}, timeout=120)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["status"], x["outcome"]) for x in results] == [("ok", "correct")] * 4, results
