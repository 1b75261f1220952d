"""`pip install .` installs every package of the app: pyproject lists them by hand (resources/ is mapped into the
package), so a new subpackage left off the list would be missing from a real install while an editable one works."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_installed() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"])
    in_tree = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "backend_manager_gui").rglob("__init__.py")}
    assert in_tree - listed == set(), "packages a `pip install .` would leave out"
