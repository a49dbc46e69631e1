"""SandboxFusion's ``/run_code``, run in a worker's sandbox.

Request and response use SandboxFusion's field names, so tools written against
SandboxFusion (veRL's sandbox_fusion reward among them) can point at Referee:
``code, language, compile_timeout, run_timeout, memory_limit_MB, stdin, files
(path -> base64), fetch_files`` in; ``status`` (Success / Failed / SandboxError),
``message``, ``compile_result`` and ``run_result`` (each ``status`` Finished /
TimeLimitExceeded / Error, ``execution_time``, ``return_code``, ``stdout``,
``stderr``), ``executor_pod_name``, ``files`` out.
"""

from __future__ import annotations

from typing import Any

from referee import sandbox
from referee.sandbox._types import Limits, RunResult, RunStatus, SandboxError

__all__ = ["DEFAULT_MEMORY_MB", "execute", "sandbox_error"]

DEFAULT_MEMORY_MB = 1024  # when the request gives none (the server may cap it lower)


def _command_result(result: RunResult) -> dict[str, Any]:
    if result.status == RunStatus.TIMEOUT:
        status = "TimeLimitExceeded"
    elif result.exit_code is not None and result.status not in (
        RunStatus.MEMORY_LIMIT,
        RunStatus.OUTPUT_LIMIT,
    ):
        status = "Finished"  # exited by itself, whatever its code
    else:
        status = "Error"
    return {
        "status": status,
        "execution_time": result.wall_s,
        "return_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """Compile (when the language compiles) and run one program; never raises."""
    lang = sandbox.get_language(str(request.get("language", "")))
    if lang is None:
        return sandbox_error(f"unsupported language; valid: {', '.join(sandbox.LANGUAGES)}")
    memory = int(request.get("memory_limit_MB") or -1)
    limits = Limits(
        time_s=float(request.get("run_timeout") or 10),
        memory_mb=memory if memory > 0 else DEFAULT_MEMORY_MB,
    )
    files = {path: {"b64": content} for path, content in (request.get("files") or {}).items()}
    try:
        box = sandbox.current()
    except SandboxError as exc:
        return sandbox_error(str(exc))
    workdir = box.client.next_workdir()
    try:
        compile_result = None
        if lang.compile is not None:
            compiled = box.compile(
                workdir,
                lang,
                request["code"],
                Limits(time_s=float(request.get("compile_timeout") or 10)),
                files=files,
            )
            if compiled.status == RunStatus.SANDBOX_ERROR:
                return sandbox_error(compiled.message)
            compile_result = _command_result(compiled)
            if compiled.status != RunStatus.OK:
                return {**_response("Failed", "compile error"), "compile_result": compile_result}
            files = {}
        else:
            files[lang.source_file] = request["code"]
        run = box.run(
            workdir,
            lang,
            limits,
            stdin=str(request.get("stdin") or ""),
            files=files,
            fetch=list(request.get("fetch_files") or []),
        )
        if run.status == RunStatus.SANDBOX_ERROR:
            return sandbox_error(run.message)
        run_result = _command_result(run)
        ok = run.status == RunStatus.OK and run.exit_code == 0
        return {
            **_response("Success" if ok else "Failed", "" if ok else run.status.value),
            "compile_result": compile_result,
            "run_result": run_result,
            "files": run.extra.get("files", {}),
        }
    except SandboxError as exc:
        return sandbox_error(str(exc))
    finally:
        box.cleanup(workdir)


def _response(status: str, message: str) -> dict[str, Any]:
    return {
        "status": status,
        "message": message,
        "compile_result": None,
        "run_result": None,
        "executor_pod_name": None,
        "files": {},
    }


def sandbox_error(message: str) -> dict[str, Any]:
    """The answer when the sandbox itself failed (SandboxFusion's ``SandboxError``)."""
    return _response("SandboxError", message)
