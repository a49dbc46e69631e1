"""Sandbox backends and the one interface the verifiers use.

Every backend runs the same fork server (``jail/server.py``); they differ in
what surrounds it:

- ``bwrap``: a bubblewrap jail per worker process, started as an unprivileged
  uid through ``setpriv``: new user, pid, network, mount, ipc and uts
  namespaces, read-only /usr, private /tmp, no capabilities, dies with its parent.
- ``local-unsafe``: the fork server as a plain process with rlimits and
  seccomp but no namespaces. Only when an operator names it (or when something
  around the worker isolates it, such as a gVisor pod).
- ``none``: code execution switched off; code items are refused
  (``sandbox_unavailable``). The Helm chart's default.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from typing import Any

from referee.sandbox._types import Limits, RunResult, RunStatus, SandboxError, SandboxUnavailable
from referee.sandbox.client import JailClient, jail_files
from referee.sandbox.languages import Language

__all__ = ["BACKENDS", "CallResult", "Sandbox", "bwrap_argv", "local_argv", "open_sandbox"]

_PYTHON = "/usr/bin/python3"
_JAIL_DIR = "/opt/referee"
_REPLY_MARGIN_S = 5.0
_FETCH_BINARY_BYTES = 64 * 1024 * 1024  # a compiled checker sent back to be cached


_TMP_BYTES = 512 * 1024 * 1024
# The jail starts with this environment, not the server's (bwrap keeps what it was
# given, and its /proc/<pid>/environ is readable to the jail's uid).
_JAIL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def bwrap_argv(uid: int) -> list[str]:
    """The command that starts a fork server in a fresh bubblewrap jail as ``uid``."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None or setpriv is None:
        raise SandboxUnavailable("bubblewrap (bwrap) and setpriv are needed for the bwrap sandbox")
    layout = [
        # --as-pid-1: the fork server is the namespace's init (unkillable from inside,
        # not dumpable); no bwrap process the program's uid could inspect or write.
        ("--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1"),
        ("--ro-bind", "/usr", "/usr"),
        ("--symlink", "usr/lib", "/lib"),
        ("--symlink", "usr/lib64", "/lib64"),
        ("--symlink", "usr/bin", "/bin"),
        ("--symlink", "usr/sbin", "/sbin"),
        ("--ro-bind-try", "/etc/alternatives", "/etc/alternatives"),
        ("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"),
        # Debian's JDK keeps its configuration (java.security) under /etc.
        ("--ro-bind-try", "/etc/java-17-openjdk", "/etc/java-17-openjdk"),
        ("--ro-bind", str(jail_files()), _JAIL_DIR),
        ("--proc", "/proc"),
        ("--dev", "/dev"),
        ("--size", str(_TMP_BYTES), "--tmpfs", "/tmp"),
        ("--remount-ro", "/"),  # bwrap's root tmpfs (and /etc in it): nothing to plant there
        ("--remount-ro", "/dev"),  # device nodes still work; /dev/shm is not storage
        ("--cap-drop", "ALL"),
        ("--clearenv", "--setenv", "PATH", "/usr/bin:/bin"),
        ("--chdir", "/tmp"),
    ]
    argv = [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", bwrap]
    for group in layout:
        argv.extend(group)
    return [*argv, _PYTHON, "-I", f"{_JAIL_DIR}/server.py", "--jailed"]


def local_argv() -> list[str]:
    """The fork server as a plain process: rlimits and seccomp only, NO isolation."""
    return [_PYTHON, "-I", str(jail_files() / "server.py")]


@dataclass(frozen=True, slots=True)
class CallResult:
    """A function-call test: the harness's verdict and the candidate's output."""

    status: RunStatus
    verdict: dict[str, Any] | None
    stdout: str
    stderr: str
    wall_s: float
    message: str = ""


class Sandbox:
    """Runs programs through one fork server; one per worker process."""

    def __init__(self, name: str, client: JailClient) -> None:
        self.name = name
        self.client = client

    @property
    def alive(self) -> bool:
        """Whether the jail is running now (cheap: no request is sent).

        False before the first request and after a failure; the next request
        then starts a fresh jail.
        """
        return self.client.alive

    def _request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        reply = self.client.request(message, timeout_s=timeout_s + _REPLY_MARGIN_S)
        if reply.get("status") == "unavailable":  # e.g. a toolchain the sandbox lacks
            raise SandboxUnavailable(str(reply.get("message", "unavailable in this sandbox")))
        if reply.get("status") == "sandbox_error":
            # The fork server failed on its own side (a broken jail): start afresh.
            self.client.close()
            raise SandboxError(str(reply.get("message", "sandbox error")))
        return reply

    def run(
        self,
        workdir: str,
        language: Language,
        limits: Limits,
        *,
        stdin: str = "",
        source: str | None = None,
        files: dict[str, Any] | None = None,
        argv: list[str] | None = None,
        fetch: list[str] | None = None,
    ) -> RunResult:
        """Run a program in ``workdir`` (Python in place when ``source`` is given).

        ``files`` are written first (text, or ``{"b64": ...}``); ``fetch`` names files
        to send back base64-encoded in ``RunResult.extra["files"]``.
        """
        message: dict[str, Any] = {
            "op": "run",
            "workdir": workdir,
            "limits": limits.to_wire(),
            "stdin": stdin,
            "files": files or {},
            "memory_rlimit": language.memory_rlimit,
            "fetch": fetch or [],
        }
        if language.memory_extra_mb:
            message["limits"]["memory_extra_mb"] = language.memory_extra_mb
        if source is not None and language.inline_python:
            message["inline"] = source
        else:
            message["argv"] = argv or language.run_argv(limits.memory_mb)
            message["policy"] = "exec"
        return RunResult.from_wire(self._request(message, limits.time_s))

    def compile(
        self,
        workdir: str,
        language: Language,
        source: str,
        limits: Limits,
        files: dict[str, Any] | None = None,
        *,
        argv: list[str] | None = None,
        fetch: list[str] | None = None,
        source_file: str | None = None,
    ) -> RunResult:
        """Write the source (and ``files``) and run the compiler (no seccomp: compilers fork).

        ``limits.time_s`` bounds the compiler when the language compiles. ``argv``
        replaces the language's compile command, ``source_file`` its file name;
        ``fetch`` names files (the binary) sent back in ``extra["files"]``.
        """
        files = {**(files or {}), source_file or language.source_file: source}
        command = argv
        argv = ["/bin/true"]
        if language.compile is not None:
            argv = command or list(language.compile)
            limits = Limits(
                time_s=limits.time_s, memory_mb=2048, output_bytes=64 * 1024, processes=64
            )
        message: dict[str, Any] = {
            "op": "run",
            "workdir": workdir,
            "limits": limits.to_wire(),
            "files": files,
            "argv": argv,
            "policy": None,
            "require": list(language.toolchain),
        }
        if fetch:
            message["fetch"] = fetch
            message["fetch_bytes"] = _FETCH_BINARY_BYTES
        result = RunResult.from_wire(self._request(message, limits.time_s))
        if result.status != RunStatus.OK and result.status != RunStatus.SANDBOX_ERROR:
            return RunResult(
                RunStatus.COMPILE_ERROR,
                result.exit_code,
                stdout=result.stdout,
                stderr=result.stderr,
                wall_s=result.wall_s,
                message=result.message,
            )
        return result

    def interact(
        self,
        workdir: str,
        language: Language,
        limits: Limits,
        interactor: dict[str, Any],
        *,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Run a program cross-piped with an interactor (``jail/server.py`` ``op_interact``).

        ``interactor``: ``workdir``, ``files``, ``argv``, ``limits`` (wire form) and
        ``fetch``. The reply holds ``candidate`` and ``interactor`` run results and
        ``deadlock`` (both sides waited on each other with nothing in flight).
        """
        message: dict[str, Any] = {
            "op": "interact",
            "workdir": workdir,
            "limits": limits.to_wire(),
            "memory_rlimit": language.memory_rlimit,
            "interactor": interactor,
        }
        if language.memory_extra_mb:
            message["limits"]["memory_extra_mb"] = language.memory_extra_mb
        if source is not None and language.inline_python:
            message["inline"] = source
        else:
            message["argv"] = language.run_argv(limits.memory_mb)
        wait = max(limits.time_s, float(interactor["limits"]["time_s"]))
        return self._request(message, wait)

    def call(
        self, workdir: str, source: str, entry_point: str, limits: Limits, **spec: Any
    ) -> CallResult:
        """Call a Python function from a harness process (``test_code`` or inputs/outputs)."""
        message = {
            "op": "call",
            "workdir": workdir,
            "source": source,
            "entry_point": entry_point,
            "limits": limits.to_wire(),
            **spec,
        }
        reply = self._request(message, limits.time_s)
        return CallResult(
            status=RunStatus(reply["status"]),
            verdict=reply.get("verdict"),
            stdout=reply.get("stdout", ""),
            stderr=reply.get("stderr", ""),
            wall_s=float(reply.get("wall_s", 0.0)),
            message=reply.get("message", "") or reply.get("harness_stderr", ""),
        )

    def cleanup(self, workdir: str) -> None:
        """Remove what the item's runs left; a jail that could not be cleaned is replaced."""
        with contextlib.suppress(SandboxError):  # the jail is gone, and its /tmp with it
            reply = self._request({"op": "cleanup", "workdir": workdir}, 5.0)
            if reply.get("restart"):  # a fresh jail: fresh /tmp and IPC namespace
                self.client.close()

    def cleanup_dir(self, workdir: str) -> None:
        """Remove one working directory mid-item (a checker's), leaving the others."""
        with contextlib.suppress(SandboxError):
            reply = self._request({"op": "cleanup", "workdir": workdir, "only": True}, 5.0)
            if reply.get("restart"):
                self.client.close()

    def close(self) -> None:
        self.client.close()


BACKENDS = ("bwrap", "docker", "local-unsafe", "none")


def open_sandbox(backend: str, *, uid: int) -> Sandbox:
    """Start a sandbox of the named backend (``auto``: bwrap when it works here)."""
    if backend in ("auto", "bwrap"):
        try:
            client = JailClient(bwrap_argv(uid), env=_JAIL_ENV)
            client.start()
            return Sandbox("bwrap", client)
        except SandboxError as exc:
            if backend == "bwrap":
                raise SandboxUnavailable(f"bwrap sandbox unavailable: {exc}") from exc
            raise SandboxUnavailable(
                "no isolating sandbox backend is available (install bubblewrap, or configure "
                f"the docker backend): {exc}"
            ) from exc
    if backend == "none":
        raise SandboxUnavailable(
            "code execution is disabled on this server (sandbox backend 'none'); its operator "
            "turns it on with REFEREE_SANDBOX=bwrap (bubblewrap installed) or docker (a "
            "Docker engine with the sandbox image; in the compose cluster, "
            "REFEREE_WORKER_SANDBOX=docker)"
        )
    if backend == "docker":
        from referee.sandbox.docker_backend import docker_client

        return Sandbox("docker", docker_client(uid))
    if backend == "local-unsafe":
        client = JailClient(local_argv(), env=_JAIL_ENV)
        client.start()
        return Sandbox("local-unsafe", client)
    raise SandboxUnavailable(
        f"unknown sandbox backend {backend!r}; valid: auto, {', '.join(BACKENDS)}"
    )
