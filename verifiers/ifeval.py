"""``ifeval``: verifiable instruction following (IFEval's instruction set, as used in RLVR).

Reference, in IFEval's own format::

    {"instruction_id_list": ["length_constraints:number_words", "punctuation:no_comma"],
     "kwargs": [{"num_words": 100, "relation": "at least"}, {}]}

(``kwargs`` entries may carry IFEval's unused keys set to ``null``; they are
ignored.) The response judged is the answer region (after ``</think>``). Reward:
1 when every instruction is followed (``scoring: "all"``), or the share followed
(``scoring: "fraction"``). ``loose: true`` is IFEval's loose accuracy: an
instruction also counts as followed when it holds without the first or last
line, or without ``*`` markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from referee.verifiers._extract import answer_region
from referee.verifiers._ifeval_checks import CHECKS, RELATION_KEYS, VALID_RELATIONS
from referee.verifiers._types import Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["IFEVAL", "IfevalParams", "extract", "grade"]

MAX_INSTRUCTIONS = 32


@dataclass(frozen=True)
class IfevalParams:
    """Parameters of ``ifeval``.

    - ``scoring``: ``all`` (1 only if every instruction is followed) or ``fraction``.
    - ``loose``: IFEval's loose variant (first/last line or ``*`` markup ignored).
    """

    scoring: Literal["all", "fraction"] = "all"
    loose: bool = False


def extract(response: str, reference: Any, params: IfevalParams, context: Context) -> str:
    """The answer region, as written (layout matters to paragraphs and lists)."""
    return answer_region(response)


def _variants(text: str, loose: bool) -> list[str]:
    if not loose:
        return [text]
    lines = text.split("\n")
    cut = [
        text,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return [v for v in cut + [v.replace("*", "") for v in cut] if v.strip()]


def _clean(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (kwargs or {}).items() if v is not None}


def grade(extracted: str, reference: Any, params: IfevalParams, context: Context) -> Score:
    """Check each instruction; details list which were followed."""
    ids: list[str] = reference["instruction_id_list"]
    if not extracted.strip():
        return Score(0.0, Outcome.NO_ANSWER, {"followed": [False] * len(ids)})
    variants = _variants(extracted, params.loose)
    followed = [
        any(CHECKS[i].run(v, _clean(k)) for v in variants)
        for i, k in zip(ids, reference["kwargs"], strict=True)
    ]
    details = {
        "followed": followed,
        "failed": [i for i, ok in zip(ids, followed, strict=True) if not ok],
    }
    share = sum(followed) / len(followed)
    if share == 1.0:
        return Score(1.0, Outcome.CORRECT, details)
    reward = share if params.scoring == "fraction" else 0.0
    return Score(reward, Outcome.PARTIAL if share > 0 else Outcome.INCORRECT, details)


def check_reference(reference: Any, params: IfevalParams) -> None:
    if not isinstance(reference, dict):
        raise InvalidReference('reference must be {"instruction_id_list": [...], "kwargs": [...]}')
    ids, kwargs = reference.get("instruction_id_list"), reference.get("kwargs")
    if not isinstance(ids, list) or not 0 < len(ids) <= MAX_INSTRUCTIONS:
        raise InvalidReference(
            f"reference.instruction_id_list must list 1 to {MAX_INSTRUCTIONS} instruction ids"
        )
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise InvalidReference("reference.kwargs must be a list as long as instruction_id_list")
    for n, (name, raw) in enumerate(zip(ids, kwargs, strict=True)):
        where = f"reference.kwargs[{n}]"
        if name not in CHECKS:
            raise InvalidReference(
                f"reference.instruction_id_list[{n}]: unknown instruction {str(name)[:80]!r}; "
                f"valid: {', '.join(sorted(CHECKS))}"
            )
        if raw is not None and not isinstance(raw, dict):
            raise InvalidReference(f"{where} must be an object")
        given = _clean(raw)
        for key, kind in CHECKS[name].needs.items():
            value: Any = given.get(key)
            ok = isinstance(value, kind) and not isinstance(value, bool)
            if kind is int:
                ok = ok and value >= 0
            if kind is list:
                ok = ok and bool(value) and all(isinstance(w, str) and w for w in value)
            if kind is str:
                ok = ok and bool(value.strip())
            if not ok:
                raise InvalidReference(f"{where}.{key} is required for {name}: a {kind.__name__}")
            if key in RELATION_KEYS and value not in VALID_RELATIONS:
                raise InvalidReference(f"{where}.{key} must be 'less than' or 'at least'")


IFEVAL = register(
    Verifier(
        name="ifeval",
        version="1",
        params_type=IfevalParams,
        extract=extract,
        grade=grade,
        description="IFEval's verifiable instructions; 1 if all are followed (or the share).",
        check_reference=check_reference,
    )
)
