"""File → Connect… and Recent connections: choose this computer or a SwarmUI server, and ask before a switch
(or a quit) stops the workers running here. The keyring is read and written in a worker thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QMessageBox

from ...core.errors import BackendServiceError
from ...core.fleet import live
from ...core.models import Backend
from ...core.service import BackendService
from ..connections import (
    ConnectDialog,
    ConnectionKind,
    ConnectionProfile,
    ProfileStore,
    secret_store,
)
from ..tasks import ask, describe_error, wait_dialog
from .context import ActionContext

#: Opens the service a profile names (``connections.open_service``; tests pass their own).
Connector = Callable[..., Awaitable[BackendService]]
#: Makes the window talk to a service from now on (``MainWindow.switch_service``).
Switcher = Callable[[BackendService, ConnectionProfile], Awaitable[None]]
#: Adds a connection beside the open ones (``MainWindow.add_connection``).
Adder = Callable[[BackendService, ConnectionProfile], Awaitable[int]]


async def confirm_stop_workers(ctx: ActionContext, what: str, running: list[Backend] | None = None) -> bool:
    """For the embedded manager with live workers, ask before stopping them (``what``: "quit", "switch" or
    "close"). Only this computer's workers are asked about: a server's go on whatever the window does."""
    host = ctx.host
    if host is None:
        return True
    if running is None:
        running = [b for b in live(ctx.model.backends().values()) if host.owns(b.id)]
    if not running:
        return True
    n = len(running)
    noun = f"{n} running backend{'s' if n != 1 else ''}"
    if what == "quit":
        question, button = f"Stop {noun} and quit?", "Stop and quit"
    elif what == "close":
        question, button = f"Stop {noun} and close this computer's connection?", "Stop and close"
    else:
        question, button = f"Stop {noun} and switch connection?", "Stop and switch"
    return await ask(ctx.window, "Backends are running", question,
                     informative=f"These run on this computer: {ctx.names(running)}. They stop when the manager closes.",
                     accept=button, icon=QMessageBox.Icon.Warning, object_name="confirm_quit")


class ConnectActions(QObject):
    """Connect…, Add connection…, the Recent connections menu, and the switch they end in."""

    #: the person asked to close connection number N (the window asks and closes it)
    close_requested = Signal(int)

    def __init__(self, ctx: ActionContext, profiles: ProfileStore, connector: Connector, switch: Switcher,
                 status: Callable[[str | None], None], add: Adder | None = None) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self._add = add
        self.profiles = profiles
        self._connector = connector
        self._switch = switch
        #: shows a line in the status bar; None puts back the usual one
        self._status = status

    async def connect_dialog(self) -> bool:
        store = secret_store()
        current = self.ctx.profile
        has_token = (current is not None and current.kind is ConnectionKind.SERVER
                     and await store.aget(current.token_key) is not None)
        dialog = ConnectDialog(self.ctx.window, current, has_token=has_token)
        try:
            if await wait_dialog(dialog) != ConnectDialog.DialogCode.Accepted:
                return False
            profile = dialog.profile()
            if profile.kind is ConnectionKind.LOCAL and current is not None and current.kind is ConnectionKind.LOCAL:
                profile = current  # keep the data folder this window was started with
            token = dialog.token()
        finally:
            dialog.deleteLater()
        if token is not None and profile.kind is ConnectionKind.SERVER:
            await store.aset(profile.token_key, token)
        return await self.connect_to(profile, token=token)

    async def connect_to(self, profile: ConnectionProfile, *, token: str | None = None) -> bool:
        """Switch to ``profile``: asks before stopping running local workers; False when it did not switch."""
        if profile == self.ctx.profile:
            return False
        if not await confirm_stop_workers(self.ctx, "switch"):
            return False
        service = await self._open(profile, token)
        if service is None:
            return False
        await self._switch(service, profile)
        return True

    async def _open(self, profile: ConnectionProfile, token: str | None) -> BackendService | None:
        """The service of ``profile``, saying so in the status bar meanwhile; None when it could not be opened (the
        message bar says why)."""
        self._status(f"Connecting to {profile.label}…")
        try:
            return await self._connector(profile, token=token)
        except BackendServiceError as exc:
            self.ctx.message_bar.show_error(f"Could not connect to {profile.label}: {describe_error(exc)}")
            self._status(None)
            return None

    async def add_dialog(self) -> bool:
        """File → Add connection…: one more connection beside the open ones (nothing is stopped)."""
        store = secret_store()
        open_now = self.ctx.hosts.profiles()
        local_open = any(p.kind is ConnectionKind.LOCAL for p in open_now)
        # the servers used before and not open now, offered as the address is typed
        recent = [p.target for p in self.profiles.recent() if p.kind is ConnectionKind.SERVER and p not in open_now]
        dialog = ConnectDialog(self.ctx.window, None if local_open else ConnectionProfile(ConnectionKind.SERVER),
                               recent_urls=recent)
        dialog.setWindowTitle("Add connection")
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).setText("Add")
        if local_open:
            dialog.server_radio.setChecked(True)
            dialog.local_radio.setEnabled(False)
            dialog.local_radio.setToolTip("This computer is open already.")
        try:
            if await wait_dialog(dialog) != ConnectDialog.DialogCode.Accepted:
                return False
            profile, token = dialog.profile(), dialog.token()
        finally:
            dialog.deleteLater()
        if profile in open_now:
            self.ctx.message_bar.show_info(f"{profile.label} is open already.")
            return False
        if token is not None and profile.kind is ConnectionKind.SERVER:
            await store.aset(profile.token_key, token)
        return await self.add_connection(profile, token=token)

    async def add_connection(self, profile: ConnectionProfile, *, token: str | None = None) -> bool:
        """Open ``profile`` beside the open connections; False when it could not be opened (the bar says why)."""
        if self._add is None:
            return False
        service = await self._open(profile, token)
        if service is None:
            return False
        self._status(None)
        await self._add(service, profile)
        return True

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self.profiles.recent()
        if not recent:
            none = menu.addAction("No recent connections")
            none.setEnabled(False)
        for profile in recent:
            act = menu.addAction(profile.label)
            act.setCheckable(True)
            act.setChecked(profile == self.ctx.profile)
            act.triggered.connect(
                lambda _c=False, p=profile: self.ctx.spawn(self.connect_to(p), f"Connect to {p.label}")
            )
