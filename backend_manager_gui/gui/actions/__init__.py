"""What a person can do to backends, apart from the window that shows them.

``context.ActionContext`` is all an action is given (the service, the table and its selection, ``spawn()``,
the message bar); ``rows`` (toggle, restart, free, delete), ``edit`` (add, edit), ``gpus`` (duplicate, one
backend per GPU) and ``connect`` (Connect…, Recent connections) are the actions; ``menu.BackendActions`` makes
the QActions that start them and enables each as the selection allows.
"""

from __future__ import annotations

from .connect import ConnectActions, Connector, confirm_stop_workers
from .context import ActionContext
from .menu import BackendActions, make_action

__all__ = ["ActionContext", "BackendActions", "ConnectActions", "Connector", "confirm_stop_workers", "make_action"]
