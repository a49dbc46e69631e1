"""The sandbox layer on its own: what a program inside the bwrap jail can and cannot do.

Each test runs small Python programs through ``Sandbox.run`` (the fork server's
in-place fast path, or an exec'd interpreter) and reads what they print.
Each case once found a defect, since fixed; the test keeps it fixed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from referee.sandbox import Language, Limits, RunResult, RunStatus, SandboxError, get_language
from referee.sandbox._types import SandboxUnavailable
from referee.sandbox.backend import Sandbox, open_sandbox

UID = 60010
PYTHON = get_language("python")
assert PYTHON is not None
# The interpreter exec'd (policy "exec"), as compiled programs and node are.
EXEC_PYTHON = Language(
    name="python-exec",
    aliases=(),
    source_file="main.py",
    compile=None,
    run=("/usr/bin/python3", "-I", "main.py"),
)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = open_sandbox("bwrap", uid=UID)
    yield sandbox
    sandbox.close()


def run(box: Sandbox, source: str, *, exec_: bool = False, **limits: object) -> RunResult:
    workdir = box.client.next_workdir()
    try:
        if exec_:
            return box.run(workdir, EXEC_PYTHON, Limits(**limits), files={"main.py": source})  # type: ignore[arg-type]
        return box.run(workdir, PYTHON, Limits(**limits), source=source)  # type: ignore[arg-type]
    finally:
        box.cleanup(workdir)


def output(box: Sandbox, source: str, **kwargs: object) -> object:
    """Run ``source`` (which prints one JSON value) and return that value."""
    result = run(box, source, **kwargs)  # type: ignore[arg-type]
    assert result.status == RunStatus.OK, result
    return json.loads(result.stdout)


def fork_servers(uid: int) -> list[int]:
    """Host pids of the fork servers running as ``uid``.

    Not the bwrap processes around them, nor each server's candidate zygote (a
    fork of the server: same command line, the server as parent).
    """
    pythons = [
        pid
        for pid, cmd in jail_processes(uid).items()
        if cmd.startswith(b"/usr/bin/python3\0") and b"server.py" in cmd
    ]
    return [pid for pid in pythons if parent(pid) not in pythons]


def parent(pid: int) -> int:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    return 0


def jail_processes(uid: int) -> dict[int, bytes]:
    """Host pids (and command lines) of the processes running as ``uid``."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{name}").st_uid == uid:
                found[int(name)] = Path(f"/proc/{name}/cmdline").read_bytes()
    return found


@pytest.mark.parametrize("exec_", [False, True], ids=["inline", "exec"])
def test_runs_as_the_unprivileged_uid(box: Sandbox, exec_: bool) -> None:
    source = (
        "import json, os\n"
        "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')]\n"
        "print(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), caps]))\n"
    )
    uid, euid, gid, groups, caps = output(box, source, exec_=exec_)  # type: ignore[misc]
    assert (uid, euid, gid, groups) == (UID, UID, UID, [])
    assert set(caps) == {"0000000000000000"}
    assert box.client.info["uid"] == UID
    assert len(fork_servers(UID)) == 1  # the fork server runs as the jail uid on the host


def test_no_network_but_loopback(box: Sandbox) -> None:
    source = (
        "import json, socket\n"
        "devs = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\n"
        "try:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    sock = 'created'\n"
        "except OSError as e:\n    sock = type(e).__name__\n"
        "print(json.dumps([devs, sock]))\n"
    )
    assert output(box, source) == [["lo"], "PermissionError"]
    assert output(box, source, exec_=True) == [["lo"], "PermissionError"]


def test_filesystem_read_only_and_host_hidden(box: Sandbox) -> None:
    source = (
        "import errno, json, os\n"
        "res = {}\n"
        "for path in ('/usr/lib/referee-probe', '/opt/referee/server.py'):\n"
        "    try:\n        open(path, 'w').close()\n        res[path] = 'written'\n"
        "    except OSError as e:\n        res[path] = errno.errorcode[e.errno]\n"
        "res['visible'] = [p for p in ('/root', '/work', '/home', '/var') if os.path.exists(p)]\n"
        "print(json.dumps(res))\n"
    )
    res = output(box, source)
    assert isinstance(res, dict)
    assert res["/usr/lib/referee-probe"] == "EROFS"
    assert res["/opt/referee/server.py"] == "EROFS"
    assert res["visible"] == []


def test_tmp_is_private(box: Sandbox) -> None:
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="referee-host-") as marker:
        name = os.path.basename(marker.name)
        listing = output(box, "import json, os\nprint(json.dumps(os.listdir('/tmp')))")
    assert name not in listing  # type: ignore[operator]
    assert listing == ["w"]


def test_previous_workdir_is_removed(box: Sandbox) -> None:
    first = box.client.next_workdir()
    result = box.run(first, PYTHON, Limits(), source="open('answer.txt', 'w').write('42')")
    assert result.status == RunStatus.OK
    box.cleanup(first)
    listing = output(box, "import json, os\nprint(json.dumps(os.listdir('/tmp/w')))")
    assert first not in listing  # type: ignore[operator]
    assert len(listing) == 1  # type: ignore[arg-type]  # its own workdir only


def test_tmp_outside_the_workdir_does_not_persist(box: Sandbox) -> None:
    assert run(box, "open('/tmp/left-behind', 'w').write('x' * 1000)").status == RunStatus.OK
    try:
        listing = output(box, "import json, os\nprint(json.dumps(os.listdir('/tmp')))")
        assert listing == ["w"]
    finally:
        run(box, "import os\nos.remove('/tmp/left-behind')")


def test_a_run_cannot_preload_code_into_later_runs(box: Sandbox) -> None:
    plant = "open('/etc/ld.so.preload', 'w').write('/tmp/referee-planted.so\\n')"
    try:
        run(box, plant)
        later = run(box, "print('clean')", exec_=True)
        assert (later.stdout, later.stderr) == ("clean\n", "")
    finally:
        run(box, "import os\nos.remove('/etc/ld.so.preload')")


@pytest.mark.parametrize("exec_", [False, True], ids=["inline", "exec"])
def test_environment_is_minimal(box: Sandbox, exec_: bool) -> None:
    env = output(box, "import json, os\nprint(json.dumps(dict(os.environ)))", exec_=exec_)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }


@pytest.mark.parametrize("exec_", [False, True], ids=["inline", "exec"])
def test_seccomp_denies_processes_and_signals(box: Sandbox, exec_: bool) -> None:
    source = (
        "import json, os, signal, subprocess\n"
        "res = {}\n"
        "def attempt(name, fn):\n"
        "    try:\n        fn()\n        res[name] = 'allowed'\n"
        "    except OSError as e:\n        res[name] = type(e).__name__\n"
        "attempt('fork', os.fork)\n"
        "attempt('exec', lambda: subprocess.run(['/bin/true']))\n"
        "attempt('kill-server', lambda: os.kill(os.getppid(), signal.SIGKILL))\n"
        "attempt('kill-init', lambda: os.kill(1, signal.SIGKILL))\n"
        "attempt('kill-all', lambda: os.kill(-1, signal.SIGKILL))\n"
        "attempt('kill-group', lambda: os.killpg(0, signal.SIGKILL))\n"
        "print(json.dumps(res))\n"
    )
    res = output(box, source, exec_=exec_)
    assert res == {
        "fork": "PermissionError",
        "exec": "PermissionError",
        "kill-server": "PermissionError",
        "kill-init": "PermissionError",
        "kill-all": "PermissionError",
        "kill-group": "PermissionError",
    }
    assert box.client.info["seccomp"] is True
    assert run(box, "print('alive')").stdout == "alive\n"


def test_threads_are_allowed_up_to_the_process_limit(box: Sandbox) -> None:
    source = (
        "import json, threading\n"
        "stop = threading.Event()\n"
        "started = 0\n"
        "try:\n"
        "    for _ in range(50):\n"
        "        threading.Thread(target=stop.wait, daemon=True).start()\n"
        "        started += 1\n"
        "except RuntimeError:\n    pass\n"
        "stop.set()\n"
        "print(json.dumps(started))\n"
    )
    started = output(box, source, processes=8)
    assert 1 <= started < 8  # type: ignore[operator]


def test_rlimits(box: Sandbox) -> None:
    source = (
        "import json, resource as r\n"
        "names = ['RLIMIT_NPROC', 'RLIMIT_AS', 'RLIMIT_NOFILE', 'RLIMIT_FSIZE', 'RLIMIT_CORE',"
        " 'RLIMIT_CPU']\n"
        "print(json.dumps({n: r.getrlimit(getattr(r, n)) for n in names}))\n"
    )
    limits = output(
        box, source, time_s=2.5, memory_mb=256, open_files=40, processes=12, file_size_mb=3
    )
    assert limits == {
        "RLIMIT_NPROC": [12, 12],
        "RLIMIT_AS": [256 << 20, 256 << 20],
        "RLIMIT_NOFILE": [40, 40],
        "RLIMIT_FSIZE": [3 << 20, 3 << 20],
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_CPU": [3, 4],
    }


def test_memory_limit(box: Sandbox) -> None:
    result = run(box, "x = bytearray(1 << 30)\nprint(len(x))", memory_mb=128)
    assert result.status == RunStatus.MEMORY_LIMIT
    assert "MemoryError" in result.stderr


def test_file_size_limit(box: Sandbox) -> None:
    result = run(box, "open('big', 'wb').write(b'x' * (3 << 20))", file_size_mb=1)
    assert result.status != RunStatus.OK


def test_wall_clock_kill(box: Sandbox) -> None:
    started = time.monotonic()
    result = run(box, "import time\nprint('start', flush=True)\ntime.sleep(100)", time_s=1.0)
    elapsed = time.monotonic() - started
    assert result.status == RunStatus.TIMEOUT
    assert result.stdout == "start\n"  # what it printed before is kept
    assert 1.0 <= result.wall_s < 2.0
    assert elapsed < 4.0


def test_cpu_loop_killed(box: Sandbox) -> None:
    result = run(box, "while True:\n    pass", exec_=True, time_s=0.5)
    assert result.status == RunStatus.TIMEOUT
    assert result.wall_s < 2.0


def test_output_cap(box: Sandbox) -> None:
    cap = 64 * 1024
    source = "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10000)\n"
    result = run(box, source, output_bytes=cap)
    assert result.status == RunStatus.OUTPUT_LIMIT
    assert result.truncated
    assert 0 < len(result.stdout) <= cap
    flood = run(box, "import sys\nsys.stderr.write('e' * 10**6)", output_bytes=cap)
    assert flood.status == RunStatus.OUTPUT_LIMIT
    assert len(flood.stderr) <= cap


def test_nothing_outlives_a_run(box: Sandbox) -> None:
    # Compilers run without seccomp and may fork: a "compiler" that leaves a child behind.
    shell = Language(
        name="leaver",
        aliases=(),
        source_file="main.sh",
        compile=("/bin/sh", "-c", "sleep 1000 & exit 0"),
        run=("/bin/true",),
    )
    workdir = box.client.next_workdir()
    try:
        assert box.compile(workdir, shell, "", Limits()).status == RunStatus.OK
    finally:
        box.cleanup(workdir)
    source = (
        "import json, os\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "print(json.dumps(sorted(int(p) for p in pids)))\n"
    )
    pids = output(box, source)
    # The server (pid 1), its candidate zygote (pid 2), the program itself.
    assert len(pids) == 3, pids  # type: ignore[arg-type]


def test_fork_server_memory_is_out_of_reach(box: Sandbox) -> None:
    source = (
        "import json, os\n"
        "try:\n"
        "    os.close(os.open(f'/proc/{os.getppid()}/mem', os.O_RDWR))\n"
        "    print(json.dumps('opened'))\n"
        "except OSError as e:\n"
        "    print(json.dumps(type(e).__name__))\n"
    )
    assert output(box, source) == "PermissionError"
    assert output(box, source, exec_=True) == "PermissionError"


def test_killed_jail_restarts_on_next_request(box: Sandbox) -> None:
    before = box.client.info
    servers = fork_servers(UID)
    assert len(servers) == 1
    os.kill(servers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while box.client.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not box.client.alive
    result = run(box, "print(6 * 7)")
    assert (result.status, result.stdout) == (RunStatus.OK, "42\n")
    assert box.client.info["uid"] == UID
    assert before is not box.client.info  # a fresh ping: a new fork server
    assert len(fork_servers(UID)) == 1
    assert fork_servers(UID) != servers


def test_jail_killed_mid_run_is_a_sandbox_error_then_recovers(box: Sandbox) -> None:
    def kill_soon() -> None:
        time.sleep(0.3)
        for pid in fork_servers(UID):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    try:
        with pytest.raises(SandboxError):
            run(box, "import time\ntime.sleep(5)", time_s=5.0)
    finally:
        killer.join()
    assert run(box, "print('back')").stdout == "back\n"


# local-unsafe's fork server has no pid namespace: after every run it kills every
# process its user may signal (server.py ``_kill_strays``), on the whole host. The
# test therefore drives it from a fresh pid namespace of its own, where that is
# only the driver's children.
LOCAL_DRIVER = """
import json, os, subprocess
from referee.sandbox import Limits, get_language
from referee.sandbox.backend import open_sandbox

bystander = subprocess.Popen(["/bin/sleep", "30"])
box = open_sandbox("local-unsafe", uid=60011)
py = get_language("python")
def run(source):
    workdir = box.client.next_workdir()
    result = box.run(workdir, py, Limits(), source=source)
    box.cleanup(workdir)
    return {"status": result.status.value, "stdout": result.stdout, "stderr": result.stderr}
report = {
    "name": box.name,
    "info": box.client.info,
    "sum": run("print(sum(range(10)))"),
    "fork": run("import os\\nos.fork()"),
    "bystander_alive": bystander.poll() is None,
}
box.close()
bystander.kill()
bystander.wait()
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def local_unsafe_report() -> dict[str, Any]:
    unshare = shutil.which("unshare")
    if unshare is None or os.getuid() != 0:
        pytest.skip("needs unshare and root to confine local-unsafe to a pid namespace")
    done = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", LOCAL_DRIVER],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_local_unsafe_backend_runs_programs(local_unsafe_report: dict[str, Any]) -> None:
    report = local_unsafe_report
    assert report["name"] == "local-unsafe"
    assert report["info"]["uid"] == os.getuid()  # no uid change: the operator's own user
    assert report["sum"] == {"status": "ok", "stdout": "45\n", "stderr": ""}
    assert report["fork"]["status"] == "runtime_error"  # seccomp is still loaded
    assert "PermissionError" in report["fork"]["stderr"]


def test_local_unsafe_leaves_other_processes_alone(local_unsafe_report: dict[str, Any]) -> None:
    assert local_unsafe_report["bystander_alive"]


def test_auto_picks_bwrap() -> None:
    auto = open_sandbox("auto", uid=UID + 2)
    try:
        assert auto.name == "bwrap"
        assert auto.client.info["uid"] == UID + 2
    finally:
        auto.close()


def test_auto_never_falls_back_to_local_unsafe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no setpriv
    with pytest.raises(SandboxUnavailable, match="no isolating sandbox"):
        open_sandbox("auto", uid=UID + 2)
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        open_sandbox("bwrap", uid=UID + 2)


def test_unknown_backend() -> None:
    with pytest.raises(SandboxUnavailable, match="local-unsafe"):
        open_sandbox("nsjail", uid=UID)


def _zygotes(uid: int) -> list[int]:
    return [pid for pid, cmd in jail_processes(uid).items() if b"zygote.py" in cmd]


def test_a_stopped_zygote_fails_its_run_and_is_replaced() -> None:
    uid = UID + 5
    sandbox = open_sandbox("bwrap", uid=uid)
    try:
        assert run(sandbox, "print(3)").stdout == "3\n"
        (zygote,) = _zygotes(uid)
        # Stopped while a candidate runs: that run fails, whatever the program printed.
        timer = threading.Timer(0.3, os.kill, (zygote, signal.SIGSTOP))
        timer.start()
        during = run(sandbox, "import time\ntime.sleep(1)\nprint(3)", time_s=3)
        timer.join()
        assert during.status == RunStatus.RUNTIME_ERROR, during
        assert "stopped or killed" in during.message
        assert zygote not in _zygotes(uid)
        # Stopped between runs (killed, too): the next run gets a fresh zygote.
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            assert run(sandbox, "print(3)").stdout == "3\n"  # made afresh when needed
            (zygote,) = _zygotes(uid)
            os.kill(zygote, sig)
            after = run(sandbox, "print(3)")
            assert (after.status, after.stdout) == (RunStatus.OK, "3\n"), after
        assert sandbox.alive
    finally:
        sandbox.close()
    assert not sandbox.alive


def test_a_missing_toolchain_is_unavailable_not_a_compile_error(box: Sandbox) -> None:
    cpp = get_language("cpp")
    assert cpp is not None
    lacking = dataclasses.replace(cpp, toolchain=("/usr/bin/no-such-compiler",))
    workdir = box.client.next_workdir()
    try:
        with pytest.raises(SandboxUnavailable, match="/usr/bin/no-such-compiler"):
            box.compile(workdir, lacking, "int main() {}", Limits(time_s=30))
        # The jail stays up: the next run is served by the same fork server.
        assert box.alive
        assert box.compile(workdir, cpp, "int main() {}", Limits(time_s=30)).status == RunStatus.OK
    finally:
        box.cleanup(workdir)
