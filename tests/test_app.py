"""Operability: health, readiness, request ids, JSON logs, start-up errors, the CodeSystem."""
import json
import logging

import pytest

from service.policies.concepts import CONCEPTS, SYSTEM


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_storage_is_unreachable(client):
    client.app.state.storage.ping = lambda: False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "storage unreachable"


def test_request_id_is_echoed_or_minted(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc123"}).headers["x-request-id"] == "abc123"
    minted = client.get("/healthz").headers["x-request-id"]
    assert len(minted) == 32 and minted != "abc123"


def test_access_log_is_json_without_query_string(client, caplog):
    from service.logs import JsonFormatter
    with caplog.at_level(logging.INFO):
        client.get("/fhir/CodeSystem/pa-criteria?patient=Patient/secret-123")
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    access = [line for line in lines if line["logger"] == "service.access"]
    assert access and access[-1]["path"] == "/fhir/CodeSystem/pa-criteria"
    assert access[-1]["status"] == 200 and len(access[-1]["request_id"]) == 32
    assert all("secret-123" not in json.dumps(line) for line in lines)


def test_unknown_route_is_an_operation_outcome(client):
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("env,named", [
    ({"PUBLIC_BASE_URL": "not-a-url"}, "PUBLIC_BASE_URL"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ({"DEFAULT_AUTH_MONTHS": "0"}, "DEFAULT_AUTH_MONTHS"),
])
def test_bad_settings_stop_start_up_naming_the_variable(monkeypatch, env, named):
    from service.app import SettingsError, load_settings
    from service.config import get_settings
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=named):
            load_settings()
    finally:
        get_settings.cache_clear()


def test_codesystem_lists_every_concept_and_answer_code(client):
    cs = client.get("/fhir/CodeSystem/pa-criteria").json()
    assert cs["url"] == SYSTEM and cs["content"] == "complete"
    codes = {c["code"] for c in cs["concept"]}
    assert set(CONCEPTS) <= codes
    assert {"b-all", "lbl", "mrd-positive-consolidation", "not-tested", "continuation"} <= codes
    assert cs["count"] == len(cs["concept"]) == len(codes)


def test_policy_text_is_served(client):
    text = client.get("/policies/fepblue").text
    assert "Prescriber agrees NOT to add HSCT conditioning regimens" in text
    assert client.get("/policies/cigna").status_code == 404


def test_capability_statement_lists_every_operation_that_answers(client):
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement
    cs = client.get("/fhir/metadata").json()
    CapabilityStatement.model_validate(cs)
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    ops = {(t, o["name"]) for t, r in resources.items() for o in r.get("operation", [])}
    assert ops == {("Questionnaire", "questionnaire-package"), ("Questionnaire", "populate"),
                   ("Questionnaire", "next-question"), ("Claim", "submit"), ("Claim", "inquire"),
                   ("ValueSet", "expand"), ("Subscription", "status")}
    paths = {"questionnaire-package": "/fhir/Questionnaire/$questionnaire-package",
             "populate": "/fhir/Questionnaire/besponsa-aetna/$populate",
             "next-question": "/fhir/Questionnaire/$next-question",
             "submit": "/fhir/Claim/$submit", "inquire": "/fhir/Claim/$inquire",
             "expand": "/fhir/ValueSet/$expand"}
    unknown = client.get("/fhir/Subscription/nope/$status")  # routed: a not-found naming it, not a bare 404
    assert unknown.status_code == 404 and "Subscription/nope" in unknown.json()["issue"][0]["diagnostics"]
    for _, name in ops - {("Subscription", "status")}:  # routed: garbage gets a 4xx, not a 404/405
        status = client.post(paths[name], content=b"{}", headers={"content-type": "application/json"}).status_code
        assert 400 <= status < 500 and status not in (404, 405), (name, status)


def test_valuesets_expand_to_the_concept_options(client):
    from service.policies.concepts import CONCEPTS
    url = "http://example.org/fhir/ValueSet/pa-criteria-diagnosis"
    for r in (client.get(f"/fhir/ValueSet/$expand?url={url}"),
              client.get("/fhir/ValueSet/pa-criteria-diagnosis/$expand"),
              client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters",
                                                          "parameter": [{"name": "url", "valueUri": url}]})):
        assert r.status_code == 200
        assert [c["code"] for c in r.json()["expansion"]["contains"]] == [c for c, _ in CONCEPTS["diagnosis"].options]
    assert client.get("/fhir/ValueSet/$expand?url=http://x/none").status_code == 404
    assert client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters"}).status_code == 422
    from fhir.resources.R4B.valueset import ValueSet
    ValueSet.model_validate(client.get("/fhir/ValueSet/pa-criteria-regimen").json())


def test_fastapi_telemetry_is_off_unless_asked_for(tmp_path):
    """OTEL_ENABLED: off by default (nothing asked of OpenTelemetry per request), on when set."""
    import inspect

    import pytest
    from fastapi import FastAPI

    from service.app import telemetry_options
    from service.config import Settings
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        pytest.skip("this FastAPI has no native telemetry")
    off = telemetry_options(Settings(data_dir=tmp_path))["telemetry"]
    assert off == {"tracing": False, "metrics": False, "logs": False}
    assert telemetry_options(Settings(data_dir=tmp_path, otel_enabled=True)) == {}
    native = getattr(FastAPI(telemetry=off), "_native_telemetry", None)  # FastAPI 0.16x internals
    assert native is None or not native.enabled()


def test_fhir_speaks_json_only_and_says_so_with_406(client):
    r = client.get("/fhir/metadata", headers={"accept": "application/fhir+xml"})
    assert r.status_code == 406 and r.json()["issue"][0]["code"] == "not-supported"
    assert client.get("/fhir/metadata?_format=xml").status_code == 406
    for accept in ("application/fhir+json", "application/json", "*/*", "application/fhir+xml, application/fhir+json;q=0.5", ""):
        assert client.get("/fhir/metadata", headers={"accept": accept}).status_code == 200, accept


def test_security_headers_on_every_response_and_no_framing_of_pages(client):
    api = client.get("/fhir/metadata")
    assert api.headers["x-content-type-options"] == "nosniff" and api.headers["referrer-policy"] == "no-referrer"
    page = client.get("/smart/launch")  # an HTML problem page
    assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    docs = client.get("/docs")
    assert docs.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    desk = client.get("/review/login")  # sets its own policy headers: the middleware must not repeat them
    assert desk.headers["x-frame-options"] == "DENY" and "script-src 'self'" in desk.headers["content-security-policy"]
    for response in (api, page, docs, desk):
        names = [name.lower() for name, _ in response.headers.multi_items()]
        assert len(names) == len(set(names) - {"set-cookie"}) + names.count("set-cookie"), names


def test_probes_answer_head_and_no_redirect_is_built_from_the_host_header(client):
    assert client.head("/healthz").status_code == 200 and client.head("/readyz").status_code == 200
    r = client.get("/fhir/metadata/", headers={"host": "evil.example.org"}, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers


def test_an_uncreatable_data_dir_is_one_line_naming_the_variable(tmp_path):
    from service.app import SettingsError, create_app
    from service.config import Settings
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match="DATA_DIR: .* cannot be created"):
        create_app(Settings(data_dir=blocker / "data"))


def test_a_defect_is_a_logged_500_with_the_request_id_never_a_4xx(client, monkeypatch):
    """Issue 11/16: an unexpected exception is answered by the one renderer: a 500 OperationOutcome
    naming the request id, which the log line carries too; the message itself is never logged."""
    import service.api.terminology as terminology

    def broken():
        raise KeyError("Patient/secret-123")
    import logging

    from service.logs import JsonFormatter
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logging.getLogger("service").addHandler(handler)
    monkeypatch.setattr(terminology, "build_codesystem", broken)
    try:
        r = client.get("/fhir/CodeSystem/pa-criteria", headers={"x-request-id": "req-abc"})
    finally:
        logging.getLogger("service").removeHandler(handler)
    assert r.status_code == 500 and r.json()["issue"][0]["code"] == "exception"
    assert "req-abc" in r.json()["issue"][0]["diagnostics"] and r.headers["x-request-id"] == "req-abc"
    out = "\n".join(lines)
    assert any(json.loads(line).get("request_id") == "req-abc" for line in lines)
    assert "KeyError" in out and "secret-123" not in out
    assert client.get("/healthz").status_code == 200  # the connection and the process carry on


def test_unsigned_cds_hooks_and_no_issuers_are_said_at_start_up(tmp_path, capsys):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.config import Settings
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", cds_allow_unsigned=True))):
        assert "UNSIGNED CDS Hooks calls are accepted" in capsys.readouterr().out  # before any call
    with TestClient(create_app(Settings(data_dir=tmp_path / "e", cds_allow_unsigned=False))):
        assert "every CDS Hooks call will be refused (401)" in capsys.readouterr().out


def test_claim_response_search_takes_a_bare_patient_id(client):
    from tests.pas.bundles import request_bundle
    from tests.pas.cases import BASE
    assert client.post("/fhir/Claim/$submit", json=request_bundle("aetna", BASE)).status_code == 200
    for patient in ("pat1", "Patient/pat1", "http://provider.example.org/fhir/Patient/pat1"):
        assert client.get(f"/fhir/ClaimResponse?patient={patient}").json()["total"] == 1, patient


def test_json_map_settings_are_objects_of_non_empty_strings(tmp_path):
    import pytest
    from pydantic import ValidationError

    from service.config import Settings
    for name, bad in (("payer_contacts", "[1]"), ("payer_contacts", '{"aetna": "  "}'),
                      ("x12_reason_codes", "not json"), ("x12_reason_codes", '{"cd22-status": ""}')):
        with pytest.raises(ValidationError, match=name.upper()):
            Settings(data_dir=tmp_path, **{name: bad})
    assert Settings(data_dir=tmp_path, payer_contacts='{"*": "Call 555-0100"}').contact_for("aetna") == "Call 555-0100"
