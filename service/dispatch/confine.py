"""Least privilege for the processes that judge.

Every verifier reads text written by a model under optimisation pressure, and
the libraries they call on it (sympy and math-verify's parsers, jsonschema,
reasoning-gym's scorers, plugins) can evaluate, fetch or read what they are
given. So a worker process, once it has imported what it needs (and, in the
code lane, started its jail), confines itself before it reads its first task;
an exploit in any library then has nowhere to go:

1. not dumpable: no other process of its uid can read its memory or fds;
2. as root: private mount, network and IPC namespaces. Every mount is made
   read-only, a fresh tmpfs on ``/tmp`` is the only writable place (the
   scratch dir), and a directory on the way to the interpreter that an
   unprivileged uid cannot cross (a Python under ``/root``) is replaced by a
   bare tmpfs holding only the interpreter's tree; no network device but a
   down loopback;
3. as root: an unprivileged uid and gid of its own (one per worker slot);
4. rlimits: no core files, bounded file size and open files;
5. Landlock, where the kernel has it: reads only under the interpreter's trees,
   the code's own and system libraries, writes only in scratch, no TCP, no
   signals or abstract sockets outside its own domain;
6. seccomp: no exec, no new processes, no new sockets, no ptrace or
   cross-process memory access, no signals to other processes, no mount,
   namespace, keyring, bpf or io_uring calls.

Layers that this machine cannot give (no root in a container, no Landlock)
are left out and listed in the returned :class:`Confinement`, which the pool
logs and exports as a metric. Containers add their own layers (read-only root
filesystem, no capabilities, network policy: see the Helm chart).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = ["Confinement", "confine", "read_roots"]

_libc = ctypes.CDLL(None, use_errno=True)

_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_MS_STRICTATIME = 1 << 24
_MOUNT_FLAGS = {
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
    "strictatime": _MS_STRICTATIME,
}
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_SCRATCH = "/tmp"
_SCRATCH_BYTES = 256 * 1024 * 1024
_FILE_SIZE = 256 * 1024 * 1024
_OPEN_FILES = 1024


@dataclass
class Confinement:
    """What a worker process could apply to itself (``missing``: what it could not)."""

    uid: int
    scratch: str
    namespaces: bool = False
    read_only: bool = False
    own_uid: bool = False
    landlock_abi: int = 0
    seccomp: bool = False
    missing: list[str] = field(default_factory=list)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {target}",
    )


def _unescape(path: str) -> str:
    # /proc/self/mountinfo writes space, tab, newline and backslash as \ooo.
    return path.encode().decode("unicode_escape").encode("latin-1").decode(errors="replace")


def _mounts() -> list[tuple[str, int]]:
    """Mount points of this namespace with the flags a bind remount must keep."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            flags = 0
            for option in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(option, 0)
            out.append((_unescape(fields[4]), flags))
    return out


def _crossable(path: Path, uid: int) -> bool:
    st = path.stat()
    return bool(st.st_mode & stat.S_IXOTH) or st.st_uid == uid


def _hidden_behind(roots: Iterable[Path], uid: int) -> dict[Path, list[Path]]:
    """For each root below a directory ``uid`` cannot cross: that directory -> roots."""
    out: dict[Path, list[Path]] = {}
    for root in roots:
        for parent in reversed(root.parents):
            if parent != Path("/") and not _crossable(parent, uid):
                out.setdefault(parent, []).append(root)
                break
    return out


def _reveal(barrier: Path, roots: list[Path]) -> None:
    """Replace ``barrier`` by a bare tmpfs holding read-only binds of ``roots`` only."""
    fds = [os.open(root, os.O_PATH | os.O_DIRECTORY) for root in roots]
    try:
        _mount("tmpfs", str(barrier), "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")
        for root, fd in zip(roots, fds, strict=True):
            root.mkdir(parents=True, exist_ok=True, mode=0o755)
            _mount(f"/proc/self/fd/{fd}", str(root), None, _MS_BIND | _MS_REC, None)
            _mount(None, str(root), None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None)
        _mount(None, str(barrier), None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
    finally:
        for fd in fds:
            os.close(fd)


def _private_view(uid: int, roots: list[Path]) -> None:
    """New mount/net/IPC namespaces: everything read-only but a fresh scratch tmpfs."""
    _check(_libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC), "unshare")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    for target, flags in _mounts():
        with contextlib.suppress(OSError):  # a mount that cannot change is left as it was
            _mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags, None)
    size = f"size={_SCRATCH_BYTES},mode=0700,uid={uid},gid={uid}"
    _mount("tmpfs", _SCRATCH, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, size)
    for barrier, below in _hidden_behind(roots, uid).items():
        _reveal(barrier, below)


def _drop_to(uid: int, keep_groups: tuple[int, ...]) -> None:
    os.setgroups(list(keep_groups))
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def read_roots(extra: Iterable[str] = ()) -> list[Path]:
    """The trees a judging process reads: the interpreter, its libraries, loaded code."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *sys.path,
        *extra,
    }
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py") and "site-packages" not in path:
            candidates.add(os.path.dirname(path))
    roots: list[Path] = []
    for text in sorted(candidates):
        if not text:
            continue
        path = Path(text).resolve()
        if path.is_file():
            path = path.parent
        if path.is_dir():
            roots.append(path)
    roots.sort(key=lambda p: len(p.parts))
    minimal: list[Path] = []
    for path in roots:
        if not any(path.is_relative_to(kept) for kept in minimal):
            minimal.append(path)
    return minimal


# -- Landlock ------------------------------------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_ALL_V1 = (1 << 13) - 1
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_ALL = 0b11  # bind and connect TCP, ABI 4
_SCOPE_ALL = 0b11  # abstract unix sockets and signals, ABI 6
_SYSTEM_READ = ("/usr", "/lib", "/lib64", "/etc", "/sys/devices/system/cpu")
_DEVICES_RW = ("/dev/null", "/dev/zero", "/dev/full")
_DEVICES_R = ("/dev/urandom", "/dev/random")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall(number: int, *args: object) -> int:
    result: int = _libc.syscall(ctypes.c_long(number), *args)
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or not this architecture)."""
    if os.uname().machine not in ("x86_64", "aarch64"):
        return 0
    version = _syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), 1)
    return max(version, 0)


def _landlock(abi: int, reads: Iterable[Path], writes: Iterable[str]) -> None:
    handled = _FS_ALL_V1
    if abi >= 2:
        handled |= _FS_REFER
    if abi >= 3:
        handled |= _FS_TRUNCATE
    if abi >= 5:
        handled |= _FS_IOCTL_DEV
    attr = _RulesetAttr(handled, _NET_ALL if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    ruleset = _syscall(
        _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
    )
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    read = _FS_READ_FILE | _FS_READ_DIR
    rules: list[tuple[str, int]] = [(str(p), read) for p in reads]
    rules += [(p, read) for p in _SYSTEM_READ]
    rules += [(p, _FS_READ_FILE | _FS_WRITE_FILE) for p in _DEVICES_RW]
    rules += [(p, _FS_READ_FILE) for p in _DEVICES_R]
    rules.append((f"/proc/{os.getpid()}", read))
    rules += [(p, handled & ~(_FS_EXECUTE | _FS_IOCTL_DEV)) for p in writes]
    try:
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this machine
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= _FS_FILE_RIGHTS
                rule = _PathBeneathAttr(access & handled, fd)
                if _syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if _syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)


# -- seccomp -------------------------------------------------------------------------------

_AF_UNIX = 1
_CLONE_THREAD = 0x00010000
_F_SETOWN = 8
_F_SETSIG = 10
_F_SETOWN_EX = 15
_FIOSETOWN = 0x8901
_SIOCSPGRP = 0x8902
_TIOCSTI = 0x5412
_DENIED = (
    "execve",
    "execveat",
    "fork",
    "vfork",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "pidfd_send_signal",
    "kcmp",
    "mount",
    "umount2",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "capset",
    "setsid",
    "setpgid",
    "shmget",
    "msgget",
    "semget",
    "mq_open",
    "name_to_handle_at",
    "open_by_handle_at",
    "memfd_secret",
    "landlock_create_ruleset",
    "seccomp",
)


def _load_seccomp() -> ModuleType | None:
    # Imported before confining: pyseccomp finds libseccomp by running ldconfig.
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError):
        return None
    module: ModuleType = pyseccomp
    return module


def _seccomp(sc: ModuleType, connect_unix: bool) -> None:
    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in _DENIED:
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            f.add_rule(deny, name)
    f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))  # fork, not a thread
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc falls back to clone for threads
    if connect_unix:  # the Docker backend reaches its engine over a unix socket
        f.add_rule(deny, "socket", sc.Arg(0, sc.NE, _AF_UNIX))
        f.add_rule(deny, "socketpair", sc.Arg(0, sc.NE, _AF_UNIX))
    else:  # no new sockets at all: a judge talks over the pipe it was given
        for name in ("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"):
            f.add_rule(deny, name)
        f.add_rule(deny, "sendto", sc.Arg(4, sc.NE, 0))  # to an address: not a connected peer
    for cmd in (_F_SETOWN, _F_SETSIG, _F_SETOWN_EX):
        f.add_rule(deny, "fcntl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, cmd))
    for cmd in (_FIOSETOWN, _SIOCSPGRP, _TIOCSTI):
        f.add_rule(deny, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, cmd))
    # Signals and resource limits: this process only. A pid is 32 bits to the kernel,
    # 64 to the filter: NE on all 64 denies every value that is not exactly ours.
    me = os.getpid()
    for name in ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        f.add_rule(deny, name, sc.Arg(0, sc.NE, me))
    f.add_rule(deny, "prlimit64", sc.Arg(0, sc.NE, 0))
    f.load()


# -- secrets -------------------------------------------------------------------------------

_HARMLESS_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONHASHSEED", "PYTHONIOENCODING")


def _scrub_secrets(keep: tuple[str, ...]) -> None:
    """Forget the server's environment and command line: nothing a judge needs."""
    for name in list(os.environ):
        if name not in _HARMLESS_ENV and name not in keep and not name.startswith("LC_"):
            del os.environ[name]
    sys.argv = sys.argv[:1]
    # /proc/self/environ (and a read of our own memory) shows the block we started
    # with, whatever os.environ says now: overwrite it.
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50, 51)
    except (OSError, IndexError, ValueError):
        return
    if 0 < start < end:
        ctypes.memset(start, 0, end - start)
        for name, value in list(os.environ.items()):  # libc's copies pointed into the block
            os.environ[name] = value


# -- all together --------------------------------------------------------------------------


def confine(
    uid: int | None,
    scratch: str,
    *,
    keep_groups: tuple[int, ...] = (),
    keep_env: tuple[str, ...] = (),
    connect_unix: bool = False,
) -> Confinement:
    """Confine this process for good; apply what this machine allows.

    ``uid``: the unprivileged uid to become when running as root (None: stay).
    ``scratch``: the directory to write in when no private ``/tmp`` can be
    mounted (it must not exist yet).
    ``keep_groups``: supplementary groups kept (e.g. the Docker socket's group
    for the code lane of the docker backend, whose engine is root-equivalent).
    ``connect_unix``: may open AF_UNIX sockets and connect (the Docker engine's
    socket); otherwise no socket can be created, bound or connected at all (not
    the forkserver's, not syslog's).
    ``keep_env``: environment variables kept besides the harmless ones; every
    other one (API key digests, a Redis URL with its password) is removed, and
    the environment block the process started with is overwritten.
    """
    seccomp = _load_seccomp()
    _scrub_secrets(keep_env)
    start_uid = os.getuid()
    state = Confinement(uid=start_uid, scratch=_SCRATCH)
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    roots = read_roots()
    if start_uid == 0 and uid is not None:
        try:
            _private_view(uid, roots)
            state.namespaces = state.read_only = True
        except OSError as exc:  # a container without CAP_SYS_ADMIN
            state.missing.append(f"namespaces ({exc.strerror or exc})")
        try:
            if not state.namespaces:
                state.scratch = _own_scratch(scratch, uid)
            _drop_to(uid, keep_groups)
            state.uid, state.own_uid = uid, True
        except OSError as exc:  # root without CAP_SETUID/CAP_CHOWN (cap_drop: ALL)
            state.missing.append(f"own uid ({exc.strerror or exc})")
            if state.scratch == _SCRATCH and not state.namespaces:
                state.scratch = scratch if os.path.isdir(scratch) else _own_scratch(scratch, None)
    else:
        state.missing.append("namespaces (not root)")
        state.missing.append("own uid (not root)")
        state.scratch = _own_scratch(scratch, None)
    os.environ.update(TMPDIR=state.scratch, HOME=state.scratch)
    os.chdir(state.scratch)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_SIZE, _FILE_SIZE))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = min(_OPEN_FILES, hard) if hard != resource.RLIM_INFINITY else _OPEN_FILES
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, nofile), nofile))
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    abi = landlock_abi()
    if abi:
        try:
            _landlock(abi, roots, [state.scratch])
            state.landlock_abi = abi
        except OSError as exc:
            state.missing.append(f"landlock ({exc})")
    else:
        state.missing.append("landlock (not in this kernel)")
    if seccomp is None:
        state.missing.append("seccomp (no libseccomp)")
    else:
        try:
            _seccomp(seccomp, connect_unix)
            state.seccomp = True
        except (OSError, RuntimeError, ValueError) as exc:
            state.missing.append(f"seccomp ({exc})")
    return state


def _own_scratch(path: str, uid: int | None) -> str:
    """A private scratch directory when no private /tmp could be mounted.

    ``path`` is chosen by the pool, which empties it for the worker's successor
    and removes it when it closes.
    """
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path
