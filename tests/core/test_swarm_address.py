"""Use in SwarmUI: the address a SwarmUI server is given for a worker, and the refusals when it could not reach it."""

from __future__ import annotations

import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.links import same_worker, swarm_address
from backend_manager_gui.core.models import WORKER_LISTENS_BEYOND_LOOPBACK, WORKER_PORT, WORKER_URL, Backend
from backend_manager_gui.core.status import BackendStatus


def worker(port: int = 8188, listens_all: bool = False, url: str | None = None) -> Backend:
    b = Backend(id=0, type="comfyui_selfstart", status=BackendStatus.RUNNING)
    b.extra.update({WORKER_PORT: port, WORKER_URL: url or f"http://127.0.0.1:{port}",
                    WORKER_LISTENS_BEYOND_LOOPBACK: listens_all})
    return b


def test_swarmui_on_this_computer_gets_the_loopback_address():
    assert swarm_address(worker(), None, "http://127.0.0.1:7801") == "http://127.0.0.1:8188"
    assert swarm_address(worker(), None, "http://localhost:7801") == "http://127.0.0.1:8188"


def test_a_worker_on_loopback_only_is_refused_for_a_swarmui_elsewhere():
    with pytest.raises(BackendApiError, match=r"127\.0\.0\.1 only.*http://10\.0\.0\.7:7801.*Listen setting"):
        swarm_address(worker(), None, "http://10.0.0.7:7801", "10.0.0.2")


def test_a_worker_listening_beyond_loopback_gets_this_computers_address():
    assert swarm_address(worker(listens_all=True), None, "http://10.0.0.7:7801", "10.0.0.2") == "http://10.0.0.2:8188"
    with pytest.raises(BackendApiError, match="address .* is not known"):
        swarm_address(worker(listens_all=True), None, "http://10.0.0.7:7801", None)


def test_a_serve_box_worker_gets_the_box_address_or_is_refused():
    box = "http://gpu-box:7801"
    # SwarmUI on the box itself: the box's loopback reaches the worker
    assert swarm_address(worker(), box, "http://gpu-box:7801") == "http://127.0.0.1:8188"
    assert swarm_address(worker(listens_all=True), box, "http://swarm:7801") == "http://gpu-box:8188"
    with pytest.raises(BackendApiError, match="gpu-box's 127.0.0.1 only"):
        swarm_address(worker(), box, "http://swarm:7801")


def test_no_address_yet_and_an_address_of_its_own():
    stopped = Backend(id=0, type="comfyui_selfstart", status=BackendStatus.DISABLED)
    with pytest.raises(BackendApiError, match="no web address yet"):
        swarm_address(stopped, None, "http://127.0.0.1:7801")
    assert swarm_address(worker(url="http://10.0.0.9:8188"), None, "http://10.0.0.7:7801") == "http://10.0.0.9:8188"


def test_a_swarmui_address_is_recognised_as_the_workers():
    w = worker(listens_all=True)
    assert same_worker("http://127.0.0.1:8188", w, None, set())
    assert same_worker("http://10.0.0.2:8188", w, None, {"10.0.0.2"})
    assert not same_worker("http://10.0.0.3:8188", w, None, {"10.0.0.2"})
    assert not same_worker("http://127.0.0.1:8189", w, None, set())
    assert same_worker("http://gpu-box:8188", w, "http://gpu-box:7801", set())
    assert not same_worker("http://other:8188", w, "http://gpu-box:7801", set())
