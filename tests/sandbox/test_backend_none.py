"""The `none` backend: code execution switched off (the Helm chart's default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from referee import sandbox
from referee.sandbox import SandboxUnavailable
from referee.sandbox.backend import BACKENDS, open_sandbox
from referee.verifiers._types import CannotJudge, Context
from referee.verifiers.code import CodeParams, grade


@pytest.fixture
def code_disabled() -> Iterator[None]:
    sandbox.configure("none", slot=0)
    yield
    sandbox.configure("auto", slot=0)


def test_none_is_a_backend_that_refuses() -> None:
    assert "none" in BACKENDS
    with pytest.raises(SandboxUnavailable, match="disabled"):
        open_sandbox("none", uid=60900)


def test_code_items_are_refused_not_zero(code_disabled: None, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    program = f"open({str(marker)!r}, 'w').write('x')\nprint(1)\n"
    reference = {"language": "python", "tests": [{"stdin": "", "stdout": "1"}]}
    with pytest.raises(CannotJudge) as caught:
        grade(program, reference, CodeParams(), Context())
    assert caught.value.kind == "sandbox_unavailable"
    assert "disabled" in str(caught.value)
    # The refusal an item carries names the settings that turn code on.
    assert "REFEREE_SANDBOX=bwrap" in str(caught.value)
    assert "REFEREE_WORKER_SANDBOX=docker" in str(caught.value)
    assert not marker.exists()
