"""Interactive problems of the ``code`` verifier: the candidate talks to an interactor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from referee import sandbox
from referee.verifiers._types import CannotJudge, Score

if TYPE_CHECKING:
    from referee.verifiers.code import CodeSpec

__all__ = ["run_interactive"]


def run_interactive(
    box: sandbox.Sandbox, workdir: str, lang: sandbox.Language, inline: str | None, spec: CodeSpec
) -> Score:
    raise CannotJudge("unsupported_test", "interactive problems are not supported yet")
