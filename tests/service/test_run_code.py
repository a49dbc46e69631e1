"""POST /run_code (SandboxFusion's contract) and code scoring over HTTP."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import start_server, stop_server


def run_code(client: httpx.Client, **body: Any) -> dict[str, Any]:
    r = client.post("/run_code", json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    assert set(result) >= {"status", "message", "compile_result", "run_result", "files"}
    return result


def test_python_success(client: httpx.Client) -> None:
    out = run_code(client, code="print(input()[::-1])", language="python", stdin="abc")
    assert out["status"] == "Success"
    assert out["compile_result"] is None
    run = out["run_result"]
    assert (run["status"], run["return_code"], run["stdout"]) == ("Finished", 0, "cba\n")
    assert run["execution_time"] >= 0


def test_cpp_compile_then_run_with_nonzero_exit(client: httpx.Client) -> None:
    code = '#include <cstdio>\nint main(){ std::puts("hi"); return 3; }\n'
    out = run_code(client, code=code, language="cpp")
    assert out["status"] == "Failed"
    assert out["compile_result"]["status"] == "Finished"
    assert out["compile_result"]["return_code"] == 0
    assert (out["run_result"]["stdout"], out["run_result"]["return_code"]) == ("hi\n", 3)


def test_cpp_compile_error(client: httpx.Client) -> None:
    out = run_code(client, code="int main( {", language="cpp")
    assert out["status"] == "Failed"
    assert out["run_result"] is None
    assert out["compile_result"]["return_code"] != 0
    assert "error" in out["compile_result"]["stderr"]


def test_time_limit(client: httpx.Client) -> None:
    out = run_code(client, code="while True: pass", language="python", run_timeout=1)
    assert out["status"] == "Failed"
    assert out["run_result"]["status"] == "TimeLimitExceeded"


def test_files_in_and_out(client: httpx.Client) -> None:
    code = "print(open('data.txt').read())\nopen('out.bin', 'wb').write(bytes([0, 255]))"
    out = run_code(
        client,
        code=code,
        language="python",
        files={"data.txt": base64.b64encode(b"payload").decode()},
        fetch_files=["out.bin", "missing.txt"],
    )
    assert out["run_result"]["stdout"] == "payload\n"
    assert base64.b64decode(out["files"]["out.bin"]) == bytes([0, 255])
    assert "missing.txt" not in out["files"]


def test_nodejs_alias(client: httpx.Client) -> None:
    out = run_code(client, code="console.log(6 * 7)", language="nodejs")
    assert (out["status"], out["run_result"]["stdout"]) == ("Success", "42\n")


def test_unknown_language_is_422(client: httpx.Client) -> None:
    r = client.post("/run_code", json={"code": "x", "language": "cobol"})
    assert r.status_code == 422
    assert "python" in r.json()["detail"]


def test_code_verifier_through_score(client: httpx.Client) -> None:
    reference = {
        "language": "python",
        "tests": [{"stdin": "2 3\n", "stdout": "5\n"}, {"stdin": "10 -4\n", "stdout": "6\n"}],
    }
    response = (
        "<think>read two ints</think>\n```python\na, b = map(int, input().split())\n"
        "print(a + b)\n```"
    )
    r = client.post(
        "/score",
        json={
            "verifier": "code",
            "items": [
                {"response": response, "reference": reference},
                {"response": response.replace("a + b", "a * b"), "reference": reference},
                {"response": response, "reference": {**reference, "language": "cobol"}},
            ],
        },
    )
    assert r.status_code == 422  # the third reference names an unknown language
    assert r.json()["detail"][0]["loc"] == ["body", "items", 2, "reference"]
    r = client.post(
        "/score",
        json={
            "verifier": "code",
            "items": [
                {"response": response, "reference": reference},
                {"response": response.replace("a + b", "a * b"), "reference": reference},
            ],
        },
    )
    good, bad = r.json()["results"]
    assert (good["reward"], good["outcome"], good["details"]["passed"]) == (1.0, "correct", 2)
    assert (bad["reward"], bad["outcome"]) == (0.0, "incorrect")
    assert bad["details"]["first_failure"]["expected"] == "5\n"


@pytest.fixture(scope="module")
def no_sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # No bwrap on PATH and the default backend: code must be refused, never run bare.
    srv = start_server(
        tmp_path_factory.mktemp("nosandbox"),
        {"PATH": "/nonexistent", "REFEREE_SANDBOX": "auto"},
        workers=1,
    )
    yield srv
    stop_server(srv)


def test_without_an_isolating_backend_code_is_an_error(no_sandbox_server: Any) -> None:
    with httpx.Client(base_url=no_sandbox_server.url, timeout=60) as client:
        r = client.post(
            "/score",
            json={
                "verifier": "code",
                "items": [
                    {
                        "response": "```python\nopen('/tmp/ran', 'w').write('x')\nprint(1)\n```",
                        "reference": {
                            "language": "python",
                            "tests": [{"stdin": "", "stdout": "1"}],
                        },
                    }
                ],
            },
        )
        (result,) = r.json()["results"]
        assert (result["status"], result["reward"]) == ("error", None)
        assert result["error"]["kind"] == "sandbox_unavailable"
        assert "bubblewrap" in result["error"]["message"]
        out = client.post("/run_code", json={"code": "print(1)", "language": "python"}).json()
        assert out["status"] == "SandboxError"
        math_r = client.post(
            "/score",
            json={"verifier": "math", "items": [{"response": "\\boxed{2}", "reference": "2"}]},
        )
        assert math_r.json()["results"][0]["outcome"] == "correct"  # the rest still works
    assert not Path("/tmp/ran").exists()
