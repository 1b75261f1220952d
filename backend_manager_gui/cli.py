"""Command line: picks a service from the arguments and hands it to the GUI, or to the server for ``serve``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backend-manager-gui",
        description=(
            "See and run the GPU backends of image-generation setups. With no arguments it opens the "
            "window on this computer's own manager of GPU workers (ComfyUI or any command)."
        ),
        epilog="A server token is read from the SWARM_TOKEN environment variable or the keyring, never from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for saved backends and worker logs (default: your user data folder)")
    parser.add_argument("--server", metavar="URL", action="append", default=None,
                        help="also manage the backends of the SwarmUI server (or serve box) at URL; give it once per "
                             "server: they all show in one window, beside this computer's unless --no-local")
    parser.add_argument("--no-local", action="store_true",
                        help="with --server: only the servers, not this computer's own manager")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser(
        "serve",
        help="run the manager headless and serve it over SwarmUI's backend API (for a GPU box without a desktop)",
        description="Run the embedded manager with no window and serve it over SwarmUI's backend API.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs --token-file)")
    serve.add_argument("--port", type=int, default=7801, help="port to listen on (default 7801)")
    serve.add_argument("--data-dir", dest="serve_data_dir", type=Path, default=None, help="folder for saved backends and worker logs")
    serve.add_argument("--token-file", type=Path, default=None, help="file holding the token clients must send as the swarm_token cookie")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .core.server import serve_main  # no Qt imported on this path

        if args.serve_data_dir is not None:
            args.data_dir = args.serve_data_dir
        return serve_main(args)
    from .qt_preflight import main as preflight

    status = preflight()  # a missing system library gets one clear line, not Qt's abort
    if status is not None:
        return status
    from .gui.app import run_app

    return run_app(args, token=os.environ.get("SWARM_TOKEN") or None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
