"""Verifiers that misbehave on purpose, loaded as a plugin by tests (REFEREE_PLUGINS).

The response text selects the misbehaviour, so one registered verifier covers
every case: ``hang_in_c`` blocks the soft-deadline signal and sleeps, as code
stuck in a C extension would (only the hard deadline ends it); ``sleep:S``
sleeps S seconds in Python; ``crash`` kills its own process; ``crash_group`` kills
its whole process group (a ``referee worker`` with its pool, started in a session of
its own: the item kills its worker every time, where the worker is not confined;
confined, the kill is refused and the item is a verifier error); ``raise`` raises a
bug-like exception; ``memory`` allocates until it fails; anything else is correct.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from referee.verifiers import Context, Outcome, Score, Verifier, register


@dataclass(frozen=True)
class MisbehaveParams:
    pass


def extract(response: str, reference: Any, params: MisbehaveParams, context: Context) -> str:
    return response.strip()


def grade(extracted: str, reference: Any, params: MisbehaveParams, context: Context) -> Score:
    if extracted == "hang_in_c":
        # Like a C extension stuck in a loop: the soft-deadline signal never arrives.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    elif extracted.startswith("sleep:"):
        time.sleep(float(extracted.split(":", 1)[1]))
    elif extracted == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif extracted == "crash_group":
        os.killpg(os.getpgrp(), signal.SIGKILL)
    elif extracted == "raise":
        raise ZeroDivisionError("a bug in a verifier")
    elif extracted == "memory":
        hog = [bytearray(10**8) for _ in range(10**4)]
        return Score(0.0, Outcome.INCORRECT, {"allocated": len(hog)})
    return Score(1.0, Outcome.CORRECT, {"pid": os.getpid()})


register(
    Verifier(
        name="misbehave",
        version="1",
        params_type=MisbehaveParams,
        extract=extract,
        grade=grade,
        description="Test-only verifier that misbehaves on demand.",
    )
)
