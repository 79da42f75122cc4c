"""A TCP forwarder on a port of its own: another address for the same server, as a load
balancer or a published container port gives one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # one side went away: the connection is over


def _relay(client: socket.socket, server: socket.socket) -> None:
    with client, server:
        back = threading.Thread(target=_pipe, args=(server, client), daemon=True)
        back.start()
        _pipe(client, server)
        back.join()


@contextmanager
def tcp_proxy(target_port: int, host: str = "127.0.0.1") -> Iterator[int]:
    """Forward connections to a new port on `host` to `target_port`; yields the new port."""
    listener = socket.create_server((host, 0))
    port: int = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            server = socket.create_connection((host, target_port))
            threading.Thread(target=_relay, args=(client, server), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield port
    finally:
        listener.close()
