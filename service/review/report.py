"""CMS-0057-F prior-authorization metrics (42 CFR 422.122(c) and parallels), from stored timestamps only.

Receipt is claims.created_at, the first final decision claims.decided_at, the decision the current
one; nothing is estimated. Each measure is given for all requests and separately for standard
and expedited ones, as the rule asks.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from datetime import date, datetime

from service.fhir.json import obj, objs, text_of
from service.policies.concepts import SYSTEM as CRITERIA_SYSTEM

PRIORITIES = ("standard", "expedited")
GROUPS = ("all", *PRIORITIES)
DECISIONS = {"approve": "approved", "deny": "denied", "pend": "pended"}
MEASURES = ("requests", "approved", "approved_percent", "denied", "denied_percent", "pended", "pended_percent",
            "approved_after_appeal", "approved_after_appeal_percent",
            "approved_extended_review", "approved_extended_review_percent",
            "decided", "mean_hours_to_decision", "median_hours_to_decision")
CSV_COLUMNS = ("from", "to", "payer", "priority", "measure", "value")
NOTES = {
    "approved_after_appeal": "This service has no appeal process: an appeal is filed and decided outside it, so "
                             "no request here is approved after appeal and the count is 0.",
    "approved_extended_review": "This service never extends a decision timeframe (72 hours expedited, 7 days "
                                "standard), so no request is approved with extended review time and the count is 0.",
    "percentages": "Percentages are of the requests received in the period; pended ones are still undecided.",
    "times": "Time to decision runs from receipt to the first final decision (approved or denied), in hours; "
             "pended requests are not in it.",
}


@dataclass(frozen=True)
class Determination:
    """One request as the report sees it: priority, current decision, receipt, first final decision."""

    priority: str
    decision: str
    received: datetime
    decided: datetime | None
    reasons: tuple[str, ...]


def reason_codes(resource: dict) -> tuple[str, ...]:
    """pa-criteria codes of item.adjudication reviewAction reasonCode (PAS 2.2), in order, once each."""
    codes: dict[str, None] = {}
    for item in objs(resource.get("item")):
        for adjudication in objs(item.get("adjudication")):
            for action in objs(adjudication.get("extension")):
                for sub in objs(action.get("extension")):
                    if sub.get("url") != "reasonCode":
                        continue
                    for coding in objs(obj(sub.get("valueCodeableConcept")).get("coding")):
                        if coding.get("system") == CRITERIA_SYSTEM and text_of(coding.get("code")):
                            codes.setdefault(coding["code"], None)
    return tuple(codes)


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def measure(rows: list[Determination]) -> dict:
    """Every measure of one group of requests, plus counts by pa-criteria reason."""
    counts = {word: sum(1 for r in rows if r.decision == code) for code, word in DECISIONS.items()}
    hours = [(r.decided - r.received).total_seconds() / 3600 for r in rows if r.decided is not None]
    out: dict = {"requests": len(rows)}
    for word in ("approved", "denied", "pended"):
        out[word], out[f"{word}_percent"] = counts[word], percent(counts[word], len(rows))
    for word in ("approved_after_appeal", "approved_extended_review"):
        out[word], out[f"{word}_percent"] = 0, percent(0, len(rows))
    out["decided"] = len(hours)
    out["mean_hours_to_decision"] = round(statistics.fmean(hours), 2) if hours else None
    out["median_hours_to_decision"] = round(statistics.median(hours), 2) if hours else None
    reasons: dict[str, int] = {}
    for r in rows:
        for code in r.reasons:
            reasons[code] = reasons.get(code, 0) + 1
    out["reasons"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def build_report(rows: list[Determination], start: date, end: date, payer: str | None, generated: datetime) -> dict:
    """The report as JSON: the period, the payer (or null for all), notes, and each group's measures."""
    groups = {"all": measure(rows)}
    for priority in PRIORITIES:
        groups[priority] = measure([r for r in rows if r.priority == priority])
    return {"report": "CMS-0057-F prior authorization metrics", "from": start.isoformat(), "to": end.isoformat(),
            "payer": payer, "generated": generated.isoformat(), "notes": NOTES, "groups": groups}


def report_csv(report: dict) -> str:
    """One row per (priority, measure), columns CSV_COLUMNS; reasons as measure `reason:<code>`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    head = (report["from"], report["to"], report["payer"] or "all")
    for group in GROUPS:
        values = report["groups"][group]
        for name in MEASURES:
            writer.writerow((*head, group, name, "" if values[name] is None else values[name]))
        for code, count in values["reasons"].items():
            writer.writerow((*head, group, f"reason:{code}", count))
    return out.getvalue()
