"""Render resources/app.svg into the icon files each OS wants: app.png (Linux), app.ico (Windows), app.icns (macOS).

Run from anywhere: ``python packaging/make_icons.py`` (add ``--check`` to only report whether the committed files
are up to date). Needs nothing but PySide6: Qt draws the SVG offscreen, and the ICO/ICNS containers are written
here by hand because Qt's own ICO writer stores a single size and Qt cannot write ICNS at all.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SVG = RESOURCES / "app.svg"

# Windows picks the nearest size for the taskbar, Explorer views and Alt-Tab; 256 is the largest an ICO holds.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold PNG data, and the pixel size of each (the @2x types hold double).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic13", 256),  # 128@2x
    (b"ic08", 256),
    (b"ic14", 512),  # 256@2x
    (b"ic09", 512),
    (b"ic10", 1024),  # 512@2x
)
PNG_SIZE = 256


def _ensure_app() -> object:
    # A QGuiApplication is needed for font/raster setup; offscreen so this runs on a build box without a display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(sys.argv[:1])


def render_png(size: int, svg: Path = SVG) -> bytes:
    """The SVG drawn on a transparent square of ``size`` pixels, as PNG bytes."""
    _ensure_app()
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO holding one PNG-compressed image per size (the form Windows Vista and later read)."""
    count = len(pngs)
    header = struct.pack("<HHH", 0, 1, count)  # reserved, type 1 = icon, image count
    offset = len(header) + 16 * count
    entries = b""
    body = b""
    for size in sorted(pngs):
        png = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(body))
        body += png
    return header + entries + body


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICNS holding PNG elements for every size macOS asks for (Finder, Dock, Retina)."""
    elements = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(elements)) + elements


def build_all(svg: Path = SVG) -> dict[str, bytes]:
    """File name in resources/ -> the bytes it should hold."""
    sizes = sorted({*ICO_SIZES, *(size for _, size in ICNS_TYPES), PNG_SIZE})
    pngs = {size: render_png(size, svg) for size in sizes}
    return {
        "app.png": pngs[PNG_SIZE],
        "app.ico": ico_bytes({size: pngs[size] for size in ICO_SIZES}),
        "app.icns": icns_bytes(pngs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the committed icon files match the SVG")
    args = parser.parse_args(argv)
    stale = []
    for name, data in build_all().items():
        path = RESOURCES / name
        if path.is_file() and path.read_bytes() == data:
            continue
        stale.append(name)
        if not args.check:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")
    if args.check and stale:
        print("out of date: " + ", ".join(stale) + " (run python packaging/make_icons.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
