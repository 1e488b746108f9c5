"""A proxy to a Docker Engine's API on a Unix socket of the test's own, which holds the engine's
answer to one service's create: the service then exists on the swarm while the Pulumi step that
creates it is still running, for as long as the test needs.

Why: the interrupted-`up` test sends Ctrl-C twice while `master` is being created, to leave the
pending create the README's recovery is for. pulumi-docker's create returns right after the engine
made the service, so without a hold the window between "the service exists" and "the step is done"
is a fraction of a second, and on a busy machine the step can be done before the second Ctrl-C (the
test failed once under load, most likely that way). Every byte is passed on unchanged; only the one answer waits.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


class HoldingProxy:
    """Forwards every connection on `path` to `engine_socket`; the first answer to a
    `POST …/services/create` for `service` waits until `release()` (or `hold_s` at most)."""

    def __init__(self, path: Path, engine_socket: str, service: str, hold_s: float = 120) -> None:
        self.path, self.engine_socket, self.hold_s = path, engine_socket, hold_s
        self.marker = f'"Name":"{service}"'.encode()
        self.held = threading.Event()  # set when the create's answer is being held
        self._released = threading.Event()
        self._claimed = threading.Lock()  # only one connection's answer is ever held
        self._held_once = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._threads: list[threading.Thread] = []

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        self._spawn(self._accept)

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._listener.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(self.engine_socket.removeprefix("unix://"))
            hold = threading.Event()  # this connection carried the create to hold
            self._spawn(self._requests, client, engine, hold)
            self._spawn(self._answers, engine, client, hold)

    def _requests(self, client: socket.socket, engine: socket.socket, hold: threading.Event) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                seen = (seen + data)[-131072:]
                if b"/services/create" in seen and self.marker in seen:
                    with self._claimed:
                        if not self._held_once:
                            self._held_once = True
                            hold.set()
                engine.sendall(data)
        with contextlib.suppress(OSError):
            engine.shutdown(socket.SHUT_WR)

    def _answers(self, engine: socket.socket, client: socket.socket, hold: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := engine.recv(65536):
                if hold.is_set() and not self._released.is_set():
                    self.held.set()
                    self._released.wait(self.hold_s)
                client.sendall(data)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def holding_proxy(path: Path, engine_socket: str, service: str) -> Iterator[HoldingProxy]:
    made = HoldingProxy(path, engine_socket, service)
    made.start()
    try:
        yield made
    finally:
        made.close()
