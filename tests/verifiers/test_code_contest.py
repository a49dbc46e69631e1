"""Contest judging through ``POST /score``: checker programs, interactors, contest limits.

The server is the session's real ``referee serve`` (conftest.py) with the bwrap
sandbox; checkers and interactors run in the same jail as the candidate.
"""

from __future__ import annotations

import textwrap
from typing import Any

import httpx
import pytest
from support import Server

# Any two integers whose sum is n: many correct outputs.
TWO_SUM_CHECKER_CPP = r"""
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    long long n = inf.readLong();
    long long a = ouf.readLong(), b = ouf.readLong();
    if (a == b) quitf(_wa, "the two numbers must differ, both are %lld", a);
    if (a + b != n) quitf(_wa, "%lld + %lld != %lld", a, b, n);
    quitf(_ok, "%lld + %lld = %lld", a, b, n);
}
"""
TWO_SUM_CHECKER_PY = """
import sys
n = int(open(sys.argv[1]).read())
try:
    a, b = map(int, open(sys.argv[2]).read().split())
except ValueError:
    print("wrong answer: two integers expected", file=sys.stderr)
    sys.exit(2)
if a == b or a + b != n:
    print(f"wrong answer: {a} {b}", file=sys.stderr)
    sys.exit(1)
print("ok", file=sys.stderr)
"""


def program(source: str, lang: str = "python") -> str:
    return f"My solution:\n\n```{lang}\n{textwrap.dedent(source).strip()}\n```\n"


def two_sum_reference(checker: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "language": "python",
        "tests": [{"stdin": "3\n", "stdout": "1 2\n"}, {"stdin": "10\n", "stdout": "4 6\n"}],
        "checker": checker,
        **extra,
    }


def score(client: httpx.Client, *items: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json={"verifier": "code", "items": list(items)}, timeout=120)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


CPP_CHECKER = {"language": "cpp", "source": TWO_SUM_CHECKER_CPP}
PY_CHECKER = {"language": "python", "source": TWO_SUM_CHECKER_PY}


@pytest.mark.parametrize("checker", [CPP_CHECKER, PY_CHECKER], ids=["testlib-cpp", "python"])
def test_checker_accepts_two_different_correct_outputs_and_rejects_a_wrong_one(
    server: Server, client: httpx.Client, checker: dict[str, Any]
) -> None:
    reference = two_sum_reference(checker)
    low = "n = int(input())\nprint(0, n)\n"  # not the reference's answer, still correct
    high = "n = int(input())\nprint(n + 5, -5)\n"
    wrong = "n = int(input())\nprint(n // 2, n - n // 2) if n % 2 else print(n // 2, n // 2)\n"
    results = score(
        client,
        *({"response": program(src), "reference": reference} for src in (low, high, wrong)),
    )
    assert [(r["status"], r.get("outcome"), r.get("reward")) for r in results] == [
        ("ok", "correct", 1.0),
        ("ok", "correct", 1.0),
        ("ok", "incorrect", 0.0),
    ], results
    failure = results[2]["details"]["first_failure"]
    assert failure["index"] == 1  # n = 3 passes with 1 2; n = 10 gives 5 5
    assert failure["checker"]["verdict"] == "wrong_answer"
    assert "must differ" in failure["checker"]["message"] or "5 5" in failure["checker"]["message"]


def test_tokens_comparison_would_have_rejected_the_other_correct_output(
    client: httpx.Client,
) -> None:
    reference = two_sum_reference(CPP_CHECKER)
    del reference["checker"]
    (result,) = score(
        client, {"response": program("print(0, int(input()))"), "reference": reference}
    )
    assert (result["outcome"], result["reward"]) == ("incorrect", 0.0)


CRASHING = [
    pytest.param(
        {"language": "python", "source": "raise RuntimeError('checker bug')"}, id="py-raises"
    ),
    pytest.param(
        {"language": "cpp", "source": "int main() { int* p = nullptr; return *p; }"},
        id="cpp-segfault",
    ),
    pytest.param(
        {
            "language": "cpp",
            "source": '#include "testlib.h"\nint main(int c, char* v[]) '
            '{ registerTestlibCmd(c, v); quitf(_fail, "answer file is broken"); }',
        },
        id="testlib-fail",
    ),
    pytest.param(
        {"language": "python", "source": "import sys\nsys.exit(42)"}, id="unknown-exit-code"
    ),
    pytest.param(
        {"language": "python", "source": "while True: pass", "time_limit_s": 1},
        id="checker-timeout",
    ),
    pytest.param({"language": "cpp", "source": "int main( {"}, id="does-not-compile"),
    pytest.param(
        {"language": "python", "source": "import sys\nsys.exit(7)"}, id="points-without-value"
    ),
]


@pytest.mark.parametrize("checker", CRASHING)
def test_a_failing_checker_is_an_error_never_a_reward(
    client: httpx.Client, checker: dict[str, Any]
) -> None:
    reference = two_sum_reference(checker, scoring="fraction")
    (result,) = score(
        client, {"response": program("print(0, int(input()))"), "reference": reference}
    )
    assert result["status"] == "error", result
    assert result["error"]["kind"] == "checker_error", result
    assert "reward" not in result or result["reward"] is None


POINTS_CHECKER = r"""
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    int got = ouf.readInt(), best = ans.readInt();
    if (got > best) quitf(_wa, "impossible");
    if (got == best) quitf(_ok, "optimal");
    quitp(10.0 * got / best, "%d of %d", got, best);
}
"""


def test_points_and_fraction_scoring(client: httpx.Client) -> None:
    reference = {
        "language": "python",
        "tests": [{"stdin": "", "stdout": "4"}, {"stdin": "", "stdout": "8"}],
        "checker": {"language": "cpp", "source": POINTS_CHECKER, "max_points": 10},
        "scoring": "fraction",
    }
    (result,) = score(client, {"response": program("print(2)"), "reference": reference})
    # 2 of 4 on the first test (5 of 10 points), 2 of 8 on the second (2.5 of 10).
    assert result["status"] == "ok", result
    assert result["outcome"] == "partial"
    assert result["reward"] == pytest.approx((0.5 + 0.25) / 2)
    assert result["details"]["first_failure"]["checker"]["verdict"] == "points"


# -- interactive problems ---------------------------------------------------------------------

GUESS_INTERACTOR = r"""
#include "testlib.h"
#include <iostream>
int main(int argc, char* argv[]) {
    registerInteraction(argc, argv);
    int secret = inf.readInt();
    int queries = 0;
    while (true) {
        std::string op = ouf.readToken("[?!]");
        int x = ouf.readInt(1, 100);
        if (op == "!") {
            tout << queries << std::endl;
            if (x == secret) quitf(_ok, "guessed in %d queries", queries);
            quitf(_wa, "guessed %d, the number was %d", x, secret);
        }
        if (++queries > 10) quitf(_wa, "more than 10 queries");
        std::cout << (x < secret ? "<" : x > secret ? ">" : "=") << std::endl;
    }
}
"""
BINARY_SEARCH = """
lo, hi = 1, 100
while lo < hi:
    mid = (lo + hi) // 2
    print("?", mid, flush=True)
    reply = input()
    if reply == "=":
        lo = hi = mid
    elif reply == "<":
        lo = mid + 1
    else:
        hi = mid - 1
print("!", lo, flush=True)
"""
BINARY_SEARCH_CPP = r"""
#include <iostream>
#include <string>
int main() {
    int lo = 1, hi = 100;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        std::cout << "? " << mid << std::endl;
        std::string r; std::cin >> r;
        if (r == "=") lo = hi = mid; else if (r == "<") lo = mid + 1; else hi = mid - 1;
    }
    std::cout << "! " << lo << std::endl;
}
"""


def guess_reference(**extra: Any) -> dict[str, Any]:
    return {
        "language": "python",
        "tests": [{"stdin": "37\n"}, {"stdin": "1\n"}, {"stdin": "100\n"}],
        "interactor": {"language": "cpp", "source": GUESS_INTERACTOR},
        "time_limit_s": 2,
        **extra,
    }


INTERACTIVE = [
    pytest.param(BINARY_SEARCH, "python", "ok", "correct", None, id="solved"),
    pytest.param(BINARY_SEARCH_CPP, "cpp", "ok", "correct", None, id="solved-cpp"),
    pytest.param(
        'print("! 50", flush=True)', "python", "ok", "incorrect", "wrong_answer", id="wrong-guess"
    ),
    # Waits for the interactor to speak first; the interactor waits for a query.
    pytest.param("print(input())", "python", "ok", "timeout", "idleness", id="deadlock"),
    pytest.param(
        "pass", "python", "ok", "incorrect", "presentation_error", id="program-exits-at-once"
    ),
    pytest.param(
        "while True:\n    print('? 50', flush=True)\n    input()",
        "python",
        "ok",
        "incorrect",
        "wrong_answer",
        id="too-many-queries-interactor-quits-first",
    ),
    pytest.param(
        "print('? 50', flush=True)\nwhile True: pass",
        "python",
        "ok",
        "timeout",
        None,
        id="program-spins",
    ),
]


@pytest.mark.parametrize(("source", "lang", "status", "outcome", "verdict"), INTERACTIVE)
def test_interactive_problem(
    client: httpx.Client, source: str, lang: str, status: str, outcome: str, verdict: str | None
) -> None:
    reference = {**guess_reference(), "language": lang}
    (result,) = score(client, {"response": program(source, lang), "reference": reference})
    assert (result["status"], result.get("outcome")) == (status, outcome), result
    if outcome == "correct":
        assert result["reward"] == 1.0
        return
    assert result["reward"] == 0.0
    failure = result["details"]["first_failure"]
    if verdict is not None:
        assert failure["interactor"]["verdict"] == verdict, failure


def test_interactor_failure_is_an_error(client: httpx.Client) -> None:
    broken = {"language": "python", "source": "import sys\nprint(1/0)"}
    reference = {**guess_reference(), "interactor": broken}
    (result,) = score(client, {"response": program(BINARY_SEARCH), "reference": reference})
    assert result["status"] == "error", result
    assert result["error"]["kind"] == "checker_error"


PY_INTERACTOR = """
import sys
secret = int(open(sys.argv[1]).read())
for queries in range(1, 12):
    line = sys.stdin.readline().split()
    if len(line) != 2:
        print("wrong answer: unexpected end of the dialogue", file=sys.stderr)
        sys.exit(1)
    op, x = line[0], int(line[1])
    if op == "!":
        sys.exit(0 if x == secret else 1)
    print("<" if x < secret else ">" if x > secret else "=", flush=True)
sys.exit(1)
"""


def test_python_interactor_and_fraction(client: httpx.Client) -> None:
    reference = guess_reference(
        interactor={"language": "python", "source": PY_INTERACTOR}, scoring="fraction"
    )
    # Right only when the number is 1: one test of three.
    (result,) = score(
        client, {"response": program('print("! 1", flush=True)'), "reference": reference}
    )
    assert (result["status"], result["outcome"]) == ("ok", "partial"), result
    assert result["reward"] == pytest.approx(1 / 3)
    (solved,) = score(client, {"response": program(BINARY_SEARCH), "reference": reference})
    assert (solved["outcome"], solved["reward"]) == ("correct", 1.0), solved


# -- limits and contest settings ---------------------------------------------------------------


def sum_reference(**extra: Any) -> dict[str, Any]:
    return {"language": "python", "tests": [{"stdin": "1 2\n", "stdout": "3\n"}], **extra}


SLEEPS = "import time\ntime.sleep(1.5)\nprint(3)"
SPINS = "import time\nwhile time.process_time() < 1.3:\n    pass\nprint(3)"


@pytest.mark.parametrize(
    ("source", "mode", "outcome"),
    [
        pytest.param(SPINS, "cpu", "timeout", id="cpu-time-over-the-limit"),
        pytest.param(SLEEPS, "cpu", "correct", id="sleeping-uses-no-cpu-time"),
        pytest.param(SLEEPS, "wall", "timeout", id="wall-clock-mode-counts-sleep"),
    ],
)
def test_time_limit_in_cpu_time(client: httpx.Client, source: str, mode: str, outcome: str) -> None:
    reference = sum_reference(time_limit_s=1, time_limit_mode=mode)
    (result,) = score(client, {"response": program(source), "reference": reference})
    assert (result["status"], result["outcome"]) == ("ok", outcome), result


def test_per_test_limits(client: httpx.Client) -> None:
    reference = {
        "language": "python",
        "time_limit_s": 5,
        "tests": [
            {"stdin": "1 2\n", "stdout": "3\n"},
            {"stdin": "2 2\n", "stdout": "4\n", "time_limit_s": 0.5},
        ],
        "scoring": "fraction",
    }
    slow_on_second = "import time\na, b = map(int, input().split())\n"
    slow_on_second += "time.sleep(1 if a == 2 else 0)\nprint(a + b)"
    (result,) = score(client, {"response": program(slow_on_second), "reference": reference})
    assert (result["outcome"], result["reward"]) == ("partial", 0.5), result
    assert result["details"]["first_failure"]["status"] == "timeout"


ONLINE_JUDGE_CPP = r"""
#include <iostream>
int main() {
#ifdef ONLINE_JUDGE
    std::cout << 3 << std::endl;
#else
    std::cout << "local" << std::endl;
#endif
}
"""


@pytest.mark.parametrize(("flags", "outcome"), [("contest", "correct"), ("default", "incorrect")])
def test_contest_compile_flags(client: httpx.Client, flags: str, outcome: str) -> None:
    reference = {**sum_reference(compile_flags=flags), "language": "cpp"}
    (result,) = score(
        client, {"response": program(ONLINE_JUDGE_CPP, "cpp"), "reference": reference}
    )
    assert result["outcome"] == outcome, result


def test_stop_early_ends_at_the_first_failing_test(client: httpx.Client) -> None:
    tests = [{"stdin": f"{i} 1\n", "stdout": f"{i + 1}\n"} for i in range(5)]
    wrong_on_first = "a, b = map(int, input().split())\nprint(a + b if a else 0)"
    full = {"language": "python", "tests": tests, "scoring": "fraction"}
    (slow,) = score(client, {"response": program(wrong_on_first), "reference": full})
    (fast,) = score(
        client, {"response": program(wrong_on_first), "reference": {**full, "stop_early": True}}
    )
    assert (slow["reward"], slow["details"]["passed"]) == (0.8, 4)
    assert (fast["reward"], fast["details"]["passed"]) == (0.0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("checker", {"language": "cobol", "source": "x"}),
        ("checker", {"language": "python", "source": "def ("}),
        ("interactor", "int main() {}"),
        ("time_limit_mode", "cpu-ish"),
        ("compile_flags", "fast"),
        ("stop_early", "yes"),
    ],
)
def test_bad_contest_fields_name_the_field(client: httpx.Client, field: str, value: Any) -> None:
    reference = {**sum_reference(), field: value}
    r = client.post(
        "/score", json={"verifier": "code", "items": [{"response": "x", "reference": reference}]}
    )
    assert r.status_code == 422, r.text
    assert f"reference.{field}" in r.text


QUERY_BUDGET_CHECKER = r"""
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    int used = ouf.readInt(), budget = ans.readInt();
    if (used > budget) quitf(_wa, "%d queries, the budget is %d", used, budget);
    quitf(_ok, "%d queries", used);
}
"""


@pytest.mark.parametrize(("budget", "outcome"), [("7", "correct"), ("2", "incorrect")])
def test_interactor_output_judged_by_a_checker(
    client: httpx.Client, budget: str, outcome: str
) -> None:
    # The interactor writes the number of queries to its <output>; the checker
    # compares it with the budget given as the test's answer.
    reference = guess_reference(checker={"language": "cpp", "source": QUERY_BUDGET_CHECKER})
    reference["tests"] = [{"stdin": "37\n", "stdout": budget}]
    (result,) = score(client, {"response": program(BINARY_SEARCH), "reference": reference})
    assert (result["status"], result["outcome"]) == ("ok", outcome), result
    if outcome == "incorrect":
        assert result["details"]["first_failure"]["checker"]["verdict"] == "wrong_answer"
