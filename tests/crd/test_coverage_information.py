"""Every coverage-information we emit, over the chart corpus, checked against the CRD package itself.

The slices, their cardinalities, value types and required value sets are read from the CRD 2.0.1
StructureDefinition in tests/ig (not restated here); the invariants are crd-ci-q1..q9 as
CRD 2.1/2.2 word them. medplum cannot check url-sliced extensions, so this is our own check.
"""
from __future__ import annotations

import json
import tarfile
from functools import lru_cache

import pytest

from service.policies.registry import load_policies
from tests.crd.requests import besponsa_request, coverage_bundle, hook_request
from tests.fixtures.corpus import build_corpus
from tests.support.fhir_validate import ig_package

EXT = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
PAYERS = sorted(load_policies())
HOOKS = [("besponsa-order-sign", "order-sign"), ("besponsa-order-select", "order-select")]
PREFETCH_OF = {"Patient": "patient", "Condition": "conditions", "Observation": "observations",
               "PractitionerRole": "practitionerRole", "MedicationStatement": "medicationStatements",
               "MedicationRequest": "medicationRequests", "Medication": "medicationStatements",
               "MedicationAdministration": "medicationAdministrations", "MedicationDispense": "medicationDispenses"}


@lru_cache(maxsize=1)
def package() -> dict[str, dict]:
    with tarfile.open(ig_package("davinci-crd-2.0.1.tgz")) as tar:
        return {m.name: json.load(tar.extractfile(m)) for m in tar.getmembers()
                if m.name.startswith("package/") and m.name.endswith(".json") and m.name.count("/") == 1}


@lru_cache(maxsize=1)
def slices() -> dict[str, dict]:
    """url -> {min, max, types, codes} for each sub-extension, from the StructureDefinition snapshot."""
    sd = package()["package/StructureDefinition-ext-coverage-information.json"]
    valuesets = {v["url"]: v for v in package().values() if v.get("resourceType") == "ValueSet"}
    out: dict[str, dict] = {}
    for e in sd["snapshot"]["element"]:
        path = e["id"].split(":", 1)[1] if ":" in e["id"] else ""
        if not path or "." in path and path.count(".") > 1 or ":" in path:
            continue
        name, _, rest = path.partition(".")
        if rest == "":
            out[name] = {"min": e["min"], "max": e["max"], "types": None, "codes": None}
        elif rest == "value[x]":
            out[name]["types"] = {t["code"] for t in e.get("type", [])} if e.get("max") != "0" else set()
            binding = e.get("binding") or {}
            if binding.get("strength") == "required":
                vs = valuesets[binding["valueSet"]]
                out[name]["codes"] = {c["code"] for inc in vs["compose"]["include"] for c in inc["concept"]}
    return out


def value_of(part: dict) -> tuple[str, object]:
    key = next(k for k in part if k.startswith("value"))
    return key[5].lower() + key[6:], part[key]


def check_coverage_information(ext: dict) -> list[str]:
    """Problems with one extension: slice rules from the package, then crd-ci-q1..q9."""
    problems, rules, count = [], slices(), {}
    for part in ext["extension"]:
        rule = rules.get(part["url"])
        if rule is None:
            problems.append(f"unknown sub-extension {part['url']}")
            continue
        count[part["url"]] = count.get(part["url"], 0) + 1
        if rule["types"]:
            kind, value = value_of(part)
            if kind not in {t[0].lower() + t[1:] for t in rule["types"]}:
                problems.append(f"{part['url']}: value{kind} is not one of {sorted(rule['types'])}")
            if rule["codes"] is not None and value not in rule["codes"]:
                problems.append(f"{part['url']}: {value!r} is not in its required value set")
        elif part["url"] == "detail":
            inner = {p["url"] for p in part["extension"]}
            if not {"code", "value"} <= inner:
                problems.append("detail needs code and value")
    for url, rule in rules.items():
        n = count.get(url, 0)
        if n < rule["min"] or (rule["max"] != "*" and n > int(rule["max"])):
            problems.append(f"{url}: {n} repetitions, allowed {rule['min']}..{rule['max']}")
    codes = {}
    for part in ext["extension"]:
        if "valueCode" in part:
            codes.setdefault(part["url"], set()).add(part["valueCode"])
    has = lambda url: url in count  # noqa: E731
    if has("questionnaire") and not has("doc-needed"):
        problems.append("crd-ci-q1")
    if "not-covered" in codes.get("covered", ()) and has("pa-needed"):
        problems.append("crd-ci-q2")
    conditional = any("conditional" in codes.get(u, ()) for u in ("covered", "pa-needed", "doc-needed"))
    if conditional != has("info-needed"):
        problems.append("crd-ci-q3")
    if codes.get("pa-needed", set()) & {"satisfied", "no-auth"} and "withpa" in codes.get("doc-purpose", ()):
        problems.append("crd-ci-q4")
    if ("satisfied" in codes.get("pa-needed", ())) != has("satisfied-pa-id"):
        problems.append("crd-ci-q5")
    if "OTH" in codes.get("info-needed", ()) and not has("reason"):
        problems.append("crd-ci-q6")
    for part in ext["extension"]:
        if part["url"] == "reason" and not part["valueCodeableConcept"].get("text"):
            problems.append("crd-ci-q7: a reason without text")  # our codes are outside the value set
    if codes.get("doc-purpose", set()) - {"conditional"} and not has("reason"):
        problems.append("crd-ci-q8")
    if any("indeterminate" in codes.get(u, ()) for u in ("covered", "pa-needed", "doc-needed")) and not has("reason"):
        problems.append("crd-ci-q9")
    return problems


def corpus_prefetch(bundle: dict, payer: str, status: str = "active") -> dict:
    prefetch: dict = {"coverage": coverage_bundle(payer, status)}
    for entry in bundle["entry"]:
        r = entry["resource"]
        key = PREFETCH_OF[r["resourceType"]]
        if key == "patient":
            prefetch["patient"] = r
        else:
            prefetch.setdefault(key, {"resourceType": "Bundle", "type": "searchset", "entry": []})["entry"].append(
                {"resource": r})
    return prefetch


def test_the_checker_finds_broken_extensions():
    good = {"url": EXT, "extension": [
        {"url": "coverage", "valueReference": {"reference": "Coverage/c"}}, {"url": "covered", "valueCode": "covered"},
        {"url": "date", "valueDate": "2026-11-24"}, {"url": "coverage-assertion-id", "valueString": "x"}]}
    assert check_coverage_information(good) == []
    broken = [
        ([{"url": "covered", "valueCode": "maybe"}], "required value set"),
        ([{"url": "pa-needed", "valueCode": "auth-needed"}, {"url": "covered", "valueCode": "not-covered"}], "crd-ci-q2"),
        ([{"url": "questionnaire", "valueCanonical": "http://x"}], "crd-ci-q1"),
        ([{"url": "doc-purpose", "valueCode": "withpa"}], "crd-ci-q8"),
        ([{"url": "whatever", "valueString": "x"}], "unknown sub-extension"),
        ([{"url": "date", "valueString": "today"}], "valuestring"),
    ]
    for extra, message in broken:
        ext = {"url": EXT, "extension": [p for p in good["extension"]
                                         if p["url"] not in {e["url"] for e in extra}] + extra}
        assert any(message in p.lower() for p in check_coverage_information(ext)), (extra, message)
    missing = {"url": EXT, "extension": good["extension"][:-1]}
    assert any("coverage-assertion-id: 0 repetitions" in p for p in check_coverage_information(missing))


@pytest.mark.parametrize("payer", PAYERS)
def test_every_answer_over_the_corpus_conforms(client, payer):
    seen = set()
    for bundle in build_corpus():
        for status in ("active", "cancelled"):
            for service, hook in HOOKS:
                req = hook_request([besponsa_request()], payer=payer, hook=hook,
                                   prefetch=corpus_prefetch(bundle, payer, status))
                r = client.post(f"/cds-services/{service}", json=req)
                assert r.status_code == 200, r.text
                for action in r.json()["systemActions"]:
                    assert action["type"] == "update"
                    exts = [e for e in action["resource"]["extension"] if e["url"] == EXT]
                    assert len(exts) == 1
                    assert check_coverage_information(exts[0]) == [], (payer, hook, status)
                    seen.add(tuple(sorted((p["url"], p.get("valueCode")) for p in exts[0]["extension"]
                                          if "valueCode" in p)))
    # the corpus reaches covered and not-covered answers, with and without documentation
    flat = {item for combo in seen for item in combo}
    assert {("covered", "covered"), ("covered", "not-covered"), ("doc-needed", "clinical")} <= flat
