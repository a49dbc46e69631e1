"""Packaging: every sub-package is listed, and the server installs without the training stack."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for name, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found == set(), "listed but not a package"


TRAINING_STACK = {"torch", "trl", "transformers", "accelerate", "datasets", "pytest"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def test_the_server_depends_on_no_training_or_test_stack() -> None:
    """`pip install referee` (and `make serve`) must not pull torch and friends."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    assert names & TRAINING_STACK == set()
    assert "reasoning-gym" not in names  # an extra: `pip install referee[reasoning-gym]`


def test_the_image_lock_carries_no_training_stack() -> None:
    lock = (ROOT / "deploy" / "requirements.lock").read_text().splitlines()
    pinned = {_name(line) for line in lock if line.strip() and not line.startswith("#")}
    assert pinned & TRAINING_STACK == set()
    assert not {n for n in pinned if n.startswith(("nvidia-", "torch"))}


def _recipe(makefile: str, target: str) -> tuple[str, str]:
    """(prerequisites, recipe) of a rule in the Makefile."""
    match = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", makefile, re.M)
    assert match, f"no rule for {target} in the Makefile"
    return match.group(1), match.group(2)


def test_make_serve_installs_only_the_server() -> None:
    makefile = (ROOT / "Makefile").read_text()
    prerequisites, _ = _recipe(makefile, "serve")
    assert "install-serve" in prerequisites.split("##")[0].split()
    assert "install" not in prerequisites.split("##")[0].split()
    _, recipe = _recipe(makefile, "$(SERVE_STAMP)")
    installs = [line for line in recipe.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("-e ." in line and "[" not in line for line in installs)
    # A full install counts as a server install: `make serve` after `make test` is a no-op.
    _, full = _recipe(makefile, "$(STAMP)")
    assert "$(SERVE_STAMP)" in full.splitlines()[-1]
    assert "'.[dev,train]'" in full
