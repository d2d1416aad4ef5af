"""The desk's pure parts: cited passages found in the raw policy text, the report's arithmetic, time left,
and the shared review logic (service/pas/review.py) both the API and the pages call."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from service.engine.evaluate import NOT_MET, UNKNOWN, Reason, score_response
from service.errors import ApiError
from service.fhir.adjudication import reason_codes
from service.pas.claimresponse import Adjudication, build_claim_response
from service.pas.review import ReviewAction, approval_months, read_action, review_outcome
from service.policies.registry import all_policies, get_policy, normalize_text, read_policy_text
from service.review.criteria import find_passages, highlight, judge, normalize_mapped, policy_cites
from service.review.queue import time_left
from service.review.report import Determination, build_report, measure, report_csv
from tests.pas.cases import BASE, CD22_NEGATIVE, MISSING_CD22, RENEWAL

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("payer", sorted(all_policies()))
def test_every_citation_is_marked_in_the_raw_policy_text(payer):
    policy = get_policy(payer)
    raw = read_policy_text(policy)
    norm, origin = normalize_mapped(raw)
    assert norm == normalize_text(raw) and len(origin) == len(norm)
    cites = policy_cites(policy)
    spans, first = find_passages(raw, cites)
    assert set(first) == set(cites)
    for cite in cites:
        start, end = spans[first[cite]]
        assert normalize_text(cite).strip() in normalize_text(raw[start:end])
    html, anchors = highlight(raw, cites)
    assert html.count("<mark ") == len(spans) and set(anchors) == set(cites)
    assert re.sub(r"</?mark[^>]*>", "", str(html)).count("&lt;") == raw.count("<")


def test_marks_cross_line_breaks_and_escape_html():
    raw = "See <b>hepatic veno-\n\n  occlusive   disease</b> & more"
    html, anchors = highlight(raw, ["hepatic veno-occlusive disease"])
    assert str(html) == ('See &lt;b&gt;<mark id="passage-1">hepatic veno-\n\n  occlusive   disease</mark>'
                         "&lt;/b&gt; &amp; more")
    assert anchors == {"hepatic veno-occlusive disease": "passage-1"}
    overlapping, _ = highlight("one two three", ["one two", "two three"])
    assert str(overlapping) == '<mark id="passage-1">one two three</mark>'


def test_the_criteria_tree_is_judged_three_ways():
    policy = get_policy("fepblue")
    tree = judge(policy, {**CD22_NEGATIVE, "ph-status": "unknown"}, {})
    statuses = {}

    def visit(node):
        statuses[node.label] = node.status
        for child in node.children:
            visit(child)
    visit(tree)
    assert statuses["CD22 status is Positive"] == "not met"
    assert statuses["Patient age in years is at least 1"] == "met"
    assert statuses["Philadelphia chromosome status is Negative"] == "unknown"
    assert tree.status == "not met"


def row(priority, decision, hours, reasons=()):
    return Determination(priority, decision, T0, T0 + timedelta(hours=hours) if hours is not None else None, reasons)


def test_measures_are_counted_and_nothing_is_invented():
    empty = measure([])
    assert empty["requests"] == 0 and empty["approved_percent"] is None and empty["median_hours_to_decision"] is None
    rows = [row("standard", "approve", 1), row("standard", "approve", 3), row("standard", "deny", 8, ("cd22-status",)),
            row("expedited", "pend", None, ("cd22-status", "disease-status"))]
    report = build_report(rows, T0.date(), T0.date(), None, T0)
    assert report["groups"]["standard"] | {"reasons": {}} == {
        "requests": 3, "approved": 2, "approved_percent": 66.7, "denied": 1, "denied_percent": 33.3, "pended": 0,
        "pended_percent": 0.0, "approved_after_appeal": 0, "approved_after_appeal_percent": 0.0,
        "approved_extended_review": 0, "approved_extended_review_percent": 0.0, "decided": 3,
        "mean_hours_to_decision": 4.0, "median_hours_to_decision": 3.0, "reasons": {}}
    assert report["groups"]["all"]["reasons"] == {"cd22-status": 2, "disease-status": 1}
    assert report["groups"]["expedited"]["mean_hours_to_decision"] is None
    lines = report_csv(report).splitlines()
    assert lines[0] == "from,to,payer,priority,measure,value"
    assert "2025-01-01,2025-01-01,all,expedited,mean_hours_to_decision," in lines
    assert "2025-01-01,2025-01-01,all,all,reason:cd22-status,2" in lines


def test_reason_codes_come_from_the_review_action():
    policy = get_policy("aetna")
    outcome = Adjudication("deny", (Reason("cd22-status", NOT_MET, "x", ""), Reason("diagnosis", NOT_MET, "y", "")))
    resource = build_claim_response({"item": [{"sequence": 1}, {"sequence": 2}]}, {"reference": "Claim/1"}, policy,
                                    outcome, response_id="r", version=1, number="n", created=T0)
    assert reason_codes(resource) == ("cd22-status", "diagnosis")
    assert reason_codes({"item": "junk"}) == () and reason_codes({}) == ()


def test_time_left_and_overdue():
    now = T0
    assert time_left(now + timedelta(days=2, hours=4, minutes=5), False, now) == ("2 d 4 h left", False)
    assert time_left(now + timedelta(minutes=90), False, now) == ("1 h 30 min left", False)
    assert time_left(now - timedelta(hours=3), False, now) == ("overdue by 3 h 0 min", True)
    assert time_left(now - timedelta(hours=3), True, now) == ("decided", False)


def test_an_action_is_read_once_for_the_api_and_the_pages():
    assert read_action({"decision": "approve", "note": " ok ", "months": 4}) == ReviewAction("approve", "ok", 4)
    with pytest.raises(ApiError) as bad:
        read_action({"decision": "request-info", "note": "", "months": True, "reviewerNpi": "12"})
    assert [i.expression for i in bad.value.issues] == [("note",), ("reviewerNpi",), ("months",), ("concepts",)]
    with pytest.raises(ApiError):
        read_action(["not", "an", "object"])


def test_review_outcomes_keep_the_policy_words():
    fep = get_policy("fepblue")
    initial = score_response(fep, BASE, default_period_months=6)
    renewal = score_response(fep, RENEWAL, default_period_months=6)
    assert (approval_months(fep, initial, 6), approval_months(fep, renewal, 6)) == (3, 6)
    aetna = get_policy("aetna")
    det = score_response(aetna, MISSING_CD22, default_period_months=6)
    assert approval_months(aetna, det, 9) == 9  # Aetna states no period: the default
    asked = review_outcome(aetna, det, ReviewAction("request-info", "send it", concepts=("cd22-status", "chemo-failed")), 6, {})
    assert asked.decision == "pend" and [r.concept for r in asked.reasons] == ["cd22-status", "chemo-failed"]
    assert all(r.status == UNKNOWN and r.cite for r in asked.reasons)
    signer = {"human": True, "npi": "1234567893", "by": "physician reviewer drlee (NPI 1234567893)"}
    denied = review_outcome(aetna, det, ReviewAction("deny", "no", concepts=("chemo-failed",)), 6, signer)
    assert [(r.concept, r.status) for r in denied.reasons] == [("chemo-failed", NOT_MET)]
    assert denied.reviewer == signer
    with pytest.raises(ApiError) as alien:
        review_outcome(aetna, det, ReviewAction("deny", "no", concepts=("attest-liver-tests",)), 6, {})
    assert alien.value.status == 422


def test_branches_another_met_branch_decides_are_folded_and_no_others():
    """Issue 22: off the deciding path means a sibling of a met branch under an 'any'; nothing else folds."""
    def walk(node, payer: str, parent=None) -> int:
        met_sibling = parent is not None and parent.kind == "any" and any(c.status == "met" for c in parent.children)
        assert node.off_path == (met_sibling and node.status != "met"), (payer, node.label)
        return int(node.off_path) + sum(walk(child, payer, node) for child in node.children)

    folded = sum(walk(judge(get_policy(p), BASE, {}), p) for p in ("aetna", "bcbsnc", "bcbst", "fepblue", "nanthealth"))
    assert folded > 0  # the BASE case takes one branch of at least one 'any'
