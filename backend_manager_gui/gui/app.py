"""Start-up and shutdown of the desktop app: QApplication + qasync, one window, an orderly quit.

``run_app(args, token)`` (called by cli.py) picks the connection (``--server``, ``--data-dir``, else the last
one used, else this computer), runs ``main()`` on a qasync loop, and on quit stops the poller and then closes
the service — the embedded manager stops its workers (the window asks first when some are running).

Start-up paints first (docs/PERFORMANCE.md, P3): the window's frame (``MainWindow(None, profile=...)``) is shown
and painted with only Qt, this module, the profiles and the table's modules imported; then come logging,
asyncio and qasync, the service (``main()``) and the rest of the window (``MainWindow.complete()``). So this
module imports at its top only what the frame needs, and the rest where it is used.
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..paths import APP_AUTHOR, APP_NAME, default_log_dir
from .profiles import LOCAL_DEFAULT, ConnectionKind, ConnectionProfile, ProfileStore

if TYPE_CHECKING:
    import argparse
    import asyncio
    from types import TracebackType

    from .main_window import MainWindow

log = logging.getLogger("backend_manager_gui")

#: Unexpected errors already shown, so a repeating failure does not stack message boxes.
_SHOWN: set[str] = set()


def _setup_logging() -> None:
    import logging.handlers

    log_dir = default_log_dir()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_dir / "app.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"))
    except OSError:
        pass  # a read-only home must not stop the app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers)


def show_unexpected_error(text: str, details: str = "") -> None:
    """Log and show an error nobody handled, in a non-modal box (never a nested event loop)."""
    from PySide6.QtWidgets import QMessageBox

    from .main_window import MainWindow

    log.error("unexpected error: %s\n%s", text, details)
    app = QApplication.instance()
    if app is None or text in _SHOWN:
        return
    _SHOWN.add(text)
    parent = QApplication.activeWindow() or next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
    box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                      f"Something went wrong inside Backend Manager:\n\n{text}\n\nThe app keeps running; the details are in the log.",
                      QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.finished.connect(lambda _r: _SHOWN.discard(text))
    box.finished.connect(box.deleteLater)
    box.open()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    import traceback

    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    show_unexpected_error(f"{exc_type.__name__}: {exc}", "".join(traceback.format_exception(exc_type, exc, tb)))


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    import traceback

    exc = context.get("exception")
    message = context.get("message", "error in a background task")
    if isinstance(exc, BaseException):
        show_unexpected_error(f"{message}: {type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc)))
    else:
        show_unexpected_error(str(message))


class MainThreadGarbageCollector(QObject):
    """Runs Python's cyclic garbage collection on the GUI thread only.

    Left automatic, a collection may start in a worker thread (the GPU query runs in one) and destroy Qt
    objects there ("Timers cannot be stopped from another thread", or a crash). Anki does the same.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        gc.disable()
        # what is imported by now (Qt bindings, asyncio, the app's modules: ~60,000 objects) lives as long as
        # the app; leaving it out of every full collection cuts each from ~30 ms of frozen window to ~3 ms
        gc.freeze()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timeout)
        self._timer.start(interval_ms)

    def _on_timeout(self) -> None:
        counts = gc.get_count()
        if counts[0] > self._thresholds[0]:
            generation = 2 if counts[2] > self._thresholds[2] else 1 if counts[1] > self._thresholds[1] else 0
            gc.collect(generation)

    def freeze(self) -> None:
        """Leave what exists by now out of every full collection (again, once start-up has built the rest)."""
        gc.freeze()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.enable()


def initial_profiles(args: argparse.Namespace, settings: QSettings) -> list[ConnectionProfile]:
    """The connections to open, in order: this computer (``--data-dir`` names its folder; left out with
    ``--no-local``) and each ``--server``; with neither, the connections open when the app last ran, else the last
    one used, else this computer."""
    servers = getattr(args, "server", None) or []
    if isinstance(servers, str):
        servers = [servers]
    data_dir = getattr(args, "data_dir", None)
    local = ConnectionProfile(ConnectionKind.LOCAL, str(data_dir)) if data_dir else LOCAL_DEFAULT
    if servers:
        from ..core.remote import normalize_base_url

        out = [] if getattr(args, "no_local", False) else [local]
        for url in servers:
            profile = ConnectionProfile(ConnectionKind.SERVER, normalize_base_url(url))
            if profile not in out:
                out.append(profile)
        return out
    if data_dir:
        return [local]
    store = ProfileStore(settings)
    return store.open_set() or [store.last() or LOCAL_DEFAULT]


def initial_profile(args: argparse.Namespace, settings: QSettings) -> ConnectionProfile:
    """The first connection ``initial_profiles`` opens (the one the window's frame names)."""
    return initial_profiles(args, settings)[0]


async def main(args: argparse.Namespace, token: str | None = None, window: MainWindow | None = None,
               collector: MainThreadGarbageCollector | None = None) -> int:
    """Open the connection and run the window until it is closed. ``window``: its frame, already shown by
    ``run_app()``, completed here once the service is open."""
    import asyncio

    from PySide6.QtWidgets import QMessageBox

    from ..core.errors import BackendServiceError
    from .connections import open_service, secret_store
    from .main_window import MainWindow
    from .tasks import describe_error, wait_dialog

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    quitting = asyncio.Event()
    app.aboutToQuit.connect(quitting.set)
    if window is not None:
        # quitting is ours to drive: Qt quitting on its own would end the loop before the workers are stopped
        window.closed.connect(quitting.set)
    asyncio.get_running_loop().set_exception_handler(_loop_exception_handler)
    settings = window.settings if window is not None else QSettings()
    profiles = initial_profiles(args, settings)
    profile, more = profiles[0], profiles[1:]
    # SWARM_TOKEN is for the servers named on the command line; a server of the saved set uses its stored token
    given = token if getattr(args, "server", None) else None
    if profile.kind is ConnectionKind.SERVER and token is None:
        token = await secret_store().aget(profile.token_key)
    try:
        service = await open_service(profile, token=token)
    except BackendServiceError as exc:
        # the last connection may be gone (another instance holds the data folder, say): say so and fall back
        if more and not getattr(args, "server", None):
            log.warning("could not reopen %s (%s)", profile.label, exc)
            profile, more = more[0], more[1:]
            service = await open_service(profile)
        elif profile == LOCAL_DEFAULT or getattr(args, "server", None) or getattr(args, "data_dir", None):
            box = QMessageBox(QMessageBox.Icon.Critical, "Backend Manager",
                              f"Could not open {profile.label}:\n\n{describe_error(exc)}", QMessageBox.StandardButton.Ok)
            await wait_dialog(box)
            return 1
        log.warning("could not reopen %s (%s); opening this computer instead", profile.label, exc)
        profile = LOCAL_DEFAULT
        service = await open_service(profile)
    if window is None:
        window = MainWindow(service, settings=settings, profile=profile)
        window.closed.connect(quitting.set)
    elif quitting.is_set():  # the frame was closed while the service opened
        await service.aclose()
        return 0
    else:
        window.complete(service, profile)
    ProfileStore(settings).remember(profile)
    await _open_more(window, more, given)
    window.show()
    if collector is not None:
        collector.freeze()  # what start-up built lives as long as the app (see MainThreadGarbageCollector)
    try:
        await quitting.wait()
    finally:
        await window.shutdown()
        window.deleteLater()
    return 0


async def _open_more(window: MainWindow, profiles: list[ConnectionProfile], token: str | None) -> None:
    """The other connections of the start, beside the first: one that cannot be opened is said and left out."""
    from ..core.errors import BackendServiceError
    from .connections import open_service, secret_store
    from .tasks import describe_error

    for profile in profiles:
        try:
            secret = token
            if profile.kind is ConnectionKind.SERVER and secret is None:
                secret = await secret_store().aget(profile.token_key)
            service = await open_service(profile, token=secret)
        except BackendServiceError as exc:
            window.message_bar.show_error(f"Could not open {profile.label}: {describe_error(exc)}")
            continue
        await window.add_connection(service, profile)


def run_app(args: argparse.Namespace, token: str | None = None) -> int:
    """Entry point from cli.py. ``token`` comes from SWARM_TOKEN (or None: then the keyring), never argv."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_AUTHOR)
    app.setApplicationVersion(__version__)
    app.setApplicationDisplayName("Backend Manager")
    app.setDesktopFileName("backend-manager-gui")
    # closing the window ends main(), which shuts down in order and only then stops the loop (STYLE.md pitfall 5)
    app.setQuitOnLastWindowClosed(False)
    # the window first: its frame is shown and painted before the rest of the app is even imported
    from .main_window import MainWindow

    settings = QSettings()
    window = MainWindow(None, settings=settings, profile=initial_profile(args, settings))
    window.show()
    window.wait_until_painted()

    _setup_logging()
    from . import icons

    app.setWindowIcon(icons.app_icon())
    sys.excepthook = _excepthook
    import asyncio

    import qasync

    collector = MainThreadGarbageCollector(app)
    try:
        if sys.version_info >= (3, 12):
            return asyncio.run(main(args, token, window, collector), loop_factory=lambda: qasync.QEventLoop(app))
        return qasync.run(main(args, token, window, collector))  # 3.11: asyncio.run has no loop_factory (STYLE.md)
    except KeyboardInterrupt:
        return 130
    finally:
        collector.stop()
        sys.excepthook = sys.__excepthook__


__all__ = ["main", "run_app", "show_unexpected_error", "initial_profile", "initial_profiles"]

