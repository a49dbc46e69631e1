"""A ``referee worker`` whose configured sandbox backend cannot run never reports ready.

Real processes: a redis-server of our own and ``referee worker``. The broken setups are
the ones a compose cluster meets: the engine's socket mounted from a wrong host path
(Docker then creates an empty directory there) and a path where nothing listens.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from cluster import Redis, start_worker, stop_process

from referee.service.worker_cli import SANDBOX_UNUSABLE


def _log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return lines


@pytest.mark.parametrize("kind", ["directory", "missing"])
def test_worker_with_unusable_docker_sandbox_exits_before_serving(
    redis_server: Redis, tmp_path: Path, kind: str
) -> None:
    sock = tmp_path / "docker.sock"
    if kind == "directory":
        sock.mkdir()
    env = {"REFEREE_SANDBOX": "docker", "DOCKER_HOST": f"unix://{sock}"}
    worker = start_worker(tmp_path, redis_server.url, env, wait=False)
    try:
        status = worker.process.wait(timeout=60)
    finally:
        stop_process(worker.process)
    assert status == SANDBOX_UNUSABLE, worker.log.read_text()
    messages = [str(rec.get("message", "")) for rec in _log_lines(worker.log)]
    (error,) = [m for m in messages if m.startswith("not starting:")]
    # What is wrong (the path it tried) and which settings fix it.
    assert str(sock) in error
    assert "REFEREE_DOCKER_SOCK" in error and "REFEREE_SANDBOX=none" in error
    # Neither a health endpoint nor a heartbeat: nothing ever said it was ready.
    assert not any(m.startswith("metrics on") or "serving" in m for m in messages), messages
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", worker.metrics_port), 1):
        pass


@pytest.mark.parametrize("backend", ["none", "bwrap"])
def test_worker_with_a_backend_that_runs_serves(
    redis_server: Redis, tmp_path: Path, backend: str
) -> None:
    """``none`` is a choice, not a fault; a backend that runs passes the start-up check."""
    if backend == "bwrap" and (shutil.which("bwrap") is None or os.geteuid() != 0):
        pytest.skip("the bwrap backend needs bubblewrap and root")
    worker = start_worker(tmp_path, redis_server.url, {"REFEREE_SANDBOX": backend})
    try:
        assert worker.process.poll() is None
    finally:
        stop_process(worker.process)
