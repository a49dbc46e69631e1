"""The docker backend against a real dockerd and the real sandbox image.

The session fixture starts the engine (deploy/sandbox-image/start-dockerd.sh) and
builds the image (build.sh; cached, so only the first run on a machine pays about
a minute and a half). A machine without Docker fails these tests; set
REFEREE_SKIP_DOCKER=1 to skip them on purpose.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import NotFound

from referee.sandbox import Limits, RunStatus, SandboxError, SandboxUnavailable, get_language
from referee.sandbox.backend import Sandbox, open_sandbox
from referee.sandbox.docker_backend import JAIL_DIGEST_LABEL, DockerJailClient, docker_client

# The first test to use the engine may pay the image build; .ci/run builds it beforehand.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "sandbox-image"
UID = 60700  # a uid of its own: RLIMIT_NPROC counts every process of a uid
PYTHON = get_language("python")
CPP = get_language("cpp")
JAVASCRIPT = get_language("javascript")


def _script(name: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(SCRIPTS / name)], capture_output=True, text=True, env=env, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{name} failed ({done.returncode}):\n{done.stderr}", pytrace=False)
    return done.stdout.strip()


def _listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
        return True


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """A running dockerd with the sandbox image; stopped at the end if this fixture started it."""
    if os.environ.get("REFEREE_SKIP_DOCKER") == "1":
        pytest.skip("REFEREE_SKIP_DOCKER=1: the docker backend is not tested on this run")
    exec_root = Path(os.environ.get("REFEREE_DOCKER_EXEC_ROOT", "/run/referee-docker"))
    sock = os.environ.get("REFEREE_DOCKER_SOCK", "/run/referee-docker.sock")
    was_running = _listening(sock)
    host = _script("start-dockerd.sh")
    _script("build.sh", env={**os.environ, "DOCKER_HOST": host})
    saved = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host
    client = docker.DockerClient(base_url=host)
    try:
        yield client
    finally:
        client.close()
        if saved is None:
            del os.environ["DOCKER_HOST"]
        else:
            os.environ["DOCKER_HOST"] = saved
        if not was_running:
            _stop_dockerd(exec_root / "dockerd.pid")


def _stop_dockerd(pidfile: Path) -> None:
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sandbox(engine: docker.DockerClient) -> Iterator[Sandbox]:
    box = Sandbox("docker", docker_client(UID))
    yield box
    box.close()


@pytest.fixture
def own_sandbox(engine: docker.DockerClient) -> Iterator[Sandbox]:
    """A sandbox of its own, for tests that break its container."""
    box = Sandbox("docker", docker_client(UID + 1))
    yield box
    box.close()


def _run_unfiltered(box: Sandbox, code: str) -> dict[str, Any]:
    """Python run without the fork server's seccomp filter: only the container isolates."""
    message = {
        "op": "run",
        "workdir": box.client.next_workdir(),
        "limits": Limits(time_s=10).to_wire(),
        "argv": ["/usr/bin/python3", "-I", "-c", code],
        "policy": None,
    }
    return box.client.request(message, timeout_s=15)


def _container(engine: docker.DockerClient, box: Sandbox) -> Any:
    return engine.containers.get(box.client.info["container"])


# -- languages ----------------------------------------------------------------------------------


def test_python_reads_stdin_and_writes_stdout(sandbox: Sandbox) -> None:
    workdir = sandbox.client.next_workdir()
    source = "import sys\nfor line in sys.stdin:\n    print(line.strip()[::-1])\n"
    result = sandbox.run(workdir, PYTHON, Limits(), source=source, stdin="hello\nworld\n")
    assert result.status == RunStatus.OK, result
    assert result.stdout == "olleh\ndlrow\n"


def test_python_error_is_a_runtime_error(sandbox: Sandbox) -> None:
    result = sandbox.run(sandbox.client.next_workdir(), PYTHON, Limits(), source="1/0")
    assert result.status == RunStatus.RUNTIME_ERROR
    assert "ZeroDivisionError" in result.stderr


def test_cpp_compiles_and_runs(sandbox: Sandbox) -> None:
    workdir = sandbox.client.next_workdir()
    source = "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a*b<<'\\n';}\n"
    compiled = sandbox.compile(workdir, CPP, source, Limits())
    assert compiled.status == RunStatus.OK, compiled.stderr
    result = sandbox.run(workdir, CPP, Limits(), stdin="6 7\n")
    assert result.status == RunStatus.OK, result
    assert result.stdout == "42\n"


def test_cpp_compile_error(sandbox: Sandbox) -> None:
    workdir = sandbox.client.next_workdir()
    compiled = sandbox.compile(workdir, CPP, "int main() { return x; }\n", Limits())
    assert compiled.status == RunStatus.COMPILE_ERROR
    assert "x" in compiled.stderr and "not declared" in compiled.stderr


def test_javascript_runs(sandbox: Sandbox) -> None:
    workdir = sandbox.client.next_workdir()
    source = (
        "const n = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
        "console.log(n.reduce((a, b) => a + b, 0));\n"
    )
    assert sandbox.compile(workdir, JAVASCRIPT, source, Limits()).status == RunStatus.OK
    result = sandbox.run(workdir, JAVASCRIPT, Limits(), stdin="1 2 3 4\n")
    assert result.status == RunStatus.OK, result
    assert result.stdout == "10\n"


@pytest.mark.parametrize(
    ("source", "passed"),
    [
        ("def add(a, b):\n    return a + b\n", 1),
        ("def add(a, b):\n    return a - b\n", 0),
    ],
)
def test_call_mode_with_test_code(sandbox: Sandbox, source: str, passed: int) -> None:
    test_code = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    result = sandbox.call(
        sandbox.client.next_workdir(), source, "add", Limits(), test_code=test_code
    )
    assert result.status == RunStatus.OK, result
    assert result.verdict is not None
    assert result.verdict["passed"] == passed


# -- isolation ----------------------------------------------------------------------------------


def test_network_is_unreachable(sandbox: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        probe = (
            "import os, socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "    print('connected')\n"
            "except OSError as exc:\n    print('failed', type(exc).__name__)\n"
            "print(sorted(os.listdir('/sys/class/net')))\n"
        )
        # Control: the same probe on the host reaches the server.
        host = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        assert host.stdout.startswith("connected"), host
        server.accept()[0].close()
        server.settimeout(0.5)
        reply = _run_unfiltered(sandbox, probe)
        assert reply["status"] == "ok", reply
        assert reply["stdout"].splitlines() == ["failed ConnectionRefusedError", "['lo']"]
        with pytest.raises(TimeoutError):
            server.accept()


def test_root_filesystem_is_read_only(sandbox: Sandbox) -> None:
    # /var/tmp is world-writable in the image, so only a read-only root refuses the write.
    probe = (
        "import errno\n"
        "for path in ('/var/tmp/x', '/tmp/x'):\n"
        "    try:\n        open(path, 'w').close()\n        print(path, 'written')\n"
        "    except OSError as exc:\n        print(path, errno.errorcode[exc.errno])\n"
    )
    reply = _run_unfiltered(sandbox, probe)
    assert reply["stdout"].splitlines() == ["/var/tmp/x EROFS", "/tmp/x written"], reply


def test_runs_as_the_unprivileged_uid_without_capabilities(sandbox: Sandbox) -> None:
    probe = (
        "import os\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print(os.getuid(), os.getgid(), sorted(set(os.getgroups()) - {os.getgid()}))\n"
        "print(status['CapEff'].strip(), status['CapBnd'].strip(), status['NoNewPrivs'].strip())\n"
    )
    result = sandbox.run(sandbox.client.next_workdir(), PYTHON, Limits(), source=probe)
    assert result.status == RunStatus.OK, result
    assert result.stdout.splitlines() == [
        f"{UID} {UID} []",
        "0000000000000000 0000000000000000 1",
    ]
    assert sandbox.client.info["uid"] == UID
    assert sandbox.client.info["seccomp"] is True  # python3-seccomp is in the image


def test_container_settings(engine: docker.DockerClient, sandbox: Sandbox) -> None:
    config = _container(engine, sandbox).attrs["HostConfig"]
    assert config["NetworkMode"] == "none"
    assert config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"]
    assert config["SecurityOpt"] == ["no-new-privileges"]
    assert config["Memory"] == 3 * 1024**3
    assert config["PidsLimit"] == 256
    assert "exec" in config["Tmpfs"]["/tmp"].split(",")


# -- failures -------------------------------------------------------------------------------------


def test_infinite_loop_times_out_and_the_next_run_works(sandbox: Sandbox) -> None:
    container = sandbox.client.info["container"]
    workdir = sandbox.client.next_workdir()
    started = time.monotonic()
    result = sandbox.run(workdir, PYTHON, Limits(time_s=1), source="while True:\n    pass\n")
    assert result.status == RunStatus.TIMEOUT
    assert time.monotonic() - started < 5
    after = sandbox.run(workdir, PYTHON, Limits(), source="print('still here')")
    assert after.status == RunStatus.OK and after.stdout == "still here\n"
    assert sandbox.client.info["container"] == container  # the fork server handled it


@pytest.mark.parametrize("wait", [True, False], ids=["gone", "just-killed"])
def test_killed_container_is_replaced_by_the_next_request(
    engine: docker.DockerClient, own_sandbox: Sandbox, wait: bool
) -> None:
    first = own_sandbox.client.info["container"]
    _container(engine, own_sandbox).kill()
    if wait:
        _wait_gone(engine, first)
    result = own_sandbox.run(own_sandbox.client.next_workdir(), PYTHON, Limits(), source="print(1)")
    assert result.status == RunStatus.OK and result.stdout == "1\n"
    assert own_sandbox.client.info["container"] != first


def test_container_dying_during_a_run_fails_that_run_only(
    engine: docker.DockerClient, own_sandbox: Sandbox
) -> None:
    first = own_sandbox.client.info["container"]
    workdir = own_sandbox.client.next_workdir()
    with ThreadPoolExecutor(1) as pool:
        sleep = "import time\ntime.sleep(20)\n"
        running = pool.submit(own_sandbox.run, workdir, PYTHON, Limits(time_s=20), source=sleep)
        time.sleep(1.0)
        engine.containers.get(first).kill()
        with pytest.raises(SandboxError, match="exited"):
            running.result(timeout=15)
    result = own_sandbox.run(own_sandbox.client.next_workdir(), PYTHON, Limits(), source="print(2)")
    assert result.stdout == "2\n"
    assert own_sandbox.client.info["container"] != first
    _wait_gone(engine, first)  # killed and auto-removed, not left behind


def test_closing_removes_the_container(engine: docker.DockerClient) -> None:
    client = docker_client(UID + 2)
    container = client.info["container"]
    client.close()
    _wait_gone(engine, container)


def test_container_goes_away_with_its_worker(engine: docker.DockerClient) -> None:
    worker = (
        "import sys, time\n"
        "from referee.sandbox.docker_backend import docker_client\n"
        f"print(docker_client({UID + 5}).info['container'], flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", worker], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        container = process.stdout.readline().strip()
        assert engine.containers.get(container).status == "running"
    finally:
        process.kill()  # no close(): the engine sees the attach stream end (stdin-once)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    _wait_gone(engine, container)


def _wait_gone(engine: docker.DockerClient, container: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            engine.containers.get(container)
        except NotFound:
            return
        time.sleep(0.05)
    pytest.fail(f"container {container} still exists")


# -- unavailable ----------------------------------------------------------------------------------


def test_open_sandbox_selects_the_docker_backend(engine: docker.DockerClient) -> None:
    box = open_sandbox("docker", uid=UID + 3)
    try:
        result = box.run(box.client.next_workdir(), PYTHON, Limits(), source="print('docker')")
        assert box.name == "docker" and isinstance(box.client, DockerJailClient)
        assert result.stdout == "docker\n"
    finally:
        box.close()


def test_missing_engine_is_unavailable(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers"):
        docker_client(UID + 4)


def test_missing_image_is_unavailable(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFEREE_DOCKER_IMAGE", "referee-sandbox:no-such-tag")
    with pytest.raises(SandboxUnavailable, match=r"not found.*build\.sh"):
        docker_client(UID + 4)


def test_unknown_runtime_is_unavailable(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFEREE_DOCKER_RUNTIME", "no-such-runtime")
    with pytest.raises(SandboxUnavailable, match="no-such-runtime"):
        docker_client(UID + 4)


def test_image_of_another_fork_server_is_refused(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "referee-sandbox:test-stale"
    dockerfile = f"FROM referee-sandbox:latest\nLABEL {JAIL_DIGEST_LABEL}=0123abcd\n"
    engine.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, network_mode="none", rm=True
    )
    try:
        monkeypatch.setenv("REFEREE_DOCKER_IMAGE", tag)
        with pytest.raises(SandboxUnavailable, match="another version of the fork server"):
            docker_client(UID + 4)
    finally:
        engine.images.remove(tag)


def test_nothing_a_run_writes_outlives_the_item(sandbox: Sandbox) -> None:
    # /dev/shm is a writable tmpfs in a container (read-only under bwrap): wiped too.
    box = sandbox
    py = PYTHON
    assert py is not None
    first, second = box.client.next_workdir(), box.client.next_workdir()
    write = "for p in ('/dev/shm/x', '/tmp/x'):\n    open(p, 'w').write('secret')\nprint('ok')"
    assert box.run(first, py, Limits(time_s=5), source=write).stdout == "ok\n"
    box.cleanup(first)
    read = "import os\nprint(sorted(p for p in ('/dev/shm/x', '/tmp/x') if os.path.exists(p)))"
    try:
        assert box.run(second, py, Limits(time_s=5), source=read).stdout == "[]\n"
    finally:
        box.cleanup(second)
