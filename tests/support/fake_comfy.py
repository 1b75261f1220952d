"""A small stand-in for ComfyUI's ``main.py``, for tests that need a real worker process.

Run as a script: ``python tests/support/fake_comfy.py --port N [options]``. Unknown ComfyUI flags
(``--listen``, ``--cuda-device``, ``--cpu`` ...) are accepted and ignored. Copied as ``<dir>/ComfyUI/main.py``
it works as the ``StartScript`` of a ``comfyui_selfstart`` backend. Standard library only.

Routes: GET /system_stats, GET /object_info, GET /queue, POST /free (500 on an empty body, as ComfyUI
answers), GET /fake/frees (how many frees were accepted, for tests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
    p.add_argument("--busy", action="store_true", help="/queue always shows work")
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


class _State:
    def __init__(self, busy: bool) -> None:
        self.busy = busy
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
                self._send(200, {"KSampler": {"name": "KSampler"}})
            elif path == "/queue":
                running = [[0, "fake-prompt", {}, {}, []]] if state.busy else []
                self._send(200, {"queue_running": running, "queue_pending": []})
            elif path == "/fake/frees":
                with state.lock:
                    self._send(200, {"frees": state.frees})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.split("?", 1)[0] != "/free":
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
        server = ThreadingHTTPServer((host, args.port), _make_handler(_State(args.busy)))
    except OSError as exc:
        print(f"fake_comfy: cannot listen on port {args.port}: {exc}", file=sys.stderr, flush=True)
        return 3
    server.daemon_threads = True
    print(f"To see the GUI go to: http://{host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
