"""The fork server: a warm ``/usr/bin/python3`` inside the jail that runs programs.

Started once per jail (``python3 -I server.py``); requests and replies travel
over its stdin/stdout (see ``wire.py``). Each run is a child in its own process
group, in a private working directory, with rlimits and a seccomp filter
(``confine.py``). Python programs are forked by the zygote (``zygote.py``), an
interpreter exec'd apart that never holds a request, so that no program can
read another item's tests or program in its own memory (~2 ms a run); compiled
programs and interpreters are exec'd from here (exec replaces the image). The
server enforces the wall clock, caps the output it reads, and after each run
kills every process in the jail but itself and the zygote, so nothing outlives
a run. A zygote found stopped or dead is replaced, and the run during which it
was harmed fails.

Ops: ``ping``, ``run`` (one process with stdin), ``call`` (a Python function
called by a harness in a second process: see ``harness.py``), ``interact`` (a
program cross-piped with an interactor), ``cleanup``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import socket
import stat
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.jail import cleanup, confine, harness, wire
else:  # inside the jail the scripts are plain top-level modules
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cleanup
    import confine
    import harness
    import wire

WORK_ROOT = "/tmp/w"
_MEMORY_MARKERS = (
    "MemoryError",
    "std::bad_alloc",
    "JavaScript heap out of memory",
    "Cannot allocate memory",
    "out of memory",
    "OutOfMemoryError",
    "cannot allocate memory",
    "memory allocation of",
)
SERVER_PID = os.getpid()
JAIL_DIR = os.path.dirname(os.path.abspath(__file__))
# Set by backends that give the server a pid namespace, a /tmp and an IPC namespace of
# its own (bwrap, docker). Only then may it kill every other process it sees and wipe.
JAILED = "--jailed" in sys.argv
# The zygote: its pid, the server's end of its socket, exit reports read ahead (pid -> report).
ZYGOTE: dict[str, Any] = {}
# Seccomp filters of children forked here, built with the current zygote's pid protected.
FILTERS: dict[str, Any] = {}
_ZYGOTE_REPLY_S = 5.0  # a fork or an exit report the zygote has not answered by then: lost
_HEALTH_EVERY_S = 0.25
_HARMED = "the program stopped or killed a process of the sandbox"
_TMP_MODE: list[int] = []


def _filters() -> dict[str, Any]:
    if not FILTERS:
        FILTERS.update(confine.build_filters(_protected()))
    return FILTERS


def _protected() -> tuple[int, ...]:
    return (SERVER_PID, *([ZYGOTE["pid"]] if "pid" in ZYGOTE else []))


# -- the zygote ----------------------------------------------------------------------------------


class _ZygoteLost(Exception):
    """The zygote stopped answering (stopped, killed, or its socket failed)."""


def _start_zygote() -> None:
    """Exec a fresh zygote: an image that never held a request, unlike a fork of this server."""
    server_sock, zygote_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fd = zygote_sock.fileno()
    argv = [sys.executable, "-I", os.path.join(JAIL_DIR, "zygote.py"), str(fd), str(SERVER_PID)]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - replaced by exec
        try:
            os.set_inheritable(fd, True)
            confine.close_fds((fd,))
            os.execve(argv[0], argv, confine.ENV)
        finally:
            os._exit(127)
    zygote_sock.close()
    ZYGOTE.clear()
    ZYGOTE.update(pid=pid, sock=server_sock, reports={})
    FILTERS.clear()  # the new pid joins those no program may signal


def _stop_zygote() -> None:
    pid, sock = ZYGOTE.get("pid"), ZYGOTE.get("sock")
    ZYGOTE.clear()
    FILTERS.clear()
    if sock is not None:
        sock.close()
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _zygote_healthy() -> bool:
    """The zygote exists and is neither stopped, traced nor dead (one read of its stat)."""
    pid = ZYGOTE.get("pid")
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2] not in "TtZXx"


def _ensure_zygote() -> bool:
    if ZYGOTE and _zygote_healthy():
        return True
    _stop_zygote()
    try:
        _start_zygote()
    except OSError:
        return False
    return True


def _zygote_next(timeout_s: float) -> dict[str, Any] | None:
    """The zygote's next message (exit reports are also kept); None if none came in time."""
    sock = ZYGOTE.get("sock")
    if sock is None:
        raise _ZygoteLost
    sock.settimeout(timeout_s)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return None
    except OSError:
        raise _ZygoteLost from None
    if not data:
        raise _ZygoteLost
    message: dict[str, Any] = json.loads(data)
    if "exited" in message:
        ZYGOTE["reports"][message["exited"]] = message
    return message


def _zygote_exit(pid: int) -> dict[str, Any]:
    """The exit report of the zygote's child ``pid`` (already killed, or exiting)."""
    deadline = time.monotonic() + _ZYGOTE_REPLY_S
    while True:
        reports = ZYGOTE.get("reports", {})
        if pid in reports:
            report: dict[str, Any] = reports.pop(pid)
            return report
        if time.monotonic() > deadline or not _zygote_healthy():
            raise _ZygoteLost
        _zygote_next(_HEALTH_EVERY_S)


def _spec_fd(spec: dict[str, Any]) -> int:
    fd = os.memfd_create("spec", os.MFD_CLOEXEC)
    view = memoryview(json.dumps(spec).encode("utf-8", "surrogatepass"))
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


# -- children ------------------------------------------------------------------------------------


class _Child:
    """A running program: its stdio pipes, and how to learn that it ended and how."""

    def __init__(
        self, pid: int, pipes: tuple[int, int, int], inherited_kb: int, zygote: bool
    ) -> None:
        self.pid = pid
        self.in_w, self.out_r, self.err_r = pipes
        self.started = time.monotonic()
        self.inherited_kb = inherited_kb  # RSS it had at fork: counted in its peak
        self.zygote = zygote
        self.exit_fd = ZYGOTE["sock"].fileno() if zygote else os.pidfd_open(pid)
        self.ended: tuple[int, float, int] | None = None  # wait status, CPU s, peak RSS KiB

    def poll(self) -> None:
        """``exit_fd`` is readable: take what it says."""
        if not self.zygote:
            _, status, usage = os.wait4(self.pid, 0)
            self.ended = (status, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))
            return
        _zygote_next(0)
        report = ZYGOTE["reports"].pop(self.pid, None)
        if report is not None:
            self.ended = (int(report["status"]), float(report["cpu_s"]), int(report["maxrss_kb"]))

    def kill(self) -> None:
        for kill in (os.killpg, os.kill):  # the group, and the child if it left it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(self.pid, signal.SIGKILL)

    def reap(self) -> None:
        """Wait for the (killed) child's end; _ZygoteLost if the zygote cannot tell it."""
        if self.ended is not None:
            return
        if not self.zygote:
            _, status, usage = os.wait4(self.pid, 0)
            self.ended = (status, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))
            return
        report = _zygote_exit(self.pid)
        self.ended = (int(report["status"]), float(report["cpu_s"]), int(report["maxrss_kb"]))

    def close(self) -> None:
        if not self.zygote:
            with contextlib.suppress(OSError):
                os.close(self.exit_fd)


def _pipes() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(child's stdin r, stdout w, stderr w), (our stdin w, stdout r, stderr r)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    return (in_r, out_w, err_w), (in_w, out_r, err_r)


def _fork(start: Callable[[tuple[int, int, int]], None]) -> _Child:
    """Fork a child of this server that runs ``start(stdio_fds)``."""
    theirs, ours = _pipes()
    inherited = confine.rss_kb()
    pid = os.fork()
    if pid == 0:  # child
        try:
            for fd in ours:
                os.close(fd)
            start(theirs)
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(2, traceback.format_exc().encode()[-2000:])
            os._exit(127)
        os._exit(0)
    for fd in theirs:
        os.close(fd)
    return _Child(pid, ours, inherited, zygote=False)


def _from_zygote(spec: dict[str, Any], rpc: tuple[int, ...]) -> _Child | None:
    """Ask the zygote to fork a Python child; None when it cannot (it is then replaced)."""
    if not _ensure_zygote():
        return None
    theirs, ours = _pipes()
    spec_fd = _spec_fd(spec)
    try:
        socket.send_fds(ZYGOTE["sock"], [b"fork"], [spec_fd, *theirs, *rpc])
        deadline = time.monotonic() + _ZYGOTE_REPLY_S
        while time.monotonic() < deadline:
            reply = _zygote_next(_HEALTH_EVERY_S)
            if reply is not None and "pid" in reply:
                # A stale report under this pid is an older child's; others may be awaited
                # still (an interactor forked just before).
                ZYGOTE["reports"].pop(int(reply["pid"]), None)
                return _Child(int(reply["pid"]), ours, int(reply.get("rss_kb", 0)), zygote=True)
            if reply is None and not _zygote_healthy():
                break
    except (OSError, ValueError, KeyError, _ZygoteLost):
        pass
    finally:
        for fd in (spec_fd, *theirs):
            os.close(fd)
    # A child it may still fork would hold our pipes: they are dropped with the zygote.
    for fd in ours:
        os.close(fd)
    _stop_zygote()
    _kill_strays()
    return None


def _by_exec(spec: dict[str, Any], rpc: tuple[int, ...]) -> _Child:
    """A Python child as a fresh interpreter (the zygote is gone): ~20 ms more."""
    spec_fd = _spec_fd({**spec, "protect": list(_protected())})
    keep = (spec_fd, *rpc)
    argv = [sys.executable, "-I", os.path.join(JAIL_DIR, "zygote.py"), "--once"]
    argv += [str(fd) for fd in keep]
    memory = confine.memory_kind(spec.get("memory"))
    policy = _filters().get("exec")

    def start(fds: tuple[int, int, int]) -> None:
        confine.child_setup(spec["workdir"], fds, spec["limits"], memory, policy, keep=keep)
        for fd in keep:
            os.set_inheritable(fd, True)
        os.execve(argv[0], argv, confine.ENV)

    try:
        return _fork(start)
    finally:
        os.close(spec_fd)


def _python_child(spec: dict[str, Any], rpc: tuple[int, ...] = ()) -> _Child:
    """Python ``source`` run by a process that never held a request (``spec``: zygote.py)."""
    return _from_zygote(spec, rpc) or _by_exec(spec, rpc)


# -- running a child and watching it -----------------------------------------------------------


def _kill_strays() -> None:
    """Kill every process of the jail but this server and the zygote; reap what is ours.

    In a jail the server is pid 1 of its namespace, so orphans become its children:
    they are killed and reaped here before the next run. Outside a jail of its own
    (local-unsafe) the server only reaps: each run's process group was killed
    already, and the machine's other processes are not ours.
    """
    deadline = time.monotonic() + 1.0
    while True:
        others = [int(n) for n in os.listdir("/proc") if n.isdigit()] if JAILED else []
        others = [pid for pid in others if pid not in (1, SERVER_PID, ZYGOTE.get("pid"))]
        for pid in others:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if not others or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def _classify(
    exit_status: int | None, stderr: str, timed_out: bool, over_output: bool, over_memory: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"exit_code": None, "signal": None}
    if exit_status is None:  # its end is unknown: the zygote was harmed meanwhile
        out["status"] = "runtime_error"
        return out
    if os.WIFEXITED(exit_status):
        out["exit_code"] = os.WEXITSTATUS(exit_status)
    elif os.WIFSIGNALED(exit_status):
        out["signal"] = os.WTERMSIG(exit_status)
    sig = out["signal"]
    if timed_out or sig == signal.SIGXCPU:
        out["status"] = "timeout"
    elif over_output or sig == signal.SIGXFSZ:
        out["status"] = "output_limit"
    elif over_memory:  # whatever the runtime let it do, it went past its limit
        out["status"] = "memory_limit"
    elif out["exit_code"] == 0:
        out["status"] = "ok"
    elif any(marker in stderr[:4000] or marker in stderr[-4000:] for marker in _MEMORY_MARKERS):
        # Head and tail: Go prints its "out of memory" before every goroutine's stack.
        out["status"] = "memory_limit"
    else:
        out["status"] = "runtime_error"
    return out


def over_memory(peak_kb: int, inherited_kb: int, limits: dict[str, Any]) -> bool:
    """Its peak RSS passed its limit (and is not just what it inherited at fork)."""
    return peak_kb > int(limits["memory_mb"]) * 1024 and peak_kb > inherited_kb


def over_cpu(cpu_s: float, limits: dict[str, Any]) -> bool:
    """It used more CPU time than its ``cpu_s`` limit (RLIMIT_CPU counts whole seconds)."""
    limit = limits.get("cpu_s")
    return limit is not None and cpu_s > float(limit)


def spawn_and_watch(
    start: Callable[[tuple[int, int, int]], None],
    stdin: bytes,
    limits: dict[str, Any],
    side: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Fork ``start`` with fresh stdio pipes; feed stdin, collect output, enforce limits.

    ``side`` are more pipes to drain while the child runs (another process's output).
    """
    return _watch(_fork(start), stdin, limits, side)


def _watch(
    child: _Child, stdin: bytes, limits: dict[str, Any], side: tuple[int, ...] = ()
) -> dict[str, Any]:
    cap = int(limits["output_bytes"])
    deadline = child.started + float(limits["time_s"])
    out_r, err_r = child.out_r, child.err_r
    buffers = {fd: bytearray() for fd in (out_r, err_r, *side)}
    open_reads = set(buffers)
    pending = memoryview(stdin)
    writing: int | None = child.in_w
    if not pending:
        os.close(child.in_w)
        writing = None
    else:
        os.set_blocking(child.in_w, False)
    timed_out = over_output = lost = False
    while True:
        now = time.monotonic()
        if child.ended is None:
            if now >= deadline:
                timed_out = True
                break
            wait = deadline - now
            if child.zygote:  # a stopped zygote reports nothing: look at it now and then
                wait = min(wait, _HEALTH_EVERY_S)
            readable, writable, _ = select.select(
                [*open_reads, child.exit_fd], [writing] if writing is not None else [], [], wait
            )
            if child.zygote and not readable and not writable and not _zygote_healthy():
                lost = True
                break
        else:  # exited: drain what is left in its own pipes; take what is there in the others
            own = open_reads - set(side)
            if not own:
                readable = select.select(list(open_reads), [], [], 0)[0] if open_reads else []
                for fd in readable:
                    chunk = os.read(fd, 65536)
                    if chunk and len(buffers[fd]) <= cap:
                        buffers[fd] += chunk
                break
            readable, writable, _ = select.select(list(open_reads), [], [], 0.05)
            if not readable:
                break
        if writing is not None and writing in writable:
            try:
                pending = pending[os.write(writing, pending[:65536]) :]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                pending = pending[:0]
            if not pending:
                os.close(writing)
                writing = None
        for fd in readable:
            if fd == child.exit_fd and child.ended is None:
                try:
                    child.poll()
                except _ZygoteLost:
                    lost = True
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_reads.discard(fd)
                continue
            buffers[fd] += chunk
            if len(buffers[fd]) > cap:
                if fd in side:
                    open_reads.discard(fd)  # stop reading: the writer blocks, ours does not
                else:
                    over_output = True
        if over_output or lost:
            break
    if child.ended is None:
        child.kill()
        try:
            child.reap()
        except _ZygoteLost:
            lost = True
    wall = time.monotonic() - child.started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.close()
    for fd in (out_r, err_r, *([writing] if writing is not None else [])):
        with contextlib.suppress(OSError):
            os.close(fd)
    text = {fd: bytes(buf[:cap]).decode("utf-8", "replace") for fd, buf in buffers.items()}
    status, cpu, peak = child.ended or (None, 0.0, 0)
    over = over_memory(peak, child.inherited_kb, limits)
    timed_out = timed_out or over_cpu(cpu, limits)
    result = _classify(status, text[err_r], timed_out, over_output, over)
    result.update(
        stdout=text[out_r],
        stderr=text[err_r],
        side=[text[fd] for fd in side],
        wall_s=round(wall, 6),
        cpu_s=round(cpu, 6),
        peak_memory_kb=peak,
        truncated=over_output,
    )
    if lost:
        _stop_zygote()
        result.update(status="runtime_error", message=_HARMED)
    return result


def _check_zygote(result: dict[str, Any]) -> None:
    """After a run: a zygote harmed during it makes the run fail, and is replaced."""
    if not ZYGOTE or _zygote_healthy():
        return
    _stop_zygote()
    _kill_strays()
    result.update(status="runtime_error", verdict=None, message=_HARMED)


# -- ops ---------------------------------------------------------------------------------------


def _workdir(name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ValueError("bad workdir name")
    path = os.path.join(WORK_ROOT, name)
    if os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path)):
        os.unlink(path)  # something a program planted under the name: not ours
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _inside(workdir: str, rel: str) -> str:
    norm = os.path.normpath(rel)
    if norm.startswith(("/", "..")) or norm == ".":
        raise ValueError(f"file path {rel!r} leaves the working directory")
    return os.path.join(workdir, norm)


def _write_files(workdir: str, files: dict[str, Any]) -> None:
    """Text, or ``{"b64": ...}`` for bytes."""
    for rel, content in files.items():
        path = _inside(workdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = (
            base64.b64decode(content["b64"])
            if isinstance(content, dict)
            else content.encode("utf-8", "surrogatepass")
        )
        with open(path, "wb") as f:
            f.write(data)
        if isinstance(content, dict) and content.get("mode") is not None:
            os.chmod(path, int(content["mode"]) & 0o700)  # an executable written by the host


def _fetch_files(workdir: str, paths: list[str], cap: int) -> dict[str, str]:
    """Base64 of the named files the run left (regular files only, ``cap`` bytes in all)."""
    out: dict[str, str] = {}
    for rel in paths:
        path = _inside(workdir, rel)
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                data = os.read(fd, cap + 1)
            finally:
                os.close(fd)
            cap -= len(data)
            if cap < 0:
                break
            out[rel] = base64.b64encode(data).decode()
    return out


def _compile_error(source: str, filename: str) -> dict[str, Any] | None:
    """Syntax errors answer before any fork (the child compiles its own copy again)."""
    try:
        compile(source, filename, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return {"status": "compile_error", "stderr": f"{type(exc).__name__}: {exc}"[:4000]}
    return None


def op_run(msg: dict[str, Any]) -> dict[str, Any]:
    """One process: ``inline`` Python source, or ``argv`` exec'd, with ``stdin``."""
    missing = [str(p) for p in msg.get("require", ()) if not os.path.exists(str(p))]
    if missing:  # a toolchain this sandbox lacks: no verdict can be given here
        return {"status": "unavailable", "message": f"not installed in the sandbox: {missing[0]}"}
    workdir = _workdir(msg["workdir"])
    _write_files(workdir, msg.get("files", {}))
    limits = msg["limits"]
    memory = confine.memory_kind(msg.get("memory_rlimit"))
    stdin = msg.get("stdin", "").encode("utf-8", "surrogatepass")
    if msg.get("inline") is not None:
        filename = str(msg.get("filename", "main.py"))
        error = _compile_error(msg["inline"], filename)
        if error is not None:
            return error
        spec = {
            "mode": "run",
            "workdir": workdir,
            "limits": limits,
            "memory": memory,
            "filename": filename,
            "source": msg["inline"],
        }
        child = _python_child(spec)
    else:
        argv = [str(a) for a in msg["argv"]]
        policy = _filters().get(msg["policy"]) if msg.get("policy") else None

        def start(fds: tuple[int, int, int]) -> None:
            confine.child_setup(workdir, fds, limits, memory, policy)
            os.execve(argv[0], argv, confine.ENV)

        child = _fork(start)
    try:
        result = _watch(child, stdin, limits)
    finally:
        _kill_strays()
    _check_zygote(result)
    result.pop("side", None)
    if msg.get("fetch"):
        cap = int(msg.get("fetch_bytes") or limits["output_bytes"])
        result["files"] = _fetch_files(workdir, list(msg["fetch"]), cap)
    return result


def op_call(msg: dict[str, Any]) -> dict[str, Any]:
    """A harness process calls a Python candidate's function in another process.

    The candidate cannot reach the harness: separate processes, the verdict on
    the harness's own stdout, values passed as plain encoded data (harness.py).
    The candidate comes from the zygote: it never held the tests.
    """
    workdir = _workdir(msg["workdir"])
    limits = msg["limits"]
    error = _compile_error(msg["source"], "main.py")
    if error is not None:
        return error
    to_cand_r, to_cand_w = os.pipe()
    from_cand_r, from_cand_w = os.pipe()
    rpc_candidate = (to_cand_r, from_cand_w)
    rpc_harness = (from_cand_r, to_cand_w)

    _write_files(workdir, {"main.py": msg["source"]})
    spec = {
        "mode": "call",
        "workdir": workdir,
        "limits": limits,
        "memory": "as",
        "source": msg["source"],
        "entry_point": msg["entry_point"],
    }
    candidate = _python_child(spec, rpc_candidate)
    for fd in (*rpc_candidate, candidate.in_w):
        os.close(fd)
    keys = ("entry_point", "test_code", "inputs", "outputs", "stop_at_first")
    test: dict[str, Any] = {k: msg[k] for k in keys if k in msg}
    policy = _filters().get("inline")

    def start_harness(fds: tuple[int, int, int]) -> None:
        confine.child_setup(workdir, fds, limits, "as", policy, keep=rpc_harness)
        confine.fresh_stdio()
        harness.run_harness(test, *rpc_harness)

    lost = False
    try:
        run = spawn_and_watch(start_harness, b"", limits, side=(candidate.out_r, candidate.err_r))
    finally:
        for fd in (*rpc_harness, candidate.out_r, candidate.err_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        candidate.kill()
        try:
            candidate.reap()
        except _ZygoteLost:
            lost = True
        candidate.close()
        _kill_strays()
    verdict: Any = None
    if run["status"] == "ok":
        with contextlib.suppress(ValueError):
            verdict = harness.parse_verdict(run["stdout"])
    stdout, stderr = run.pop("side")
    run.update(verdict=verdict, harness_stderr=run["stderr"][-2000:], stdout=stdout, stderr=stderr)
    peak = candidate.ended[2] if candidate.ended else 0
    judged = run["status"] in ("ok", "runtime_error")
    if judged and over_memory(peak, candidate.inherited_kb, limits):
        run.update(status="memory_limit", verdict=None, peak_memory_kb=peak)
    if lost:
        _stop_zygote()
        run.update(status="runtime_error", verdict=None, message=_HARMED)
    _check_zygote(run)
    return run


def _start_program(workdir: str, msg: dict[str, Any], limits: dict[str, Any]) -> _Child:
    """A program as ``op_run`` starts one: ``inline`` Python from the zygote, or ``argv``."""
    memory = confine.memory_kind(msg.get("memory_rlimit"))
    if msg.get("inline") is not None:
        spec = {
            "mode": "run",
            "workdir": workdir,
            "limits": limits,
            "memory": memory,
            "filename": "main.py",
            "source": msg["inline"],
        }
        return _python_child(spec)
    argv = [str(a) for a in msg["argv"]]
    policy = _filters().get(str(msg.get("policy") or "exec"))

    def start(fds: tuple[int, int, int]) -> None:
        confine.child_setup(workdir, fds, limits, memory, policy)
        os.execve(argv[0], argv, confine.ENV)

    return _fork(start)


def _cpu_ticks(pid: int) -> tuple[str, int] | None:
    """(state, user + system clock ticks) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[11]) + int(fields[12])


_RELAY_BUFFER = 1 << 20


def _relay(
    cand: _Child, inter: _Child, limits: tuple[dict[str, Any], dict[str, Any]], idle_s: float
) -> dict[str, Any]:
    """Cross-pipe two children through this server until both end; enforce their limits.

    Deadlock: both alive and asleep, nothing in flight, no CPU used, for ``idle_s``.
    """
    children = (cand, inter)
    route = {cand.out_r: inter.in_w, inter.out_r: cand.in_w}
    pending = {cand.in_w: bytearray(), inter.in_w: bytearray()}
    writers_open = set(pending)
    eof_sources: set[int] = set()
    for fd in pending:
        os.set_blocking(fd, False)
    errors = {cand.err_r: bytearray(), inter.err_r: bytearray()}
    reads = {cand.out_r, inter.out_r, cand.err_r, inter.err_r}
    relayed = {cand.out_r: 0, inter.out_r: 0}
    deadlines = [c.started + float(lim["time_s"]) for c, lim in zip(children, limits, strict=True)]
    caps = [int(lim["output_bytes"]) for lim in limits]
    timed = [False, False]
    over = [False, False]
    deadlock = lost = False
    moved = True
    idle_from: float | None = None
    last_ticks: list[tuple[str, int] | None] = [None, None]
    next_look = time.monotonic() + _HEALTH_EVERY_S

    def stop(index: int) -> None:
        nonlocal lost
        child = children[index]
        child.kill()
        try:
            child.reap()
        except _ZygoteLost:
            lost = True

    while any(c.ended is None for c in children) and not lost:
        now = time.monotonic()
        for i, child in enumerate(children):
            if child.ended is None and now >= deadlines[i]:
                timed[i] = True
                stop(i)
        if now >= next_look:
            next_look = now + _HEALTH_EVERY_S
            ticks = [_cpu_ticks(c.pid) if c.ended is None else None for c in children]
            asleep = all(t is not None and t[0] == "S" for t in ticks)
            quiet = not moved and not any(pending.values()) and ticks == last_ticks
            if asleep and quiet and cand.ended is None and inter.ended is None:
                idle_from = idle_from or now
                if now - idle_from >= idle_s:
                    deadlock = True
                    stop(0)
                    stop(1)
                    break
            else:
                idle_from = None
            last_ticks, moved = ticks, False
            if cand.zygote and not _zygote_healthy():
                lost = True
                break
        waiting = [c.exit_fd for c in children if c.ended is None]
        writable = [fd for fd, buf in pending.items() if buf and fd in writers_open]
        live = [d for c, d in zip(children, deadlines, strict=True) if c.ended is None]
        wait = max(0.0, min([next_look, *live]) - time.monotonic())
        # Back-pressure: a source is not read while its reader is far behind.
        sources = [fd for fd in reads if fd not in route or len(pending[route[fd]]) < _RELAY_BUFFER]
        readable, can_write, _ = select.select([*sources, *set(waiting)], writable, [], wait)
        for fd in can_write:
            try:
                sent = os.write(fd, pending[fd][:65536])
                del pending[fd][:sent]
                moved = True
            except BlockingIOError:
                pass
            except BrokenPipeError:
                pending[fd].clear()
        for fd in readable:
            if fd in reads:
                chunk = os.read(fd, 65536)
                if not chunk:
                    reads.discard(fd)
                    if fd in route:
                        eof_sources.add(fd)
                    continue
                moved = True
                if fd in errors:
                    if len(errors[fd]) <= 65536:
                        errors[fd] += chunk
                    continue
                index = 0 if fd == cand.out_r else 1
                relayed[fd] += len(chunk)
                if relayed[fd] > caps[index]:
                    over[index] = True
                    stop(index)
                    continue
                if route[fd] in writers_open:
                    pending[route[fd]] += chunk
            elif ZYGOTE.get("sock") is not None and fd == ZYGOTE["sock"].fileno():
                try:  # one message: both children may be the zygote's
                    _zygote_next(0)
                except _ZygoteLost:
                    lost = True
            else:
                for child in children:
                    if child.ended is None and child.exit_fd == fd:
                        child.poll()
        for child in children:  # exit reports read so far, by whoever read them
            report = ZYGOTE.get("reports", {}).pop(child.pid, None) if child.zygote else None
            if report is not None and child.ended is None:
                child.ended = (
                    int(report["status"]),
                    float(report["cpu_s"]),
                    int(report["maxrss_kb"]),
                )
        for source in eof_sources:  # the writer ended its output: so does the reader's input
            target = route[source]
            if target in writers_open and not pending[target]:
                writers_open.discard(target)
                os.close(target)
    for i in (0, 1):
        if children[i].ended is None:
            stop(i)
    for fd in reads:  # what the two wrote before they ended
        with contextlib.suppress(OSError):
            while select.select([fd], [], [], 0)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                if fd in errors and len(errors[fd]) <= 65536:
                    errors[fd] += chunk
    results = []
    for i, child in enumerate(children):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.close()
        for fd in (child.out_r, child.err_r, *([child.in_w] if child.in_w in writers_open else [])):
            with contextlib.suppress(OSError):
                os.close(fd)
        status, cpu, peak = child.ended or (None, 0.0, 0)
        stderr = bytes(errors[child.err_r][:65536]).decode("utf-8", "replace")
        timed_out = timed[i] or over_cpu(cpu, limits[i])
        result = _classify(
            status, stderr, timed_out, over[i], over_memory(peak, child.inherited_kb, limits[i])
        )
        result.update(
            stdout="",
            stderr=stderr[-4000:],
            wall_s=round(time.monotonic() - child.started, 6),
            cpu_s=round(cpu, 6),
            peak_memory_kb=peak,
            relayed_bytes=relayed[child.out_r],
        )
        results.append(result)
    if lost:
        _stop_zygote()
        results[0].update(status="runtime_error", message=_HARMED)
    return {"candidate": results[0], "interactor": results[1], "deadlock": deadlock}


def op_interact(msg: dict[str, Any]) -> dict[str, Any]:
    """A program and an interactor, each one's stdout the other's stdin (testlib's layout).

    The interactor (``msg["interactor"]``: ``workdir``, ``files``, ``argv``,
    ``limits``, ``fetch``) is exec'd in a directory of its own under the exec
    filter; the candidate starts as in ``op_run``. Each has its own limits.
    """
    workdir = _workdir(msg["workdir"])
    limits = msg["limits"]
    if msg.get("inline") is not None:
        error = _compile_error(msg["inline"], "main.py")
        if error is not None:
            return error
    spec = msg["interactor"]
    inter_dir = _workdir(spec["workdir"])
    _write_files(inter_dir, spec.get("files", {}))
    inter_limits = spec["limits"]
    inter_msg = {
        "argv": spec["argv"],
        "inline": spec.get("inline"),
        "policy": "exec",
        "memory_rlimit": "as",
    }
    inter = _start_program(inter_dir, inter_msg, inter_limits)
    try:
        cand = _start_program(workdir, msg, limits)
    except BaseException:
        inter.kill()
        with contextlib.suppress(_ZygoteLost):
            inter.reap()
        raise
    try:
        reply = _relay(cand, inter, (limits, inter_limits), float(msg.get("idle_s", 1.0)))
    finally:
        _kill_strays()
    _check_zygote(reply["candidate"])
    if spec.get("fetch"):
        reply["files"] = _fetch_files(inter_dir, list(spec["fetch"]), 16 * 1024 * 1024)
    reply["status"] = "ok"
    return reply


def op_cleanup(msg: dict[str, Any]) -> dict[str, Any]:
    """Remove a working directory; in a jail, everything a run left in /tmp and in IPC.

    With ``only``, just the named directory goes (a checker's, mid-item).
    When something could not be removed, the reply says ``restart``: the jail is
    then replaced (a fresh /tmp and IPC namespace) before the next item.
    """
    problems: list[str] = []
    if JAILED and not msg.get("only"):  # one item at a time: nothing a run made outlives it
        roots = [("/tmp", _TMP_MODE[0] if _TMP_MODE else 0o1777)]
        # /dev/shm is read-only under bwrap, a writable tmpfs in a Docker container.
        if os.access("/dev/shm", os.W_OK):
            roots.append(("/dev/shm", 0o1777))
        for root, mode in roots:
            try:
                cleanup.wipe(root, mode)
            except cleanup.Unremovable as exc:
                problems.append(str(exc))
        try:
            cleanup.remove_ipc()
        except cleanup.Unremovable as exc:
            problems.append(str(exc))
        try:
            os.makedirs(WORK_ROOT, mode=0o700, exist_ok=True)
        except OSError as exc:
            problems.append(f"cannot make {WORK_ROOT}: {exc}")
    else:
        name = msg["workdir"]
        path = os.path.join(WORK_ROOT, name)
        if name and "/" not in name and not name.startswith(".") and os.path.isdir(path):
            try:
                cleanup.wipe(path, 0o700)
                os.rmdir(path)
            except (cleanup.Unremovable, OSError) as exc:
                problems.append(str(exc))
    if problems:
        return {"status": "ok", "restart": True, "message": "; ".join(problems)[:1000]}
    return {"status": "ok"}


def op_ping(msg: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "ok",
        "seccomp": bool(_filters()),
        "uid": os.getuid(),
        "pid": SERVER_PID,
        "zygote": ZYGOTE.get("pid"),
    }


OPS = {
    "ping": op_ping,
    "run": op_run,
    "call": op_call,
    "cleanup": op_cleanup,
    "interact": op_interact,
}


def main() -> None:
    confine.not_dumpable()
    # The protocol moves off fds 0/1 so that children can take fresh stdio.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.makedirs(WORK_ROOT, mode=0o700, exist_ok=True)
    _TMP_MODE.append(stat.S_IMODE(os.stat(os.path.dirname(WORK_ROOT)).st_mode))
    _ensure_zygote()
    _filters()  # after the zygote: its pid is among those no program may signal
    while True:
        msg = wire.recv(proto_in)
        if msg is None:
            return
        try:
            reply = OPS[msg["op"]](msg)
        except Exception as exc:  # a malformed request: report, keep serving
            reply = {"status": "sandbox_error", "message": f"{type(exc).__name__}: {exc}"[:2000]}
        wire.send(proto_out, reply)


if __name__ == "__main__":
    main()
