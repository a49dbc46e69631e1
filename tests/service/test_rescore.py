"""``referee score --rescore``: saved /score exchanges judged again, changes reported.

Saved files come from a real ``referee serve`` (as a user saves requests and
responses), and the command runs as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PLUGINS_DIR
from support import REFEREE

from referee.verifiers.answer_kind import answer_kind

MATH_VERIFY = {"name": "math", "params": {"mode": "math_verify"}}
# Pairs math-verify alone rejects and the default cascade accepts, and pairs both agree on.
ITEMS = [
    {"id": "comma", "response": "so \\boxed{1,22}", "reference": "1.22"},
    {"id": "phrase", "response": "Final Answer: The largest $n$ is $34$.", "reference": "34"},
    {
        "id": "boxes",
        "response": "\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}",
        "reference": "(2, 2), (6, 2)",
    },
    {"id": "same", "response": "\\boxed{812}", "reference": "812"},
    {"id": "wrong", "response": "\\boxed{813}", "reference": "812"},
]
ENV = {"REFEREE_PLUGINS": "referee_test_verifiers", "PYTHONPATH": PLUGINS_DIR}


def referee(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFEREE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **ENV},
    )


def rescore(saved: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = saved.with_name(saved.stem + "-new.jsonl")
    report = saved.with_name(saved.stem + "-report.json")
    done = referee(
        "score",
        "--rescore",
        "--workers",
        "1",
        "--report",
        str(report),
        *extra,
        str(saved),
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return done, json.loads(report.read_text())


def save(path: Path, *exchanges: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in exchanges))
    return path


def test_an_upgrade_is_reported_by_class_and_direction(
    client: httpx.Client, tmp_path: Path
) -> None:
    body = {"verifier": MATH_VERIFY, "items": ITEMS}
    response = client.post("/score", json=body).json()
    assert [r["reward"] for r in response["results"]] == [0.0, 0.0, 0.0, 1.0, 0.0]
    saved = save(tmp_path / "saved.jsonl", {"request": body, "response": response})

    # As saved: the same verifier and params, so nothing changes.
    done, report = rescore(saved)
    assert report["changed"] == 0 and report["items"] == 5
    assert "0 changed" in done.stdout

    # The default configuration instead of math-verify alone.
    done, report = rescore(saved, "--verifier", "math")
    assert report["changed"] == 3
    changes = {c["id"]: (c["class"], c["direction"]) for c in report["changes"]}
    assert changes == {
        "comma": ("math/decimal", "0→1"),
        "phrase": ("math/integer", "0→1"),
        "boxes": ("math/several", "0→1"),
    }
    assert report["classes"]["math/integer"]["verdicts"] == 3
    assert report["classes"]["math/integer"]["0→1"] == 1
    (before,) = report["verifiers"]["math"]["before"]
    (after,) = report["verifiers"]["math"]["after"]
    assert before.split("/")[0] == after.split("/")[0]  # same version ...
    assert before != after  # ... other params
    assert "math/decimal" in done.stdout and "0→1" in done.stdout

    # The output is a saved results file again: re-scoring it changes nothing.
    new = saved.with_name("saved-new.jsonl")
    records = [json.loads(line) for line in new.read_text().splitlines()]
    assert [r["result"]["reward"] for r in records] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert all(r["verifier"] == "math" for r in records)
    _, again = rescore(new)
    assert again["changed"] == 0


def test_every_direction_from_results_of_another_version(
    client: httpx.Client, tmp_path: Path
) -> None:
    body = {
        "verifier": "math",
        "items": [
            {"id": "up", "response": "\\boxed{812}", "reference": "812"},
            {"id": "down", "response": "\\boxed{813}", "reference": "812"},
            {"id": "fixed", "response": "\\boxed{8815}", "reference": "8815"},
            {"id": "broken", "response": "raise", "verifier": "misbehave"},
            {"id": "none", "response": "no answer here", "reference": "812"},
            {
                "id": "parts",
                "response": "<think>a</think> \\boxed{8813}",
                "reference": "8813",
                "verifier": [{"name": "math"}, {"name": "think_format", "weight": 0.5}],
            },
        ],
    }
    response = client.post("/score", json=body).json()
    results = response["results"]
    assert results[3]["status"] == "error" and results[4]["outcome"] == "no_answer"
    # What an older verifier said: each saved verdict differs from today's.
    old = json.loads(json.dumps(results))
    old[0].update(reward=0.0, outcome="incorrect")
    old[1].update(reward=1.0, outcome="correct")
    old[2].update(reward=None, status="error", outcome=None, error={"kind": "deadline"})
    old[3].update(reward=1.0, status="ok", outcome="correct", error=None)
    old[4].update(outcome="incorrect")
    old[5]["components"][1].update(reward=0.0, outcome="bad_format")
    for r in old:  # saved before results stated their verifier
        for part in [r, *(r.get("components") or ())]:
            part.pop("verifier", None)
    saved = save(tmp_path / "old.jsonl", {"request": body, "response": {"results": old}})
    done, report = rescore(saved)
    changes = {(c["id"], c["class"]): c["direction"] for c in report["changes"]}
    assert changes == {
        ("up", "math/integer"): "0→1",
        ("down", "math/integer"): "1→0",
        ("fixed", "math/integer"): "error→ok",
        ("broken", "misbehave"): "ok→error",
        ("none", "math/integer"): "outcome",
        ("parts", "think_format"): "0→1",
    }
    assert report["verifiers"]["math"]["before"] == {"unknown": 5}
    assert report["verifiers"]["think_format"]["before"] == {"unknown": 1}
    assert report["classes"]["math/integer"]["verdicts"] == 5
    assert "ok→error" in done.stdout


def test_a_streamed_answer_with_missing_lines(client: httpx.Client, tmp_path: Path) -> None:
    body = {"verifier": "math", "items": ITEMS[3:]}
    with client.stream(
        "POST", "/score", json=body, headers={"accept": "application/x-ndjson"}
    ) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    kept = [line for line in lines if line["index"] == 1]  # the stream was cut
    saved = save(tmp_path / "stream.jsonl", {"request": body, "response": kept})
    _, report = rescore(saved)
    assert [(c["id"], c["direction"]) for c in report["changes"]] == [("same", "new")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", ":1: not JSON"),
        ('{"something": 1}\n', ":1: expected an exchange"),
        (
            json.dumps(
                {"request": {"verifier": "math", "items": ITEMS[:2]}, "response": {"results": []}}
            ),
            "0 results for 2 items",
        ),
        (
            "\n" + json.dumps({"item": {"response": "1"}, "result": {"status": "maybe"}}),
            ":2 result: not a result: status",
        ),
        (json.dumps({"item": {"reference": "1"}, "result": None}), "item: response"),
    ],
)
def test_a_file_that_is_not_saved_results_names_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    saved = tmp_path / "bad.jsonl"
    saved.write_text(content)
    done = referee("score", "--rescore", str(saved), str(tmp_path / "out.jsonl"))
    assert done.returncode == 2
    assert message in done.stderr, done.stderr


def test_a_saved_spec_that_no_longer_resolves_names_its_item(tmp_path: Path) -> None:
    record = {"item": {"id": "x", "response": "1", "reference": "1"}, "verifier": "gone"}
    saved = tmp_path / "gone.jsonl"
    saved.write_text(json.dumps({**record, "result": {"status": "ok", "reward": 1.0}}) + "\n")
    done = referee("score", "--rescore", "--workers", "1", str(saved), str(tmp_path / "o.jsonl"))
    assert done.returncode == 2
    assert "gone.jsonl:1" in done.stderr and "unknown verifier 'gone'" in done.stderr


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("42", "integer"),
        ("$-3$", "integer"),
        ("1,000", "integer"),
        ("0.25", "decimal"),
        ("\\frac{3}{4}", "fraction"),
        ("3/4", "fraction"),
        ("50\\%", "percent"),
        ("B", "choice"),
        ("(1, 2)", "tuple"),
        ("[0, 1)", "interval"),
        ("(-\\infty, 2]", "interval"),
        ("\\{1, 2\\}", "set"),
        ("\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}", "matrix"),
        ("y = 2x + 1", "equation"),
        ("1, 2", "several"),
        ("\\text{Tuesday}", "text"),
        ("\\sqrt{2}", "expression"),
        (["7", "7.0"], "integer"),
    ],
)
def test_answer_kinds(reference: Any, kind: str) -> None:
    assert answer_kind(reference) == kind


def test_records_written_offline_are_rescored(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(it) + "\n" for it in ITEMS))
    saved = tmp_path / "records.jsonl"
    spec = json.dumps(MATH_VERIFY)
    done = referee(
        "score", "--with-items", "--workers", "1", "--verifier", spec, str(src), str(saved)
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [r["item"] for r in records] == ITEMS
    assert all(r["verifier"] == MATH_VERIFY for r in records)
    _, report = rescore(saved)
    assert report["changed"] == 0
    _, report = rescore(saved, "--verifier", "math")
    assert sorted(c["id"] for c in report["changes"]) == ["boxes", "comma", "phrase"]
