"""Supervision of one worker process: spawn, logs, readiness, crash handling, backoff, stop, tree kill.

Also the guard that keeps workers from outliving the manager (``OrphanGuard``): on Linux a parent-death
signal in each worker plus a watchdog process that kills the workers' process groups when the manager's
end of a pipe closes (that also catches grandchildren, and is the only guard on macOS); on Windows a job
object that kills every process in it when the manager's handle closes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import logging.handlers
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lazy import lazy_module

if TYPE_CHECKING:
    import httpx
    import psutil
else:  # imported when a worker is first started or stopped, not while the window is still to be painted
    httpx = lazy_module("httpx")
    psutil = lazy_module("psutil")

from ..logs import LogTracker
from ..models import BackendStatus
from .backend_types import LaunchPlan, WorkerFiles, WorkerKind
from .ports import PortBook

log = logging.getLogger(__name__)

TAIL_LINES = 2000
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5


# ---- logs ------------------------------------------------------------------------------------------

class _QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        pass  # a full disk must not take the supervisor down, nor print a traceback per line


class RotatingLog:
    """A per-backend log file that stays after the worker exits and rotates at ``max_bytes`` × ``backups``.

    The standard library's ``RotatingFileHandler`` does the writing and rotating; its records are handed to it
    directly (never through a logger), so a worker's lines stay out of the app's own log.
    """

    def __init__(self, path: Path, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._handler: logging.handlers.RotatingFileHandler | None = None

    def _open(self) -> logging.handlers.RotatingFileHandler:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # delay: the file is opened by the first line, so a backend that never ran leaves no empty log
        handler = _QuietRotatingFileHandler(self.path, maxBytes=self.max_bytes, backupCount=self.backups,
                                            encoding="utf-8", errors="replace", delay=True)
        handler.setFormatter(_LOG_FORMAT)
        return handler

    def write(self, line: str) -> None:
        try:
            if self._handler is None:
                self._handler = self._open()
        except OSError:
            return  # a full disk must not take the supervisor down
        # emit flushes every line: a crash of the app must not lose the worker's last words
        self._handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO, "levelname": "INFO"}))

    def move_to(self, path: Path) -> None:
        """Follow a backend whose id moved (the old log is renamed when the new name is free)."""
        self.close()
        path = Path(path)
        if self.path.exists() and not path.exists():
            with contextlib.suppress(OSError):
                os.replace(self.path, path)
        self.path = path

    def close(self) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            with contextlib.suppress(OSError):
                handler.close()


#: A worker's log line: local time to the second, then the line as it came ("%" in it is not a format).
_LOG_FORMAT = logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")


# ---- no orphans --------------------------------------------------------------------------------------

# The watchdog: reads "+pgid"/"-pgid" lines from the manager; at EOF (the manager is gone, even by
# SIGKILL) it kills every process group still listed. It sits in its own session so a Ctrl-C in the
# manager's terminal does not kill it before it has done its job.
_WATCHDOG = r"""
import os, signal, sys
groups = set()
for line in sys.stdin.buffer:
    line = line.strip()
    if line[:1] in (b"+", b"-") and line[1:].isdigit():
        (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


def _linux_child_setup(parent_pid: int) -> Callable[[], None]:
    """preexec_fn for Linux: die with SIGKILL when the manager dies (PR_SET_PDEATHSIG).

    The signal fires when the thread that forked us exits: the event loop's thread, which lives as long
    as the manager does.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def setup() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the manager died before prctl took effect
            os._exit(1)

    return setup


class OrphanGuard:
    """Makes sure workers die with the manager, however the manager dies."""

    def __init__(self) -> None:
        self._watchdog: asyncio.subprocess.Process | None = None
        self._fork_pid: int | None = None
        self._fork_fd: int | None = None
        self._job: Any = None

    async def start(self) -> None:
        if os.name == "nt":  # pragma: no cover - Windows only
            self._job = _WindowsJob()
            return
        if getattr(sys, "frozen", False):
            # in a bundle sys.executable is the app, not a Python that takes -c: fork the watchdog instead
            self._fork_watchdog()
            return
        self._watchdog = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", _WATCHDOG,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )

    def _fork_watchdog(self) -> None:  # pragma: no cover - frozen builds only
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            # the child runs only plain code on a pipe (no locks another thread could hold), then exits
            try:
                os.close(write_fd)
                os.setsid()
                groups: set[int] = set()
                buf = b""
                while chunk := os.read(read_fd, 4096):
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line[:1] in (b"+", b"-") and line[1:].isdigit():
                            (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
                for group in groups:
                    with contextlib.suppress(OSError):
                        os.killpg(group, signal.SIGKILL)
            finally:
                os._exit(0)
        os.close(read_fd)
        self._fork_pid = pid
        self._fork_fd = write_fd

    @property
    def watchdog_pid(self) -> int | None:
        return self._watchdog.pid if self._watchdog else self._fork_pid

    def popen_kwargs(self) -> dict[str, Any]:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            # a new process group so CTRL_BREAK reaches the worker alone
            return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
        kwargs: dict[str, Any] = {"start_new_session": True, "close_fds": True}
        if sys.platform.startswith("linux"):
            kwargs["preexec_fn"] = _linux_child_setup(os.getpid())
        return kwargs

    def _tell(self, line: str) -> None:
        if self._fork_fd is not None:  # pragma: no cover - frozen builds only
            with contextlib.suppress(OSError):
                os.write(self._fork_fd, line.encode() + b"\n")
            return
        if self._watchdog and self._watchdog.stdin and not self._watchdog.stdin.is_closing():
            self._watchdog.stdin.write(line.encode() + b"\n")

    def adopt(self, pid: int) -> None:
        if os.name == "nt":  # pragma: no cover - Windows only
            if self._job is not None:
                self._job.assign(pid)
            return
        self._tell(f"+{pid}")  # start_new_session: the worker's pid is its process group id

    def forget(self, pid: int) -> None:
        if os.name != "nt":
            self._tell(f"-{pid}")

    async def close(self) -> None:
        if self._fork_fd is not None:  # pragma: no cover - frozen builds only
            os.close(self._fork_fd)
            self._fork_fd = None
            pid, self._fork_pid = self._fork_pid, None
            if pid:
                # reap it off the loop: it exits at once on EOF
                await asyncio.to_thread(_reap, pid)
        if self._watchdog is not None:
            wd, self._watchdog = self._watchdog, None
            if wd.stdin:
                wd.stdin.close()
            with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
                await asyncio.wait_for(wd.wait(), 5)
            if wd.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    wd.kill()
        if self._job is not None:  # pragma: no cover - Windows only
            self._job.close()
            self._job = None


def _reap(pid: int) -> None:  # pragma: no cover - frozen builds only
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


class _WindowsJob:  # pragma: no cover - Windows only; written with care but not run here
    """A job object that kills every process in it when its last handle closes (the manager's exit)."""

    _k32: Any  # kernel32 through ctypes
    handle: Any = None

    def __init__(self) -> None:
        if sys.platform != "win32":  # also tells the type checker which ctypes this is
            raise OSError("job objects exist on Windows only")
        import ctypes
        from ctypes import wintypes

        self._k32 = ctypes.WinDLL("kernel32", use_last_error=True)
        self._k32.CreateJobObjectW.restype = wintypes.HANDLE
        self._k32.OpenProcess.restype = wintypes.HANDLE
        self.handle = self._k32.CreateJobObjectW(None, None)
        if not self.handle:
            raise OSError(ctypes.get_last_error(), "CreateJobObjectW failed")

        class IO_COUNTERS(ctypes.Structure):
            _fields_ = [(n, ctypes.c_ulonglong) for n in (
                "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

        class BASIC(ctypes.Structure):
            _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                        ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                        ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                        ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                        ("SchedulingClass", wintypes.DWORD)]

        class EXTENDED(ctypes.Structure):
            _fields_ = [("BasicLimitInformation", BASIC), ("IoInfo", IO_COUNTERS),
                        ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                        ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

        info = EXTENDED()
        info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        job_object_extended_limit_information = 9
        if not self._k32.SetInformationJobObject(self.handle, job_object_extended_limit_information,
                                                 ctypes.byref(info), ctypes.sizeof(info)):
            raise OSError(ctypes.get_last_error(), "SetInformationJobObject failed")

    def assign(self, pid: int) -> None:
        if sys.platform != "win32":
            return
        process_set_quota, process_terminate = 0x0100, 0x0001
        handle = self._k32.OpenProcess(process_set_quota | process_terminate, False, pid)
        if not handle:
            return
        try:
            self._k32.AssignProcessToJobObject(self.handle, handle)
        finally:
            self._k32.CloseHandle(handle)

    def close(self) -> None:
        if self.handle:
            self._k32.CloseHandle(self.handle)
            self.handle = None


# ---- killing ---------------------------------------------------------------------------------------

def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.Error, OSError):
        return []


def kill_tree(pid: int, extra: list[psutil.Process] | None = None) -> None:
    """SIGKILL a worker, its process group and every descendant psutil can still find."""
    procs = _tree(pid) + list(extra or [])
    if os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(psutil.Error, OSError):
            proc.kill()
    psutil.wait_procs(procs, timeout=3)


def polite_signal(pid: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        with contextlib.suppress(OSError):
            os.kill(pid, signal.CTRL_BREAK_EVENT)
        return
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGTERM)


# ---- supervision ------------------------------------------------------------------------------------

@dataclass
class SupervisorConfig:
    """Timings; the defaults are the product's, tests shrink them."""

    stop_grace: float = 10.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    crash_limit: int = 5
    crash_window: float = 600.0
    probe_interval: float = 1.0
    probe_timeout: float = 2.0
    # the "last used" column reads in minutes, and a worker's liveness comes from its process, not from this
    # poll: every 10 s keeps 16 idle workers' polling well under 1% of a core
    queue_interval: float = 10.0
    api_probe_interval: float = 3.0
    alive_ready_s: float = 2.0
    #: restarts a worker may ask for (ComfyUI-Manager's) within ``crash_window`` before it is left stopped
    restart_request_limit: int = 20


@dataclass
class WorkerState:
    """What outlives one run of a backend's worker: its log, tail and counters."""

    log: RotatingLog
    # numbered lines (core/logs.py): backend_log() hands out what came after a number, across restarts
    tail: LogTracker = field(default_factory=lambda: LogTracker(TAIL_LINES))
    restart_count: int = 0
    last_exit_code: int | None = None
    last_used: float | None = None  # wall-clock time the worker last had work
    #: (running, pending) prompts in the worker's queue at its last poll; None while not known
    queue: tuple[int, int] | None = None

    def saw_queue(self, data: object) -> None:
        """Take in a ComfyUI ``/queue`` answer: the queue figures, and "last used" when it holds work."""
        if not isinstance(data, dict):
            return
        running, pending = data.get("queue_running"), data.get("queue_pending")
        if not isinstance(running, list) or not isinstance(pending, list):
            return
        self.queue = (len(running), len(pending))
        if running or pending:
            self.last_used = time.time()

    def note(self, line: str) -> None:
        """A line from the manager itself, in the log and tail."""
        text = f"[manager] {line}"
        self.tail.append(text)
        self.log.write(text)


#: A line that says what went wrong: "RuntimeError: …", "!!! Exception during processing !!! …", "Fatal Python
#: error: …", "CUDA out of memory …" (wherever the worker printed it: some log everything to stdout)
_ERROR_LINE = re.compile(r"(error|exception)\b|\bfatal\b|out of memory", re.IGNORECASE)
#: lines of a traceback that say where, not what
_TRACEBACK_LINE = re.compile(r'\s*(Traceback \(most recent call last\)|File "|During handling of)')
#: One line in a reason keeps this many characters (its start: that is where an error says what it is).
_CLUE_CHARS = 200


class ExitClues:
    """What one run of a worker printed that may say why it stopped: its last stderr lines, and its last error
    line on either stream (which may have scrolled out of the stderr lines, or never been on stderr)."""

    def __init__(self) -> None:
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=3)
        self.last_error: str | None = None

    def see(self, line: str, *, stderr: bool) -> None:
        text = line.strip()
        if not text:
            return
        if stderr:
            self.stderr_tail.append(text)
        if _ERROR_LINE.search(text) and not _TRACEBACK_LINE.match(text):
            self.last_error = text


def _clip(text: str) -> str:
    return text if len(text) <= _CLUE_CHARS else text[: _CLUE_CHARS - 1] + "…"


def describe_exit(code: int | None, stderr_tail: list[str], last_error: str | None = None) -> str:
    """Why a worker stopped, in words. A worker that exits on its own usually says why on stderr, so its last
    lines follow as the reason, led by its last error line when that is not among them; a killed one did not
    choose to stop, and its last lines (ComfyUI logs everything to stderr) are only what it happened to print
    last."""
    separator = ": "
    if code is None:
        what = "exited"
    elif code < 0:
        separator = " — last output: "
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
        if -code == getattr(signal, "SIGKILL", 9):
            what += " (from outside, by another program or because the system ran out of memory)"
    else:
        what = f"exited with code {code}"
    lines = [line.strip() for line in stderr_tail if line.strip()]
    if last_error and last_error.strip() not in lines:
        lines = [last_error.strip(), *lines[-2:]]
    last = " / ".join(_clip(line) for line in lines)
    return f"{what}{separator}{last}" if last else what


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Knows when the process itself exits, even while a grandchild still holds its pipes open
    (``Process.wait()`` waits for the pipes too on Python 3.11, which would hide a crash)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[int | None] = loop.create_future()

    def process_exited(self) -> None:
        # read the code first: the parent class may drop its transport
        transport: asyncio.SubprocessTransport | None = getattr(self, "_transport", None)  # set by the base class
        code = transport.get_returncode() if transport else None
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(code)


async def spawn(plan: LaunchPlan, guard: OrphanGuard) -> tuple[asyncio.subprocess.Process, asyncio.Future[int | None]]:
    loop = asyncio.get_running_loop()
    protocol_holder: list[_ExitAwareProtocol] = []

    def factory() -> _ExitAwareProtocol:
        proto = _ExitAwareProtocol(limit=1024 * 1024, loop=loop)
        protocol_holder.append(proto)
        return proto

    transport, protocol = await loop.subprocess_exec(
        factory, *plan.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=str(plan.cwd) if plan.cwd else None, env=plan.env, **guard.popen_kwargs(),
    )
    proc = asyncio.subprocess.Process(transport, protocol, loop)
    return proc, protocol.exited


StatusCallback = Callable[[BackendStatus, str], None]

#: Why a run ended when the worker asked to be started again: ComfyUI-Manager's restart (it wrote the marker).
MANAGER_RESTART = "requested by ComfyUI-Manager"


def _prepare_files(plan: LaunchPlan) -> None:
    """Before a start (in a worker thread): a restart marker left from before is gone, and the plan's files are
    written (each whole: a new file moved into place)."""
    if plan.reboot_marker is not None:
        plan.reboot_marker.parent.mkdir(parents=True, exist_ok=True)
        plan.reboot_marker.unlink(missing_ok=True)
    for path, text in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)


def _take_marker(marker: Path) -> bool:
    """Whether the worker left its restart marker; it is removed (a later exit must leave a new one)."""
    try:
        marker.unlink()
    except FileNotFoundError:
        return False
    except OSError:
        return marker.exists()  # there, but cannot be removed: the restart was still asked for
    return True


#: Readiness probes are at least this far apart, however much the worker prints.
_MIN_PROBE_GAP = 0.1


class _Runner:
    """What a Supervisor and an ApiMonitor share: one task per backend that a bug cannot silently kill, status
    changes reported once each, and the free-memory POST."""

    #: how the task and its failures are named ("supervise backend 3", "internal error while supervising")
    verb, doing = "watch", "watching"

    def __init__(
        self, *, backend_id: int, kind: WorkerKind, settings: Mapping[str, Any], state: WorkerState,
        config: SupervisorConfig, client: httpx.AsyncClient, on_status: StatusCallback, message: str,
    ) -> None:
        self.backend_id = backend_id
        self.kind = kind
        self.settings = dict(settings)
        self.state = state
        self.config = config
        self.client = client
        self._on_status = on_status
        self.status = BackendStatus.WAITING
        self.message = message
        self.base_url: str | None = None
        self.port: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.verb} backend {self.backend_id}")
        self._task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # a bug in supervision must show up as a reason on the backend, not as a silently stale status
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("%s backend %s failed", self.doing, self.backend_id, exc_info=exc)
            self._set(BackendStatus.ERRORED, f"internal error while {self.doing}: {type(exc).__name__}")

    async def _cancel_task(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> None:
        await self._cancel_task()

    async def free(self, system_ram: bool) -> bool:
        req = self.kind.free_request(self.settings, self.base_url, system_ram, self.port)
        if req is None or self.status is not BackendStatus.RUNNING:
            return False
        url, body = req
        try:
            resp = await self.client.post(url, json=body, headers=self.kind.headers(self.settings),
                                          timeout=max(self.config.probe_timeout, 30.0))
        except httpx.HTTPError as exc:
            self.state.note(f"free memory failed: {type(exc).__name__}")
            return False
        self.state.note(f"free memory: HTTP {resp.status_code}")
        return 200 <= resp.status_code < 300

    def _set(self, status: BackendStatus, message: str) -> None:
        if status is self.status and message == self.message:
            return
        if status is not self.status:
            self.state.note(f"{status.value}: {message}")
        self.status, self.message = status, message
        self._on_status(status, message)

    async def _run(self) -> None:
        raise NotImplementedError


class Supervisor(_Runner):
    """Runs one backend's worker until stopped: waiting → loading → running, errored on a crash,
    back through waiting on an automatic restart, and gives up on a crash loop."""

    verb, doing = "supervise", "supervising"

    def __init__(
        self, *, backend_id: int, kind: WorkerKind, settings: Mapping[str, Any], state: WorkerState,
        config: SupervisorConfig, client: httpx.AsyncClient, ports: PortBook, guard: OrphanGuard,
        saved_port: int | None, on_status: StatusCallback, on_port: Callable[[int], None], files: WorkerFiles,
    ) -> None:
        super().__init__(backend_id=backend_id, kind=kind, settings=settings, state=state, config=config,
                         client=client, on_status=on_status, message="starting")
        self.files = files
        self.ports = ports
        self.guard = guard
        self.port = saved_port
        self._on_port = on_port
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at: float | None = None  # monotonic time the current process started
        self._crashes: collections.deque[float] = collections.deque()
        self._reboots: collections.deque[float] = collections.deque()
        #: says why the next start happens, in its waiting and loading messages ("restarting (requested by …)")
        self._start_note = ""
        self._port_note: str | None = None
        self._exited: asyncio.Future[int | None] | None = None
        # set by each line the worker prints: wakes the readiness probe early
        self._output = asyncio.Event()

    # -- public

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    @property
    def uptime(self) -> float | None:
        if self.pid is None or self.started_at is None:
            return None
        return time.monotonic() - self.started_at

    def crash_count_recent(self) -> int:
        self._prune()
        return len(self._crashes)

    async def stop(self) -> None:
        """Stop the worker: polite signal, grace period, then kill its whole tree."""
        await self._cancel_task()
        await self._terminate()
        self.ports.release(self.backend_id)

    # -- internals

    def _prune(self) -> None:
        cutoff = time.monotonic() - self.config.crash_window
        while self._crashes and self._crashes[0] < cutoff:
            self._crashes.popleft()

    async def _run(self) -> None:
        cfg = self.config
        while True:
            reason = await self._one_run()
            if reason is MANAGER_RESTART:
                # asked for, not a crash: at once, on the same port, whatever AutoRestart says; only a worker
                # that asks again and again (a custom node that restarts at every start) is stopped
                now = time.monotonic()
                self._reboots.append(now)
                while self._reboots and self._reboots[0] < now - cfg.crash_window:
                    self._reboots.popleft()
                if len(self._reboots) > cfg.restart_request_limit:
                    self._set(BackendStatus.ERRORED,
                              f"restart loop: ComfyUI-Manager asked for {len(self._reboots)} restarts in "
                              f"{cfg.crash_window / 60:g} min, not restarting")
                    return
                self.state.restart_count += 1
                continue
            if not self.kind.auto_restart(self.settings):
                return
            self._crashes.append(time.monotonic())
            self._prune()
            n = len(self._crashes)
            if n >= cfg.crash_limit:
                self._set(BackendStatus.ERRORED,
                          f"crash loop: {n} crashes in {cfg.crash_window / 60:g} min, not restarting (last: {reason})")
                return
            delay = min(cfg.backoff_max, cfg.backoff_base * 2 ** (n - 1))
            self._set(BackendStatus.ERRORED, f"{reason} — restarting in {delay:g} s")
            await asyncio.sleep(delay)
            self.state.restart_count += 1

    async def _one_run(self) -> str:
        """One life of the worker; returns why it ended (status already ``errored``), or ``MANAGER_RESTART``
        when the worker asked to be started again (status ``waiting``)."""
        self._set(BackendStatus.WAITING, self._start_note or "starting")
        port: int | None = None
        if self.kind.uses_port(self.settings):
            try:
                port, self._port_note = self.ports.take(self.backend_id, int(self.settings.get("Port") or 0), self.port)
            except OSError as exc:
                reason = f"no free port: {exc}"
                self._set(BackendStatus.ERRORED, reason)
                return reason
            if port != self.port:
                self.port = port
                self._on_port(port)
            if self._port_note:
                self.state.note(self._port_note)
        plan = self.kind.launch(self.settings, port, self.files)
        self.base_url = plan.base_url
        try:
            await asyncio.to_thread(_prepare_files, plan)
        except OSError as exc:
            reason = f"cannot write {exc.filename or 'its files'}: {exc.strerror or exc}"
            self._set(BackendStatus.ERRORED, reason)
            return reason
        self.state.note(f"starting: {shlex.join(plan.argv)}" + (f" (in {plan.cwd})" if plan.cwd else ""))
        try:
            proc, exited = await spawn(plan, self.guard)
        except OSError as exc:
            reason = f"could not start {plan.argv[0]}: {exc.strerror or exc}"
            self._set(BackendStatus.ERRORED, reason)
            return reason
        self.proc = proc
        self._exited = exited
        self.started_at = time.monotonic()
        self.guard.adopt(proc.pid)
        self.state.note(f"pid {proc.pid}" + (f", port {port}" if port else ""))
        clues = ExitClues()
        readers = [asyncio.create_task(self._pump(proc.stdout, clues, stderr=False)),
                   asyncio.create_task(self._pump(proc.stderr, clues, stderr=True))]
        side: list[asyncio.Task[Any]] = []
        try:
            ready = await self._wait_ready(plan, exited)
            if ready:
                note = f" ({self._port_note})" if self._port_note else ""
                where = plan.base_url or f"pid {proc.pid}"
                self._start_note = ""
                self._set(BackendStatus.RUNNING, f"running at {where}{note}")
                queue = self.kind.queue_url(self.settings, plan.base_url)
                if queue:
                    side.append(asyncio.create_task(self._poll_queue(queue)))
                # shielded: cancelling this task (a stop) must not cancel the exit future itself
                await asyncio.shield(exited)
            if exited.done():
                code = exited.result()
                # let the readers take the last lines (a grandchild may hold the pipes: do not wait for EOF)
                await asyncio.wait(readers, timeout=0.3)
                self.state.last_exit_code = code
                if plan.reboot_marker is not None and await asyncio.to_thread(_take_marker, plan.reboot_marker):
                    self.state.note(f"exited with code {code} after asking for a restart ({plan.reboot_marker.name}); "
                                    "starting it again")
                    self._start_note = f"restarting ({MANAGER_RESTART})"
                    self._set(BackendStatus.WAITING, self._start_note)
                    return MANAGER_RESTART
                reason = describe_exit(code, list(clues.stderr_tail), clues.last_error)
            else:
                reason = f"did not become ready within {self.kind.start_timeout(self.settings):g} s"
                self.state.note(reason + "; stopping it")
                await self._terminate(grace=min(self.config.stop_grace, 2.0))
                self.state.last_exit_code = proc.returncode
            self._set(BackendStatus.ERRORED, reason)
            return reason
        finally:
            for task in side:
                task.cancel()
            self.state.queue = None
            if exited.done():
                # the worker is gone; leftovers in its group (grandchildren) must not keep the GPU
                await asyncio.to_thread(kill_tree, proc.pid)
                self.guard.forget(proc.pid)
                for task in readers:
                    task.cancel()

    async def _wait_ready(self, plan: LaunchPlan, exited: asyncio.Future[int | None]) -> bool:
        """True when ready; False when the process exited or the start timeout passed."""
        timeout = self.kind.start_timeout(self.settings)
        start = time.monotonic()
        what = plan.health_url or "the worker to stay up"

        async def probe_loop() -> None:
            if plan.health_url is None:
                await asyncio.sleep(self.config.alive_ready_s)
                return
            gap = min(_MIN_PROBE_GAP, self.config.probe_interval)
            while True:
                self._output.clear()
                try:
                    resp = await self.client.get(plan.health_url, timeout=self.config.probe_timeout)
                    if 200 <= resp.status_code < 300:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(gap)
                if not self._output.is_set():
                    # a new line from the worker is the likeliest sign that it just started listening (ComfyUI
                    # prints its address then): probe at once on one, else after probe_interval
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._output.wait(), self.config.probe_interval - gap)

        prober = asyncio.create_task(probe_loop())
        try:
            while True:
                elapsed = time.monotonic() - start
                note = f" ({self._port_note})" if self._port_note else ""
                lead = f"{self._start_note}: " if self._start_note else ""
                self._set(BackendStatus.LOADING, f"{lead}waiting for {what} — {int(elapsed)} s{note}")
                remaining = timeout - elapsed
                if remaining <= 0:
                    return False
                waiters: set[asyncio.Future[Any]] = {prober, exited}
                done, _ = await asyncio.wait(waiters, timeout=min(1.0, remaining),
                                             return_when=asyncio.FIRST_COMPLETED)
                if exited in done or exited.done():
                    return False
                if prober in done:
                    prober.result()
                    return True  # the child is alive (checked just above) and answered
        finally:
            prober.cancel()

    async def _poll_queue(self, url: str) -> None:
        """Keep the worker's queue figures (the Queue column) and when it last had work (the "last used" column)."""
        headers = self.kind.headers(self.settings)
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                resp = await self.client.get(url, timeout=self.config.probe_timeout, headers=headers)
                self.state.saw_queue(resp.json())
            await asyncio.sleep(self.config.queue_interval)

    async def _pump(self, stream: asyncio.StreamReader | None, clues: ExitClues, *, stderr: bool) -> None:
        if stream is None:
            return
        prefix = "[err] " if stderr else ""
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the limit: take it in pieces
                raw = await stream.read(64 * 1024)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._output.set()
            self.state.tail.append(prefix + line)
            self.state.log.write(prefix + line)
            clues.see(line, stderr=stderr)

    async def _terminate(self, grace: float | None = None) -> None:
        proc = self.proc
        if proc is None:
            return
        grace = self.config.stop_grace if grace is None else grace
        pid = proc.pid
        tree = await asyncio.to_thread(_tree, pid)  # before the root dies and its children are reparented
        exited = self._exited
        if exited is not None and not exited.done():
            polite_signal(pid)
            try:
                await asyncio.wait_for(asyncio.shield(exited), grace)
            except TimeoutError:
                self.state.note(f"still alive {grace:g} s after the stop signal; killing it")
        await asyncio.to_thread(kill_tree, pid, tree[1:])
        self.guard.forget(pid)
        self.state.note("stopped")
        self.started_at = None


class ApiMonitor(_Runner):
    """Watches a worker somebody else runs (``comfyui_api``): running when it answers, idle or errored when not."""

    def __init__(
        self, *, backend_id: int, kind: WorkerKind, settings: Mapping[str, Any], state: WorkerState,
        config: SupervisorConfig, client: httpx.AsyncClient, on_status: StatusCallback,
    ) -> None:
        super().__init__(backend_id=backend_id, kind=kind, settings=settings, state=state, config=config,
                         client=client, on_status=on_status, message="connecting")
        self.base_url = kind.base_url(settings)  # type: ignore[attr-defined]
        self.pid = None
        self.uptime = None

    def crash_count_recent(self) -> int:
        return 0

    async def _run(self) -> None:
        headers = self.kind.headers(self.settings)
        url = self.kind.queue_url(self.settings, self.base_url) or f"{self.base_url}/system_stats"
        while True:
            try:
                resp = await self.client.get(url, timeout=self.config.probe_timeout, headers=headers)
                if 200 <= resp.status_code < 300:
                    self.state.saw_queue(resp.json())
                    self._set(BackendStatus.RUNNING, f"answering at {self.base_url}")
                else:
                    self.state.queue = None
                    self._down(f"{self.base_url} answered HTTP {resp.status_code}")
            except (httpx.HTTPError, ValueError) as exc:
                self.state.queue = None
                self._down(f"cannot reach {self.base_url} ({type(exc).__name__})")
            await asyncio.sleep(self.config.api_probe_interval)

    def _down(self, reason: str) -> None:
        if self.settings.get("AllowIdle"):
            self._set(BackendStatus.IDLE, f"idle: {reason}")
        else:
            self._set(BackendStatus.ERRORED, reason)
