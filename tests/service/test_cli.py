"""The ``referee`` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support import REFEREE


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REFEREE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_version() -> None:
    out = run("version")
    assert out.returncode == 0
    assert out.stdout.strip() == "0.1.0"


def test_verifiers_lists_names_and_params() -> None:
    out = run("verifiers")
    assert out.returncode == 0
    for name in (
        "math",
        "think_format",
        "tag_count",
        "soft_overlong",
        "repetition",
        "exact_match",
        "multiple_choice",
        "regex",
    ):
        assert f"\n{name} (v" in "\n" + out.stdout
    assert "float_rounding" in out.stdout
    parsed = json.loads(run("verifiers", "--json").stdout)
    assert {v["name"] for v in parsed} >= {"math", "regex"}


def test_score_file_offline(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "response": "<think>2*3</think> \\boxed{6}", "reference": "6"},
        {"id": "b", "response": "<think>2*3</think> \\boxed{5}", "reference": "6"},
        {"id": "c", "response": "<think>oops", "reference": "6"},
        {
            "id": "d",
            "response": "<think>x</think> \\boxed{C}",
            "reference": "C",
            "verifier": "multiple_choice",
        },
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    dst = tmp_path / "out.jsonl"
    out = run("score", "--verifier", "math", "--workers", "1", str(src), str(dst))
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [(r["id"], r["reward"], r["outcome"]) for r in results] == [
        ("a", 1.0, "correct"),
        ("b", 0.0, "incorrect"),
        ("c", 0.0, "no_answer"),
        ("d", 1.0, "correct"),
    ]
    assert "scored 4 items" in out.stderr


def test_score_composite_spec_as_json(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"response": "<think>a</think> \\boxed{1}", "reference": "1"}))
    dst = tmp_path / "out.jsonl"
    spec = json.dumps([{"name": "math"}, {"name": "think_format", "weight": 0.5}])
    out = run("score", "--verifier", spec, "--workers", "1", str(src), str(dst))
    assert out.returncode == 0, out.stderr
    (result,) = [json.loads(line) for line in dst.read_text().splitlines()]
    assert result["reward"] == 1.5
    assert [c["name"] for c in result["components"]] == ["math", "think_format"]


def test_score_reports_bad_input_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "1", "reference": "1"}\n{"reference": "1"}\n')
    out = run("score", "--verifier", "math", str(src), str(tmp_path / "out.jsonl"))
    assert out.returncode == 2
    assert "in.jsonl:2" in out.stderr and "response" in out.stderr


def test_score_unknown_verifier(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "1", "reference": "1"}\n')
    out = run("score", "--verifier", "nope", "--workers", "1", str(src), str(tmp_path / "o.jsonl"))
    assert out.returncode == 2
    assert "unknown verifier 'nope'" in out.stderr and "math" in out.stderr


def test_serve_refuses_a_public_address_without_keys() -> None:
    out = run("serve", "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    assert "--insecure" in out.stderr and "0.0.0.0" in out.stderr
    out = subprocess.run(
        [REFEREE, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REFEREE_HOST": "::"},
    )
    assert out.returncode == 2
