"""Between items: nothing a run left in /tmp or in the jail's IPC namespace survives.

A program runs as the jail's uid, which owns what it made, so permissions do not
stop the wipe: each directory is made 0700 before it is read and emptied. What
cannot be removed (a tree deeper than any honest program makes, an entry that
comes back) is reported, and the fork server then asks to be replaced: a fresh
jail has a fresh /tmp and a fresh IPC namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Callable

_MAX_DEPTH = 200
_IPC_RMID = 0


class Unremovable(Exception):
    """Something a run left could not be removed."""


def _empty(dir_fd: int, depth: int) -> None:
    """Remove every entry of the open directory ``dir_fd``, whatever its permissions."""
    if depth > _MAX_DEPTH:
        raise Unremovable("directory tree too deep")
    for entry in list(os.scandir(dir_fd)):
        name = entry.name
        try:
            mode = os.lstat(name, dir_fd=dir_fd).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(mode):
            os.chmod(name, 0o700, dir_fd=dir_fd)  # a plain directory (lstat): no link to follow
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                _empty(fd, depth + 1)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


def wipe(root: str, mode: int) -> None:
    """Empty ``root`` (kept, with ``mode`` again); Unremovable if anything stays."""
    try:
        os.chmod(root, mode)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            _empty(fd, 0)
            if os.listdir(fd):
                raise Unremovable(f"{root} is not empty after the wipe")
        finally:
            os.close(fd)
    except OSError as exc:
        raise Unremovable(f"cannot wipe {root}: {exc}") from exc


def remove_ipc() -> int:
    """Remove every SysV message queue, shared-memory segment and semaphore set there is.

    Only in a jail: the IPC namespace is then the jail's own. Returns how many
    were removed (seccomp denies making them; this is the second line).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    removers: dict[str, Callable[[int], int]] = {
        "msg": lambda i: int(libc.msgctl(i, _IPC_RMID, None)),
        "shm": lambda i: int(libc.shmctl(i, _IPC_RMID, None)),
        "sem": lambda i: int(libc.semctl(i, 0, _IPC_RMID)),
    }
    removed = 0
    for kind, remove in removers.items():
        with contextlib.suppress(OSError):
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()[1:]
            for line in lines:
                ident = int(line.split()[1])  # columns: key id ...
                if remove(ident) != 0:
                    raise Unremovable(f"cannot remove {kind} {ident}: errno {ctypes.get_errno()}")
                removed += 1
    return removed
