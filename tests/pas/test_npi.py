"""An NPI with a wrong check digit is refused wherever a PAS request names its provider (issue 24): the CMS
check digit (Luhn over 80840 + the first nine digits), a 422 naming the element, nothing stored."""
from __future__ import annotations

from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE


def test_submit_and_inquire_refuse_an_npi_whose_check_digit_is_wrong(client):
    for npi, status in (("1234567890", 422), ("1234567893", 200)):
        r = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", BASE, npi=npi))
        assert r.status_code == status, r.text
        if status == 422:
            assert any(i["expression"] == ["Claim.provider.identifier"] and "check digit" in i["diagnostics"]
                       for i in r.json()["issue"])
    inquiry = request_bundle("aetna", {}, npi="1234567890")
    inquiry["entry"][0]["resource"]["identifier"] = [{"system": "urn:trn", "value": "inq-npi"}]
    r = client.post("/fhir/Claim/$inquire", json=inquiry)
    assert r.status_code == 422 and "check digit" in r.text
    assert client.get("/fhir/ClaimResponse", params={"patient": "Patient/pat1"}).json().get("total") == 1
