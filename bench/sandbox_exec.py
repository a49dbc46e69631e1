"""Benchmark: running untrusted programs in the bwrap sandbox vs a bare subprocess.

What is measured, in one run and on one machine:

(a) the latency of one run of a trivial Python program (``print(sum(range(10)))``)
    through ``Sandbox.run(..., source=...)`` of a warm bwrap jail (the fork server's
    in-place fast path: a fork, no exec), against the baseline a trainer would
    write without Referee, ``subprocess.run([sys.executable, "-c", ...])``, and
    the same with ``/usr/bin/python3 -I`` (the interpreter the jail uses, without
    the virtualenv's site-packages: the fairer baseline). The three are
    interleaved run by run, so that noise hits them alike. Target: the sandbox at
    most half the bare subprocess time.
(b) the throughput of HumanEval-style items (``test_code`` + ``entry_point``)
    through ``POST /score`` of a ``referee serve --workers N`` that this script
    starts and stops itself, for N = 1 and 2, against the baseline of the same
    checks as bare subprocesses (program + test code + ``check(entry_point)`` in
    ``python3 -I -c``), N at a time. The batch is ~200 generated problems, each
    program distinct (so the result cache never answers), half of them correct;
    the rest wrong, crashing or not defining the function. Each side's rewards
    are compared with the generator's, so that speed bought with wrong answers shows.

(c) the cost of a test judged by a checker program against the same test
    compared by tokens: one ``code`` item of ``--checker-tests`` a+b tests,
    judged in this process (``CODE.verify``, the worker's path) with the tokens
    comparison, a Python checker and a testlib C++ checker (compiled once, then
    from the worker's cache; the first compile is reported apart), and as an
    interactive problem (a Python interactor sends the numbers and checks the
    sum), interleaved round by round. Per-test figures and the ratios to tokens.

Run ``.venv/bin/python bench/sandbox_exec.py`` (``--quick`` for a smoke run); it
writes its figures to ``bench/results/sandbox_exec.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from referee.sandbox import Limits, RunStatus, get_language
from referee.sandbox.backend import open_sandbox

TRIVIAL = "print(sum(range(10)))"
SYSTEM_PYTHON = "/usr/bin/python3"
REFEREE = str(Path(sys.executable).with_name("referee"))
BENCH_UID = 60020  # apart from the server's workers (60000 + slot) and the tests


# -- (a) per-run latency ---------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
        "n": len(samples),
    }


def bench_latency(runs: int) -> dict[str, Any]:
    box = open_sandbox("bwrap", uid=BENCH_UID)
    python = get_language("python")
    assert python is not None
    limits = Limits()
    workdirs: list[str] = []

    def sandboxed() -> str:
        workdir = box.client.next_workdir()
        workdirs.append(workdir)
        result = box.run(workdir, python, limits, source=TRIVIAL)
        if result.status != RunStatus.OK:
            raise RuntimeError(f"sandbox run failed: {result}")
        return result.stdout

    def bare(argv: list[str]) -> Callable[[], str]:
        def run() -> str:
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

        return run

    methods: dict[str, Callable[[], str]] = {
        "sandbox": sandboxed,
        "subprocess_venv_python": bare([sys.executable, "-c", TRIVIAL]),
        "subprocess_usr_python_isolated": bare([SYSTEM_PYTHON, "-I", "-c", TRIVIAL]),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    cleanup: list[float] = []
    try:
        for _ in range(max(5, runs // 20)):  # warm-up: page cache, the jail's first fork
            for fn in methods.values():
                fn()
        for workdir in workdirs:
            box.cleanup(workdir)
        for _ in range(runs):
            for name, fn in methods.items():
                started = time.perf_counter()
                out = fn()
                times[name].append(time.perf_counter() - started)
                if out != "45\n":
                    raise RuntimeError(f"{name} printed {out!r}")
            # the verifier removes each item's workdir: its cost, measured apart
            started = time.perf_counter()
            box.cleanup(workdirs[-1])
            cleanup.append(time.perf_counter() - started)
    finally:
        box.close()
    figures = {name: percentiles(samples) for name, samples in times.items()}
    sandbox_p50 = figures["sandbox"]["p50_ms"]
    ratios = {
        f"sandbox_over_{name}_p50": round(sandbox_p50 / figures[name]["p50_ms"], 3)
        for name in methods
        if name != "sandbox"
    }
    ratios.update(
        {
            f"sandbox_over_{name}_p99": round(
                figures["sandbox"]["p99_ms"] / figures[name]["p99_ms"], 3
            )
            for name in methods
            if name != "sandbox"
        }
    )
    return {
        "runs": figures,
        "cleanup_request": percentiles(cleanup),
        "ratios": ratios,
        "target": "sandbox p50 <= 0.5 x bare subprocess p50",
        "target_met": ratios["sandbox_over_subprocess_venv_python_p50"] <= 0.5,
    }


# -- (b) HumanEval-style throughput ------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    entry_point: str
    program: str
    test_code: str
    expected_reward: float


def _family(kind: int, n: int) -> tuple[str, str, Callable[[Any], Any], list[Any]]:
    """(entry point, correct body, reference function, test arguments) of problem ``n``."""
    k = n % 7 + 2
    if kind == 0:
        return (
            f"add_mod_{n}",
            f"    return (x + {n}) % {k}\n",
            lambda x: (x + n) % k,
            [0, 1, 5, 17, 1000 + n],
        )
    if kind == 1:
        return (
            f"running_max_{n}",
            "    out, best = [], None\n"
            "    for v in x:\n"
            "        best = v if best is None else max(best, v)\n"
            "        out.append(best)\n"
            "    return out\n",
            lambda x: [max(x[: i + 1]) for i in range(len(x))],
            [[], [n, 1, 2], [3, 2, 5, 1], list(range(n % 5, -1, -1))],
        )
    if kind == 2:
        return (
            f"count_char_{n}",
            f"    return x.count({chr(97 + n % 26)!r})\n",
            lambda x: x.count(chr(97 + n % 26)),
            ["", "abcabc", "zzz" + chr(97 + n % 26) * (n % 4), "hello world"],
        )
    return (
        f"sum_squares_{n}",
        f"    return sum(i * i for i in range(x)) + {n}\n",
        lambda x: sum(i * i for i in range(x)) + n,
        [0, 1, 4, 10],
    )


def build_problems(count: int, seed: int) -> list[Problem]:
    """``count`` distinct problems: half correct, the others wrong in assorted ways."""
    rng = random.Random(seed)
    problems = []
    for n in range(count):
        entry, body, reference, args = _family(n % 4, n)
        asserts = "".join(f"    assert candidate({a!r}) == {reference(a)!r}\n" for a in args)
        test_code = f"\n\nMETADATA = {{'id': {n}}}\n\n\ndef check(candidate):\n{asserts}"
        correct = n % 2 == 0
        flavour = rng.random()
        if correct:
            program = f"def {entry}(x):\n{body}"
        elif flavour < 0.6:  # wrong answer: the right code, plus an off-by-one
            program = f"def _right(x):\n{body}\n\ndef {entry}(x):\n    return _right(x) + 1\n"
            if n % 4 == 1:  # lists: one element too many
                program = f"def _right(x):\n{body}\n\ndef {entry}(x):\n    return _right(x) + [0]\n"
        elif flavour < 0.85:  # crashes
            program = f"def {entry}(x):\n    raise ValueError('not implemented {n}')\n"
        else:  # no such function
            program = f"def solve_{n}(x):\n{body}"
        problems.append(Problem(entry, program, test_code, 1.0 if correct else 0.0))
    return problems


def response_of(problem: Problem) -> str:
    return (
        "<think>\nThe function is short; check the empty input.\n</think>\n\n"
        f"```python\n{problem.program}```\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "REFEREE_SANDBOX": "bwrap", "REFEREE_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REFEREE, "serve", "--port", str(port), "--workers", str(workers), "--grpc-port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"server not ready in 60 s:\n{log.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def score(client: httpx.Client, problems: list[Problem]) -> tuple[float, list[dict[str, Any]]]:
    body = {
        "verifier": "code",
        "items": [
            {
                "id": str(i),
                "response": response_of(p),
                "reference": {
                    "language": "python",
                    "test_code": p.test_code,
                    "entry_point": p.entry_point,
                },
            }
            for i, p in enumerate(problems)
        ],
    }
    started = time.perf_counter()
    reply = client.post("/score", json=body)
    elapsed = time.perf_counter() - started
    reply.raise_for_status()
    results: list[dict[str, Any]] = reply.json()["results"]
    return elapsed, results


def bench_server(workers: int, problems: list[Problem], warmup: list[Problem]) -> dict[str, Any]:
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"referee-bench-sandbox-{workers}.log"
    process, url = start_server(workers, log)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            score(client, warmup)  # every worker opens its jail and warms up
            elapsed, results = score(client, problems)
    finally:
        stop_server(process)
    errors = [r for r in results if r["status"] != "ok"]
    cached = sum(bool(r["cached"]) for r in results)
    disagree = sum(r["reward"] != p.expected_reward for r, p in zip(results, problems, strict=True))
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    return {
        "workers": workers,
        "items": len(problems),
        "seconds": round(elapsed, 3),
        "tests_per_s": round(len(problems) / elapsed, 1),
        "errors": len(errors),
        "cached": cached,
        "rewards_disagreeing_with_generator": disagree,
        "outcomes": outcomes,
    }


def baseline_check(problem: Problem) -> float:
    """The unsandboxed baseline: one ``python3 -I -c`` per item, exit status 0 = pass."""
    source = f"{problem.program}\n{problem.test_code}\ncheck({problem.entry_point})\n"
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-I", "-c", source], capture_output=True, timeout=10, check=False
        )
    except subprocess.TimeoutExpired:
        return 0.0
    return 1.0 if done.returncode == 0 else 0.0


def bench_baseline(workers: int, problems: list[Problem]) -> dict[str, Any]:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        rewards = list(pool.map(baseline_check, problems))
    elapsed = time.perf_counter() - started
    disagree = sum(r != p.expected_reward for r, p in zip(rewards, problems, strict=True))
    return {
        "workers": workers,
        "items": len(problems),
        "seconds": round(elapsed, 3),
        "tests_per_s": round(len(problems) / elapsed, 1),
        "rewards_disagreeing_with_generator": disagree,
    }


# -- (c) checked tests against token-compared tests -------------------------------------------

CHECKER_PY = """
import sys
got, want = open(sys.argv[2]).read().split(), open(sys.argv[3]).read().split()
sys.exit(0 if got == want else 1)
"""
CHECKER_CPP = """
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    long long want = ans.readLong(), got = ouf.readLong();
    if (got != want) quitf(_wa, "expected %lld, found %lld", want, got);
    quitf(_ok, "%lld", got);
}
"""
INTERACTOR_PY = """
import sys
a, b = map(int, open(sys.argv[1]).read().split())
print(a, b, flush=True)
got = sys.stdin.readline().split()
sys.exit(0 if got == [str(a + b)] else 1)
"""
CHECKER_UID = 60021


def bench_checker(rounds: int, tests: int) -> dict[str, Any]:
    from referee import sandbox
    from referee.verifiers.code import CODE, CodeParams

    sandbox.configure("bwrap", slot=0, uid_base=CHECKER_UID)
    cases = [{"stdin": f"{i} {i * 7}\n", "stdout": f"{i * 8}\n"} for i in range(tests)]
    checkers: dict[str, dict[str, str] | None] = {
        "tokens": None,
        "checker_python": {"language": "python", "source": CHECKER_PY},
        "checker_testlib_cpp": {"language": "cpp", "source": CHECKER_CPP},
        "interactor_python": {"language": "python", "source": INTERACTOR_PY},
    }
    times: dict[str, list[float]] = {name: [] for name in checkers}

    def judge(name: str, nonce: int) -> float:
        reference: dict[str, Any] = {"language": "python", "tests": cases}
        if name.startswith("interactor"):
            reference["interactor"] = checkers[name]
        elif checkers[name] is not None:
            reference["checker"] = checkers[name]
        program = f"# {nonce}\na, b = map(int, input().split())\nprint(a + b, flush=True)\n"
        started = time.perf_counter()
        result = CODE.verify(f"```python\n{program}```", reference, CodeParams())
        elapsed = time.perf_counter() - started
        if result.reward != 1.0:
            raise RuntimeError(f"{name}: {result}")
        return elapsed

    try:
        judge("tokens", -1)  # the jail starts
        compile_s = judge("checker_testlib_cpp", -1)  # compiles testlib once: then cached
        judge("checker_python", -1)
        for n in range(rounds):
            for name in checkers:
                times[name].append(judge(name, n) / tests)
    finally:
        sandbox.current().close()
    figures = {name: percentiles(samples) for name, samples in times.items()}
    base = figures["tokens"]["p50_ms"]
    return {
        "tests_per_item": tests,
        "per_test": figures,
        "first_item_with_testlib_compile_s": round(compile_s, 3),
        "ratios_p50": {
            f"{name}_over_tokens": round(figures[name]["p50_ms"] / base, 3)
            for name in checkers
            if name != "tokens"
        },
    }


# -- main -----------------------------------------------------------------------------------


# (c) per language: an a+b program compiled and run in the sandbox, against the same
# toolchain run bare in a temporary directory (same argv, no jail, no limits).
A_PLUS_B = {
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "cpp": '#include <cstdio>\nint main() { long a, b; scanf("%ld %ld", &a, &b); '
    'printf("%ld\\n", a + b); }\n',
    "javascript": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/)"
    ".map(Number);\nconsole.log(a + b);\n",
    "c": '#include <stdio.h>\nint main() { long a, b; scanf("%ld %ld", &a, &b); '
    'printf("%ld\\n", a + b); return 0; }\n',
    "java": "import java.util.*;\npublic class Main { public static void main(String[] x) { "
    "Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong()); } }\n",
    "go": 'package main\nimport "fmt"\nfunc main() { var a, b int64\nfmt.Scan(&a, &b)\n'
    "fmt.Println(a + b) }\n",
    "rust": "use std::io::*;\nfn main() { let mut s = String::new(); "
    "stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = "
    "s.split_whitespace().map(|x| x.parse().unwrap()).collect(); "
    'println!("{}", v[0] + v[1]); }\n',
}


def _bare_language(lang: Any, source: str, runs: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, lang.source_file).write_text(source)
        compile_s = 0.0
        if lang.compile is not None:
            start = time.perf_counter()
            subprocess.run(list(lang.compile), cwd=tmp, check=True, capture_output=True)
            compile_s = time.perf_counter() - start
        argv = lang.run_argv(256)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=tmp, input=b"2 40\n", capture_output=True)
            times.append(time.perf_counter() - start)
            assert done.stdout.strip() == b"42", done
        return compile_s, times


def bench_languages(runs: int, compiles: int) -> dict[str, Any]:
    box = open_sandbox("bwrap", uid=BENCH_UID)
    out: dict[str, Any] = {}
    try:
        for name, source in A_PLUS_B.items():
            lang = get_language(name)
            assert lang is not None
            if any(not os.path.exists(tool) for tool in lang.toolchain):
                out[name] = {"skipped": f"{lang.toolchain} not installed"}
                continue
            compile_s: list[float] = []
            bare_compile_s: list[float] = []
            run_s: list[float] = []
            bare_run_s: list[float] = []
            for i in range(compiles):  # a fresh source each time: nothing is reused
                salted = source + ("#" if name == "python" else "//") + f" {i}\n"
                workdir = box.client.next_workdir()
                try:
                    inline = salted if lang.inline_python else None
                    if not lang.inline_python:
                        start = time.perf_counter()
                        compiled = box.compile(workdir, lang, salted, Limits(time_s=120))
                        if lang.compile is not None:  # else it only wrote the source
                            compile_s.append(time.perf_counter() - start)
                        assert compiled.status == RunStatus.OK, compiled
                    for _ in range(runs // compiles):
                        start = time.perf_counter()
                        ran = box.run(workdir, lang, Limits(), stdin="2 40\n", source=inline)
                        run_s.append(time.perf_counter() - start)
                        assert ran.stdout.strip() == "42", ran
                finally:
                    box.cleanup(workdir)
                bare_compile, bare_runs = _bare_language(lang, salted, runs // compiles)
                bare_compile_s.append(bare_compile)
                bare_run_s.extend(bare_runs)
            fig: dict[str, Any] = {
                "run": percentiles(run_s),
                "bare_run": percentiles(bare_run_s),
                "run_ratio": round(statistics.median(run_s) / statistics.median(bare_run_s), 3),
            }
            if compile_s:
                fig["compile_p50_ms"] = round(statistics.median(compile_s) * 1000, 1)
                fig["bare_compile_p50_ms"] = round(statistics.median(bare_compile_s) * 1000, 1)
                fig["compile_ratio"] = round(
                    statistics.median(compile_s) / statistics.median(bare_compile_s), 3
                )
            out[name] = fig
    finally:
        box.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=400, help="timed runs per method in (a)")
    parser.add_argument("--items", type=int, default=200, help="HumanEval-style items in (b)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compiles", type=int, default=5, help="fresh programs per language (c)")
    parser.add_argument("--checker-rounds", type=int, default=30, help="items per kind in (c)")
    parser.add_argument("--checker-tests", type=int, default=20, help="tests per item in (c)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 60 runs, 40 items")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "sandbox_exec.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.items, args.compiles, args.checker_rounds = 60, 40, 2, 8

    print(f"(a) latency of one trivial Python run, {args.runs} runs each, interleaved")
    latency = bench_latency(args.runs)
    for name, fig in latency["runs"].items():
        print(f"    {name:32s} p50 {fig['p50_ms']:8.2f} ms   p99 {fig['p99_ms']:8.2f} ms")
    print(f"    {'(cleanup request)':32s} p50 {latency['cleanup_request']['p50_ms']:8.2f} ms")
    for name, ratio in latency["ratios"].items():
        print(f"    {name:50s} {ratio:6.3f}")
    print(f"    target {latency['target']}: {'met' if latency['target_met'] else 'NOT met'}")

    problems = build_problems(args.items, args.seed)
    # Warm-up items: other problem numbers, so that no cache key is shared.
    warmup = build_problems(args.items + 16, args.seed + 1)[args.items :]
    print(f"\n(b) {len(problems)} HumanEval-style items through POST /score, cold cache")
    throughput = []
    for workers in args.workers:
        base = bench_baseline(workers, problems)
        served = bench_server(workers, problems, warmup)
        ratio = round(served["tests_per_s"] / base["tests_per_s"], 3)
        throughput.append({"workers": workers, "referee": served, "baseline": base, "ratio": ratio})
        print(
            f"    workers={workers}: referee {served['tests_per_s']:7.1f} tests/s "
            f"({served['seconds']:.2f} s, errors {served['errors']}, cached {served['cached']}, "
            f"disagreeing {served['rewards_disagreeing_with_generator']}) | bare subprocess "
            f"x{workers} {base['tests_per_s']:7.1f} tests/s "
            f"(disagreeing {base['rewards_disagreeing_with_generator']}) | ratio {ratio:.2f}"
        )
    if len(throughput) > 1:
        scaling = round(
            throughput[-1]["referee"]["tests_per_s"] / throughput[0]["referee"]["tests_per_s"], 3
        )
        print(
            f"    referee scaling {throughput[0]['workers']} -> {throughput[-1]['workers']} "
            f"workers: x{scaling}"
        )
    else:
        scaling = None

    checker = None
    if args.checker_rounds > 0:
        print(
            f"\n(c) per-test cost, {args.checker_tests} a+b tests an item, "
            f"{args.checker_rounds} items each, interleaved"
        )
        checker = bench_checker(args.checker_rounds, args.checker_tests)
        for name, fig in checker["per_test"].items():
            print(f"    {name:32s} p50 {fig['p50_ms']:8.2f} ms/test   p99 {fig['p99_ms']:8.2f}")
        for name, ratio in checker["ratios_p50"].items():
            print(f"    {name:50s} {ratio:6.3f}")
        print(
            "    first item with a testlib checker (compiles it): "
            f"{checker['first_item_with_testlib_compile_s']:.2f} s"
        )

    print("\n(d) per language: a+b compiled and run in the sandbox vs the same toolchain bare")
    languages = bench_languages(max(args.compiles, args.runs // 10), args.compiles)
    for name, fig in languages.items():
        if "skipped" in fig:
            print(f"    {name:11s} skipped: {fig['skipped']}")
            continue
        compiled = (
            f"compile p50 {fig['compile_p50_ms']:8.1f} ms (bare {fig['bare_compile_p50_ms']:8.1f},"
            f" x{fig['compile_ratio']:.2f})"
            if "compile_p50_ms" in fig
            else f"{'(no compile step)':44s}"
        )
        print(
            f"    {name:11s} {compiled} | run p50 {fig['run']['p50_ms']:7.2f} ms "
            f"(bare {fig['bare_run']['p50_ms']:7.2f}, x{fig['run_ratio']:.2f})"
        )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "sandbox_exec",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "latency": latency,
        "throughput": throughput,
        "referee_scaling": scaling,
        "languages": languages,
        "checker": checker,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
