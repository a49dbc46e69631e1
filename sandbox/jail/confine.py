"""What a program's process takes on before it runs: rlimits, fresh stdio, a seccomp filter.

Shared by the fork server (exec'd programs, the harness) and the zygote
(Python candidates). A plain module of the jail: no imports of the host package.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import resource
import signal
import sys
from typing import Any

try:  # python3-seccomp; without it runs still get namespaces and rlimits
    import seccomp
except ImportError:  # pragma: no cover - depends on the machine
    seccomp = None

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
CLONE_THREAD = 0x00010000
_LOW32 = 0xFFFFFFFF
_PR_SET_DUMPABLE = 4
# fcntl commands that make the kernel signal a chosen process or group on I/O.
_F_SETOWN, _F_SETSIG, _F_SETOWN_EX = 8, 10, 15
# ioctls that do the same (sockets, ttys), or push input into a terminal.
_FIOSETOWN, _SIOCSPGRP, _TIOCSPGRP, _TIOCSTI, _TIOCSCTTY = 0x8901, 0x8902, 0x5410, 0x5412, 0x540E

_DENIED = (
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
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "process_madvise",
    "process_mrelease",
    "kcmp",
    "ioprio_set",
    # IPC objects outlive the process that made them: no item may leave one for the next.
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
)
_SIGNALLING = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Their first argument is a pid (0: the caller): only the caller itself may be changed.
_SELF_ONLY = (
    "prlimit64",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
    "migrate_pages",
    "move_pages",
)


def build_filter(allow_exec: bool, protected: tuple[int, ...]) -> Any:
    """A filter denying new processes, networking, IPC, and acting on other processes.

    ``protected`` are pids no signal may reach (the fork server, the zygote).
    Pid arguments are ``pid_t`` (32 bits) but seccomp sees 64-bit registers:
    every pid comparison masks to the low 32 bits, else ``kill(2**32 + pid)``
    would pass a rule that the kernel's own reading does not.
    """
    if seccomp is None:
        return None
    deny = seccomp.ERRNO(errno.EPERM)
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    # clone without CLONE_THREAD is a fork (glibc's fork() uses clone); threads stay allowed.
    f.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone
    for name in _DENIED:
        with contextlib.suppress(RuntimeError, ValueError):
            f.add_rule(deny, name)
    if not allow_exec:
        f.add_rule(deny, "execve")
        f.add_rule(deny, "execveat")
    # Signals only to itself: no kill(-1), no process group, no fork server, no zygote.
    for name in _SIGNALLING:
        f.add_rule(deny, name, seccomp.Arg(0, seccomp.MASKED_EQ, 0x80000000, 0x80000000))
        for pid in sorted({0, 1, *protected}):
            f.add_rule(deny, name, seccomp.Arg(0, seccomp.MASKED_EQ, _LOW32, pid & _LOW32))
    for name in _SELF_ONLY:  # any bit set denies: stricter than the kernel's 32-bit reading
        with contextlib.suppress(RuntimeError, ValueError):
            f.add_rule(deny, name, seccomp.Arg(0, seccomp.NE, 0))
    f.add_rule(deny, "setpriority", seccomp.Arg(0, seccomp.NE, 0))  # PRIO_PROCESS only
    f.add_rule(deny, "setpriority", seccomp.Arg(1, seccomp.NE, 0))  # of itself only
    for cmd in (_F_SETOWN, _F_SETSIG, _F_SETOWN_EX):
        f.add_rule(deny, "fcntl", seccomp.Arg(1, seccomp.MASKED_EQ, _LOW32, cmd))
    for cmd in (_FIOSETOWN, _SIOCSPGRP, _TIOCSPGRP, _TIOCSTI, _TIOCSCTTY):
        f.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, _LOW32, cmd))
    return f


def build_filters(protected: tuple[int, ...]) -> dict[str, Any]:
    """The two policies: ``inline`` (no exec) and ``exec``; empty without seccomp."""
    if seccomp is None:
        return {}
    return {
        "inline": build_filter(False, protected),
        "exec": build_filter(True, protected),
    }


def not_dumpable() -> None:
    """No process of the jail may open this one's /proc/<pid>/{mem,fd,environ}.

    Inherited by forked children; exec resets it, so each exec'd jail process
    (the server, the zygote) calls this first.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def rss_kb() -> int:
    """This process's resident set now (a forked child starts with it counted)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    return 0


def apply_limits(limits: dict[str, Any], memory: str) -> None:
    """rlimits of one run; ``memory`` is ``as`` (address space), ``data`` or ``none``."""
    cpu = int(limits.get("cpu_s") or limits["time_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    kind = {"as": resource.RLIMIT_AS, "data": resource.RLIMIT_DATA}.get(memory)
    if kind is not None:
        size = (int(limits["memory_mb"]) + int(limits.get("memory_extra_mb", 0))) * 1024 * 1024
        hard = resource.getrlimit(kind)[1]
        if hard != resource.RLIM_INFINITY:
            size = min(size, hard)
        resource.setrlimit(kind, (size, size))
    fsize = int(limits["file_size_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if os.getuid() != 0:  # ignored for root (the unsafe local backend as root)
        nproc = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def close_fds(keep: tuple[int, ...]) -> None:
    for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def child_setup(
    workdir: str,
    fds: tuple[int, int, int],
    limits: dict[str, Any],
    memory: str,
    policy: Any,
    keep: tuple[int, ...] = (),
) -> None:
    """Own process group, stdio on ``fds``, nothing else open but ``keep``, limits, filter.

    ``policy`` is a filter from :func:`build_filter`, or None (no seccomp).
    """
    os.setpgid(0, 0)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    close_fds(keep)
    os.environ.clear()
    os.environ.update(ENV)
    os.chdir(workdir)
    os.umask(0o077)
    apply_limits(limits, memory)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if policy is not None:
        policy.load()


def memory_kind(value: Any) -> str:
    """The wire's ``memory_rlimit``: ``as``/``data``/``none`` (older senders: a bool)."""
    if value is True or value is None:
        return "as"
    if value is False:
        return "none"
    return str(value) if value in ("as", "data", "none") else "as"


def fresh_stdio() -> None:
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
