"""Which URL the app shows for a worker's page (core/links.py), on this computer and over ``serve``."""

from __future__ import annotations

from backend_manager_gui.core.links import WorkerLink, worker_link
from backend_manager_gui.core.models import Backend, BackendStatus


def _worker(url: str | None = "http://127.0.0.1:8189", listens_all: bool = False) -> Backend:
    raw = {"id": 3, "type": "comfyui_selfstart", "status": "running", "worker_port": 8189,
           "worker_listens_all": listens_all}
    if url is not None:
        raw["worker_url"] = url
    return Backend.from_wire(raw)


def test_on_this_computer_the_url_is_the_workers_own() -> None:
    assert worker_link(_worker(), None) == WorkerLink("http://127.0.0.1:8189")


def test_no_page_no_link() -> None:
    assert worker_link(_worker(None), None) is None
    assert worker_link(Backend(1, "swarmswarmbackend", BackendStatus.RUNNING), "http://gpu-box:7801") is None
    assert worker_link(_worker("javascript:alert(1)"), None) is None


def test_over_serve_reached_on_loopback_the_url_stays_with_a_tunnel_hint() -> None:
    link = worker_link(_worker(), "http://127.0.0.1:7801")
    assert link is not None and link.url == "http://127.0.0.1:8189"
    assert link.hint.endswith("ssh -N -L 8189:127.0.0.1:8189 you@gpu-box")


def test_over_serve_on_the_network_the_box_host_only_when_the_worker_listens_there_too() -> None:
    open_worker = worker_link(_worker(listens_all=True), "http://gpu-box.lan:7801")
    assert open_worker == WorkerLink("http://gpu-box.lan:8189")
    closed = worker_link(_worker(), "http://gpu-box.lan:7801")
    assert closed is not None and closed.url == "http://127.0.0.1:8189"
    assert "ssh -N -L 8189:127.0.0.1:8189 gpu-box.lan" in closed.hint and "Listen" in closed.hint
    v6 = worker_link(_worker(listens_all=True), "http://[fd00::5]:7801")
    assert v6 == WorkerLink("http://[fd00::5]:8189")


def test_a_comfyui_by_url_elsewhere_keeps_its_address() -> None:
    assert worker_link(_worker("http://10.0.0.7:8188"), "http://gpu-box.lan:7801") == WorkerLink("http://10.0.0.7:8188")
