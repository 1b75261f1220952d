"""The edit dialog against the real fake SwarmUI server: save, refusal kept in the dialog, secrets kept."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from backend_manager_gui.core.models import SECRET_MARKER
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.dialogs import EditBackendDialog, ask, edit_backend_dialog
from tests.gui.conftest import run
from tests.reliability.gui_support import LatenessProbe
from tests.support import fake_swarm
from tests.support import load as machine
from tests.support.fake_swarm import FakeSwarm


async def _until(cond: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_gui_thread() -> None:
    """Earlier tests' Qt objects die here, on the GUI thread, not in a worker thread (DNS, NVML) mid-test."""
    gc.collect()


def _open_dialog(parent: QWidget) -> EditBackendDialog | None:
    for dialog in parent.findChildren(EditBackendDialog):
        if dialog.isVisible():
            return dialog
    return None


def test_refusal_stays_in_the_dialog_with_the_input_then_save_succeeds(qtbot, loop) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        async with FakeSwarm(locked=True) as fake:
            bid = fake.add("swarmswarmbackend", title="Remote", settings={"AuthorizationHeader": "Bearer old"})
            service = RemoteService(fake.url)
            try:
                types = {t.id: t for t in await service.list_backend_types()}
                backend = (await service.list_backends())[bid]
                assert backend.settings["AuthorizationHeader"] == SECRET_MARKER
                task = asyncio.ensure_future(
                    edit_backend_dialog(parent, service, backend, types["swarmswarmbackend"])
                )
                await _until(lambda: _open_dialog(parent) is not None)
                dialog = _open_dialog(parent)
                assert dialog is not None and dialog.windowModality() == Qt.WindowModality.WindowModal  # open(), not exec()
                assert dialog.form.widget_for("AuthorizationHeader").text() == ""  # the marker is never shown
                dialog.title_edit.setText("Renamed")
                dialog.form.widget_for("Address").setText("http://10.0.0.5:7801")
                dialog.form.widget_for("ConnectionAttemptTimeoutSeconds").setValue(45)
                dialog.form.widget_for("AllowIdle").setChecked(True)
                dialog.id_spin.setValue(9)

                dialog.save_button.click()
                await _until(lambda: dialog.error_text() != "")
                assert dialog.error_text() == "Settings are locked."
                assert dialog.isVisible() and not task.done()
                assert dialog.save_button.isEnabled() and dialog.save_button.text() == "Save"
                # everything typed is still there
                assert dialog.title_edit.text() == "Renamed"
                assert dialog.id_spin.value() == 9
                assert dialog.form.widget_for("Address").text() == "http://10.0.0.5:7801"
                assert dialog.form.widget_for("ConnectionAttemptTimeoutSeconds").value() == 45
                assert dialog.form.widget_for("AllowIdle").isChecked()
                assert fake.backends[bid]["title"] == "Remote"

                fake.locked = False
                fake.latency = 0.3  # long enough to see the busy state
                dialog.save_button.click()
                await _until(lambda: not dialog.save_button.isEnabled())
                assert dialog.save_button.text() == "Saving…" and dialog.progress.isVisible()
                edited = await asyncio.wait_for(task, 10)
                assert edited is not None and edited.id == 9 and edited.title == "Renamed"
                assert _open_dialog(parent) is None  # closed
                on_server = fake.backends[9]
                assert on_server["title"] == "Renamed"
                assert on_server["settings"]["Address"] == "http://10.0.0.5:7801"
                assert on_server["settings"]["ConnectionAttemptTimeoutSeconds"] == 45
                assert on_server["settings"]["AllowIdle"] is True
                assert fake.secret_value(9, "AuthorizationHeader") == "Bearer old"  # untouched secret kept
            finally:
                await service.aclose()

    run(loop, scenario())


def test_typed_secret_reaches_the_server_and_cancel_changes_nothing(qtbot, loop) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        async with FakeSwarm() as fake:
            bid = fake.add("swarmswarmbackend", settings={"AuthorizationHeader": "old"})
            service = RemoteService(fake.url)
            try:
                btype = {t.id: t for t in await service.list_backend_types()}["swarmswarmbackend"]
                backend = (await service.list_backends())[bid]

                task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
                await _until(lambda: _open_dialog(parent) is not None)
                dialog = _open_dialog(parent)
                dialog.form.widget_for("Address").setText("changed")
                dialog.cancel_button.click()
                assert await asyncio.wait_for(task, 5) is None
                assert fake.calls["editbackend"] == 0 and fake.backends[bid]["settings"]["Address"] == ""

                task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
                await _until(lambda: _open_dialog(parent) is not None)
                dialog = _open_dialog(parent)
                dialog.form.widget_for("AuthorizationHeader").setText("Bearer new")
                dialog.save_button.click()
                edited = await asyncio.wait_for(task, 10)
                assert edited is not None and edited.settings["AuthorizationHeader"] == SECRET_MARKER
                assert fake.secret_value(bid, "AuthorizationHeader") == "Bearer new"
            finally:
                await service.aclose()

    run(loop, scenario())


def test_server_gone_shows_cannot_reach_in_the_dialog(qtbot, loop) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        fake = await FakeSwarm().start()
        bid = fake.add("comfyui_api")
        service = RemoteService(fake.url)
        try:
            btype = {t.id: t for t in await service.list_backend_types()}["comfyui_api"]
            backend = (await service.list_backends())[bid]
            task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
            await _until(lambda: _open_dialog(parent) is not None)
            dialog = _open_dialog(parent)
            dialog.form.widget_for("OverQueue").setValue(3)
            await fake.stop()
            dialog.save_button.click()
            await _until(lambda: dialog.error_text() != "", timeout=15)
            assert dialog.error_text().startswith("Cannot reach")
            assert dialog.isVisible() and dialog.form.widget_for("OverQueue").value() == 3
            dialog.reject()
            assert await asyncio.wait_for(task, 5) is None
        finally:
            await service.aclose()
            await fake.stop()

    run(loop, scenario())


def test_dropdown_value_not_offered_is_refused_before_sending(qtbot, loop) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        async with FakeSwarm() as fake:
            bid = fake.add("comfyui_selfstart", settings={"AutoUpdate": "sometimes"})
            service = RemoteService(fake.url)
            try:
                btype = {t.id: t for t in await service.list_backend_types()}["comfyui_selfstart"]
                backend = (await service.list_backends())[bid]
                task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
                await _until(lambda: _open_dialog(parent) is not None)
                dialog = _open_dialog(parent)
                assert dialog.form.widget_for("AutoUpdate").currentText() == "sometimes (not offered by the server)"
                dialog.save_button.click()
                await _until(lambda: dialog.error_text() != "")
                assert dialog.error_text().startswith("AutoUpdate:") and fake.calls["editbackend"] == 0
                dialog.form.widget_for("AutoUpdate").setCurrentIndex(2)  # "Don't Update"
                dialog.save_button.click()
                edited = await asyncio.wait_for(task, 10)
                assert edited is not None and fake.backends[bid]["settings"]["AutoUpdate"] == "false"
            finally:
                await service.aclose()

    run(loop, scenario())


def test_ask_returns_the_persons_answer(qtbot, loop) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    async def answer(accept: bool) -> bool:
        task = asyncio.ensure_future(ask(parent, "Delete", "Delete backend 3?", accept="Delete"))
        await _until(lambda: any(b.isVisible() for b in parent.findChildren(QMessageBox)))
        box = next(b for b in parent.findChildren(QMessageBox) if b.isVisible())
        assert box.text() == "Delete backend 3?"
        button = next(b for b in box.buttons() if b.text() == ("Delete" if accept else "Cancel"))
        button.click()
        return await asyncio.wait_for(task, 5)

    assert run(loop, answer(True)) is True
    assert run(loop, answer(False)) is False


def _huge_type(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A backend type of ``n`` settings of every kind (groups too) and a stored value that fits each one."""
    kinds = ["text", "integer", "decimal", "boolean", "dropdown", "list", "group", "colour"]
    settings, values = [], {}
    for i in range(n):
        kind = kinds[i % len(kinds)]
        settings.append({"name": f"S{i}", "type": kind, "default": None, "is_secret": False, "placeholder": "",
                         "values": ["a", "b"] if kind == "dropdown" else None, "value_names": None,
                         "description": f"setting {i}\nline 2"})
        value = {"text": f"t{i}", "integer": i, "decimal": i + 0.5, "boolean": i % 3 == 0, "dropdown": "b",
                 "list": [f"x{i}", "y"], "colour": f"#{i:06d}"}.get(kind)
        if value is not None:
            values[f"S{i}"] = value
    return {"id": "huge", "name": "Huge", "description": "", "is_standard": False, "settings": settings}, values


def test_ten_thousand_settings_open_without_freezing_and_save_sends_every_value(qtbot, loop, monkeypatch) -> None:
    """The dialog of a 10,000-setting type opens at once and builds the rest between events: the event loop is
    never blocked long while it opens and builds (it was frozen ~16 s), Save mid-build sends every setting, and
    text typed into a row the background build made is kept."""
    raw, stored = _huge_type(10_000)
    monkeypatch.setattr(fake_swarm, "BACKEND_TYPES", [*fake_swarm.BACKEND_TYPES, raw])
    parent = QWidget()
    qtbot.addWidget(parent)
    probe = LatenessProbe()
    load = machine.measure()
    late = "S3000"  # a text setting far past the rows built before the first paint

    async def scenario() -> None:
        async with FakeSwarm() as fake:
            bid = fake.add("huge", settings=stored)
            service = RemoteService(fake.url)
            try:
                btype = next(t for t in await service.list_backend_types() if t.id == "huge")
                backend = (await service.list_backends())[bid]
                fake.backends[bid]["settings"] = {}  # what the server holds after Save = what Save sent
                probe.start()
                task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
                await _until(lambda: _open_dialog(parent) is not None)
                dialog = _open_dialog(parent)
                assert dialog is not None
                await _until(lambda: dialog.form.is_built(late), timeout=60)
                assert not dialog.form.fully_built()  # Save comes while the rest is still being built
                edit = dialog.form.widget_for(late)
                assert edit.text() == stored[late]
                edit.selectAll()
                qtbot.keyClicks(edit, "typed late")
                # Opening, building and typing are watched; Save and close still touch every built row (disabling,
                # deleting: ~25 ms per 1,000 rows here), which this test does not bound.
                probe.stop()
                dialog.save_button.click()
                edited = await asyncio.wait_for(task, 30)
                assert edited is not None
                # every value went back unchanged (group headings, which the server lists too, pass through)
                assert backend.settings == {**stored, **{s["name"]: None for s in raw["settings"] if s["type"] == "group"}}
                assert fake.backends[bid]["settings"] == {**backend.settings, late: "typed late"}
            finally:
                probe.stop()
                await service.aclose()

    run(loop, scenario(), timeout=120)
    load = load.worst(machine.measure())
    assert probe.ticks > 10
    probe.assert_never_blocked(250, load)


def test_embedded_start_script_warns_while_it_is_not_main_py_and_the_manager_refuses_it(qtbot, loop, tmp_path) -> None:
    """The self-starting ComfyUI's StartScript must be ComfyUI's main.py: the dialog says so under the field while
    it is typed (the hint comes from the type's spec, not a name in the GUI), without blocking Save; the manager
    refuses it with the same rule."""
    from backend_manager_gui.core.local import LocalService

    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    main.write_text("")
    parent = QWidget()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        service = LocalService(tmp_path / "data")
        await service.start()
        try:
            added = await service.add_backend("comfyui_selfstart")
            await service.toggle_backend(added.id, False)  # nothing is started by the edit
            backend = (await service.list_backends())[added.id]
            btype = {t.id: t for t in await service.list_backend_types()}["comfyui_selfstart"]
            task = asyncio.ensure_future(edit_backend_dialog(parent, service, backend, btype))
            await _until(lambda: _open_dialog(parent) is not None)
            dialog = _open_dialog(parent)
            assert dialog is not None

            def warning() -> list[str]:
                """The warnings shown under the form's fields (the error banner is outside the form)."""
                return [lbl.text() for lbl in dialog.form.findChildren(QLabel) if lbl.isVisible() and "should" in lbl.text()]

            edit = dialog.form.widget_for("StartScript")
            assert warning() == []  # empty: nothing typed yet
            qtbot.keyClicks(edit, str(main.parent / "run.py"))
            assert warning() == ["StartScript should end in main.py."]
            assert dialog.save_button.isEnabled()
            dialog.save_button.click()
            await _until(lambda: dialog.error_text() != "")
            assert dialog.error_text() == "StartScript must be ComfyUI's main.py."  # the manager's own refusal
            assert warning() == ["StartScript should end in main.py."] and dialog.isVisible()
            edit.setText(str(main))
            assert warning() == []
            dialog.save_button.click()
            edited = await asyncio.wait_for(task, 10)
            assert edited is not None and edited.settings["StartScript"] == str(main)
        finally:
            await service.aclose()

    run(loop, scenario())
