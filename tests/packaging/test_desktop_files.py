"""What desktops and app stores read from resources/: icons that match the one SVG, a .desktop entry, AppStream.

Quick and Qt-offscreen only, so these run in the default test run (the bundle build is in test_bundle.py).
"""

from __future__ import annotations

import configparser
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication, QImage, QImageReader

from backend_manager_gui import __version__
from backend_manager_gui.paths import resources_dir

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import make_icons  # noqa: E402

RES = resources_dir()


@pytest.fixture(scope="module", autouse=True)
def _gui_app() -> QGuiApplication:
    return QGuiApplication.instance() or QGuiApplication([])


def _images(path: Path) -> list[QImage]:
    reader = QImageReader(str(path))
    images = []
    for i in range(reader.imageCount()):
        assert reader.jumpToImage(i)
        images.append(reader.read())
    return images


def _max_channel_difference(a: QImage, b: QImage) -> int:
    a = a.convertToFormat(QImage.Format.Format_RGBA8888)
    b = b.convertToFormat(QImage.Format.Format_RGBA8888)
    assert (a.width(), a.height()) == (b.width(), b.height())
    pa, pb = bytes(a.constBits()), bytes(b.constBits())
    return max(abs(x - y) for x, y in zip(pa, pb, strict=False))


def test_the_app_icon_png_is_the_svg_drawn_at_256_pixels() -> None:
    committed = QImage(str(RES / "app.png"))
    rendered = QImage.fromData(make_icons.render_png(256))
    assert (committed.width(), committed.height()) == (256, 256)
    # a stale PNG (the SVG changed, make_icons.py not rerun) differs by far more than antialiasing noise
    assert _max_channel_difference(committed, rendered) <= 8, "run python packaging/make_icons.py"
    assert committed.pixelColor(128, 128).alpha() == 255 and committed.pixelColor(2, 2).alpha() == 0


def test_windows_icon_holds_every_size_the_shell_asks_for() -> None:
    images = _images(RES / "app.ico")
    assert sorted(img.width() for img in images) == [16, 24, 32, 48, 64, 128, 256]
    big = max(images, key=QImage.width)
    assert _max_channel_difference(big, QImage(str(RES / "app.png"))) <= 8


def test_macos_icon_holds_the_retina_sizes_up_to_1024() -> None:
    data = (RES / "app.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    sizes = sorted({img.width() for img in _images(RES / "app.icns")})
    assert sizes == [16, 32, 64, 128, 256, 512, 1024]


def test_desktop_entry_starts_the_command_with_the_installed_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive in .desktop files
    entry.read(RES / "backend-manager-gui.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == "Backend Manager"
    assert section["Exec"] == "backend-manager-gui"
    assert section["Icon"] == "backend-manager-gui"
    assert section["Categories"] == "Utility;Development;"
    assert section["Terminal"] == "false"


def test_appstream_metainfo_names_this_version_and_the_desktop_entry() -> None:
    root = ET.parse(RES / "io.github.backend_manager_gui.metainfo.xml").getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.backend_manager_gui"
    assert root.findtext("launchable") == "backend-manager-gui.desktop"
    # software centres show the newest <release>: it must be the version being shipped
    assert root.find("releases/release").get("version") == __version__
    assert root.findtext("provides/binary") == "backend-manager-gui"
