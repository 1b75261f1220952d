"""A small stand-in for ComfyUI's ``main.py``, for tests that need a real worker process.

Run as a script: ``python tests/support/fake_comfy.py --port N [options]``. Unknown ComfyUI flags
(``--listen``, ``--cuda-device``, ``--cpu`` ...) are accepted and ignored. Copied as ``<dir>/ComfyUI/main.py``
it works as the ``StartScript`` of a ``comfyui_selfstart`` backend. Standard library only.

Routes: GET /system_stats, GET /object_info (with ``CheckpointLoaderSimple``'s list of the checkpoints found
through ``--extra-model-paths-config`` files, read as ComfyUI reads them), GET /queue (``--queue-running`` and
``--queue-pending`` prompts, or as POST /fake/queue set them), POST /free (500 on an empty body, as ComfyUI
answers), POST /manager/reboot and /v2/manager/reboot (ComfyUI-Manager's restart: with ``__COMFY_CLI_SESSION__``
set it writes ``$__COMFY_CLI_SESSION__.reboot`` and exits with status 0, else it re-executes itself with
``os.execv``), and for tests GET /fake/frees (how many frees were accepted), GET /fake/env (its environment),
GET /fake/argv (its arguments).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="fake ComfyUI worker for tests")
    p.add_argument("--port", type=int, default=8188)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--start-delay", type=float, default=0.0, help="seconds to 'load' before listening")
    p.add_argument("--crash-after", type=float, default=None, help="exit this many seconds after start")
    p.add_argument("--exit-code", type=int, default=1)
    p.add_argument("--hang", action="store_true", help="never listen")
    p.add_argument("--spam-lines", type=int, default=0, help="print this many lines at start")
    p.add_argument("--hold-port", action="store_true", help="bind the port but never answer")
    p.add_argument("--reboot-after", type=float, default=None,
                   help="ask for a restart as ComfyUI-Manager does, this many seconds after listening")
    p.add_argument("--busy", action="store_true", help="/queue always shows work (one running prompt)")
    p.add_argument("--queue-running", type=int, default=0, help="prompts /queue shows running")
    p.add_argument("--queue-pending", type=int, default=0, help="prompts /queue shows waiting")
    p.add_argument("--extra-model-paths-config", nargs="+", action="append", default=[],
                   help="ComfyUI's extra_model_paths.yaml files (ComfyUI takes several)")
    p.add_argument("--print-env", action="append", default=[], help="print this environment variable at start")
    p.add_argument("--print-env-sha256", action="append", default=[],
                   help="print the sha256 of this variable (a secret must not reach the log)")
    p.add_argument("--echo-args", action="store_true", help="print sys.argv as JSON")
    p.add_argument("--echo-python", action="store_true", help="print the running Python's prefix and executable")
    p.add_argument("--tag", action="append", default=[], help="any value, echoed by --echo-args")
    p.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM (a worker that will not stop)")
    p.add_argument("--report-stop", action="store_true",
                   help="on the polite stop signal (SIGTERM; CTRL_BREAK on Windows) say so and exit with code 0")
    p.add_argument("--spawn-child", action="store_true", help="start a sleeping grandchild and print its pid")
    args, _unknown = p.parse_known_args(argv)
    return args


# ---- extra_model_paths.yaml, as ComfyUI's utils/extra_config.py reads it ----------------------------------------
# A reader of the part of YAML those files use (no YAML library here): top-level names, then indented
# "key: value" lines, a value plain, single- or double-quoted, or a "|" block of more-indented lines.

_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _double_quoted(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1]
        if code in _HEX:
            out.append(chr(int(body[i + 2:i + 2 + _HEX[code]], 16)))
            i += 2 + _HEX[code]
        else:
            out.append(_ESCAPES[code])
            i += 2
    return "".join(out)


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return _double_quoted(text)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return re.sub(r"\s+#.*$", "", text)


def read_model_paths(path: str) -> dict[str, dict[str, str]]:
    """{top-level name: {key: value}} of an extra_model_paths.yaml (a "|" block keeps its line breaks)."""
    config: dict[str, dict[str, str]] = {}
    lines = open(path, encoding="utf-8").read().splitlines()
    current: dict[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = config.setdefault(line.split(":", 1)[0].strip(), {})
            continue
        key, _, value = line.strip().partition(":")
        if current is None:
            continue
        if value.strip() == "|":
            indent = len(line) - len(line.lstrip())
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            current[key.strip()] = "\n".join(block) + "\n"
        else:
            current[key.strip()] = _scalar(value)
    return config


def model_folders(configs: list[str]) -> dict[str, list[str]]:
    """ComfyUI's folder name -> the folders the config files add to it (as extra_config.py joins them)."""
    legacy = {"unet": "diffusion_models", "clip": "text_encoders"}
    out: dict[str, list[str]] = {}
    for path in configs:
        for conf in read_model_paths(path).values():
            base = conf.pop("base_path", None)
            conf.pop("is_default", None)
            if base is not None:
                base = os.path.expandvars(os.path.expanduser(base))
                if not os.path.isabs(base):
                    base = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(path)), base))
            for name, value in conf.items():
                for folder in value.split("\n"):
                    if folder:
                        full = os.path.normpath(os.path.join(base, folder) if base else folder)
                        out.setdefault(legacy.get(name, name), []).append(full)
    return out


def _model_files(folders: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(found)


class _State:
    def __init__(self, args: argparse.Namespace) -> None:
        running = max(args.queue_running, 1 if args.busy else 0)
        self.queue = (running, args.queue_pending)
        self.models = model_folders([path for group in args.extra_model_paths_config for path in group])
        self.frees = 0
        self.lock = threading.Lock()


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep the worker log readable
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/system_stats":
                self._send(200, {"system": {"os": sys.platform, "python_version": sys.version,
                                            "comfyui_version": "0.0-fake"}, "devices": []})
            elif path == "/object_info":
                checkpoints = _model_files(state.models.get("checkpoints", []))
                self._send(200, {"KSampler": {"name": "KSampler"}, "CheckpointLoaderSimple": {
                    "name": "CheckpointLoaderSimple",
                    "input": {"required": {"ckpt_name": [checkpoints, {"tooltip": "The checkpoint to load."}]}}}})
            elif path == "/queue":
                with state.lock:
                    running, pending = state.queue
                self._send(200, {"queue_running": [[n, f"running-{n}", {}, {}, []] for n in range(running)],
                                 "queue_pending": [[running + n, f"pending-{n}", {}, {}, []] for n in range(pending)]})
            elif path == "/fake/frees":
                with state.lock:
                    self._send(200, {"frees": state.frees})
            elif path == "/fake/env":
                self._send(200, dict(os.environ))
            elif path == "/fake/argv":
                self._send(200, sys.argv)
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if path in ("/manager/reboot", "/v2/manager/reboot"):
                _reboot()
            if path == "/fake/queue":
                wanted = json.loads(body)
                with state.lock:
                    state.queue = (int(wanted["running"]), int(wanted["pending"]))
                self._send(200, {})
                return
            if path != "/free":
                self._send(404, {"error": "not found"})
                return
            if not body:
                # real ComfyUI fails to parse an empty body and answers 500
                self._send(500, {"error": "empty body"})
                return
            try:
                json.loads(body)
            except ValueError:
                self._send(500, {"error": "bad json"})
                return
            with state.lock:
                state.frees += 1
            print(f"free requested: {body.decode()}", flush=True)
            self._send(200, {})

    return Handler


def _reboot() -> None:
    """ComfyUI-Manager's restart (comfyui_manager/glob/manager_server.py): the marker and exit 0 for a launcher
    that set ``__COMFY_CLI_SESSION__``, else the process re-executes itself (same pid on POSIX)."""
    session = os.environ.get("__COMFY_CLI_SESSION__")
    if session is not None:
        with open(session + ".reboot", "w"):
            pass
        print("\nRestarting...\n\n", flush=True)
        os._exit(0)  # the real one calls exit(0) in the server's thread, which ends ComfyUI; no answer is sent
    print("\nRestarting... [Legacy Mode]\n\n", flush=True)
    os.execv(sys.executable, [sys.executable, *sys.argv])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"fake_comfy pid={os.getpid()} port={args.port}", flush=True)
    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}", flush=True)
    for name in args.print_env:
        print(f"{name}={os.environ.get(name, '<unset>')}", flush=True)
    for name in args.print_env_sha256:
        value = os.environ.get(name)
        digest = hashlib.sha256(value.encode()).hexdigest() if value is not None else "<unset>"
        print(f"sha256({name})={digest}", flush=True)
    if args.echo_args:
        print("ARGV=" + json.dumps(sys.argv[1:]), flush=True)
    if args.echo_python:
        print("PYTHON=" + json.dumps({"prefix": sys.prefix, "executable": sys.executable}), flush=True)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.report_stop:
        def stop(signum: int, _frame: object) -> None:
            print(f"fake_comfy: stopping on {signal.Signals(signum).name}", flush=True)
            os._exit(0)

        signal.signal(signal.SIGBREAK if os.name == "nt" else signal.SIGTERM, stop)  # type: ignore[attr-defined]
    if args.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"CHILD_PID={child.pid}", flush=True)
    for i in range(args.spam_lines):
        print(f"spam line {i}", flush=True)

    if args.crash_after is not None:
        def crash() -> None:
            time.sleep(args.crash_after)
            print(f"fake_comfy: crashing with exit code {args.exit_code}", file=sys.stderr, flush=True)
            os._exit(args.exit_code)

        threading.Thread(target=crash, daemon=True).start()

    if args.hang:
        print("fake_comfy: hanging before listening", flush=True)
        threading.Event().wait()
    if args.start_delay:
        time.sleep(args.start_delay)
    if args.hold_port:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((args.listen if args.listen != "0.0.0.0" else "127.0.0.1", args.port))
        sock.listen(16)
        print(f"fake_comfy: holding port {args.port} without answering", flush=True)
        threading.Event().wait()

    host = "127.0.0.1"  # tests never listen beyond this machine
    try:
        server = ThreadingHTTPServer((host, args.port), _make_handler(_State(args)))
    except OSError as exc:
        print(f"fake_comfy: cannot listen on port {args.port}: {exc}", file=sys.stderr, flush=True)
        return 3
    server.daemon_threads = True
    if args.reboot_after is not None:
        threading.Timer(args.reboot_after, _reboot).start()
    print(f"To see the GUI go to: http://{host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
