"""Write the order-sign request the CRD benchmark posts (an Aetna adult, full prefetch).

`--ehr` (issue 25) shapes it as an EHR sends one: the MedicationRequest with dosage, dispense request
and a medicationCodeableConcept of several codings and text; prefetch with Patient, Coverage (payor
Organization), PractitionerRole, three Conditions and four Observations (CD22 percent and call,
BCR-ABL1, one unrelated), each with meta, narrative text and the codings US Core servers return.
The tokens the benchmark varies per patient (birth date 1980-01-01, CD22 value 60.0) are kept.
"""
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.crd.requests import besponsa_request, hook_request  # noqa: E402

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
PROFILE = {"MedicationRequest": "us-core-medicationrequest", "Patient": "us-core-patient",
           "Coverage": "us-core-coverage", "Organization": "us-core-organization",
           "PractitionerRole": "us-core-practitionerrole", "Condition": "us-core-condition-problems-health-concerns",
           "Observation": "us-core-observation-lab"}


def dressed(resource: dict) -> dict:
    """meta (versionId, lastUpdated, US Core profile, a security tag) and generated narrative, as servers send."""
    out = copy.deepcopy(resource)
    out["meta"] = {"versionId": "3", "lastUpdated": "2026-11-20T14:03:11.482+00:00",
                   "profile": [f"{US_CORE}/{PROFILE.get(out['resourceType'], 'us-core-patient')}"],
                   "tag": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}]}
    out["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{out["resourceType"]}'
                   f'</b> {out.get("id", "")}: generated narrative as the EHR renders it for display.</p>'
                   '<table><tr><td>Recorded</td><td>2026-11-20</td></tr></table></div>'}
    return out


def observation(oid: str, loinc: str, display: str, **value) -> dict:
    return dressed({"resourceType": "Observation", "id": oid, "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                              "code": "laboratory", "display": "Laboratory"}]}],
                    "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
                    "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-18T09:30:00-05:00",
                    "issued": "2026-11-18T16:02:00-05:00", "performer": [{"reference": "Organization/lab1",
                                                                          "display": "Regional Hematology Lab"}],
                    **value})


def condition(cid: str, icd10: str, snomed: str, display: str) -> dict:
    return dressed({"resourceType": "Condition", "id": cid,
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                   "code": "active"}]},
                    "verificationStatus": {"coding": [{"system":
                                                       "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                       "code": "confirmed"}]},
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                              "code": "problem-list-item"}]}],
                    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd10, "display": display},
                                        {"system": SNOMED, "code": snomed, "display": display}], "text": display},
                    "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2025-06-02", "recordedDate": "2025-06-03"})


def ehr_shaped(body: dict) -> dict:
    """The plain benchmark body, every resource dressed and the chart filled out as an EHR's would be."""
    body = copy.deepcopy(body)
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"]["coding"] += [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1942954",
         "display": "inotuzumab ozogamicin 0.9 MG Injection"},
        {"system": "http://hl7.org/fhir/sid/ndc", "code": "0008-0100-01", "display": "BESPONSA 0.9 mg vial"}]
    order["medicationCodeableConcept"]["text"] = "Besponsa (inotuzumab ozogamicin) 0.9 mg injection"
    order["dosageInstruction"] = [{"sequence": 1, "text": "0.8 mg/m2 IV on day 1, 0.5 mg/m2 on days 8 and 15",
                                   "timing": {"repeat": {"frequency": 1, "period": 21, "periodUnit": "d"}},
                                   "route": {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous"}]},
                                   "doseAndRate": [{"doseQuantity": {"value": 1.44, "unit": "mg", "system":
                                                                     "http://unitsofmeasure.org", "code": "mg"}}]}]
    order["dispenseRequest"] = {"quantity": {"value": 3, "unit": "vial"}, "numberOfRepeatsAllowed": 5}
    body["context"]["draftOrders"]["entry"][0]["resource"] = dressed(order)
    prefetch = body["prefetch"]
    patient = dressed(prefetch["patient"])
    patient.update({"identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-0042117"}],
                    "name": [{"use": "official", "family": "Rivera", "given": ["Ana", "M"]}],
                    "telecom": [{"system": "phone", "value": "555-0134", "use": "home"}],
                    "address": [{"line": ["12 Elm St"], "city": "Nashville", "state": "TN", "postalCode": "37203"}],
                    "extension": [{"url": f"{US_CORE}/us-core-birthsex", "valueCode": "F"}]})
    prefetch["patient"] = patient
    for key in ("coverage", "practitionerRole", "conditions", "observations"):
        prefetch[key]["entry"] = [{**e, "resource": dressed(e["resource"])} for e in prefetch[key]["entry"]]
    prefetch["conditions"]["entry"] += [{"resource": condition("c-htn", "I10", "38341003", "Essential hypertension")},
                                        {"resource": condition("c-dm", "E11.9", "44054006", "Type 2 diabetes mellitus")}]
    prefetch["observations"]["entry"] += [
        {"resource": observation("o-cd22-call", "94504-9", "CD22 [Presence] in Blasts",
                                 valueCodeableConcept={"coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}]})},
        {"resource": observation("o-hgb", "718-7", "Hemoglobin [Mass/volume] in Blood",
                                 valueQuantity={"value": 10.4, "unit": "g/dL", "system": "http://unitsofmeasure.org",
                                                "code": "g/dL"})}]
    return body


if __name__ == "__main__":
    plain = hook_request([besponsa_request()])
    print(json.dumps(ehr_shaped(plain) if "--ehr" in sys.argv else plain))
