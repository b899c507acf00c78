"""Connections whose sockets a client can shut down from another thread
(:class:`TrackingAdapter`), so that a read waiting on a stalled intake ends
at once instead of after its timeout."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter


def shut(sock: socket.socket) -> None:
    """Shut a socket down both ways: a thread blocked reading it wakes up
    (closing alone would not wake it on Linux)."""
    with suppress(OSError):  # closed already, or never connected
        sock.shutdown(socket.SHUT_RDWR)


class TrackingAdapter(HTTPAdapter):
    """requests' adapter whose connections report their socket once
    connected (to ``track``), so a client can shut them down from another
    thread (:meth:`admin.sync.client.IntakeClient.abort`)."""

    def __init__(self, track: Callable[[socket.socket], None]) -> None:
        self._track = track
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        track = self._track

        class Connection(urllib3.connection.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class TlsConnection(urllib3.connection.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class Pool(urllib3.HTTPConnectionPool):
            ConnectionCls = Connection

        class TlsPool(urllib3.HTTPSConnectionPool):
            ConnectionCls = TlsConnection

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}
