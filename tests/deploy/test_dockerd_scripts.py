"""start-dockerd.sh and stop-dockerd.sh on an engine of the test's own (its own socket,
data root, exec root and log), so that the engine other tests use keeps running.

stop-dockerd.sh stops the engine and keeps its data root (the image cache) for the
next start; --purge deletes the data root, exec root and log, as the README says.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "sandbox-image"


def _script(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / name), *args], capture_output=True, text=True, env=env, timeout=120
    )


def _answers(host: str) -> bool:
    docker = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
    done = subprocess.run([docker, "-H", host, "version"], capture_output=True, timeout=30)
    return done.returncode == 0


def test_stop_keeps_the_cache_and_purge_removes_what_start_left(tmp_path: Path) -> None:
    if os.environ.get("REFEREE_SKIP_DOCKER") == "1":
        pytest.skip("REFEREE_SKIP_DOCKER=1: no Docker engine is started on this run")
    if os.geteuid() != 0:
        pytest.skip("starting dockerd needs root")
    tag = f"referee-stop-test-{os.getpid()}"
    sock, exec_root = Path(f"/run/{tag}.sock"), Path(f"/run/{tag}")
    data_root, log = tmp_path / "data", tmp_path / "dockerd.log"
    env = {
        **os.environ,
        "REFEREE_DOCKER_SOCK": str(sock),
        "REFEREE_DOCKER_DATA_ROOT": str(data_root),
        "REFEREE_DOCKER_EXEC_ROOT": str(exec_root),
        "REFEREE_DOCKERD_LOG": str(log),
    }
    try:
        started = _script("start-dockerd.sh", env)
        assert started.returncode == 0, started.stderr
        host = started.stdout.strip()
        assert host == f"unix://{sock}" and _answers(host)
        pid = int((exec_root / "dockerd.pid").read_text())

        stopped = _script("stop-dockerd.sh", env)
        assert stopped.returncode == 0, stopped.stderr
        assert not sock.exists() and not _answers(host)
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone, or unreaped
        assert data_root.is_dir() and log.is_file()  # kept for the next start

        again = _script("start-dockerd.sh", env)
        assert again.returncode == 0 and _answers(host), again.stderr
        purged = _script("stop-dockerd.sh", env, "--purge")
        assert purged.returncode == 0, purged.stderr
        assert "stopped dockerd" in purged.stderr
        assert not any(p.exists() for p in (sock, data_root, exec_root, log))
    finally:
        _script("stop-dockerd.sh", env, "--purge")
