"""``LocalService``: the embedded manager. Same 8 operations as a SwarmUI server, on this computer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lazy import lazy_module

if TYPE_CHECKING:
    import httpx
else:  # imported with the first worker's client: a manager whose backends are all disabled never needs it
    httpx = lazy_module("httpx")

from ..errors import BackendApiError
from ..logs import swarm_time
from ..models import (
    QUEUE_PENDING,
    QUEUE_RUNNING,
    SECRET_MARKER,
    WORKER_LISTENS_BEYOND_LOOPBACK,
    WORKER_PORT,
    WORKER_URL,
    Backend,
    BackendLog,
    BackendStatus,
    BackendType,
    LogLine,
)
from ..secrets import SecretStore
from ..service import BackendSelector, WorkerDetails
from .backend_types import KINDS, WorkerFiles, WorkerKind
from .gpus import GpuReport, GpuSource, gpu_report
from .ports import PortBook
from .process import ApiMonitor, OrphanGuard, RotatingLog, Supervisor, SupervisorConfig, WorkerState
from .store import BackendRecord, BackendStore, DataDirLock

log = logging.getLogger(__name__)

_RESTARTABLE = (BackendStatus.RUNNING, BackendStatus.ERRORED, BackendStatus.WAITING, BackendStatus.LOADING)


def time_since_text(seconds: float | None) -> str:
    if seconds is None:
        return "Never"
    s = int(seconds)
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''} ago"
    if s < 3600:
        return f"{s // 60} minute{'s' if s // 60 != 1 else ''} ago"
    if s < 86400:
        return f"{s // 3600} hour{'s' if s // 3600 != 1 else ''} ago"
    return f"{s // 86400} day{'s' if s // 86400 != 1 else ''} ago"


class _Entry:
    """One backend: its saved record, its secret values (memory only) and its running worker."""

    def __init__(self, record: BackendRecord, kind: WorkerKind, secrets: dict[str, str], log_path: Path) -> None:
        self.record = record
        self.kind = kind
        self.secrets = secrets
        self.state = WorkerState(log=RotatingLog(log_path))
        self.runner: Supervisor | ApiMonitor | None = None
        self.stopping = False
        #: why its worker could not be started at all (a saved setting this version cannot use), None otherwise
        self.problem: str | None = None

    def __repr__(self) -> str:  # never the settings: they may hold secrets
        return f"_Entry(id={self.record.id}, type={self.record.type!r})"

    def full_settings(self) -> dict[str, Any]:
        out = dict(self.record.settings)
        out.update(self.secrets)
        return out

    def status(self) -> tuple[BackendStatus, str]:
        if not self.record.enabled:
            return BackendStatus.DISABLED, "disabled"
        if self.stopping:
            return BackendStatus.WAITING, "stopping the worker"
        if self.runner is None:
            reason = self.problem or self.kind.not_ready_reason(self.full_settings())
            return BackendStatus.ERRORED, reason or "not started"
        return self.runner.status, self.runner.message


class LocalService:
    """Runs GPU workers on this computer behind the ``BackendService`` contract.

    Timing keyword arguments (``stop_grace``, ``backoff_base``, ``probe_interval`` ...) override
    ``SupervisorConfig``'s defaults; tests shrink them.
    """

    def __init__(self, data_dir: Path, *, gpu_source: GpuSource | None = None, **timings: float) -> None:
        self.data_dir = Path(data_dir)
        self._gpu_source = gpu_source  # None: the real GPUs (NVML)
        self.config = SupervisorConfig(**timings)  # type: ignore[arg-type]
        self.warnings: list[str] = []
        self._store = BackendStore(self.data_dir)
        self._lock_file = DataDirLock(self.data_dir / "backends.lock")
        self._secrets = SecretStore(self.data_dir / "secrets.json")
        self._entries: dict[int, _Entry] = {}
        self._ports = PortBook()
        self._guard = OrphanGuard()
        self._client: httpx.AsyncClient | None = None
        self._mutex = asyncio.Lock()
        self._listeners: list[Callable[[Backend], None]] = []
        self._started = False
        self._closed = False
        self._save_pending = False

    def __repr__(self) -> str:
        return f"LocalService({str(self.data_dir)!r}, backends={len(self._entries)})"

    # ---- life cycle -----------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return "this computer"

    async def __aenter__(self) -> LocalService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Take the data folder's lock, load saved backends and start the enabled ones."""
        if self._started:
            return
        if self._closed:
            raise BackendApiError("This manager was closed; make a new one.")
        self._lock_file.acquire()
        try:
            records, warnings = self._store.load()
            self.warnings.extend(warnings)
            loaded: dict[int, dict[str, str]] = {}
            # secrets go in and out of worker threads through closures: the thread pool (qasync's
            # QThreadExecutor) logs a callable's arguments and its result at DEBUG
            await asyncio.to_thread(lambda: loaded.update(self._load_secrets(records)))
            await self._guard.start()
        except BaseException:
            self._lock_file.release()
            raise
        for record in records:
            kind = KINDS.get(record.type)
            if kind is None:
                self.warnings.append(f"Backend {record.id} has an unknown type {record.type!r}; it was left out.")
                continue
            secrets = loaded.get(record.id, {})
            problem = self._complete_settings(record, kind, secrets)
            entry = self._entries[record.id] = _Entry(record, kind, secrets, self.log_path(record.id))
            entry.problem = problem
        self._started = True
        for entry in self._entries.values():
            if entry.problem is not None:
                self._notify(entry)
                continue
            try:
                self._launch(entry)
            except Exception as exc:  # one backend's saved settings must not keep the others (or the app) down
                log.exception("backend %s could not be started", entry.record.id)
                entry.problem = (f"Its saved settings cannot be used ({type(exc).__name__}: {exc}): Edit it to set "
                                 "them again.")
                self._notify(entry)

    @staticmethod
    def _complete_settings(record: BackendRecord, kind: WorkerKind, secrets: Mapping[str, str]) -> str | None:
        """A record saved by an older version may lack a setting added since (ComfyUI's ModelsFolder), or hold a
        value in another form ("8188" for a Port): each is put in its spec's form, a missing one at its default, as
        an edit would. A value that cannot be read is left as it is, and the reason is returned: the backend does
        not start and says why until it is edited."""
        problem = None
        try:
            complete = kind.validate({**kind.defaults(), **record.settings, **secrets})
        except BackendApiError as exc:
            complete = {**kind.defaults(), **record.settings}  # at least nothing missing
            problem = f"Its saved settings cannot be used: {exc.message} Edit it to set them again."
        names = kind.secret_names()
        record.settings = {k: v for k, v in complete.items() if k not in names}
        return problem

    def _load_secrets(self, records: list[BackendRecord]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {}
        for record in records:
            kind = KINDS.get(record.type)
            if kind is None:
                continue
            values = {}
            for name in kind.secret_names():
                values[name] = self._secrets.get(_secret_key(record.uid, name)) or ""
            out[record.id] = values
            if any(values.values()):
                self._warn_secret_file()
        return out

    def _warn_secret_file(self) -> None:
        if not self._secrets.use_keyring:
            text = (f"No usable OS keyring: secret settings are kept in {self._secrets.fallback_file}, "
                    "readable by your user only.")
            if text not in self.warnings:
                self.warnings.append(text)

    async def aclose(self) -> None:
        """Stop every worker this manager started, then let go of the data folder."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        await asyncio.gather(*(self._halt(e) for e in self._entries.values()), return_exceptions=True)
        self._save_if_pending()
        for entry in self._entries.values():
            entry.state.log.close()
        if self._client is not None:
            await self._client.aclose()
        await self._guard.close()
        self._lock_file.release()

    def _require_started(self) -> None:
        if self._closed:
            raise BackendApiError("The local manager has been closed.")
        if not self._started:
            raise BackendApiError("The local manager has not been started.")

    # ---- the contract ---------------------------------------------------------------------------

    async def list_backend_types(self) -> list[BackendType]:
        return [kind.info for kind in KINDS.values()]

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
        self._require_started()
        return {bid: self._snapshot(self._entries[bid]) for bid in sorted(self._entries)}

    async def add_backend(self, type_id: str) -> Backend:
        self._require_started()
        kind = KINDS.get(type_id)
        if kind is None:
            raise BackendApiError(f"Unknown backend type {type_id!r}.")
        async with self._mutex:
            new_id = max(self._entries, default=-1) + 1
            defaults = kind.defaults()
            secret_names = kind.secret_names()
            record = BackendRecord(id=new_id, uid=uuid.uuid4().hex, type=type_id, enabled=True,
                                   settings={k: v for k, v in defaults.items() if k not in secret_names})
            entry = _Entry(record, kind, {k: "" for k in secret_names}, self.log_path(new_id))
            self._entries[new_id] = entry
            self._save()
            self._launch(entry)
            return self._snapshot(entry)

    async def edit_backend(
        self, backend_id: int, title: str, settings: dict[str, object], new_id: int | None = None
    ) -> Backend:
        self._require_started()
        entry = self._get(backend_id)
        if not isinstance(settings, Mapping):
            raise BackendApiError("Missing settings.")
        known = {spec.name for spec in entry.kind.info.settings}
        unknown = sorted(str(k) for k in settings if k not in known)
        if unknown:
            raise BackendApiError(f"Unknown setting {unknown[0]!r} for {entry.kind.info.name}.")
        merged = entry.full_settings()
        for name, value in settings.items():
            if value == SECRET_MARKER:
                continue  # "keep the stored value"
            merged[name] = value
        validated = entry.kind.validate(merged)
        if new_id is not None and new_id != -1 and new_id != backend_id:
            if isinstance(new_id, bool) or not isinstance(new_id, int) or new_id < 0:
                raise BackendApiError("The new backend ID must be a whole number, 0 or more.")
            if new_id in self._entries:
                raise BackendApiError(f"Backend ID {new_id} is already in use.")
        else:
            new_id = backend_id
        async with self._mutex:
            if self._entries.get(backend_id) is not entry:
                raise BackendApiError(f"Invalid backend ID {backend_id}")
            if new_id != backend_id and new_id in self._entries:
                raise BackendApiError(f"Backend ID {new_id} is already in use.")
            await self._halt(entry)
            secret_names = entry.kind.secret_names()
            new_secrets = {k: str(v) for k, v in validated.items() if k in secret_names}
            if new_secrets != entry.secrets:
                await self._store_secrets(entry.record.uid, entry.secrets, new_secrets)
                entry.secrets = new_secrets
            entry.record.settings = {k: v for k, v in validated.items() if k not in secret_names}
            entry.problem = None
            entry.record.title = "" if title is None else str(title)
            entry.record.modcount += 1
            if new_id != backend_id:
                del self._entries[backend_id]
                entry.record.id = new_id
                self._entries[new_id] = entry
                entry.state.log.move_to(self._log_file(new_id))
                entry.state.note(f"moved from backend ID {backend_id}")
            entry.state.note(f"settings changed (modcount {entry.record.modcount})")
            self._save()
            self._launch(entry)
            return self._snapshot(entry)

    async def _store_secrets(self, uid: str, old: dict[str, str], new: dict[str, str]) -> None:
        # a closure, not arguments: the thread pool (qasync's QThreadExecutor) logs a callable's arguments at DEBUG
        await asyncio.to_thread(lambda: self._write_secrets(uid, old, new))

    def _write_secrets(self, uid: str, old: dict[str, str], new: dict[str, str]) -> None:
        for name, value in new.items():
            if value == old.get(name):
                continue
            if value:
                self._secrets.set(_secret_key(uid, name), value)
                self._warn_secret_file()
            else:
                self._secrets.delete(_secret_key(uid, name))

    async def delete_backend(self, backend_id: int) -> bool:
        self._require_started()
        async with self._mutex:
            entry = self._entries.get(backend_id)
            if entry is None:
                return False
            await self._halt(entry)
            del self._entries[backend_id]
            entry.state.note("deleted")
            entry.state.log.close()
            self._save()
            await self._store_secrets(entry.record.uid, entry.secrets, {k: "" for k in entry.secrets})
            return True

    async def toggle_backend(self, backend_id: int, enabled: bool) -> bool:
        self._require_started()
        async with self._mutex:
            entry = self._get(backend_id)
            if entry.record.enabled == bool(enabled):
                return False
            entry.record.enabled = bool(enabled)
            self._save()
            if enabled:
                self._launch(entry)
            else:
                await self._halt(entry)
                self._notify(entry)
            return True

    async def restart_backends(self, backend: BackendSelector = "all") -> int:
        """Restart running and errored backends, and those stuck waiting or loading."""
        self._require_started()
        async with self._mutex:
            targets = self._select(backend)
            chosen = [e for e in targets if e.record.enabled and e.status()[0] in _RESTARTABLE
                      and e.kind.not_ready_reason(e.full_settings()) is None]
            await asyncio.gather(*(self._halt(e) for e in chosen))
            for entry in chosen:
                entry.state.restart_count += 1
                entry.state.note("restart requested")
                self._launch(entry)
            return len(chosen)

    async def free_memory(self, *, system_ram: bool = False, backend: BackendSelector = "all") -> int:
        """Ask each running worker of ``backend`` to free memory; how many did. A running worker asked for by its
        id that has no way to free memory is refused with the reason (not "nothing to free")."""
        self._require_started()
        entries = self._select(backend)
        if backend != "all":
            (entry,) = entries
            runner = entry.runner
            if (runner is not None and runner.status is BackendStatus.RUNNING
                    and entry.kind.free_request(runner.settings, runner.base_url, system_ram, runner.port) is None):
                raise BackendApiError(entry.kind.no_free_reason(runner.settings))
        runners = [e.runner for e in entries if e.runner is not None]
        results = await asyncio.gather(*(r.free(system_ram) for r in runners))
        return sum(1 for ok in results if ok)

    async def backend_log(self, backend_id: int, after: int = 0) -> BackendLog:
        """The worker's output and the manager's notes numbered above ``after``, from the in-memory tail (its
        last 2,000 lines, kept across the worker's restarts); texts in SwarmUI's form ("[STDOUT] …")."""
        self._require_started()
        tail = self._get(backend_id).state.tail
        lines = tuple(LogLine(seq, swarm_time(when), _swarm_text(text)) for seq, when, text in tail.after(after))
        return BackendLog(lines=lines, last_sequence=max(after, tail.last_sequence))

    # ---- beyond the contract ----------------------------------------------------------------------

    def details(self, backend_id: int) -> WorkerDetails:
        entry = self._get(backend_id)
        runner = entry.runner
        return WorkerDetails(
            backend_id=backend_id,
            pid=runner.pid if runner is not None else None,
            port=runner.port if runner is not None else None,
            gpu_ids=str(entry.record.settings.get("GPU_ID") or ""),
            uptime_s=runner.uptime if runner is not None else None,
            restart_count=entry.state.restart_count,
            crash_count_recent=runner.crash_count_recent() if runner is not None else 0,
            log_path=entry.state.log.path,
            last_exit_code=entry.state.last_exit_code,
        )

    def log_path(self, backend_id: int) -> Path:
        entry = self._entries.get(backend_id)
        if entry is not None:
            return entry.state.log.path
        return self._log_file(backend_id)

    def worker_files(self, uid: str) -> WorkerFiles:
        """The folder of the files the manager hands one backend's worker (kept by uid: an id can move)."""
        return WorkerFiles(self.data_dir / "workers" / uid)

    def _log_file(self, backend_id: int) -> Path:
        return self.data_dir / "logs" / f"backend-{backend_id}.log"

    def log_tail(self, backend_id: int, lines: int = 2000) -> list[str]:
        tail = self._get(backend_id).state.tail
        if lines <= 0:
            return []
        return list(tail)[-lines:]

    def add_listener(self, callback: Callable[[Backend], None]) -> Callable[[], None]:
        """Call ``callback`` (on the loop) whenever a backend's status or status message changes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    async def changes(self) -> AsyncIterator[Backend]:
        """Every status change, as it happens."""
        queue: asyncio.Queue[Backend] = asyncio.Queue()
        unsubscribe = self.add_listener(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    async def gpus(self) -> GpuReport:
        pids = {bid: e.runner.pid for bid, e in self._entries.items() if e.runner is not None and e.runner.pid}
        return await gpu_report(pids, self._gpu_source)

    # ---- internals --------------------------------------------------------------------------------

    def _get(self, backend_id: int) -> _Entry:
        entry = self._entries.get(backend_id) if isinstance(backend_id, int) else None
        if entry is None:
            raise BackendApiError(f"Invalid backend ID {backend_id}")
        return entry

    def _select(self, backend: BackendSelector) -> list[_Entry]:
        if backend == "all":
            return [self._entries[k] for k in sorted(self._entries)]
        try:
            backend_id = int(backend)
        except (TypeError, ValueError):
            raise BackendApiError(f"Invalid backend ID {backend}") from None
        return [self._get(backend_id)]

    def _save(self) -> None:
        try:
            self._store.save([e.record for e in self._entries.values()])
        except OSError as exc:
            raise BackendApiError(f"Cannot save the backends to {self._store.path}: {exc.strerror or exc}.") from None

    def _save_soon(self) -> None:
        """Save on the loop's next turn: sixteen workers taking their ports at once cost one write (and one
        fsync), not sixteen in a row before the last of them is even spawned."""
        if not self._save_pending:
            self._save_pending = True
            asyncio.get_running_loop().call_soon(self._save_if_pending)

    def _save_if_pending(self) -> None:
        if self._save_pending:
            self._save_pending = False
            with contextlib.suppress(BackendApiError):
                self._save()

    def _snapshot(self, entry: _Entry) -> Backend:
        status, message = entry.status()
        settings = dict(entry.record.settings)
        for name, value in entry.secrets.items():
            settings[name] = SECRET_MARKER if value else ""
        last = entry.state.last_used
        seconds = max(0.0, round(time.time() - last, 1)) if last is not None else None
        return Backend(
            id=entry.record.id, type=entry.record.type, status=status, settings=settings,
            modcount=entry.record.modcount, features=entry.kind.features, enabled=entry.record.enabled,
            title=entry.record.title, can_load_models=True, max_usages=1,
            seconds_since_used=seconds, time_since_used=time_since_text(seconds),
            current_model=None, status_message=message, extra=self._worker_extra(entry),
        )

    @staticmethod
    def _worker_extra(entry: _Entry) -> dict[str, Any]:
        """This app's own keys on a backend (``WORKER_KEYS``): where its worker's page is, and its queue."""
        runner = entry.runner
        if runner is None:
            return {}
        out: dict[str, Any] = {}
        if runner.port:
            out[WORKER_PORT] = runner.port
        url = entry.kind.web_url(runner.settings, runner.port)
        if url:
            out[WORKER_URL] = url
            out[WORKER_LISTENS_BEYOND_LOOPBACK] = entry.kind.listens_beyond_loopback(runner.settings)
        queue = entry.state.queue
        if queue is not None:
            out[QUEUE_RUNNING], out[QUEUE_PENDING] = queue
        return out

    def _notify(self, entry: _Entry) -> None:
        if not self._listeners or self._entries.get(entry.record.id) is not entry:
            return
        snapshot = self._snapshot(entry)
        for callback in list(self._listeners):
            try:
                callback(snapshot)
            except Exception:  # one bad listener must not stop the supervisor
                log.exception("backend status listener failed")

    def _launch(self, entry: _Entry) -> None:
        """Start the worker of an enabled, set-up backend (or just report why it cannot start)."""
        if entry.runner is not None or not entry.record.enabled or self._closed:
            return
        settings = entry.full_settings()
        if entry.kind.not_ready_reason(settings) is not None:
            self._notify(entry)
            return
        if self._client is None:
            # made with the first worker: building it (TLS set-up included) is a good part of a cold start
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.config.probe_timeout),
                                             limits=httpx.Limits(max_keepalive_connections=0), trust_env=False)
        on_status = lambda _s, _m, e=entry: self._notify(e)  # noqa: E731
        if entry.kind.supervised:
            def on_port(port: int, e: _Entry = entry) -> None:
                e.record.port = port
                self._save_soon()

            entry.runner = Supervisor(
                backend_id=entry.record.id, kind=entry.kind, settings=settings, state=entry.state,
                config=self.config, client=self._client, ports=self._ports, guard=self._guard,
                saved_port=entry.record.port, on_status=on_status, on_port=on_port,
                files=self.worker_files(entry.record.uid),
            )
        else:
            entry.runner = ApiMonitor(
                backend_id=entry.record.id, kind=entry.kind, settings=settings, state=entry.state,
                config=self.config, client=self._client, on_status=on_status,
            )
        entry.runner.start()
        self._notify(entry)

    async def _halt(self, entry: _Entry) -> None:
        runner = entry.runner
        if runner is None:
            return
        entry.stopping = True
        try:
            await runner.stop()
        finally:
            entry.runner = None
            entry.stopping = False


def _swarm_text(text: str) -> str:
    """A tail line as SwarmUI's backend log writes it: "[STDOUT] …" / "[STDERR] …" (the manager's notes as they are)."""
    if text.startswith("[err] "):
        return "[STDERR] " + text[6:]
    if text.startswith("[manager] "):
        return text
    return "[STDOUT] " + text


def _secret_key(uid: str, name: str) -> str:
    return f"backend-{uid}-{name}"
