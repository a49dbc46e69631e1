"""Verifier workers judge with least privilege: a library that runs the answer goes nowhere.

A real ``referee serve`` loads the ``unsafe_eval`` plugin (tests/plugins): a
verifier that evaluates the model's answer as Python, standing for every
library hole (reasoning-gym's ``eval``, ``sympify``, a pickle). Each test sends
an answer that tries one escape through ``POST /score`` and checks, from
outside, that nothing happened: no connection reached a listener, no file was
written or read, no shell ran, the server and its other workers were not
signalled or read, no secret of the server's came back; and the server keeps
judging.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PLUGINS_DIR
from support import Server, start_server, stop_server

SECRET = f"s3cret-{secrets.token_hex(8)}"
ENV = {
    "REFEREE_PLUGINS": "referee_test_verifiers,referee_escape_verifier",
    "PYTHONPATH": PLUGINS_DIR,
    "REFEREE_ITEM_TIMEOUT_S": "5",
    "REFEREE_TEST_SECRET": SECRET,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("confined"), ENV, workers=2)
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside /tmp that any uid may write to, with a root-only secret in it."""
    path = Path("/var/tmp") / f"referee-confine-{secrets.token_hex(4)}"
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    secret = path / "root-only"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(client: httpx.Client, expression: str) -> dict[str, Any]:
    """The answer ``expression`` judged by ``unsafe_eval``: its details, or its error."""
    body = {"verifier": "unsafe_eval", "items": [{"response": expression}]}
    response = client.post("/score", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    assert SECRET not in response.text
    return result


def blocked(result: dict[str, Any]) -> str:
    """What stopped the attempt; fails when it went through."""
    assert result["status"] == "ok", result
    assert "raised" in result["details"], f"the attempt went through: {result['details']}"
    reason: str = result["details"]["raised"]
    return reason


def assert_still_judging(client: httpx.Client, server: Server) -> None:
    assert server.process.poll() is None
    ready = client.get("/readyz", timeout=5).json()
    assert ready["status"] == "ready" and ready["workers"] == 2
    body = {"verifier": "math", "items": [{"response": "\\boxed{4}", "reference": "4"}]}
    assert client.post("/score", json=body).json()["results"][0]["outcome"] == "correct"


def test_the_plugin_really_runs_the_answer(client: httpx.Client) -> None:
    # Without this, every "blocked" below could be a plugin that runs nothing.
    result = run(client, "__import__('os').getpid() > 1 and 6 * 7")
    assert result["outcome"] == "correct" and result["details"]["returned"] == "42"


def test_no_tcp_connection_leaves_the_worker(client: httpx.Client, server: Server) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    reason = blocked(
        run(client, f"__import__('socket').create_connection(('127.0.0.1', {port}), 2)")
    )
    thread.join()
    listener.close()
    assert accepted == [], "the worker reached a listener on the host"
    assert "Errno" in reason
    assert_still_judging(client, server)


def test_no_udp_datagram_leaves_the_worker(client: httpx.Client) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(0.3)
        port = sink.getsockname()[1]
        blocked(
            run(client, f"__import__('socket').socket(2, 2).sendto(b'x', ('127.0.0.1', {port}))")
        )
        with pytest.raises(TimeoutError):
            sink.recvfrom(16)


def test_no_file_is_written_outside_scratch(client: httpx.Client, outside: Path) -> None:
    target = outside / "planted"
    blocked(run(client, f"open({str(target)!r}, 'w').write('pwned')"))
    assert not target.exists()
    repo_target = Path(__file__).with_name("planted-by-a-verifier")
    blocked(run(client, f"open({str(repo_target)!r}, 'w').write('pwned')"))
    assert not repo_target.exists()


def test_scratch_is_private_and_writable(client: httpx.Client) -> None:
    # Libraries that need a temporary file still work; the host's /tmp is not seen.
    marker = Path("/tmp") / f"referee-scratch-{secrets.token_hex(4)}"
    result = run(
        client,
        f"(open({str(marker)!r}, 'w').write('x'), __import__('tempfile').mkdtemp())",
    )
    assert result["outcome"] == "correct", result
    assert not marker.exists()


def test_root_only_files_cannot_be_read(client: httpx.Client, outside: Path) -> None:
    reason = blocked(run(client, f"open({str(outside / 'root-only')!r}).read()"))
    assert "Permission denied" in reason
    blocked(run(client, "open('/etc/shadow').read()"))
    blocked(run(client, "__import__('os').listdir('/root')"))


def test_no_shell_or_program_runs(client: httpx.Client, server: Server, outside: Path) -> None:
    marker = outside / "from-a-shell"
    for expression in (
        f"__import__('subprocess').run(['/bin/sh', '-c', 'touch {marker}'])",
        f"__import__('os').execv('/bin/sh', ['sh', '-c', 'touch {marker}'])",
        f"__import__('os').posix_spawn('/bin/sh', ['sh', '-c', 'touch {marker}'], {{}})",
        "__import__('os').fork()",
    ):
        blocked(run(client, expression))
    # os.system reports the shell's failure as a status instead of raising.
    result = run(client, f"__import__('os').system('touch {marker}')")
    assert result["details"].get("returned") != "0", result
    time.sleep(0.2)
    assert not marker.exists()
    assert_still_judging(client, server)


def _worker_pids(client: httpx.Client) -> set[int]:
    pids: set[int] = set()
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        body = {"verifier": "misbehave", "items": [{"response": f"ok {i}"} for i in range(8)]}
        for result in client.post("/score", json=body).json()["results"]:
            pids.add(int(result["details"]["pid"]))
    return pids


def test_server_and_other_workers_cannot_be_signalled_or_read(
    client: httpx.Client, server: Server
) -> None:
    workers = _worker_pids(client)
    assert len(workers) == 2
    server_pid = server.process.pid
    targets = sorted({server_pid, *workers})
    for pid in targets:
        blocked(
            run(
                client,
                f"__import__('os').kill({pid}, 19) if {pid} != __import__('os').getpid() "
                "else 1 / 0",
            )
        )
        blocked(
            run(
                client,
                f"open('/proc/{pid}/environ', 'rb').read() if {pid} != __import__('os').getpid() "
                "else 1 / 0",
            )
        )
        blocked(
            run(
                client,
                f"open('/proc/{pid}/mem', 'rb') if {pid} != __import__('os').getpid() else 1 / 0",
            )
        )
    # A pid with bits above 32 is the same pid to the kernel.
    blocked(run(client, f"__import__('os').kill({server_pid + (1 << 32)}, 19)"))
    blocked(run(client, "__import__('os').kill(-1, 19)"))
    blocked(run(client, "__import__('os').kill(0, 19)"))
    assert_still_judging(client, server)


def test_no_local_socket_can_be_reached(client: httpx.Client, tmp_path: Path) -> None:
    # The forkserver, syslog, a database's socket: a judge creates no socket at all.
    listener = socket.socket(socket.AF_UNIX)
    path = Path("/var/tmp") / f"referee-sock-{secrets.token_hex(4)}"
    listener.bind(str(path))
    path.chmod(0o777)
    listener.listen()
    listener.settimeout(0.5)
    try:
        blocked(run(client, f"__import__('socket').socket(1).connect({str(path)!r})"))
        blocked(run(client, "__import__('socket').socketpair()"))
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
        path.unlink()


class _Plant:
    """Unpickled, runs ``touch marker`` in whichever process unpickles it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_subverted_worker_cannot_run_code_in_the_server(
    client: httpx.Client, server: Server, outside: Path
) -> None:
    # The answer takes over the worker and writes a pickle down its pipe to the server,
    # framed as multiprocessing frames a message; the server parses, never unpickles.
    marker = outside / "ran-in-the-server"
    payload = pickle.dumps((_Plant(marker), 0))
    expression = (
        "[c for c in __import__('gc').get_objects() "
        "if type(c).__name__ == 'Connection'][0].send_bytes(" + repr(payload) + ")"
    )
    result = run(client, expression)
    assert result["status"] == "error", result
    assert result["error"]["kind"] == "verifier_error"
    time.sleep(0.5)
    assert not marker.exists(), "a worker's pickle ran in the server"
    assert_still_judging(client, server)


def test_the_server_secrets_are_not_in_the_worker(client: httpx.Client) -> None:
    # run() asserts the secret never appears in a response.
    env = run(client, "dict(__import__('os').environ)")
    assert env["outcome"] == "correct" and "REFEREE_TEST_SECRET" not in env["details"]["returned"]
    run(client, "__import__('sys').argv")
    blocked(run(client, "open('/proc/self/environ', 'rb').read()"))


def test_memory_and_process_calls_are_denied(client: httpx.Client, server: Server) -> None:
    libc = "__import__('ctypes').CDLL(None, use_errno=True)"
    # ptrace(PTRACE_ATTACH, server), unshare(CLONE_NEWUSER), mount: all refused (-1).
    for call in (
        f"{libc}.ptrace(16, {server.process.pid}, 0, 0)",
        f"{libc}.unshare(0x10000000)",
        f"{libc}.mount(b'none', b'/mnt', b'tmpfs', 0, None)",
    ):
        assert run(client, call)["details"]["returned"] == "-1", call
    assert_still_judging(client, server)


def _uids_below(root: int) -> set[int]:
    """Real uids of every process below ``root``."""
    parents: dict[int, int] = {}
    uids: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(name)] = int(fields["PPid"])
        uids[int(name)] = int(fields["Uid"].split()[0])
    below: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return {uids[pid] for pid in below if pid in uids}


def test_servers_on_one_host_never_share_a_uid(server: Server, tmp_path: Path) -> None:
    # Per-uid process limits and same-uid signals must not reach another server's workers.
    second = start_server(tmp_path, ENV, workers=2)
    try:
        ours, theirs = _uids_below(server.process.pid), _uids_below(second.process.pid)
    finally:
        stop_server(second)
    ours.discard(0)
    theirs.discard(0)
    # Two judge lanes and two code lanes each: 4 worker uids and 2 jail uids at least.
    assert len(ours) >= 6 and len(theirs) >= 6, (ours, theirs)
    assert not ours & theirs
