"""No SSRF (issue 20): every outbound call site refuses loopback, link-local and private addresses in every
spelling unless an allow-list names them, and does so before a connection is made: a real loopback
listener counts what it accepts and must count zero. Names are resolved once, checked, and the connection
goes to the checked address (DNS rebinding)."""
from __future__ import annotations

import asyncio
import socket
import threading
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.jwks import JwksCache
from service.config import Settings
from service.errors import ApiError
from service.fhir.client import HttpClient, resolve
from service.fhir.origins import PUBLIC_HTTPS, decide
from service.storage import subscriptions as repo
from service.subscriptions.request import read_subscription
from service.subscriptions.worker import DELIVERY_FAILED, post_notification
from tests.crd.requests import besponsa_request, hook_request
from tests.fixtures.charts import patient
from tests.subscriptions.conftest import FAST, eventually, subscription

LOOPBACK_LISTED = "https://*,http://127.0.0.1:*"
SPELLINGS = ["https://127.0.0.1:{port}", "https://localhost:{port}", "https://[::1]:{port}",
             "https://2130706433:{port}", "https://0x7f000001:{port}", "https://127.1:{port}",
             "https://[::ffff:127.0.0.1]:{port}", "https://169.254.169.254", "http://127.0.0.1:{port}"]
REAL_GETADDRINFO = socket.getaddrinfo


class Listener:
    """TCP on 127.0.0.1 (and ::1, same port, where the machine has IPv6) counting every connection it
    accepts; each is answered with `status` and `{}` (or closed unanswered when `silent`)."""

    def __init__(self, silent: bool = False, status: int = 200):
        self.silent, self.status, self.accepted, self.requests = silent, status, 0, []
        self.lock = threading.Lock()
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        try:
            self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass  # no IPv6 here: [::1] is refused all the same, and nothing could have listened
        for sock in self.sockets:
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            with conn:
                if self.silent:
                    continue
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(65536))
                    conn.sendall(f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n".encode()
                                 + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                except OSError:
                    pass

    def urls(self, path: str = "") -> list[str]:
        return [spelling.format(port=self.port) + path for spelling in SPELLINGS]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture()
def listener():
    server = Listener()
    yield server
    server.close()


def app(tmp_path, **settings) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path / "data", public_base_url="http://testserver",
                                          auth_disabled=True, **settings)))


def hook(client: TestClient, server: str):
    req = hook_request([besponsa_request()], prefetch={"patient": patient()}, fhirServer=server,
                       fhirAuthorization={"access_token": "the-ehr-token", "token_type": "Bearer"})
    return client.post("/cds-services/besponsa-order-sign", json=req)


def populate(client: TestClient, server: str):
    return client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
        {"name": "fhirServer", "valueUrl": server},
        {"name": "fhirAuthorization", "valueString": "the-users-token"}]})


def launch(client: TestClient, iss: str):
    return client.get("/smart/launch", params={"iss": iss, "launch": "x"}, follow_redirects=False)


def subscribe(client: TestClient, endpoint: str):
    return client.post("/fhir/Subscription", json=subscription(endpoint))


def jwks(client: TestClient, url: str):
    """A client's jwks_uri under EHR_ALLOWED_ORIGINS, fetched through the app's outbound client."""
    settings = client.app.state.settings
    cache = JwksCache(client.app.state.http, "the client's JWK Set", allowed=settings.allowed_origins)
    try:
        asyncio.run(cache.fetch(url, "k1"))
    except ApiError as exc:
        return SimpleNamespace(status_code=exc.status, text=exc.message)
    return SimpleNamespace(status_code=200, text="")


# (call, the status a refusal is, the setting that would list loopback)
SITES = {
    "cds-hook fhirServer": (hook, 412, "ehr_allowed_origins"),
    "$populate fhirServer": (populate, 422, "ehr_allowed_origins"),
    "SMART launch iss": (launch, 400, "ehr_allowed_origins"),
    "Subscription endpoint": (subscribe, 422, "subscription_allowed_origins"),
    "client jwks_uri": (jwks, 401, "ehr_allowed_origins"),
}


@pytest.mark.parametrize("site", SITES)
def test_every_spelling_of_an_internal_address_is_refused_before_any_connection(tmp_path, listener, site):
    call, status, _ = SITES[site]
    with app(tmp_path) as client:
        for url in listener.urls("/fhir"):
            r = call(client, url)
            assert r.status_code == status, (url, r.text)
            assert listener.accepted == 0, url
    assert "the-ehr-token" not in str(listener.requests)


@pytest.mark.parametrize("site", SITES)
def test_listing_loopback_explicitly_lets_the_call_through(tmp_path, listener, site):
    call, _, setting = SITES[site]
    with app(tmp_path, **{setting: LOOPBACK_LISTED}) as client:
        call(client, f"http://127.0.0.1:{listener.port}/fhir")
        eventually(lambda: listener.accepted >= 1, timeout=5)
        accepted = listener.accepted
        call(client, f"https://localhost:{listener.port}/fhir")  # 127.0.0.1 listed: localhost is not
        assert listener.accepted == accepted


def test_a_refusal_names_the_host_kind(tmp_path):
    with app(tmp_path) as client:
        said = populate(client, "https://169.254.169.254/latest").json()["issue"][0]["diagnostics"]
        assert "link-local" in said and "EHR_ALLOWED_ORIGINS" in said
        said = subscribe(client, "https://10.1.2.3/hook").json()["issue"][0]
        assert said["expression"] == ["Subscription.channel.endpoint"] and "private" in said["diagnostics"]


def rebinding(name: str, to: str):
    """getaddrinfo that answers `to` for `name` (a public-looking name an attacker's DNS points inward)."""
    calls = []

    def fake(host, port, *args, **kwargs):
        if host == name:
            calls.append(host)
            family = socket.AF_INET6 if ":" in to else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (to, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    return fake, calls


def test_a_public_name_resolving_to_loopback_is_refused_at_connect_time(monkeypatch, listener):
    fake, calls = rebinding("ehr.partner-example.com", "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    url = f"https://ehr.partner-example.com:{listener.port}/fhir/metadata"
    assert decide(url, PUBLIC_HTTPS).listed is False  # the wildcard matches the name itself
    with pytest.raises(ApiError) as raised:
        asyncio.run(HttpClient().under(PUBLIC_HTTPS).get_json(url, what="the EHR"))
    assert raised.value.status == 502 and "resolves to a loopback address" in raised.value.message
    assert calls and listener.accepted == 0


def test_a_rebound_subscription_endpoint_fails_at_delivery_with_nothing_sent(tmp_path, monkeypatch, listener):
    """Accepted at POST (a public name), then its DNS points at loopback: the worker resolves again per post."""
    with app(tmp_path) as client:
        client.app.state.subscriptions.close()
        endpoint = f"https://hooks.partner-example.com:{listener.port}/hook"
        fake, calls = rebinding("hooks.partner-example.com", "127.0.0.1")
        monkeypatch.setattr(socket, "getaddrinfo", fake)
        r = subscribe(client, endpoint)
        assert r.status_code == 201 and r.json()["error"] == "handshake: delivery failed"
        storage = client.app.state.storage
        wanted = read_subscription(subscription(endpoint), PUBLIC_HTTPS)
        row = repo.create_subscription(storage, wanted, owner=None, client_id="c")
        repo.record_handshake(storage, row.id, None)  # as if it had resolved publicly then
        with storage.write_lock, storage.sessions.begin() as session:
            assert repo.enqueue_claim_event(session, owner=None, response_id="cr-1", version=1) == 1
        from service.subscriptions.worker import DeliveryWorker
        http = client.app.state.http.under(client.app.state.settings.subscription_origins)
        assert DeliveryWorker(storage, http, "http://testserver", lambda rid: None, FAST).run_once() == 0
        [event] = repo.list_outbox(storage, row.id)
        assert event.last_error == DELIVERY_FAILED and len(calls) == 2 and listener.accepted == 0


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, listener):
    """Resolved once: the answer checked is the one connected to, with the URL's own Host header."""
    fake, calls = rebinding("localhost", "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    asyncio.run(HttpClient().get_json(f"http://localhost:{listener.port}/x", allowed=("http://localhost:*",)))
    assert calls == ["localhost"] and listener.accepted == 1
    assert f"host: localhost:{listener.port}".encode() in listener.requests[0].lower()


def test_tls_is_checked_against_the_name_not_the_address(monkeypatch):
    fake, _ = rebinding("ehr.partner-example.com", "93.184.215.14")
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    url = "https://ehr.partner-example.com/fhir"
    [target] = resolve(url, decide(url, PUBLIC_HTTPS))
    assert str(target.url) == "https://93.184.215.14/fhir"
    assert target.headers == {"Host": "ehr.partner-example.com"}
    assert target.extensions == {"sni_hostname": "ehr.partner-example.com"}


def test_stored_delivery_errors_do_not_say_whether_a_port_is_open():
    """A closed port, an open one that answers nothing, a refused address: one text ("delivery failed")."""
    silent = Listener(silent=True)
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    http = HttpClient(timeout=2).under(("https://*", "http://127.0.0.1:*"))
    bundle = {"resourceType": "Bundle", "type": "history", "entry": []}

    def post(endpoint: str) -> str | None:
        sub = SimpleNamespace(id="s", endpoint=endpoint, timeout_seconds=None, headers=None)
        return asyncio.run(post_notification(http, sub, bundle))  # type: ignore[arg-type]

    try:
        errors = {post(f"http://127.0.0.1:{closed_port}/hook"), post(f"http://127.0.0.1:{silent.port}/hook"),
                  post("https://10.0.0.7/hook"), post("https://[::ffff:169.254.169.254]/hook")}
    finally:
        silent.close()
    assert errors == {DELIVERY_FAILED} and silent.accepted == 1


def test_an_http_status_is_the_one_thing_a_delivery_error_adds():
    http = HttpClient().under(("http://127.0.0.1:*",))
    for status, error in ((200, None), (503, f"{DELIVERY_FAILED} (HTTP 503)")):
        server = Listener(status=status)
        sub = SimpleNamespace(id="s", endpoint=f"http://127.0.0.1:{server.port}/hook", timeout_seconds=None, headers=None)
        try:
            assert asyncio.run(post_notification(http, sub, {})) == error  # type: ignore[arg-type]
        finally:
            server.close()


def test_a_mock_transport_skips_dns_but_not_the_policy():
    import httpx
    seen = []
    http = HttpClient(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={})))
    with pytest.raises(ApiError):
        asyncio.run(http.get_json("https://127.0.0.1/x"))
    assert asyncio.run(http.get_json("https://ehr.example.org/x")) == {} and len(seen) == 1


def tls_server(tmp_path, name: str):
    """An https server on 127.0.0.1 whose certificate (from a CA of this test) names `name` only."""
    import datetime
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def cert(subject: str, key, issuer_name, issuer_key, ca: bool):
        now = datetime.datetime.now(datetime.UTC)
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        else:
            builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                          content_commitment=False, key_encipherment=False,
                                                          data_encipherment=False, key_agreement=False,
                                                          encipher_only=False, decipher_only=False), critical=True)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = cert("test CA", ca_key, ca_name, ca_key, True)
    leaf = cert(name, key, ca_name, ca_key, False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, str(tmp_path / "ca.pem")


@pytest.mark.parametrize("certified, ok", [("ehr.partner-example.com", True), ("other.example.org", False)])
def test_a_pinned_address_still_verifies_the_certificate_for_the_name(tmp_path, monkeypatch, certified, ok):
    import certifi
    server, ca = tls_server(tmp_path, certified)
    monkeypatch.setattr(certifi, "where", lambda: ca)
    fake, calls = rebinding("ehr.partner-example.com", "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    url = f"https://ehr.partner-example.com:{server.server_address[1]}/metadata"
    http = HttpClient().under(("https://ehr.partner-example.com:*",))  # listed by name: any address
    try:
        if ok:
            assert asyncio.run(http.get_json(url)) == {} and calls == ["ehr.partner-example.com"]
        else:
            with pytest.raises(ApiError, match="could not be reached"):
                asyncio.run(http.get_json(url))
    finally:
        server.shutdown()


def test_every_spelling_is_refused_at_delivery_time_too(listener):
    """A Subscription stored before the list was narrowed (or written around the POST check) is posted nowhere."""
    http = HttpClient().under(PUBLIC_HTTPS)  # SUBSCRIPTION_ALLOWED_ORIGINS' default
    for url in listener.urls("/hook"):
        sub = SimpleNamespace(id="s", endpoint=url, timeout_seconds=None, headers=["Authorization: Bearer t"])
        assert asyncio.run(post_notification(http, sub, {})) == DELIVERY_FAILED, url  # type: ignore[arg-type]
    assert listener.accepted == 0
