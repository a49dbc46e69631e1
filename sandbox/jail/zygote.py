"""The zygote: a clean interpreter that forks every Python candidate of the jail.

``python3 -I zygote.py SOCK_FD SERVER_PID`` is exec'd by the fork server: a
fresh image that never holds a request. Each request on its socket is the bare
word ``fork`` with file descriptors: a sealed spec (memfd: mode, workdir,
limits, the program's source and entry point), the child's stdin, stdout and
stderr, and for a function-call test the two pipes to the harness. The zygote
forks without reading the spec; the child reads it, confines itself and runs
the program. So no candidate, nor the zygote, ever holds the hidden tests,
another item's program, or anything the fork server was sent.

The zygote answers ``{"pid": N}`` for each fork and, when the child has exited,
``{"exited": N, "status": ..., "cpu_s": ..., "maxrss_kb": ...}`` (it is the
child's parent: only it can reap it and read its rusage).

``python3 -I zygote.py --once SPEC_FD [RFD WFD]``: the fallback when the
zygote is gone, run in a process the fork server already confined.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import json
import os
import select
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.jail import confine, harness
else:  # inside the jail the scripts are plain top-level modules
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import confine
    import harness

FILTERS: dict[str, Any] = {}


def run_python_inline(code: Any, filename: str) -> None:
    """Run a compiled program as ``__main__`` of this (forked) interpreter, then exit.

    Exit as ``python3 main.py`` would: wait for non-daemon threads (the
    ``threading.Thread(target=main)`` idiom for a bigger stack), run atexit
    handlers, flush, then leave without the zygote's own cleanup.
    """
    sys.argv = [filename]
    atexit._clear()  # handlers registered by the zygote are not the program's
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
    # From the program's own frames on: the jail's frames are noise.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    return 1


def read_spec(fd: int) -> dict[str, Any]:
    with os.fdopen(fd, "rb") as f:
        spec: dict[str, Any] = json.loads(f.read())
    return spec


def _run(spec: dict[str, Any], rpc: tuple[int, ...]) -> None:
    """Run the program of a confined child (never returns)."""
    filename = str(spec.get("filename") or "main.py")
    code = compile(spec.pop("source"), filename, "exec")
    sys.path[0] = spec["workdir"]  # as ``python3 main.py``: the program's own directory
    if spec["mode"] == "call":
        sys.argv = [filename]
        harness.serve_candidate(code, spec["entry_point"], rpc[0], rpc[1])
        os._exit(0)
    run_python_inline(code, filename)


def _child(fds: list[int]) -> None:
    try:
        spec = read_spec(fds[0])
        rpc = tuple(fds[4:6])
        confine.child_setup(
            spec["workdir"],  # a path the server made for this run
            (fds[1], fds[2], fds[3]),
            spec["limits"],
            confine.memory_kind(spec.get("memory")),
            FILTERS.get("inline"),
            keep=rpc,
        )
        confine.fresh_stdio()
        _run(spec, rpc)
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc().encode()[-2000:])
        os._exit(1)
    os._exit(0)


def serve(sock: socket.socket) -> None:
    """Fork a child per request; report each child's end. Returns when the server hangs up."""
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        readable, _, _ = select.select([sock.fileno(), *children], [], [])
        for pidfd in [fd for fd in readable if fd in children]:
            pid = children.pop(pidfd)
            os.close(pidfd)
            _, status, usage = os.wait4(pid, 0)
            report = {
                "exited": pid,
                "status": status,
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 6),
                "maxrss_kb": int(usage.ru_maxrss),
            }
            sock.send(json.dumps(report).encode())
        if sock.fileno() not in readable:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 4096, 8)
        except OSError:
            return
        if not data:
            return  # the server is gone
        rss = confine.rss_kb()
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(fds)
        for fd in fds:
            os.close(fd)
        children[os.pidfd_open(pid)] = pid
        sock.send(json.dumps({"pid": pid, "rss_kb": rss}).encode())


def once(spec_fd: int, rpc: tuple[int, ...]) -> None:
    """Run one program in this fresh interpreter (already confined by the fork server)."""
    spec = read_spec(spec_fd)
    protected = tuple(int(p) for p in spec.get("protect", ()))
    policy = confine.build_filters(protected).get("inline")
    if policy is not None:  # on top of the exec filter it came with: no exec from here on
        policy.load()
    confine.fresh_stdio()
    _run(spec, rpc)


def main() -> None:
    confine.not_dumpable()  # exec made it dumpable again
    if sys.argv[1] == "--once":
        once(int(sys.argv[2]), tuple(int(a) for a in sys.argv[3:5]))
        return
    sock = socket.socket(fileno=int(sys.argv[1]))
    FILTERS.update(confine.build_filters((int(sys.argv[2]), os.getpid())))
    serve(sock)


if __name__ == "__main__":
    main()
