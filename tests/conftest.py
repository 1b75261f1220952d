from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from tests.support.file_keyring import FileKeyring

# Headless everywhere: no test may need a display or a desktop session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A broken SSL_CERT_FILE must not matter to plain-http tests (seen on bare Debian); leave it as the environment has it.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False, help="run the long variants of reliability tests")
    parser.addoption(
        "--burn", type=int, default=int(os.environ.get("BM_TEST_BURN") or 0), metavar="N",
        help="run N CPU-burning processes beside the suite, to check that no result depends on an idle machine "
        "(also BM_TEST_BURN=N; see tests/support/load.py)",
    )


# a busy loop that ends by itself when pytest is gone (its parent changes), should pytest die without cleaning up
_BURNER = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(200_000):\n        pass\n"
_burners: list[subprocess.Popen[bytes]] = []


def pytest_configure(config: pytest.Config) -> None:
    for _ in range(config.getoption("--burn")):
        _burners.append(subprocess.Popen([sys.executable, "-c", _BURNER], stdin=subprocess.DEVNULL))


def pytest_report_header(config: pytest.Config) -> str | None:
    n = config.getoption("--burn")
    return f"burn: {n} CPU-burning processes run beside the suite (pids {[p.pid for p in _burners]})" if n else None


def pytest_unconfigure(config: pytest.Config) -> None:
    while _burners:
        proc = _burners.pop()
        proc.kill()
        proc.wait()


@pytest.fixture(autouse=True)
def _test_keyring(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> FileKeyring:
    """Every test gets its own file-backed keyring (this machine has no desktop keyring)."""
    path = Path(tmp_path_factory.mktemp("keyring")) / "keyring.json"
    monkeypatch.setenv("BM_TEST_KEYRING_FILE", str(path))
    backend = FileKeyring(path)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
