"""The real OS keyring (Windows Credential Manager, macOS Keychain, Secret Service), where the machine has one:
a token stored through the app's SecretStore is in the keyring, not in the owner-only fallback file, reads back,
and is gone after delete. Every other test uses a file keyring (tests/conftest.py); this one asks for the
keyring the app would get, and is skipped, with the reason, where there is none (a headless Linux)."""

from __future__ import annotations

import uuid
from pathlib import Path

import keyring
import keyring.backend
import pytest

from backend_manager_gui.core.secrets import (
    KEYRING_SERVICE,
    SecretStore,
    keyring_usable,
)


@pytest.fixture
def os_keyring(monkeypatch: pytest.MonkeyPatch) -> object:
    """The keyring backend the app gets outside the tests (the file keyring is put back after the test)."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    # what keyring would pick by itself, leaving out the tests' own file keyring (imported, so a candidate too)
    candidates = [k for k in keyring.backend.get_all_keyring() if not type(k).__module__.startswith("tests.")]
    backend = max(candidates, key=keyring.backend.by_priority, default=None)
    if backend is None:
        pytest.skip("no OS keyring on this machine (keyring finds no usable backend)")
    keyring.set_keyring(backend)
    if not keyring_usable():
        pytest.skip(f"no usable OS keyring on this machine ({type(backend).__module__}.{type(backend).__name__})")
    probe = f"probe-{uuid.uuid4().hex}"
    try:
        keyring.set_password(KEYRING_SERVICE, probe, "x")
        keyring.delete_password(KEYRING_SERVICE, probe)
    except Exception as exc:  # noqa: BLE001 - a locked keychain on a CI runner, a Secret Service not running
        pytest.skip(f"the OS keyring {type(backend).__name__} cannot be used here: {type(exc).__name__}: {exc}")
    return backend


def test_a_token_goes_to_the_os_keyring_and_back(os_keyring: object, tmp_path: Path) -> None:
    fallback = tmp_path / "server-tokens.json"
    store = SecretStore(fallback)
    key = f"token:http://test-{uuid.uuid4().hex}:7801"
    try:
        store.set(key, "s3cret-for-the-keyring")
        assert store.where == "the OS keyring"
        assert not fallback.exists()  # nothing written to the file
        assert keyring.get_password(KEYRING_SERVICE, key) == "s3cret-for-the-keyring"
        assert SecretStore(tmp_path / "other.json").get(key) == "s3cret-for-the-keyring"  # a later start reads it
    finally:
        store.delete(key)
    assert keyring.get_password(KEYRING_SERVICE, key) is None and store.get(key) is None
