from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest

from tests.support.file_keyring import FileKeyring

# Headless everywhere: no test may need a display or a desktop session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A broken SSL_CERT_FILE must not matter to plain-http tests (seen on bare Debian); leave it as the environment has it.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False, help="run the long variants of reliability tests")


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
