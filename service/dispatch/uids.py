"""Unprivileged uids for one worker pool: a jail uid and a judge uid per worker slot.

RLIMIT_NPROC counts every process of a uid on the machine, and a process may
signal or trace others of its own uid: so no two worker processes on a host
share a uid, including those of different ``referee serve`` / ``referee worker``
processes. Each pool claims a block of :data:`BLOCK` uids, held by an
``flock`` on a file named after the block (released when the process exits,
however it exits); the first free block from :data:`AUTO_BASE` up is taken
unless the operator names one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass

__all__ = ["AUTO_BASE", "BLOCK", "MAX_SLOTS", "UidBlock", "claim"]

AUTO_BASE = 60000
BLOCK = 256
MAX_SLOTS = BLOCK // 2
_AUTO_BLOCKS = 200


@dataclass(frozen=True, slots=True)
class UidBlock:
    """``BLOCK`` uids from ``base``: jails first, judges in the upper half."""

    base: int
    lock_fd: int | None = None

    def jail(self, slot: int) -> int:
        return self.base + slot

    def judge(self, slot: int) -> int:
        return self.base + MAX_SLOTS + slot

    def release(self) -> None:
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)


def _lock_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), "referee-uids")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path)
        os.chmod(path, 0o1777)  # servers of any user claim blocks here
    return path


def _try_lock(base: int) -> int | None:
    path = os.path.join(_lock_dir(), f"{base}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim(base: int | None, slots: int) -> UidBlock:
    """The block at ``base`` (as set by the operator), or the first free one."""
    if slots > MAX_SLOTS:
        raise ValueError(f"at most {MAX_SLOTS} worker processes per pool (asked for {slots})")
    if base is not None:
        # Named by the operator: used as given; the lock still keeps automatic claims off it.
        return UidBlock(base, _try_lock(base))
    for k in range(_AUTO_BLOCKS):
        candidate = AUTO_BASE + k * BLOCK
        fd = _try_lock(candidate)
        if fd is not None:
            return UidBlock(candidate, fd)
    raise RuntimeError(
        f"no free uid block among {_AUTO_BLOCKS} from {AUTO_BASE}; set REFEREE_SANDBOX_UID_BASE"
    )
