"""A small FHIR server stand-in on loopback: answers searches from a fixed chart, checks the bearer."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


@contextmanager
def mock_fhir_server(resources: list[dict], token: str = "secret-token"):
    """Yield (base_url, seen) where `seen` lists (path, authorized) for each request."""
    seen: list[tuple[str, bool]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            authorized = self.headers.get("Authorization") == f"Bearer {token}"
            seen.append((self.path, authorized))
            if not authorized:
                return self.reply(401, {"resourceType": "OperationOutcome"})
            url = urlparse(self.path)
            kind = url.path.strip("/").split("/")[0]
            if "/" in url.path.strip("/"):
                rid = url.path.strip("/").split("/")[1]
                found = [r for r in resources if r["resourceType"] == kind and r["id"] == rid]
                return self.reply(200 if found else 404, found[0] if found else {"resourceType": "OperationOutcome"})
            matches = [r for r in resources if r["resourceType"] == kind
                       or (kind == "Coverage" and r["resourceType"] == "Organization" and "_include" in url.query)]
            return self.reply(200, {"resourceType": "Bundle", "type": "searchset",
                                    "entry": [{"resource": r} for r in matches]})

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
