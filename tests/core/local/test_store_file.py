"""backends.json itself: what is written, what reads back, and every way a damaged file is moved aside.

test_store.py checks the same through a running LocalService; these go to the file and the lock directly, one
case each (mutation testing found the cases unchecked: docs/TESTING.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local.store import (
    BackendRecord,
    BackendStore,
    DataDirLock,
)
from tests.support.load import measure

FULL: dict[str, Any] = {"id": 3, "uid": "u-3", "type": "comfyui_selfstart", "title": "GPU 1", "enabled": False, "modcount": 7,
        "settings": {"GPU_ID": "1"}, "port": 7821}


def write(data_dir: Path, data: object) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "backends.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_saved_backends_read_back_in_id_order_with_every_field(tmp_path: Path) -> None:
    store = BackendStore(tmp_path)
    records = [BackendRecord(**FULL), BackendRecord(id=0, uid="u-0", type="command")]
    store.save(records)
    text = (tmp_path / "backends.json").read_text("utf-8")
    assert text.endswith("}\n") and json.loads(text) == {"version": 1, "backends": [
        {"id": 0, "uid": "u-0", "type": "command", "title": "", "enabled": True, "modcount": 0, "settings": {},
         "port": None}, FULL]}
    assert store.load() == ([BackendRecord(id=0, uid="u-0", type="command"), BackendRecord(**FULL)], [])


def test_an_entry_with_only_id_uid_and_type_reads_with_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, {"version": 1, "backends": [{"id": 2, "uid": "u", "type": "command"}, {**FULL, "id": 1}]})
    records, warnings = BackendStore(tmp_path).load()
    assert warnings == [] and [r.id for r in records] == [1, 2]  # in id order, whatever the file's order
    assert records[1] == BackendRecord(id=2, uid="u", type="command", title="", enabled=True, modcount=0,
                                       settings={}, port=None)


def test_no_file_is_no_backends_and_no_warning(tmp_path: Path) -> None:
    assert BackendStore(tmp_path / "never").load() == ([], [])


ENTRY: dict[str, Any] = {"id": 0, "uid": "u", "type": "command"}


@pytest.mark.parametrize(("content", "reason"), [
    ('{"version": 1, "backends": [', "JSONDecodeError"),
    ([], "ValueError: no backend list"),
    ({"version": 1}, "ValueError: no backend list"),
    ({"version": 1, "backends": {}}, "ValueError: no backend list"),
    ({"backends": []}, "ValueError: no version"),
    ({"version": "1", "backends": []}, "ValueError: no version"),
    ({"version": 1, "backends": [5]}, "ValueError: backend entry is not an object"),
    ({"version": 1, "backends": [{**ENTRY, "settings": []}]}, "ValueError: backend entry has bad settings or port"),
    ({"version": 1, "backends": [{**ENTRY, "port": "7821"}]}, "ValueError: backend entry has bad settings or port"),
    ({"version": 1, "backends": [{"uid": "u", "type": "command"}]}, "KeyError: 'id'"),
    ({"version": 1, "backends": [{"id": 0, "type": "command"}]}, "KeyError: 'uid'"),
    ({"version": 1, "backends": [{"id": 0, "uid": "u"}]}, "KeyError: 'type'"),
    *[({"version": 1, "backends": [{**ENTRY, key: value}]}, "ValueError: backend entry has a field of the wrong type")
      for key, value in [("id", "0"), ("id", True), ("id", -1), ("id", 1.0), ("uid", 5), ("type", None),
                         ("title", 5), ("enabled", "yes"), ("modcount", "1")]],
    ({"version": 1, "backends": [ENTRY, {**ENTRY, "uid": "v"}]}, "ValueError: duplicate backend ids"),
])
def test_a_damaged_file_is_moved_aside_and_the_warning_says_why_and_where(tmp_path: Path, content, reason) -> None:
    path = write(tmp_path, content)
    original = path.read_text("utf-8")
    records, warnings = BackendStore(tmp_path).load()
    assert records == [] and not path.exists()
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("backends.json.corrupt-")]
    assert re.fullmatch(r"backends\.json\.corrupt-\d{8}-\d{6}", aside.name)  # when: yyyymmdd-hhmmss
    assert aside.read_text("utf-8") == original  # kept whole, for the person to look at
    assert warnings == [f"The saved backends could not be read ({reason}"
                        + warnings[0].removeprefix(f"The saved backends could not be read ({reason}")]
    assert warnings[0].endswith(f"). The file was moved to {aside} and the manager started with no backends.")


def test_a_file_that_is_not_utf8_is_moved_aside_with_the_reason_cut_to_80_characters(tmp_path: Path) -> None:
    # a file damaged on disk, or saved by an editor in another encoding: the manager still starts
    path = write(tmp_path, "")
    path.write_bytes(b'{"version": 1, "backends": [{"id": 0, "uid": "u", "type": "command", "title": "'
                     + b"x" * 123456 + b'\xe9t\xe9"}]}')
    records, [warning] = BackendStore(tmp_path).load()
    assert records == [] and not path.exists()
    reason = "'utf-8' codec can't decode byte 0xe9 in position 123535: invalid continuation byte"
    assert len(reason) > 80 and f"(UnicodeDecodeError: {reason[:80]}). The file was moved to " in warning


def test_each_damaged_file_keeps_its_own_copy(tmp_path: Path) -> None:
    for n in range(3):  # three in the same second: none overwrites another
        write(tmp_path, f"damaged {n}")
        assert BackendStore(tmp_path).load()[0] == []
    asides = sorted(p.read_text() for p in tmp_path.iterdir() if p.name.startswith("backends.json.corrupt-"))
    assert asides == ["damaged 0", "damaged 1", "damaged 2"]


@pytest.mark.parametrize("taken", [1, 2])
def test_a_damaged_file_moved_aside_in_the_same_second_as_another_gets_the_next_number(tmp_path: Path, taken) -> None:
    # the names a damaged file could get this second and the next are taken already: "", "-1", ... up to taken
    now = time.time()
    stamps = {time.strftime("%Y%m%d-%H%M%S", time.localtime(now + dt)) for dt in (0, 1, 2)}
    tmp_path.mkdir(exist_ok=True)
    for stamp in stamps:
        for n in range(taken):
            (tmp_path / f"backends.json.corrupt-{stamp}{f'-{n}' if n else ''}").write_text(f"older {n}")
    write(tmp_path, "damaged")
    _, [warning] = BackendStore(tmp_path).load()
    [aside] = [p for p in tmp_path.iterdir() if p.read_text() == "damaged"]
    assert aside.name in {f"backends.json.corrupt-{stamp}-{taken}" for stamp in stamps}
    assert f"moved to {aside} " in warning
    assert sorted(p.read_text() for p in tmp_path.iterdir() if p != aside) == sorted(
        [f"older {n}" for n in range(taken)] * len(stamps))  # none of the older copies was touched


@pytest.mark.parametrize("version", [0, 1])
def test_this_format_and_older_ones_are_read(tmp_path: Path, version: int) -> None:
    write(tmp_path, {"version": version, "backends": [ENTRY]})
    assert BackendStore(tmp_path).load() == ([BackendRecord(**ENTRY)], [])


def test_a_file_from_a_newer_manager_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = write(tmp_path, {"version": 2, "backends": [5]})
    with pytest.raises(BackendApiError) as err:
        BackendStore(tmp_path).load()
    assert str(err.value) == (f"{path} was written by a newer Backend Manager (format 2); update this app, or use "
                              "another data folder.")
    assert json.loads(path.read_text()) == {"version": 2, "backends": [5]}


@pytest.mark.skipif(os.name == "nt", reason="a folder where the file should be reads differently on Windows")
def test_a_file_that_cannot_be_read_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    (tmp_path / "backends.json").mkdir()
    with pytest.raises(BackendApiError) as err:
        BackendStore(tmp_path).load()
    assert str(err.value) == f"Cannot read {tmp_path / 'backends.json'}: Is a directory."


def test_a_temp_file_left_by_a_killed_save_is_removed_on_load(tmp_path: Path) -> None:
    store = BackendStore(tmp_path)
    store.save([BackendRecord(**ENTRY)])
    stale = tmp_path / ".backends.json.abc123.tmp"
    stale.write_text("half a list")
    other = tmp_path / ".secrets.json.abc123.tmp"
    other.write_text("not ours")
    assert store.load() == ([BackendRecord(**ENTRY)], [])
    assert not stale.exists() and other.exists()


def test_the_lock_names_its_holder_and_lets_go(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "data" / "backends.lock")
    lock.acquire()  # makes the folder
    assert (tmp_path / "data" / "backends.lock.pid").read_text() == f"{os.getpid()}\n"
    refused = DataDirLock(tmp_path / "data" / "backends.lock")
    before = measure()
    started = time.perf_counter()
    with pytest.raises(BackendApiError):
        refused.acquire()
    took = time.perf_counter() - started
    # refused at once, not after waiting for the holder (the bound scales with the load measured here)
    assert took < before.worst(measure()).bound(0.2, 2), took
    refused.release()  # a refused manager closing: lets go of nothing, and leaves the holder's pid file alone
    assert lock.holder_pid() == os.getpid()
    assert lock.holder_pid() == os.getpid()
    with pytest.raises(BackendApiError) as err:
        DataDirLock(tmp_path / "data" / "backends.lock").acquire()
    assert str(err.value) == (f"The data folder {tmp_path / 'data'} is already managed by another Backend Manager "
                              f"(pid {os.getpid()}). Close that one first, or start this one with a different data "
                              "folder.")
    lock.release()
    assert not lock.pid_path.exists() and lock.holder_pid() is None
    lock.release()  # twice is harmless
    again = DataDirLock(tmp_path / "data" / "backends.lock")
    again.acquire()  # free again
    again.release()


def test_the_lock_makes_the_whole_data_folder_and_any_thread_may_let_it_go(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "new" / "data" / "backends.lock")
    lock.acquire()
    assert lock.pid_path.exists()
    lock.pid_path.unlink()  # someone removed the pid file: letting go still works
    closer = threading.Thread(target=lock.release)  # the manager may be closed from another thread
    closer.start()
    closer.join()
    again = DataDirLock(tmp_path / "new" / "data" / "backends.lock")
    again.acquire()
    again.release()


@pytest.mark.parametrize("pid_text", [b"", b"\n", b"not a pid", b"\xff\xfe12"])
def test_a_refusal_without_a_readable_pid_names_no_pid(tmp_path: Path, pid_text: bytes) -> None:
    lock = DataDirLock(tmp_path / "backends.lock")
    lock.acquire()
    try:
        lock.pid_path.write_bytes(pid_text)
        assert lock.holder_pid() is None
        with pytest.raises(BackendApiError) as err:
            DataDirLock(tmp_path / "backends.lock").acquire()
        assert "another Backend Manager. Close" in str(err.value)
    finally:
        lock.release()
