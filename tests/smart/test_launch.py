"""SMART launch safety: PKCE, state, sessions, CSRF, clear pages when things go wrong."""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from service.smart.oauth import make_pkce
from service.web.sessions import SessionStore, smart_rules
from tests.support.ehr import chart_for, running_ehr

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_pkce_challenge_is_s256_of_the_verifier():
    verifier, challenge = make_pkce()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_session_cookie_is_signed_expires_and_is_shared_through_the_database(tmp_path):
    from service.config import Settings
    from service.storage import open_storage
    storage = open_storage(Settings(data_dir=tmp_path))
    storage.migrate()
    store = SessionStore(storage, "secret", smart_rules(60))
    cookie = store.open({"a": 1}, now=NOW)
    assert store.get(cookie, NOW).data["a"] == 1
    sid = cookie.partition(".")[0]
    assert store.get(sid + ".forged") is None and store.get(None) is None and store.get("é.x") is None
    assert SessionStore(storage, "other secret", smart_rules(60)).get(cookie, NOW) is None  # signed
    other_worker = SessionStore(storage, "secret", smart_rules(60))  # another process, same database
    assert other_worker.get(cookie, NOW).data["a"] == 1
    rotated = store.open({"a": 2}, replacing=cookie, now=NOW)
    assert store.get(cookie, NOW) is None and store.get(rotated, NOW).data["a"] == 2
    assert store.get(rotated, NOW + timedelta(minutes=60)) is None  # the TTL after the last change
    store.save(rotated, {"a": 3}, now=NOW + timedelta(minutes=50))  # every page that changes it renews it
    assert store.get(rotated, NOW + timedelta(minutes=109)).data["a"] == 3
    assert store.get(rotated, NOW + timedelta(minutes=110)) is None


def test_launch_redirects_with_pkce_state_aud_and_scopes(client):
    with running_ehr(chart_for("aetna"), []) as ehr:
        r = client.get(f"/smart/launch?iss={ehr.url}&launch=L1", follow_redirects=False)
    assert r.status_code == 302
    q = {k: v[0] for k, v in parse_qs(urlparse(r.headers["location"]).query).items()}
    assert q["code_challenge_method"] == "S256" and q["aud"] == ehr.url and q["launch"] == "L1"
    assert set(q["scope"].split()) == {"launch", "openid", "fhirUser", "patient/*.rs", "patient/QuestionnaireResponse.cu"}
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_callback_with_wrong_state_is_refused(client):
    with running_ehr(chart_for("aetna"), []) as ehr:
        client.get(f"/smart/launch?iss={ehr.url}&launch=L1", follow_redirects=False)
        r = client.get("/smart/callback?code=abc&state=not-the-state", follow_redirects=False)
    assert r.status_code == 400 and "did not match" in r.text


def test_clear_pages_for_expired_session_missing_iss_and_ehr_down(client):
    assert client.get("/smart/form").status_code == 401 and "launch the app again" in client.get("/smart/form").text
    assert client.get("/smart/launch").status_code == 400
    down = client.get("/smart/launch?iss=http://127.0.0.1:9/fhir")
    assert down.status_code == 502 and "not answering" in down.text
    r = client.post("/smart/save", json={})
    assert r.status_code == 401


def test_standalone_launch_asks_for_patient_selection(client):
    with running_ehr(chart_for("aetna"), []) as ehr:
        r = client.get(f"/smart/launch?iss={ehr.url}", follow_redirects=False)
    q = {k: v[0] for k, v in parse_qs(urlparse(r.headers["location"]).query).items()}
    assert "launch" not in q and "launch/patient" in q["scope"].split() and "launch" not in q["scope"].split()


def test_app_context_of_older_ehrs_is_read():
    from service.smart.ehr import context_refs
    token = {"appContext": '{"fhirContext": [{"reference": "Coverage/c9"}], "order": "ServiceRequest/s1"}'}
    assert context_refs(token) == ["Coverage/c9", "ServiceRequest/s1"]
    assert context_refs({"appContext": "not json"}) == []


def test_hostile_launch_inputs_get_pages_not_500s(client):
    """Issue 16: non-ASCII state and CSRF header, a JSON array body, an unparsable iss."""
    with running_ehr(chart_for("aetna"), []) as ehr:
        r = client.get(f"/smart/launch?iss={ehr.url}&launch=L1", follow_redirects=False)
        assert r.status_code == 302
        assert client.get("/smart/callback?code=x&state=%C3%A9t%C3%A9").status_code == 400
    assert client.get("/smart/launch?iss=http://%5B::1").status_code == 400
    assert client.post("/smart/save", content=b"[1]", headers={"x-csrf-token": "é".encode()}).status_code in (401, 403)
