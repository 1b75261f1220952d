"""File → Connect… and Recent connections: choose this computer or a SwarmUI server, and ask before a switch
(or a quit) stops the workers running here. The keyring is read and written in a worker thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import QMenu, QMessageBox

from ...core.errors import BackendServiceError
from ...core.fleet import live
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


async def confirm_stop_workers(ctx: ActionContext, what: str) -> bool:
    """For the embedded manager with live workers, ask before stopping them (``what``: "quit" or "switch")."""
    if ctx.host is None:
        return True
    running = live(ctx.model.backends().values())
    if not running:
        return True
    n = len(running)
    noun = f"{n} running backend{'s' if n != 1 else ''}"
    if what == "quit":
        question, button = f"Stop {noun} and quit?", "Stop and quit"
    else:
        question, button = f"Stop {noun} and switch connection?", "Stop and switch"
    return await ask(ctx.window, "Backends are running", question,
                     informative=f"These run on this computer: {ctx.names(running)}. They stop when the manager closes.",
                     accept=button, icon=QMessageBox.Icon.Warning, object_name="confirm_quit")


class ConnectActions:
    """Connect…, the Recent connections menu, and the switch they end in."""

    def __init__(self, ctx: ActionContext, profiles: ProfileStore, connector: Connector, switch: Switcher,
                 status: Callable[[str | None], None]) -> None:
        self.ctx = ctx
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
        self._status(f"Connecting to {profile.label}…")
        try:
            service = await self._connector(profile, token=token)
        except BackendServiceError as exc:
            self.ctx.message_bar.show_error(f"Could not connect to {profile.label}: {describe_error(exc)}")
            self._status(None)
            return False
        await self._switch(service, profile)
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
