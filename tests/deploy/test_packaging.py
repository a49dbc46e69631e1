"""Every package folder is shipped in the wheel (the images install the wheel)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for dotted, folder in config["package-dir"].items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            name = ".".join([dotted, *relative.parts])
            if "__pycache__" not in relative.parts:
                assert name in listed, f"{name} ({init.parent}) is missing from packages"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_lock_pins_every_server_dependency() -> None:
    """deploy/requirements.lock is what the image installs (pip --no-index): a dependency
    added to pyproject.toml without running deploy/lock.sh would break the image build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins: dict[str, str] = {}
    for line in (ROOT / "deploy" / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[_normal(name)] = version
    for requirement in project["dependencies"]:
        name = _normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
        assert name in pins, (
            f"{requirement} is not in deploy/requirements.lock (run deploy/lock.sh)"
        )
