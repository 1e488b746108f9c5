"""`scripts/web-answers.sh` run for real against listeners of the test's own on loopback."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.scripts import render


@contextmanager
def http_server() -> Iterator[int]:
    """An HTTP server on a free loopback port that answers 404 to everything (still an answer)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tcp_listener() -> Iterator[int]:
    """A port that accepts connections and never speaks (the dashboard's TLS, as far as a client sees)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait(web: int, dashboard: int, timeout_s: int = 3, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    script = render(
        "web-answers.sh",
        ADDRESS="127.0.0.1",
        WEB_PORT=str(web),
        DASHBOARD_PORT=str(dashboard),
        TIMEOUT_S=str(timeout_s),
        INTERVAL_S="0.2",
        SERVICES_DIGEST="test",
    )
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={"PATH": path}, timeout=60)


def test_it_succeeds_once_the_web_port_answers_http_and_the_dashboard_accepts() -> None:
    with http_server() as web, tcp_listener() as dashboard:
        result = wait(web, dashboard)
    assert result.returncode == 0, result.stderr
    assert f"WIPP answers on 127.0.0.1:{web} and 127.0.0.1:{dashboard}" in result.stderr


def test_it_fails_within_the_timeout_naming_each_port_that_does_not_answer() -> None:
    closed_web, closed_dashboard = free_port(), free_port()
    started = time.monotonic()
    result = wait(closed_web, closed_dashboard, timeout_s=2)
    took = time.monotonic() - started
    print(f"web-answers gave up after {took:.1f} s (timeout 2 s)")
    assert result.returncode == 1
    assert f"the web port {closed_web} (HTTP) and the dashboard port {closed_dashboard} did not answer" in result.stderr
    assert "within 2 s (wipp:convergeTimeout)" in result.stderr
    assert took < 10
    with http_server() as web:
        only_dashboard = wait(web, closed_dashboard, timeout_s=1)
    assert only_dashboard.returncode == 1 and f"the dashboard port {closed_dashboard} did not" in only_dashboard.stderr
    assert "web port" not in only_dashboard.stderr.split("does not answer")[1]


def test_a_listener_that_accepts_but_never_speaks_http_is_no_web_answer() -> None:
    with tcp_listener() as silent, tcp_listener() as dashboard:
        result = wait(silent, dashboard, timeout_s=3)
    assert result.returncode == 1 and f"the web port {silent} (HTTP) did not answer" in result.stderr


def test_wget_does_the_same_where_curl_is_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "bash", "timeout", "wget", "date", "sleep", "hostname"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(found)
    with http_server() as web, tcp_listener() as dashboard:
        answered = wait(web, dashboard, path=str(bin_dir))
    assert answered.returncode == 0, answered.stderr
    closed = free_port()
    with http_server() as web:
        failed = wait(web, closed, timeout_s=1, path=str(bin_dir))
    assert failed.returncode == 1 and f"the dashboard port {closed} did not answer" in failed.stderr
