"""confine() where no namespace or uid change is possible (containers): Landlock and seccomp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from referee.service.dispatch import confine

CHILD = r"""
import json, os, socket, sys
from referee.service.dispatch.confine import confine
scratch, outside = sys.argv[1], sys.argv[2]
state = confine(None, scratch)
out = {"missing": state.missing, "scratch": state.scratch, "landlock": state.landlock_abi,
       "seccomp": state.seccomp}
def attempt(name, fn):
    try:
        fn()
        out[name] = "done"
    except OSError as exc:
        out[name] = type(exc).__name__
attempt("write_outside", lambda: open(outside, "w").write("x"))
attempt("write_scratch", lambda: open(os.path.join(state.scratch, "f"), "w").write("x"))
attempt("socket", lambda: socket.socket())
attempt("exec", lambda: os.execv("/bin/true", ["true"]))
print(json.dumps(out))
"""


@pytest.mark.skipif(not confine.landlock_abi(), reason="this kernel has no Landlock")
def test_without_root_landlock_and_seccomp_still_hold(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    outside = Path("/var/tmp") / f"referee-confine-unit-{os.getpid()}"
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(scratch), str(outside)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["scratch"] == str(scratch) and out["landlock"] > 0 and out["seccomp"]
    assert "namespaces (not root)" in out["missing"]
    assert out["write_scratch"] == "done"
    assert out["write_outside"] == "PermissionError" and not outside.exists()
    assert out["socket"] == "PermissionError"
    assert out["exec"] == "PermissionError"
