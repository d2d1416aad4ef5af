"""A loopback TCP proxy in front of PostgreSQL for the outage tests (issues 16, 24): it passes traffic,
refuses connections, or stalls (accepts and never answers)."""
from __future__ import annotations

import socket
import threading

from sqlalchemy.engine import make_url

# Deadlines short enough that an outage test fails fast rather than waits (service/storage/db.py).
DEADLINES = {"DB_CONNECT_TIMEOUT_SECONDS": "2", "DB_STATEMENT_TIMEOUT_SECONDS": "3", "DB_POOL_TIMEOUT_SECONDS": "2"}


class Proxy:
    """Forwards loopback TCP to `target`. `mode` is "pass", "refuse" (reset at once) or "stall": then new
    connections are accepted and never answered, and open ones stay open and swallow what is sent (a database
    that hangs, a path that drops packets). `switch()` changes mode and cuts every open connection too."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.mode, self.open = target, "pass", []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    @classmethod
    def before(cls, database_url: str) -> Proxy:
        """A proxy in front of the server `database_url` names."""
        target = make_url(database_url)
        return cls((target.host or "127.0.0.1", target.port or 5432))

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()
                continue
            self.open.append(client)
            if self.mode == "stall":
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self.open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self.mode == "pass":
                    sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.close()
            except OSError:
                pass

    def switch(self, mode: str) -> None:
        """Change mode and cut every connection made so far (the pool must reconnect)."""
        self.mode = mode
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.open = []

    def close(self) -> None:
        self.switch("refuse")
        self.server.close()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by this proxy's."""
        parsed = make_url(database_url)
        return parsed.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
