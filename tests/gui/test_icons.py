"""The SVG icons render under the offscreen platform (the Qt SVG image plugin is there) in the status colours."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImageReader

from backend_manager_gui.core.models import BackendStatus
from backend_manager_gui.gui import icons

ACTIONS = ["add", "edit", "delete", "restart", "free-memory", "refresh", "duplicate", "toggle", "show", "hide", "warning"]


def _painted_colours(icon, size: int = 32) -> list[QColor]:
    image = icon.pixmap(size, size).toImage()
    return [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 200]


def test_svg_plugin_is_available(qapp) -> None:
    assert b"svg" in [bytes(f) for f in QImageReader.supportedImageFormats()]


@pytest.mark.parametrize("status", list(BackendStatus))
def test_each_status_has_its_own_svg_icon_in_its_colour(qapp, status) -> None:
    drawn = _painted_colours(icons.icon(f"status-{status.value}"))
    assert len(drawn) > 50  # a real drawing, not an empty or missing file
    assert icons.status_icon(status).cacheKey() == icons.status_icon(status).cacheKey()  # cached
    wanted = icons.status_colour(status)
    # the icon's dominant hue is the status colour's (grey statuses: low saturation)
    if wanted.hsvSaturation() < 60:
        assert sum(c.hsvSaturation() < 60 for c in drawn) > len(drawn) / 2
    else:
        close = [c for c in drawn if c.hsvSaturation() > 60 and min(abs(c.hsvHue() - wanted.hsvHue()), 360 - abs(c.hsvHue() - wanted.hsvHue())) < 25]
        assert len(close) > len(drawn) / 3, status


@pytest.mark.parametrize("name", ACTIONS + ["status-busy"])
def test_action_icons_render(qapp, name) -> None:
    assert len(_painted_colours(icons.icon(name))) > 30


def test_missing_icon_is_empty_not_an_error(qapp) -> None:
    assert icons.icon("no-such-icon").isNull()
