"""The fork server: a warm ``/usr/bin/python3`` inside the jail that runs programs.

Started once per jail (``python3 -I server.py``); requests and replies travel
over its stdin/stdout (see ``wire.py``). Each run is a forked child that puts
itself in its own process group, moves to a private working directory, takes
rlimits and a seccomp filter, then either runs a Python program in place (no
exec: ~2 ms a run) or execs the compiled program or interpreter. The server
enforces the wall clock, caps the output it reads, and after each run kills
every process in the jail but itself, so nothing outlives a run.

Ops: ``ping``, ``run`` (one process with stdin), ``call`` (a Python function
called by a harness in a second process: see ``harness.py``), ``cleanup``.
"""

from __future__ import annotations

import atexit
import base64
import builtins
import contextlib
import errno
import io
import json
import os
import resource
import select
import shutil
import signal
import socket
import stat
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.jail import harness, wire
else:  # inside the jail the three scripts are plain top-level modules
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness
    import wire

try:  # python3-seccomp; without it runs still get namespaces and rlimits
    import seccomp
except ImportError:  # pragma: no cover - depends on the machine
    seccomp = None

WORK_ROOT = "/tmp/w"
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
_MEMORY_MARKERS = (
    "MemoryError",
    "std::bad_alloc",
    "JavaScript heap out of memory",
    "Cannot allocate memory",
    "out of memory",
)
CLONE_THREAD = 0x00010000
SERVER_PID = os.getpid()
JAIL_DIR = os.path.dirname(os.path.abspath(__file__))
# Set by backends that give the server a pid namespace and a /tmp of its own
# (bwrap, docker). Only then may it kill every other process it sees and wipe /tmp.
JAILED = "--jailed" in sys.argv
_PR_SET_DUMPABLE = 4
# The candidate zygote (see _start_zygote): its pid, and the server's end of its socket.
ZYGOTE: dict[str, Any] = {}


# -- seccomp -----------------------------------------------------------------------------------


def _build_filter(allow_exec: bool) -> Any:
    """A filter denying new processes, networking, and signals to other processes."""
    if seccomp is None:
        return None
    deny = seccomp.ERRNO(errno.EPERM)
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    # clone without CLONE_THREAD is a fork (glibc's fork() uses clone); threads stay allowed.
    f.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone
    for name in (
        "fork",
        "vfork",
        "socket",
        "socketpair",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "chroot",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "userfaultfd",
        "io_uring_setup",
        "setsid",
        "setpgid",
        "pidfd_send_signal",
        "pidfd_getfd",
        "process_madvise",
        "kcmp",
    ):
        with contextlib.suppress(RuntimeError, ValueError):
            f.add_rule(deny, name)
    if not allow_exec:
        f.add_rule(deny, "execve")
        f.add_rule(deny, "execveat")
    # Signals only to itself: no kill(-1), no process group, no fork server, no jail init.
    for name in ("kill", "tgkill", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        f.add_rule(deny, name, seccomp.Arg(0, seccomp.MASKED_EQ, 0x80000000, 0x80000000))
        for pid in (0, 1, SERVER_PID, ZYGOTE.get("pid", 0)):
            f.add_rule(deny, name, seccomp.Arg(0, seccomp.EQ, pid))
    # Resource limits of itself only (pid 0): never of the fork server.
    f.add_rule(deny, "prlimit64", seccomp.Arg(0, seccomp.NE, 0))
    return f


FILTERS: dict[str, Any] = {}


def _filters() -> dict[str, Any]:
    if not FILTERS and seccomp is not None:
        FILTERS["inline"] = _build_filter(allow_exec=False)
        FILTERS["exec"] = _build_filter(allow_exec=True)
    return FILTERS


# -- child setup ---------------------------------------------------------------------------------


def _apply_limits(limits: dict[str, Any], memory: bool) -> None:
    cpu = int(limits["time_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if memory:
        size = int(limits["memory_mb"]) * 1024 * 1024
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            size = min(size, hard)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    fsize = int(limits["file_size_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if os.getuid() != 0:  # ignored for root (the unsafe local backend as root)
        nproc = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _close_fds(keep: tuple[int, ...]) -> None:
    for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _child_setup(
    workdir: str,
    fds: tuple[int, int, int],
    limits: dict[str, Any],
    memory: bool,
    policy: str | None,
    keep: tuple[int, ...] = (),
) -> None:
    os.setpgid(0, 0)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    _close_fds(keep)
    os.chdir(workdir)
    os.umask(0o077)
    _apply_limits(limits, memory)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if policy is not None and _filters():
        _filters()[policy].load()


def _fresh_stdio() -> None:
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8", errors="replace"
    )
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8", errors="replace"
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="replace",
        line_buffering=True,
    )


def run_python_inline(code: Any, filename: str) -> None:
    """Run a compiled program as ``__main__`` of this (forked) interpreter, then exit.

    Exit as ``python3 main.py`` would: wait for non-daemon threads (the
    ``threading.Thread(target=main)`` idiom for a bigger stack), run atexit
    handlers, flush, then leave without the fork server's own cleanup.
    """
    _fresh_stdio()
    sys.argv = [filename]
    atexit._clear()  # handlers registered by the fork server are not the program's
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__file__": filename}
    status = _run_main(lambda: exec(code, namespace))
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads
    except BaseException as exc:
        status = status or _report(exc)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(status)


def _run_main(main: Callable[[], None]) -> int:
    try:
        main()
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:
        return _report(exc)
    return 0


def _report(exc: BaseException) -> int:
    # From the program's own frames on: the fork server's frames are noise.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    return 1


# -- running a child and watching it -----------------------------------------------------------


def _kill_strays() -> None:
    """Kill every process of the jail but this server; reap what it was given to reap.

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


def _classify(exit_status: int, stderr: str, timed_out: bool, over_output: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"exit_code": None, "signal": None}
    if os.WIFEXITED(exit_status):
        out["exit_code"] = os.WEXITSTATUS(exit_status)
    elif os.WIFSIGNALED(exit_status):
        out["signal"] = os.WTERMSIG(exit_status)
    sig = out["signal"]
    if timed_out or sig == signal.SIGXCPU:
        out["status"] = "timeout"
    elif over_output or sig == signal.SIGXFSZ:
        out["status"] = "output_limit"
    elif out["exit_code"] == 0:
        out["status"] = "ok"
    elif any(marker in stderr[-4000:] for marker in _MEMORY_MARKERS):
        out["status"] = "memory_limit"
    else:
        out["status"] = "runtime_error"
    return out


def _fork(start: Callable[[tuple[int, int, int]], None]) -> tuple[int, int, int, int, float]:
    """Fork a child that runs ``start(stdio_fds)``; returns pid, stdin w, stdout r, stderr r."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        try:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            os.environ.clear()
            os.environ.update(ENV)
            start((in_r, out_w, err_w))
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(2, traceback.format_exc().encode()[-2000:])
            os._exit(127)
        os._exit(0)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, out_r, err_r, started


def spawn_and_watch(
    start: Callable[[tuple[int, int, int]], None],
    stdin: bytes,
    limits: dict[str, Any],
    side: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Fork ``start`` with fresh stdio pipes; feed stdin, collect output, enforce limits.

    ``side`` are more pipes to drain while the child runs (another process's output).
    """
    pid, in_w, out_r, err_r, started = _fork(start)
    return _watch(pid, in_w, out_r, err_r, stdin, limits, started, side)


def _watch(
    pid: int,
    in_w: int,
    out_r: int,
    err_r: int,
    stdin: bytes,
    limits: dict[str, Any],
    started: float,
    side: tuple[int, ...],
) -> dict[str, Any]:
    cap = int(limits["output_bytes"])
    deadline = started + float(limits["time_s"])
    buffers = {fd: bytearray() for fd in (out_r, err_r, *side)}
    open_reads = set(buffers)
    pending = memoryview(stdin)
    writing: int | None = in_w
    if not pending:
        os.close(in_w)
        writing = None
    else:
        os.set_blocking(in_w, False)
    pidfd = os.pidfd_open(pid)
    exit_status: int | None = None
    rusage: Any = None
    timed_out = over_output = False
    while True:
        now = time.monotonic()
        if exit_status is None:
            if now >= deadline:
                timed_out = True
                break
            readable, writable, _ = select.select(
                [*open_reads, pidfd], [writing] if writing is not None else [], [], deadline - now
            )
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
            if fd == pidfd:
                _, exit_status, rusage = os.wait4(pid, 0)
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
        if over_output:
            break
    if exit_status is None:
        for kill in (os.killpg, os.kill):  # the group, and the child if it left it
            with contextlib.suppress(ProcessLookupError):
                kill(pid, signal.SIGKILL)
        _, exit_status, rusage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for fd in (out_r, err_r, pidfd, *([writing] if writing is not None else [])):
        with contextlib.suppress(OSError):
            os.close(fd)
    text = {fd: bytes(buf[:cap]).decode("utf-8", "replace") for fd, buf in buffers.items()}
    result = _classify(exit_status, text[err_r], timed_out, over_output)
    result.update(
        stdout=text[out_r],
        stderr=text[err_r],
        side=[text[fd] for fd in side],
        wall_s=round(wall, 6),
        cpu_s=round(rusage.ru_utime + rusage.ru_stime, 6) if rusage else 0.0,
        peak_memory_kb=int(rusage.ru_maxrss) if rusage else 0,
        truncated=over_output,
    )
    return result


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


def op_run(msg: dict[str, Any]) -> dict[str, Any]:
    """One process: ``inline`` Python source, or ``argv`` exec'd, with ``stdin``."""
    workdir = _workdir(msg["workdir"])
    _write_files(workdir, msg.get("files", {}))
    limits = msg["limits"]
    policy = msg.get("policy")  # "inline", "exec" or None (compilers)
    memory = bool(msg.get("memory_rlimit", True))
    stdin = msg.get("stdin", "").encode("utf-8", "surrogatepass")
    start: Callable[[tuple[int, int, int]], None]
    if msg.get("inline") is not None:
        filename = msg.get("filename", "main.py")
        try:
            code = compile(msg["inline"], filename, "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return {"status": "compile_error", "stderr": f"{type(exc).__name__}: {exc}"[:4000]}

        def start(fds: tuple[int, int, int]) -> None:
            _child_setup(workdir, fds, limits, memory, "inline")
            run_python_inline(code, filename)

    else:
        argv = [str(a) for a in msg["argv"]]

        def start(fds: tuple[int, int, int]) -> None:
            _child_setup(workdir, fds, limits, memory, policy)
            os.execve(argv[0], argv, ENV)

    try:
        result = spawn_and_watch(start, stdin, limits)
    finally:
        _kill_strays()
    if msg.get("fetch"):
        result["files"] = _fetch_files(workdir, list(msg["fetch"]), int(limits["output_bytes"]))
    return result


def _candidate_by_exec(
    workdir: str, entry_point: str, limits: dict[str, Any], rpc: tuple[int, int]
) -> tuple[int, int, int, bool]:
    """A candidate as a fresh interpreter (when the zygote is not there): ~20 ms more."""
    argv = [
        "/usr/bin/python3",
        "-I",
        os.path.join(JAIL_DIR, "candidate.py"),
        str(rpc[0]),
        str(rpc[1]),
        entry_point,
    ]

    def start(fds: tuple[int, int, int]) -> None:
        _child_setup(workdir, fds, limits, True, "exec", keep=rpc)
        for fd in rpc:
            os.set_inheritable(fd, True)
        os.execve(argv[0], argv, ENV)

    pid, cand_in, cand_out, cand_err, _ = _fork(start)
    os.close(cand_in)
    return pid, cand_out, cand_err, False


def _candidate_from_zygote(
    workdir: str, entry_point: str, limits: dict[str, Any], rpc: tuple[int, int]
) -> tuple[int, int, int, bool] | None:
    """Ask the zygote to fork a candidate; None when the zygote is gone."""
    sock = ZYGOTE.get("sock")
    if sock is None:
        return None
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    request = json.dumps({"workdir": workdir, "entry_point": entry_point, "limits": limits})
    try:
        socket.send_fds(sock, [request.encode()], [in_r, out_w, err_w, *rpc])
        reply = sock.recv(4096)
        pid = int(json.loads(reply)["pid"])
    except (OSError, ValueError, KeyError):
        ZYGOTE.pop("sock", None)
        for fd in (out_r, err_r):
            os.close(fd)
        return None
    finally:
        for fd in (in_r, in_w, out_w, err_w):
            os.close(fd)
    return pid, out_r, err_r, True


def _start_zygote() -> None:
    """Fork, before any request exists, a clean process that forks the candidates.

    A candidate forked from the fork server would hold in its memory the request
    it serves (the tests) and earlier ones; forked from this zygote it holds
    nothing but the workdir name and entry point it was started with, and it
    costs a fork instead of a new interpreter.
    """
    server_sock, zygote_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        server_sock.close()
        ZYGOTE["pid"] = os.getpid()
        try:
            _zygote_loop(zygote_sock)
        finally:
            os._exit(0)
    zygote_sock.close()
    ZYGOTE.update(pid=pid, sock=server_sock)


def _zygote_loop(sock: socket.socket) -> None:
    # Children are reaped by the kernel the moment they die: no zombie outlives a run.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _filters()  # built once here (with this zygote's pid protected), loaded by each child
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, 5)
        except OSError:
            return
        if not data:
            return  # the server is gone
        request = json.loads(data)
        pid = os.fork()
        if pid == 0:
            _zygote_child(sock, request, fds)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


def _zygote_child(sock: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        rpc = (fds[3], fds[4])
        _child_setup(
            request["workdir"],  # a path the server made for this run
            (fds[0], fds[1], fds[2]),
            request["limits"],
            True,
            "inline",
            keep=rpc,
        )
        os.environ.clear()
        os.environ.update(ENV)
        _fresh_stdio()
        with open("main.py", encoding="utf-8", errors="surrogateescape") as f:
            source = f.read()
        sys.argv = ["main.py"]
        harness.serve_candidate(compile(source, "main.py", "exec"), request["entry_point"], *rpc)
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc().encode()[-2000:])
        os._exit(1)
    os._exit(0)


def op_call(msg: dict[str, Any]) -> dict[str, Any]:
    """A harness process calls a Python candidate's function in another process.

    The candidate cannot reach the harness: separate processes, the verdict on
    the harness's own stdout, values passed as plain encoded data (harness.py).
    """
    workdir = _workdir(msg["workdir"])
    limits = msg["limits"]
    try:
        compile(msg["source"], "main.py", "exec")  # syntax errors answer before any fork
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return {"status": "compile_error", "stderr": f"{type(exc).__name__}: {exc}"[:4000]}
    to_cand_r, to_cand_w = os.pipe()
    from_cand_r, from_cand_w = os.pipe()
    rpc_candidate = (to_cand_r, from_cand_w)
    rpc_harness = (from_cand_r, to_cand_w)

    _write_files(workdir, {"main.py": msg["source"]})
    started = _candidate_from_zygote(workdir, msg["entry_point"], limits, rpc_candidate)
    if started is None:
        started = _candidate_by_exec(workdir, msg["entry_point"], limits, rpc_candidate)
    cpid, cand_out, cand_err, zygote_child = started
    for fd in rpc_candidate:
        os.close(fd)
    keys = ("entry_point", "test_code", "inputs", "outputs", "stop_at_first")
    spec: dict[str, Any] = {k: msg[k] for k in keys if k in msg}

    def start_harness(fds: tuple[int, int, int]) -> None:
        _child_setup(workdir, fds, limits, True, "inline", keep=rpc_harness)
        _fresh_stdio()
        harness.run_harness(spec, *rpc_harness)

    try:
        run = spawn_and_watch(start_harness, b"", limits, side=(cand_out, cand_err))
    finally:
        for fd in (*rpc_harness, cand_out, cand_err):
            with contextlib.suppress(OSError):
                os.close(fd)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(cpid, signal.SIGKILL)
        if not zygote_child:  # the zygote reaps its own children
            os.waitpid(cpid, 0)
        _kill_strays()
    verdict: Any = None
    if run["status"] == "ok":
        with contextlib.suppress(ValueError):
            verdict = harness.parse_verdict(run["stdout"])
    stdout, stderr = run.pop("side")
    run.update(verdict=verdict, harness_stderr=run["stderr"][-2000:], stdout=stdout, stderr=stderr)
    return run


def op_cleanup(msg: dict[str, Any]) -> dict[str, Any]:
    """Remove a working directory; in a jail, also whatever runs left elsewhere in /tmp."""
    name = msg["workdir"]
    if name and "/" not in name and not name.startswith("."):
        shutil.rmtree(os.path.join(WORK_ROOT, name), ignore_errors=True)
    if JAILED:  # one item at a time per jail: nothing a run wrote outlives the item
        # /dev/shm is read-only under bwrap, a writable tmpfs in a Docker container.
        for root in ("/tmp", WORK_ROOT, "/dev/shm"):
            _wipe(root, keep=WORK_ROOT)
    return {"status": "ok"}


def _wipe(root: str, keep: str) -> None:
    with contextlib.suppress(OSError):
        for entry in os.listdir(root):
            path = os.path.join(root, entry)
            if path == keep:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def op_ping(msg: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "seccomp": bool(_filters()), "uid": os.getuid(), "pid": SERVER_PID}


OPS = {"ping": op_ping, "run": op_run, "call": op_call, "cleanup": op_cleanup}


def _not_dumpable() -> None:
    # Inherited by every forked child: no process of the jail can open another's
    # /proc/<pid>/{mem,fd,environ} (same uid otherwise would allow it).
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def main() -> None:
    _not_dumpable()
    # The protocol moves off fds 0/1 so that children can take fresh stdio.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.makedirs(WORK_ROOT, mode=0o700, exist_ok=True)
    _start_zygote()
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
