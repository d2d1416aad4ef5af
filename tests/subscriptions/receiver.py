"""A rest-hook receiver on loopback (ThreadingHTTPServer) that records every notification it is sent."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def notification_type(bundle: dict) -> str | None:
    """The backport notification type (handshake, heartbeat, event-notification) of a Bundle."""
    params = bundle["entry"][0]["resource"]["parameter"]
    return next((p["valueCode"] for p in params if p["name"] == "type"), None)


def parameter(bundle: dict, name: str):
    """The first value of a named parameter in a notification's status Parameters."""
    for p in bundle["entry"][0]["resource"]["parameter"]:
        if p["name"] == name:
            return p.get("part") or next(v for k, v in p.items() if k.startswith("value"))
    return None


class Receiver:
    """Answers `status` (or 500 to the next `fail_next` posts); `received` holds (path, time, headers, body)."""

    def __init__(self, status: int = 200):
        self.status, self.fail_next = status, 0
        self.received: list[tuple[str, float, dict, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")
                with receiver.lock:
                    receiver.received.append((self.path, time.monotonic(), dict(self.headers), body))
                    status = receiver.status
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bundles(self, kind: str | None = None, path: str | None = None) -> list[dict]:
        with self.lock:
            found = [b for p, _, _, b in self.received if path is None or p == path]
        return [b for b in found if kind is None or notification_type(b) == kind]

    def times(self, kind: str, path: str | None = None) -> list[float]:
        with self.lock:
            return [t for p, t, _, b in self.received if notification_type(b) == kind and (path is None or p == path)]

    def wait_for(self, kind: str, count: int, path: str | None = None, timeout: float = 15) -> list[dict]:
        """The `kind` notifications once at least `count` have arrived (an assertion after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.bundles(kind, path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{len(self.bundles(kind, path))} {kind} notifications arrived, wanted {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
