"""What a sandbox run is asked to do and what it reports.

Exception tree::

    SandboxError              the sandbox itself failed (never the program's fault)
    └── SandboxUnavailable    no isolating backend can run here
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Limits",
    "RunResult",
    "RunStatus",
    "SandboxError",
    "SandboxUnavailable",
]


class RunStatus(StrEnum):
    """How one run of a program ended."""

    OK = "ok"  # exited by itself (any exit code)
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"  # killed by a signal, or an uncaught error
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one run."""

    time_s: float = 5.0  # wall clock; CPU time is limited to the same (rounded up)
    memory_mb: int = 512
    output_bytes: int = 4 * 1024 * 1024  # stdout and stderr each
    file_size_mb: int = 16
    open_files: int = 64
    processes: int = 32  # threads count too (RLIMIT_NPROC)
    cpu_s: float | None = None  # a CPU-time limit of its own (contest time limits); wall: time_s

    def to_wire(self) -> dict[str, Any]:
        wire = self._base_wire()
        if self.cpu_s is not None:
            wire["cpu_s"] = self.cpu_s
        return wire

    def _base_wire(self) -> dict[str, Any]:
        return {
            "time_s": self.time_s,
            "memory_mb": self.memory_mb,
            "output_bytes": self.output_bytes,
            "file_size_mb": self.file_size_mb,
            "open_files": self.open_files,
            "processes": self.processes,
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run: its status, exit code, captured output (truncated), and resources used."""

    status: RunStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_kb: int = 0
    truncated: bool = False
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_wire(data: dict[str, Any]) -> RunResult:
        return RunResult(
            status=RunStatus(data["status"]),
            exit_code=data.get("exit_code"),
            signal=data.get("signal"),
            stdout=data.get("stdout", ""),
            stderr=data.get("stderr", ""),
            wall_s=float(data.get("wall_s", 0.0)),
            cpu_s=float(data.get("cpu_s", 0.0)),
            peak_memory_kb=int(data.get("peak_memory_kb", 0)),
            truncated=bool(data.get("truncated", False)),
            message=data.get("message", ""),
            extra={"files": data["files"]} if "files" in data else {},
        )


class SandboxError(Exception):
    """The sandbox could not run the program (not the program's fault)."""


class SandboxUnavailable(SandboxError):
    """No isolating sandbox backend is available on this machine."""
