"""Re-score saved results with the current verifiers and report what changed.

Before training on data judged by an older verifier (or another configuration),
a user re-scores the saved file (``referee score --rescore``) and sees which
verdicts an upgrade changes: per class (the verifier, and for ``math`` the kind
of reference answer: integer, fraction, interval...) and direction:

- ``0→1``, ``1→0``: a binary reward flipped; ``up``, ``down``: any other change
  of reward (partial credit, shaping);
- ``ok→error``, ``error→ok``: judged before and not now, or the reverse;
- ``outcome``: same reward, another outcome (``incorrect`` became ``no_answer``);
- ``new``: the saved file has no result for the item.

A verdict is one item's result, or for a list spec each component's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from referee.service.saved import Record
from referee.verifiers.answer_kind import answer_kind

__all__ = ["DIRECTIONS", "Change", "Report", "compare"]

DIRECTIONS = ("0→1", "1→0", "up", "down", "ok→error", "error→ok", "outcome", "new")

_SHOWN_CHANGES = 20  # changed verdicts listed in the text report


@dataclass(frozen=True, slots=True)
class _Verdict:
    name: str
    reward: float | None  # None: an error
    outcome: str | None
    error_kind: str | None
    ref: str  # "version/params_digest", or "unknown" (saved before provenance)
    extracted: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One verdict that changed."""

    index: int  # position of the item in the saved file
    id: str | None
    where: str
    cls: str
    direction: str
    before: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "where": self.where,
            "class": self.cls,
            "direction": self.direction,
            "before": self.before,
            "after": self.after,
        }


@dataclass(slots=True)
class Report:
    """Counts per class and direction, the changed verdicts, the verifiers before and after."""

    items: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)  # per class
    changed: dict[str, Counter[str]] = field(default_factory=dict)  # class -> direction -> n
    changes: list[Change] = field(default_factory=list)
    before: dict[str, Counter[str]] = field(default_factory=dict)  # verifier -> ref -> n
    after: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def total_changed(self) -> int:
        return len(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "verdicts": sum(self.verdicts.values()),
            "changed": self.total_changed,
            "classes": {
                cls: {"verdicts": n, **{d: self.changed.get(cls, Counter())[d] for d in DIRECTIONS}}
                for cls, n in sorted(self.verdicts.items())
            },
            "verifiers": {
                name: {"before": dict(self.before.get(name, {})), "after": dict(refs)}
                for name, refs in sorted(self.after.items())
            },
            "changes": [c.to_json() for c in self.changes],
        }

    def render(self, shown: int = _SHOWN_CHANGES) -> str:
        """The report as text for a terminal."""
        lines = [
            f"re-scored {self.items} items ({sum(self.verdicts.values())} verdicts): "
            f"{self.total_changed} changed"
        ]
        lines.append("verifiers (version/params digest: verdicts):")
        for name, refs in sorted(self.after.items()):
            before = ", ".join(f"{r}: {n}" for r, n in sorted(self.before.get(name, {}).items()))
            after = ", ".join(f"{r}: {n}" for r, n in sorted(refs.items()))
            lines.append(f"  {name}: before {before or '-'}; now {after}")
        used = [d for d in DIRECTIONS if any(c[d] for c in self.changed.values())]
        width = max([len("class"), *map(len, self.verdicts)])
        lines.append("by class:")
        lines.append(
            f"  {'class':<{width}}  {'verdicts':>8}  {'changed':>7}"
            + "".join(f"  {d:>8}" for d in used)
        )
        for cls, n in sorted(self.verdicts.items()):
            counts = self.changed.get(cls, Counter())
            lines.append(
                f"  {cls:<{width}}  {n:>8}  {sum(counts.values()):>7}"
                + "".join(f"  {counts[d]:>8}" for d in used)
            )
        if self.changes:
            lines.append(f"changed verdicts (first {min(shown, len(self.changes))}):")
            for c in self.changes[:shown]:
                label = f"id={c.id} " if c.id is not None else ""
                lines.append(f"  [{c.index}] {label}{c.cls} {c.direction}: {c.before} -> {c.after}")
        return "\n".join(lines)


def _ref(result: dict[str, Any] | None) -> str:
    if not isinstance(result, dict) or not isinstance(result.get("verifier"), dict):
        return "unknown"
    v = result["verifier"]
    return f"{v.get('version')}/{v.get('params_digest')}"


def _verdicts(result: dict[str, Any], names: Sequence[str]) -> list[_Verdict]:
    """One verdict per component (one for a single spec), named by the current spec."""
    error = result.get("error") or {}
    kind = error.get("kind") if isinstance(error, dict) else None
    components = result.get("components")
    if components and len(components) == len(names) > 0:
        return [
            _Verdict(
                names[k],
                c.get("reward"),
                c.get("outcome"),
                None if c.get("reward") is not None else kind,
                _ref(c),
                _extracted(c),
            )
            for k, c in enumerate(components)
        ]
    reward = result.get("reward") if result.get("status") == "ok" else None
    name = names[0] if len(names) == 1 else "+".join(names)
    return [_Verdict(name, reward, result.get("outcome"), kind, _ref(result), _extracted(result))]


def _extracted(result: dict[str, Any]) -> str | None:
    details = result.get("details")
    value = details.get("extracted") if isinstance(details, dict) else None
    return value if isinstance(value, str) else None


def _direction(old: _Verdict, new: _Verdict) -> str | None:
    if old.reward is None and new.reward is None:
        return None
    if old.reward is None:
        return "error→ok"
    if new.reward is None:
        return "ok→error"
    if math.isclose(old.reward, new.reward, abs_tol=1e-9):
        return "outcome" if old.outcome != new.outcome else None
    if old.reward == 0 and new.reward == 1:
        return "0→1"
    if old.reward == 1 and new.reward == 0:
        return "1→0"
    return "up" if new.reward > old.reward else "down"


def _describe(v: _Verdict) -> str:
    if v.reward is None:
        return f"error ({v.error_kind})"
    text = f"{v.outcome} {v.reward:g}"
    if v.extracted is not None:
        text += f" (extracted {v.extracted[:60]!r})"
    return text


def _names(new: dict[str, Any]) -> list[str]:
    components = new.get("components")
    if components:
        return [str(c.get("name")) for c in components]
    ref = new.get("verifier")
    return [str(ref.get("name")) if isinstance(ref, dict) else "unknown"]


def compare(records: Sequence[Record], new_results: Sequence[dict[str, Any]]) -> Report:
    """The changes from each record's saved result to its new one (same order)."""
    report = Report(items=len(records))
    for index, (record, new) in enumerate(zip(records, new_results, strict=True)):
        names = _names(new)
        after = _verdicts(new, names)
        before = None if record.result is None else _verdicts(record.result, names)
        if before is not None and len(before) != len(after):  # the spec changed shape
            before = _verdicts({**record.result, "components": None}, ["+".join(names)])  # type: ignore[dict-item]
            after = _verdicts({**new, "components": None}, ["+".join(names)])
        for k, verdict in enumerate(after):
            cls = verdict.name
            if cls == "math":
                cls = f"math/{answer_kind(record.item.get('reference'))}"
            report.verdicts[cls] += 1
            report.after.setdefault(verdict.name, Counter())[verdict.ref] += 1
            old = None if before is None else before[k]
            if old is not None:
                report.before.setdefault(verdict.name, Counter())[old.ref] += 1
            direction = "new" if old is None else _direction(old, verdict)
            if direction is None:
                continue
            report.changed.setdefault(cls, Counter())[direction] += 1
            report.changes.append(
                Change(
                    index,
                    record.item.get("id"),
                    record.where,
                    cls,
                    direction,
                    "-" if old is None else _describe(old),
                    _describe(verdict),
                )
            )
    return report
