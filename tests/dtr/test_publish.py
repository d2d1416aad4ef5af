"""Publishing to a FHIR server: a transaction of conditional PUTs, against a loopback stand-in."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from service.dtr.publish import main


@pytest.fixture()
def fhir_server():
    """Keeps resources by (type, url, version): conditional PUT creates (201) or updates (200)."""
    store: dict[tuple, dict] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            bundle = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if bundle.get("type") != "transaction":
                return self.reply(400, {"resourceType": "OperationOutcome"})
            out = []
            for entry in bundle["entry"]:
                req = urlparse(entry["request"]["url"])
                q = parse_qs(req.query)
                key = (req.path, q["url"][0], q["version"][0])
                assert entry["request"]["method"] == "PUT" and entry["resource"]["resourceType"] == req.path
                status = "200 OK" if key in store else "201 Created"
                store[key] = entry["resource"]
                out.append({"response": {"status": status}})
            self.reply(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": out})

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir", store
    server.shutdown()


def test_publish_twice_creates_then_updates(fhir_server, capsys):
    url, store = fhir_server
    assert main(["--server", url]) == 0
    assert "201 Created" in capsys.readouterr().out
    kinds = sorted(k[0] for k in store)
    assert kinds.count("Questionnaire") == 5 and kinds.count("Library") == 5 and kinds.count("CodeSystem") == 1
    assert kinds.count("ValueSet") == 6
    assert main(["--server", url]) == 0
    out = capsys.readouterr().out
    assert "200 OK" in out and "201" not in out and len(store) == 17


def test_unreachable_server_fails_cleanly(capsys):
    assert main(["--server", "http://127.0.0.1:9/fhir"]) == 1
    assert "publishing failed" in capsys.readouterr().err
