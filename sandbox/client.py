"""The host side of a jail: starts the fork server, sends requests, restarts it when it dies."""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from referee.sandbox._types import SandboxError
from referee.sandbox.jail import wire

__all__ = ["JailClient", "jail_files"]

_JAIL_SOURCES = ("server.py", "harness.py", "wire.py", "confine.py", "zygote.py", "cleanup.py")
_copied: dict[str, Path] = {}
_copy_lock = threading.Lock()


def jail_files() -> Path:
    """A world-readable copy of the jail's scripts (the jail's uid may not read our install)."""
    with _copy_lock:
        path = _copied.get("dir")
        if path is None or not path.exists():
            path = Path(tempfile.mkdtemp(prefix="referee-jail-"))
            source = Path(__file__).with_name("jail")
            for name in _JAIL_SOURCES:
                shutil.copyfile(source / name, path / name)
                (path / name).chmod(0o644)
            path.chmod(0o755)
            _copied["dir"] = path
        return path


def _lift_memory_limit() -> None:
    # The verifier worker caps its own address space; the jail sets per-run limits.
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


class _DiedBeforeReply(SandboxError):
    """The jail was found dead before it answered: worth one more try."""


# A jail that hangs up this fast was dead already (a run takes longer to kill it).
_QUICK_DEATH_S = 0.05


class JailClient:
    """One fork server process, reached over its stdin/stdout.

    ``argv`` starts it (bubblewrap, docker, or plain python3). Requests are
    sequential. When a request fails in any way (the jail died, a reply timed
    out, our own deadline interrupted the wait) the process is killed, so a
    stale reply can never be read as the answer to the next request.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._ids = itertools.count()
        self.info: dict[str, Any] = {}

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> dict[str, Any]:
        self.close()
        try:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_lift_memory_limit,
                env=self.env,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc}") from exc
        reply = self.request({"op": "ping"}, timeout_s=self.start_timeout_s, _starting=True)
        self.info = reply
        return reply

    def request(
        self, message: dict[str, Any], *, timeout_s: float, _starting: bool = False
    ) -> dict[str, Any]:
        """Send one request and wait for its reply; SandboxError if the jail fails.

        A jail found dead before it answered (killed from outside since the last
        request) is restarted and the request sent once more.
        """
        try:
            return self._request_once(message, timeout_s=timeout_s, _starting=_starting)
        except _DiedBeforeReply:
            if _starting:
                raise SandboxError("the sandbox exited while starting") from None
            return self._request_once(message, timeout_s=timeout_s)

    def _request_once(
        self, message: dict[str, Any], *, timeout_s: float, _starting: bool = False
    ) -> dict[str, Any]:
        if not _starting and not self.alive:
            self.start()
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise SandboxError("sandbox not started")
        ok = False
        try:
            sent = time.monotonic()
            try:
                wire.send(process.stdin.fileno(), message)
            except BrokenPipeError:
                raise _DiedBeforeReply from None
            ready, _, _ = select.select([process.stdout.fileno()], [], [], timeout_s)
            if not ready:
                raise SandboxError(f"sandbox did not answer within {timeout_s:.1f} s")
            reply = wire.recv(process.stdout.fileno())
            if reply is None:
                if time.monotonic() - sent < _QUICK_DEATH_S:
                    raise _DiedBeforeReply
                raise SandboxError(f"sandbox exited: {self._stderr_tail()}")
            ok = True
            result: dict[str, Any] = reply
            return result
        except OSError as exc:
            raise SandboxError(f"sandbox pipe failed: {exc}") from exc
        finally:
            if not ok:
                self.close()

    def next_workdir(self) -> str:
        # Unpredictable: a program must not prepare the next item's directory.
        return f"r{next(self._ids)}-{secrets.token_hex(8)}"

    def _stderr_tail(self) -> str:
        process = self._process
        if process is None or process.stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            os.set_blocking(process.stderr.fileno(), False)
            data = process.stderr.read(4000) or b""
            return data.decode("utf-8", "replace").strip()[-500:]
        return ""

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # The fork server exits at its stdin's end; a worker that confined itself may
        # not signal the jail's uid, and this also ends a jail it cannot kill.
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
