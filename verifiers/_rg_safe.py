"""reasoning-gym's scorers without their ``eval``: safe stand-ins, bound into the task modules.

Some of the library's ``score_answer`` functions call Python's ``eval`` (or sympy's
``parse_expr``, which evaluates Python too) on the model's answer or on fields of
the reference. ``harden()`` rebinds those names, in those task modules only, to
stand-ins that accept exactly the inputs a legitimate entry or answer has:

- ``eval`` of an answer or reference that is a list literal (string_insertion,
  spiral_matrix, binary_matrix, n_queens, number_sorting): ``ast.literal_eval``,
  size-bounded;
- ``eval`` of bitwise_arithmetic's problem (integers with ``+ - * << >>``): a
  small evaluator of that grammar, with bounded shifts;
- ``parse_expr`` (puzzle24, countdown, polynomial_multiplication, simple_ and
  intermediate_integration): the text must parse as a Python expression made only
  of numbers, names (no ``_``-prefixed ones), arithmetic operators and calls of a
  plain name; only then is it handed to sympy. No attribute, subscript, string,
  lambda or comprehension can reach sympy's ``eval``.

Anything else raises ``ValueError``, which the library's scorers catch and score
as a wrong answer, as they do for any answer they cannot read.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import operator
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["EVAL_TASKS", "PARSE_EXPR_TASKS", "harden", "safe_arithmetic", "safe_literal"]

MAX_CHARS = 100_000
MAX_SHIFT = 4096
MAX_INT_BITS = 65_536

# task name -> module whose global ``eval`` is replaced, and by which stand-in
EVAL_TASKS = {
    "string_insertion": ("reasoning_gym.algorithmic.string_insertion", "literal"),
    "spiral_matrix": ("reasoning_gym.algorithmic.spiral_matrix", "literal"),
    "binary_matrix": ("reasoning_gym.algorithmic.binary_matrix", "literal"),
    "n_queens": ("reasoning_gym.games.n_queens", "literal"),
    "number_sorting": ("reasoning_gym.algorithmic.number_sorting", "literal"),
    "bitwise_arithmetic": ("reasoning_gym.arithmetic.bitwise_arithmetic", "arithmetic"),
}
# task name -> (module, the global that holds parse_expr: the function or the sympy module)
PARSE_EXPR_TASKS = {
    "puzzle24": ("reasoning_gym.games.puzzle24", "parse_expr"),
    "countdown": ("reasoning_gym.games.countdown", "parse_expr"),
    "polynomial_multiplication": ("reasoning_gym.algebra.polynomial_multiplication", "sp"),
    "simple_integration": ("reasoning_gym.algebra.simple_integration", "sympy"),
    "intermediate_integration": ("reasoning_gym.algebra.intermediate_integration", "sympy"),
}

_LITERAL_NODES = (
    ast.Expression, ast.List, ast.Tuple, ast.Constant, ast.UnaryOp, ast.USub, ast.UAdd, ast.Load,
)  # fmt: skip
_EXPR_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.BitXor,
)  # fmt: skip


# parse_expr evaluates with Python's builtins in reach: none of them may be named.
_BUILTINS = frozenset(dir(builtins)) - {"abs"}


def _parse(text: Any) -> ast.Expression:
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        raise ValueError("not a string of a bounded size")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise ValueError("not a Python expression") from None
    return tree


def safe_literal(text: Any, *_: Any) -> Any:
    """``eval`` for answers that are (nested) lists or tuples of numbers and strings."""
    tree = _parse(text)
    for node in ast.walk(tree):
        if not isinstance(node, _LITERAL_NODES):
            raise ValueError(f"{type(node).__name__} is not allowed in a literal")
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float):
            raise ValueError("only numbers and strings")
    return ast.literal_eval(tree)


_BINARY: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


def _arith(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _arith(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.LShift | ast.RShift):
            if not 0 <= right <= MAX_SHIFT:
                raise ValueError("shift out of range")
            result = left << right if isinstance(node.op, ast.LShift) else left >> right
        elif type(node.op) in _BINARY:
            result = _BINARY[type(node.op)](left, right)
        else:
            raise ValueError(f"{type(node.op).__name__} is not allowed")
        if result.bit_length() > MAX_INT_BITS:
            raise ValueError("number too large")
        return result
    raise ValueError(f"{type(node).__name__} is not allowed")


def safe_arithmetic(text: Any, *_: Any) -> int:
    """``eval`` for integer expressions with ``+ - * << >>`` and parentheses."""
    return _arith(_parse(text).body)


def _check_expression(text: Any) -> None:
    tree = _parse(text)
    for node in ast.walk(tree):
        if not isinstance(node, _EXPR_NODES):
            raise ValueError(f"{type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in _BUILTINS):
            raise ValueError(f"the name {node.id[:40]!r} is not allowed")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.keywords):
            raise ValueError("only calls of a plain function name")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ValueError("only numbers")


def _safe_parse_expr(real: Any) -> Any:
    def parse_expr(text: Any, *args: Any, **kwargs: Any) -> Any:
        _check_expression(text)
        return real(text, *args, **kwargs)

    return parse_expr


class _SympyView(types.ModuleType):
    """The sympy module as a task module sees it: ``parse_expr`` is the checked one."""

    def __init__(self, sympy: types.ModuleType) -> None:
        super().__init__(sympy.__name__)
        self._sympy = sympy
        self.parse_expr = _safe_parse_expr(sympy.parse_expr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sympy, name)


_lock = threading.Lock()
_done = False


def harden() -> None:
    """Rebind ``eval``/``parse_expr`` in every listed task module (idempotent)."""
    global _done
    with _lock:
        if _done:
            return
        for module_name, kind in EVAL_TASKS.values():
            module = importlib.import_module(module_name)
            module.eval = safe_literal if kind == "literal" else safe_arithmetic  # type: ignore[attr-defined]
        for module_name, name in PARSE_EXPR_TASKS.values():
            module = importlib.import_module(module_name)
            held = getattr(module, name)
            if isinstance(held, types.ModuleType):
                setattr(module, name, _SympyView(held))
            else:
                setattr(module, name, _safe_parse_expr(held))
        _done = True
