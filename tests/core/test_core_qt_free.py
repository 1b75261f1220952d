"""core/ never imports PySide6 or qasync: checked in a fresh interpreter over every module, present and future."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import backend_manager_gui.core as core
    names = [core.__name__]
    for info in pkgutil.walk_packages(core.__path__, core.__name__ + "."):
        names.append(info.name)
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an import error is reported, not hidden
            failed[name] = repr(exc)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "qasync", "shiboken6"))
    print(json.dumps({"modules": names, "failed": failed, "qt": qt}))
    """
)


def test_every_core_module_imports_without_qt() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["qt"] == []
    # the walk really covers the package (remote, models, and the local manager's subpackage)
    assert "backend_manager_gui.core.remote" in report["modules"]
    assert "backend_manager_gui.core.models" in report["modules"]
    assert any(name.startswith("backend_manager_gui.core.local.") for name in report["modules"])
