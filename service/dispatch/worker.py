"""The worker process: receives chunks of tasks over a pipe and grades them one by one.

Each task runs under a soft deadline (``ITIMER_REAL`` raising :class:`Deadline`,
a ``BaseException`` so that libraries catching ``Exception`` cannot swallow it).
Code stuck in C never sees the signal; for that the parent keeps a hard deadline
and kills the whole process (see ``pool.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import math
import os
import random
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType

from referee import sandbox, verifiers
from referee.sandbox import run_code
from referee.service.dispatch import _pipe, confine
from referee.service.dispatch._task import Task, TaskResult
from referee.verifiers import NO_CONTEXT, CannotJudge, Outcome, Score, second_opinion

__all__ = ["RETIRE", "RUN_CODE", "Deadline", "WorkerConfig", "grade_one", "main"]

_PR_SET_PDEATHSIG = 1
_MAX_REWARD = 1e6
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    item_timeout_s: float
    memory_limit_mb: int
    plugins: tuple[str, ...] = ()
    sandbox: str = "auto"
    opens_jail: bool = False  # code lane (or one shared lane): start the jail before confining
    jail_uid: int = 60000
    judge_uid: int = 60128
    confine: bool = True
    scratch: str = ""  # where to write when no private /tmp can be mounted (the pool's)
    second_opinion_rate: float = 0.0


# Sent instead of an RSS figure: replace this worker before its next task.
RETIRE = -1


class Deadline(BaseException):
    """The soft per-task deadline passed."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Deadline


def _rss_kb() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return 0


RUN_CODE = "sandbox.run_code"  # internal task: SandboxFusion-style /run_code


def _internal(task: Task, timeout_s: float) -> TaskResult:
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        payload = run_code.execute(task.reference)
    except Deadline:
        return TaskResult.fail(
            "deadline",
            "run_code took longer than its deadline",
            retryable=False,
            elapsed_s=time.perf_counter() - start,
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return TaskResult.answer(payload, time.perf_counter() - start)


_SECOND_OPINION_VERIFIERS = frozenset({"math"})
_MIN_SECOND_OPINION_S = 0.05


def second_opinion_of(task: Task, score: Score, budget_s: float) -> str:
    """The independent grader's view of a math verdict, within what is left of the deadline."""
    primary = score.outcome == Outcome.CORRECT
    answer = second_opinion.answer_of_extraction(task.extracted)
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        verdict = second_opinion.equivalent(answer, task.reference)
    except Deadline:
        return "undecided"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if verdict is None:
        return "undecided"
    if verdict == primary:
        return "agree"
    return "primary_accepted" if primary else "primary_rejected"


def grade_one(task: Task, timeout_s: float, second_opinion_rate: float = 0.0) -> TaskResult:
    """Grade one task under the soft deadline; every failure becomes a value.

    With ``second_opinion_rate``, that share of judged ``math`` items is also judged
    by the independent grader in what is left of the deadline; its view travels
    with the result (``second_opinion``), the score is the primary one.
    """
    if task.verifier == RUN_CODE:
        return _internal(task, timeout_s)
    start = time.perf_counter()
    verifier = verifiers.get(task.verifier)
    context = task.context if verifier.grade_uses_context else NO_CONTEXT
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        score = verifier.grade(task.extracted, task.reference, task.params, context)
    except Deadline:
        score = Score(0.0, Outcome.TIMEOUT, {"limit_s": timeout_s})
    except MemoryError:
        score = Score(0.0, Outcome.MEMORY_LIMIT, {})
    except CannotJudge as exc:
        return TaskResult.fail(
            exc.kind, str(exc), retryable=exc.retryable, elapsed_s=time.perf_counter() - start
        )
    except Exception as exc:
        message = f"{task.verifier}: {type(exc).__name__}: {str(exc)[:200]}"
        return TaskResult.fail(
            "verifier_error", message, retryable=False, elapsed_s=time.perf_counter() - start
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if not math.isfinite(score.reward) or abs(score.reward) > _MAX_REWARD:
        return TaskResult.fail(
            "verifier_error",
            f"{task.verifier}: reward {score.reward!r} is not a usable number",
            retryable=False,
            elapsed_s=time.perf_counter() - start,
        )
    result = TaskResult.ok(score, time.perf_counter() - start)
    left = timeout_s - result.elapsed_s
    if (
        second_opinion_rate > 0.0
        and task.verifier in _SECOND_OPINION_VERIFIERS
        and score.outcome in (Outcome.CORRECT, Outcome.INCORRECT)
        and left > _MIN_SECOND_OPINION_S
        and random.random() < second_opinion_rate
    ):
        label = second_opinion_of(task, score, left)
        result = dataclasses.replace(result, second_opinion=label)
    return result


def _limit_memory(limit_mb: int) -> None:
    # Soft limit only: the sandbox's jails, started from here, lift it for themselves
    # and set their own per-run limits.
    if limit_mb > 0:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _reap_orphans() -> None:
    # Jails' outer processes can exit before their children: we are the subreaper.
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends the loop
        pass


_DOCKER_ENV = ("DOCKER_HOST", "REFEREE_DOCKER_IMAGE", "REFEREE_DOCKER_RUNTIME")


def _docker_groups(config: WorkerConfig) -> tuple[int, ...]:
    """The Docker socket's group, kept by the code lane of the docker backend."""
    if not config.opens_jail or config.sandbox != "docker":
        return ()
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    path = host.removeprefix("unix://")
    try:
        return (os.stat(path).st_gid,)
    except OSError:
        return ()


def _open_jail(config: WorkerConfig) -> bool:
    """Start the code lane's jail while we may still start processes."""
    if not config.opens_jail:
        return False
    try:
        sandbox.current()
    except sandbox.SandboxUnavailable:
        return False  # code items get the reason, as before
    return True


def _jail_lost(has_jail: bool) -> bool:
    opened = sandbox.opened()
    return has_jail and (opened is None or not opened.alive)


def main(conn: Connection, config: WorkerConfig) -> None:
    """Serve chunks until the pipe closes or ``None`` arrives.

    Sends a hello with its confinement report once, then one reply per task, in
    order (``_pipe.py``: parsed by the pool, never unpickled). A reply's
    ``rss_kb`` is measured after the last task of a chunk (0 otherwise) so the
    parent can recycle us, or is :data:`RETIRE` when a confined code-lane worker
    lost its jail and must be replaced.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _on_alarm)
    _die_with_parent()
    _become_subreaper()
    sandbox.configure(config.sandbox, 0, config.jail_uid)
    verifiers.load_builtin(config.plugins)
    has_jail = _open_jail(config)
    _limit_memory(config.memory_limit_mb)
    report: dict[str, object] = {"missing": ["confinement (switched off)"]}
    if config.confine:
        docker = config.opens_jail and config.sandbox == "docker"
        state = confine.confine(
            config.judge_uid,
            config.scratch,
            keep_groups=_docker_groups(config),
            keep_env=_DOCKER_ENV if docker else (),
            connect_unix=docker,
        )
        report = dataclasses.asdict(state)
    conn.send_bytes(_pipe.hello(report))
    while True:
        try:
            chunk: list[Task] | None = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        last = len(chunk) - 1
        for i, task in enumerate(chunk):
            result = grade_one(
                task, task.timeout_s or config.item_timeout_s, config.second_opinion_rate
            )
            _reap_orphans()
            if config.confine and _jail_lost(has_jail):
                conn.send_bytes(_pipe.reply(result, RETIRE))
                return
            conn.send_bytes(_pipe.reply(result, _rss_kb() if i == last else 0))
