"""The docker backend: the fork server in a warm, locked-down container per worker process.

One container is one jail, started on first use and kept warm, as with bwrap:
no network (``network_mode="none"``), read-only root, a size-limited tmpfs at
/tmp (exec allowed: compiled programs run from there), every capability
dropped, ``no-new-privileges``, the worker's own unprivileged uid, memory and
pids limits, and optionally another runtime such as gVisor's ``runsc``
(``REFEREE_DOCKER_RUNTIME``). The engine is the one ``DOCKER_HOST`` names.

The fork server is baked into the image (``deploy/sandbox-image/build.sh``)
rather than copied in at each start: the root stays read-only with nothing
writable at /opt/referee, a start costs no extra API call, and the image
carries the digest of the scripts it was built from; a container is only
started from an image whose digest matches this installation's scripts, so a
stale fork server never runs.

Requests travel over the container's attached stdin/stdout (``tty=False``:
the engine multiplexes stdout and stderr in frames). The container is started
with stdin-once, so it exits (and is removed) when this process goes away.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import select
import socket
import struct
import time
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig

from referee.sandbox._types import SandboxError, SandboxUnavailable
from referee.sandbox.client import JailClient
from referee.sandbox.jail import wire

__all__ = ["DEFAULT_IMAGE", "JAIL_DIGEST_LABEL", "DockerJailClient", "docker_client", "jail_digest"]

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "referee-sandbox:latest"
JAIL_DIGEST_LABEL = "org.referee.jail-sha256"
# --jailed: the container is the server's own pid namespace and /tmp (server.py).
_COMMAND = ["/usr/bin/python3", "-I", "/opt/referee/server.py", "--jailed"]
_FRAME = struct.Struct(">BxxxL")  # stream (1 stdout, 2 stderr), 3 zero bytes, payload size
_STDOUT, _STDERR = 1, 2
_STDERR_TAIL = 4000
# A container that hangs up this fast was gone already (a run takes longer to kill it).
_QUICK_DEATH_S = 0.05
# docker-py lets the transport's errors through unwrapped (the engine went away mid-call).
_ENGINE_ERRORS = (DockerException, requests.RequestException)


def _check_unix_socket(host: str) -> None:
    """Refuse early when nothing listens on a unix socket (docker-py leaks its socket then)."""
    if not host.startswith("unix://"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5.0)
        try:
            probe.connect(host.removeprefix("unix://"))
        except OSError as exc:
            raise SandboxUnavailable(f"no Docker engine answers at {host}: {exc}") from exc


def jail_digest() -> str:
    """The sha256 of the fork server's scripts, as build.sh labels the image with it.

    Every ``jail/*.py`` but ``__init__.py``, by name in byte order: name, NUL, content.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).with_name("jail").glob("*.py")):
        if path.name != "__init__.py":
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class _Hangup(Exception):
    """The attach stream ended: the container is gone."""


class _GoneBeforeReply(Exception):
    """The container was gone before the request reached it."""


class _Attached:
    """The container's attached stdio: raw bytes to stdin, demultiplexed frames from stdout."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream  # holds the HTTP response that owns the connection
        self._sock: socket.socket = getattr(stream, "_sock", stream)
        self._raw = bytearray()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.eof = False

    def send(self, data: bytes, timeout_s: float) -> None:
        self._sock.settimeout(max(timeout_s, 0.001))  # the whole sendall, not each chunk
        try:
            self._sock.sendall(data)
        finally:
            self._sock.settimeout(None)

    def pump(self, timeout_s: float) -> bool:
        """Read what arrives within ``timeout_s``; False if nothing did."""
        pending = getattr(self._sock, "pending", None)  # TLS: bytes already decrypted
        if not (pending and pending()):
            ready, _, _ = select.select([self._sock], [], [], max(timeout_s, 0.0))
            if not ready:
                return False
        chunk = self._sock.recv(1 << 20)
        if not chunk:
            self.eof = True
            return True
        self._raw += chunk
        while len(self._raw) >= _FRAME.size:
            kind, size = _FRAME.unpack_from(self._raw)
            if len(self._raw) < _FRAME.size + size:
                break
            payload = self._raw[_FRAME.size : _FRAME.size + size]
            del self._raw[: _FRAME.size + size]
            if kind == _STDOUT:
                self.stdout += payload
            elif kind == _STDERR:
                self.stderr += payload
                del self.stderr[:-_STDERR_TAIL]
        return True

    def stale(self) -> bool:
        """True if the server hung up or wrote to stdout between requests."""
        with contextlib.suppress(OSError):
            while not self.eof and self.pump(0):
                pass
            return self.eof or bool(self.stdout)
        return True

    def recv(self, deadline: float) -> dict[str, Any]:
        """The next reply (a 4-byte length and JSON, as ``wire.send`` writes it)."""
        header = self._take(4, deadline)
        (size,) = struct.unpack(">I", header)
        if size > wire.MAX_MESSAGE:
            raise SandboxError(f"sandbox reply of {size} bytes exceeds {wire.MAX_MESSAGE}")
        reply = json.loads(self._take(size, deadline))
        if not isinstance(reply, dict):
            raise SandboxError("sandbox reply is not an object")
        return reply

    def _take(self, n: int, deadline: float) -> bytes:
        while len(self.stdout) < n:
            if self.eof:
                raise _Hangup
            if not self.pump(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise SandboxError("sandbox did not answer in time")
        data = bytes(self.stdout[:n])
        del self.stdout[:n]
        return data

    def stderr_tail(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()[-500:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # stdin-once: the server sees end of file
        closables: list[Any] = [self._sock, self._stream, getattr(self._stream, "_response", None)]
        for closable in closables:
            with contextlib.suppress(Exception):
                if closable is not None:
                    closable.close()


class DockerJailClient(JailClient):
    """The fork server in one container, reached over the engine's attach stream.

    Behaves as :class:`JailClient`: sequential requests; any failed request
    kills the container, so a stale reply is never read; the next request
    starts a fresh one.
    """

    def __init__(
        self,
        uid: int,
        *,
        image: str = DEFAULT_IMAGE,
        runtime: str | None = None,
        memory: str = "3g",
        pids: int = 256,
        tmp_size: str = "1g",
        start_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(_COMMAND, start_timeout_s=start_timeout_s)
        self.uid = uid
        self.image = image
        self.runtime = runtime
        self.memory = memory
        self.pids = pids
        self.tmp_size = tmp_size
        self._engine: docker.DockerClient | None = None
        self._container: Container | None = None
        self._attached: _Attached | None = None

    @property
    def alive(self) -> bool:
        return self._attached is not None and not self._attached.stale()

    def _connect(self) -> docker.DockerClient:
        """The engine, once it holds the image with this installation's fork server."""
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        _check_unix_socket(where)
        try:
            engine = docker.from_env(timeout=int(self.start_timeout_s))
        except _ENGINE_ERRORS as exc:
            raise SandboxUnavailable(f"no Docker engine answers at {where}: {exc}") from exc
        try:
            labels = engine.images.get(self.image).labels or {}
        except ImageNotFound as exc:
            engine.close()
            raise SandboxUnavailable(
                f"sandbox image {self.image!r} not found in the Docker engine at {where}; "
                "build it with deploy/sandbox-image/build.sh"
            ) from exc
        except _ENGINE_ERRORS as exc:
            engine.close()
            raise SandboxUnavailable(f"the Docker engine at {where} failed: {exc}") from exc
        if labels.get(JAIL_DIGEST_LABEL) != jail_digest():
            engine.close()
            raise SandboxUnavailable(
                f"sandbox image {self.image!r} holds another version of the fork server than "
                "this installation; rebuild it with deploy/sandbox-image/build.sh"
            )
        return engine

    def _create(self, engine: docker.DockerClient) -> Container:
        try:
            return engine.containers.create(
                self.image,
                _COMMAND,
                name=f"referee-jail-{self.uid}-{os.getpid()}-{secrets.token_hex(3)}",
                labels={"org.referee.sandbox": "jail", "org.referee.pid": str(os.getpid())},
                user=f"{self.uid}:{self.uid}",
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={self.tmp_size},mode=1777"},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=self.memory,
                memswap_limit=self.memory,
                pids_limit=self.pids,
                runtime=self.runtime,
                environment={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                working_dir="/tmp",
                hostname="sandbox",
                stdin_open=True,  # with attach: stdin-once, the server exits when we go
                tty=False,
                auto_remove=True,
                log_config=LogConfig(type="none"),  # replies are not for the engine's logs
            )
        except APIError as exc:
            if self.runtime and "runtime" in str(exc).lower():
                raise SandboxUnavailable(
                    f"the Docker engine has no runtime {self.runtime!r}: {exc}"
                ) from exc
            raise SandboxError(f"cannot create the sandbox container: {exc}") from exc

    def start(self) -> dict[str, Any]:
        self.close()
        began = time.monotonic()
        try:
            engine = self._engine = self._connect()
            container = self._container = self._create(engine)
            stream = container.attach_socket(
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._attached = _Attached(stream)
            container.start()
        except SandboxError:
            self.close()
            raise
        except _ENGINE_ERRORS as exc:
            self.close()
            raise SandboxError(f"cannot start the sandbox container: {exc}") from exc
        reply = self.request({"op": "ping"}, timeout_s=self.start_timeout_s, _starting=True)
        self.info = {
            **reply,
            "container": container.short_id,
            "runtime": self.runtime or "default",
            "start_s": round(time.monotonic() - began, 3),
        }
        return reply

    def request(
        self, message: dict[str, Any], *, timeout_s: float, _starting: bool = False
    ) -> dict[str, Any]:
        """Send one request and wait for its reply; SandboxError if the container fails.

        A container found gone before it answered (killed from outside since the
        last request) is replaced and the request sent once more, as JailClient does.
        """
        try:
            return self._exchange(message, timeout_s, _starting)
        except _GoneBeforeReply:
            if _starting:
                raise SandboxError("the sandbox container exited while starting") from None
            return self._exchange(message, timeout_s, False)

    def _exchange(
        self, message: dict[str, Any], timeout_s: float, starting: bool
    ) -> dict[str, Any]:
        if not starting and not self.alive:
            self.start()
        attached = self._attached
        if attached is None:
            raise SandboxError("sandbox not started")
        sent = time.monotonic()
        deadline = sent + timeout_s
        ok = False
        try:
            # Framed as wire.send frames it; sent with a deadline, which os.write cannot keep.
            body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
            try:
                attached.send(struct.pack(">I", len(body)) + body, timeout_s)
            except (BrokenPipeError, ConnectionResetError):
                raise _GoneBeforeReply from None
            try:
                reply = attached.recv(deadline)
            except _Hangup:
                if time.monotonic() - sent < _QUICK_DEATH_S:
                    raise _GoneBeforeReply from None
                raise SandboxError(f"sandbox exited: {attached.stderr_tail()}") from None
            ok = True
            return reply
        except TimeoutError as exc:
            raise SandboxError(
                f"sandbox did not take the request within {timeout_s:.1f} s"
            ) from exc
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox stream failed: {exc}") from exc
        finally:
            if not ok:
                self.close()

    def close(self) -> None:
        attached, self._attached = self._attached, None
        container, self._container = self._container, None
        engine, self._engine = self._engine, None  # its pooled connections too: reconnects
        if attached is not None:
            attached.close()
        if container is not None:
            _discard(container)
        if engine is not None:
            engine.close()


def _discard(container: Container) -> None:
    """Kill a container (auto_remove then deletes it); remove one that never ran."""
    try:
        container.kill()
        return
    except NotFound:
        return
    except APIError as exc:
        if exc.status_code != 409:  # 409: not running (stopped already, or never started)
            log.warning("cannot kill sandbox container %s: %s", container.short_id, exc)
            return
    except _ENGINE_ERRORS as exc:
        log.warning("cannot kill sandbox container %s: %s", container.short_id, exc)
        return
    with contextlib.suppress(*_ENGINE_ERRORS):  # 409: auto_remove is at it already
        container.remove(force=True)


def docker_client(uid: int) -> DockerJailClient:
    """A started docker jail for uid ``uid`` (image, runtime and engine from the environment)."""
    client = DockerJailClient(
        uid,
        image=os.environ.get("REFEREE_DOCKER_IMAGE") or DEFAULT_IMAGE,
        runtime=os.environ.get("REFEREE_DOCKER_RUNTIME") or None,
    )
    try:
        client.start()
    except BaseException:
        client.close()
        raise
    return client
