"""What the app's pages say, without a browser: required items, the pend's facts in plain words, the
banner, provenance marks, and the PAS update and inquiry the app sends."""
from __future__ import annotations

from service.dtr.artifacts import questionnaires
from service.pas.inquiry import inquiry_keys
from service.pas.request import read_submit
from service.policies.registry import all_policies, require_policy
from service.smart.completeness import REVIEWS_INCOMPLETE, incomplete_rule, missing_required
from service.smart.context import banner
from service.smart.form import build_pas_request, build_response, chart_mark, inquiry_bundle
from service.smart.outcome import needed_facts
from tests.smart.flows import answers
from tests.support.ehr import chart_for


def form(payer: str) -> dict:
    return questionnaires()[f"besponsa-{payer}"]


def test_required_items_follow_enable_when_and_groups():
    q = form("fepblue")
    missing = [m["linkId"] for m in missing_required(q, {"diagnosis": "b-all"})]
    # disease-status is required once the indication is B-ALL; cd22-status only once it is relapsed/refractory.
    assert missing == ["request-type", "age-years", "disease-status", "attest-liver-tests",
                       "attest-vod-monitoring", "attest-no-alkylating-conditioning"]
    assert "cd22-status" in [m["linkId"] for m in missing_required(q, {"diagnosis": "b-all",
                                                                       "disease-status": "relapsed"})]
    assert missing_required(form("bcbst"), {"request-type": "initial", "diagnosis": "b-all", "cycles": 4}) == []
    texts = {m["linkId"]: m["text"] for m in missing_required(form("bcbst"), {})}
    assert texts == {"request-type": "Is this a first authorization or a renewal?",
                     "diagnosis": "Indication for inotuzumab ozogamicin"}  # cycles: only for B-ALL


def test_the_incomplete_request_rule_quotes_each_policys_own_documentation():
    for payer, words in REVIEWS_INCOMPLETE.items():
        assert words in require_policy(payer).documentation, payer


def test_submit_anyway_is_offered_only_where_the_payer_reviews_incomplete_requests():
    offered = {p.payer_id for p in all_policies().values() if incomplete_rule(p)["allowed"]}
    assert offered == set(REVIEWS_INCOMPLETE) == {"bcbsnc"}
    assert "describes no review of a request with required answers missing" in str(
        incomplete_rule(require_policy("bcbst"))["words"])


def test_a_pends_facts_are_plain_words_once_each_for_this_request_type():
    concepts = ["request-type", "regimen", "regimen", "cycles", "unacceptable-toxicity", "disease-progression"]
    facts = needed_facts(require_policy("bcbst"), concepts, {"request-type": "initial", "cycles": 4})
    assert [f["code"] for f in facts] == ["request-type", "regimen", "cycles"]  # no renewal-only question
    regimen = facts[1]
    assert regimen["display"] == "Regimen" and not regimen["answered"]
    assert len(regimen["policy"]) == 3  # the mini-hyper-CVD sentence, quoted twice in the policy, once
    assert all(">" not in words and "(regimen)" not in words for words in regimen["policy"])
    renewal = needed_facts(require_policy("bcbst"), concepts, {"request-type": "continuation"})
    assert [f["code"] for f in renewal] == ["request-type", "cycles", "unacceptable-toxicity", "disease-progression"]


def test_the_banner_names_patient_order_and_coverage_or_says_not_on_file():
    resources = chart_for("aetna")
    ctx = {"patient": resources[0], "coverage": resources[1], "order": resources[3]}
    assert banner(ctx, "Aetna") == {"name": "Dana Whitfield", "birth_date": "1975-04-02", "mrn": "MRN-40417",
                                    "order": "J9229 Besponsa (inotuzumab ozogamicin)",
                                    "dose": "0.8 mg/m2 IV on day 1, 0.5 mg/m2 on days 8 and 15", "payer": "Aetna",
                                    "member_id": "W123456789"}
    assert banner({}, "Aetna")["mrn"] == "not on file"


def test_a_chart_mark_names_the_entry_and_a_bare_type_is_named_by_its_code():
    known = {f"{r['resourceType']}/{r['id']}": r for r in chart_for("aetna")}
    cd22 = chart_mark({"reference": "Observation/o-cd22", "date": "2026-10-01", "label": "CD22 result"}, known)
    assert cd22["text"] == "From chart: CD22 result 2026-10-01"
    assert cd22["detail"].startswith("Observation: CD22 cells/100 cells · 64.0 %")
    assert chart_mark({"reference": "Condition/c1", "date": "", "label": "Condition"}, known)["text"] == \
        "From chart: Condition C91.02"


def sent(payer: str, answers_given: dict, chart: dict, status: str = "completed", **kwargs) -> dict:
    resources = chart_for(payer)
    ctx = {"patient": resources[0], "coverage": resources[1], "order": resources[3], "practitioner": None}
    policy = require_policy(payer)
    qr = build_response(policy, form(payer), answers_given, chart, patient="Patient/p1", contexts=[],
                        author="Practitioner/dr1", status=status,
                        evidence={"age-years": {"reference": "Patient/p1", "date": "1975-04-02", "label": "birth date"}})
    qr["id"] = "qr1"
    return build_pas_request(policy, qr, ctx, "Practitioner/dr1", iss="http://ehr.test/fhir", **kwargs)


def test_an_override_is_recorded_with_its_author_and_chart_answers_keep_their_evidence():
    bundle = sent("aetna", {"age-years": 51, "cd22-percent": 70.0}, {"age-years": 51, "cd22-percent": 64.0})
    qr = bundle["entry"][-1]["resource"]
    got = answers(qr)
    assert got["age-years"] == (51, "auto", "Patient/p1", None)
    assert got["cd22-percent"] == (70.0, "override", None, "Practitioner/dr1")


def test_the_update_names_the_first_request_and_the_inquiry_finds_member_and_provider():
    first = sent("bcbst", {"request-type": "initial"}, {})
    claim = first["entry"][0]["resource"]
    assert read_submit(first).updates is False
    update = sent("bcbst", {"request-type": "initial", "regimen": "single-agent"}, {},
                  status="amended", prior=claim["identifier"][0])
    req = read_submit(update)
    assert req.updates and req.prior == f"urn:besponsa-pa:smart-app|{claim['identifier'][0]['value']}"
    assert update["entry"][0]["resource"]["related"][0]["relationship"]["coding"][0]["code"] == "prior"
    patient, provider = first["entry"][1]["resource"], first["entry"][4]["resource"]
    keys = inquiry_keys(inquiry_bundle({"patient": patient, "provider": provider,
                                        "claim_identifier": claim["identifier"][0]}))
    assert read_submit(first).member_key == "urn:besponsa-pa:member-id|W123456789" in keys["members"]
    assert keys["providers"] == ["urn:ietf:rfc:3986|http://ehr.test/fhir/Practitioner/dr1"]
