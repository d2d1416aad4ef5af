"""CMS-0057-F prior-authorization metrics (42 CFR 422.122(c) and parallels), from stored timestamps only.

Receipt is claims.created_at, the first final decision claims.decided_at, the decision the current
one; nothing is estimated. Each measure is given for all requests and separately for standard
and expedited ones, as the rule asks, and side by side for each payer. Durations are counted in
whole seconds on both sides (decided_at is stored to the second, created_at to the microsecond)
and never below zero.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PRIORITIES = ("standard", "expedited")
GROUPS = ("all", *PRIORITIES)
DECISIONS = {"approve": "approved", "deny": "denied", "pend": "pended"}
MEASURES = ("requests", "approved", "approved_percent", "denied", "denied_percent", "pended", "pended_percent",
            "approved_after_appeal", "approved_after_appeal_percent",
            "approved_extended_review", "approved_extended_review_percent",
            "decided", "mean_hours_to_decision", "median_hours_to_decision")
# Timeliness against the CMS-0057-F decision timeframes (42 CFR 422.568(b)(1), 422.572(a)): 72 hours
# expedited, 7 calendar days standard, from receipt; the same clock as service.pas.submit.DUE_WITHIN.
TIMEFRAMES = {"expedited": timedelta(hours=72), "standard": timedelta(days=7)}
TIMELINESS = ("timeframe_hours", "decided_within_timeframe", "decided_within_timeframe_percent",
              "decided_past_timeframe", "mean_seconds_to_decision", "median_seconds_to_decision",
              "open", "open_past_due", "oldest_open_received", "oldest_open_hours", "oldest_open_seconds")
CSV_COLUMNS = ("from", "to", "payer", "priority", "measure", "value")
NOTES = {
    "approved_after_appeal": "This service has no appeal process: an appeal is filed and decided outside it, so "
                             "no request here is approved after appeal and the count is 0.",
    "approved_extended_review": "This service never extends a decision timeframe (72 hours expedited, 7 days "
                                "standard), so no request is approved with extended review time and the count is 0.",
    "percentages": "Percentages are of the requests received in the period; pended ones are still undecided.",
    "times": "Time to decision runs from receipt to the first final decision (approved or denied), counted in "
             "whole seconds and never below zero; under an hour it is shown in minutes. Pended requests are not in it.",
    "timeliness": "Within the timeframe means decided no later than 72 hours (expedited) or 7 days (standard) after "
                  "receipt; open past due and the oldest open request are as of the time the report was generated.",
}


@dataclass(frozen=True)
class Determination:
    """One request as the report sees it: priority, current decision, receipt, first final decision."""

    priority: str
    decision: str
    received: datetime
    decided: datetime | None
    reasons: tuple[str, ...]
    payer: str = ""


def seconds_between(start: datetime, end: datetime) -> int:
    """Whole seconds from start to end, both cut to the second first, never below zero."""
    return max(0, int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds()))


def duration_text(seconds: float | None, hours: float | None = None) -> str:
    """A duration as people read it: "under 1 min", "45 min" under an hour, else hours ("27.43 h": `hours`
    when given, the measure as stored, else the seconds in hours to 2 decimals)."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return "under 1 min" if seconds < 60 else f"{int(seconds // 60)} min"
    return f"{round(seconds / 3600, 2) if hours is None else hours} h"


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def measure(rows: list[Determination]) -> dict:
    """Every measure of one group of requests, plus counts by pa-criteria reason."""
    counts = {word: sum(1 for r in rows if r.decision == code) for code, word in DECISIONS.items()}
    hours = [seconds_between(r.received, r.decided) / 3600 for r in rows if r.decided is not None]
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


def timeliness(rows: list[Determination], now: datetime, priority: str | None = None) -> dict:
    """Decided within the timeframe (share of those decided), open past due and the oldest open, as of `now`."""
    limit = {p: int(t.total_seconds()) for p, t in TIMEFRAMES.items()}
    taken = [(r, seconds_between(r.received, r.decided)) for r in rows if r.decided is not None]
    within = sum(1 for r, s in taken if s <= limit.get(r.priority, limit["standard"]))
    opened = sorted((r for r in rows if r.decided is None and r.decision == "pend"), key=lambda r: r.received)
    ages = [(r, seconds_between(r.received, now)) for r in opened]
    seconds = [s for _, s in taken]
    oldest = ages[0] if ages else None
    return {"timeframe_hours": int(TIMEFRAMES[priority].total_seconds() // 3600) if priority in TIMEFRAMES else None,
            "decided_within_timeframe": within, "decided_within_timeframe_percent": percent(within, len(taken)),
            "decided_past_timeframe": len(taken) - within,
            "mean_seconds_to_decision": round(statistics.fmean(seconds), 1) if seconds else None,
            "median_seconds_to_decision": round(float(statistics.median(seconds)), 1) if seconds else None,
            "open": len(opened),
            "open_past_due": sum(1 for r, s in ages if s > limit.get(r.priority, limit["standard"])),
            "oldest_open_received": oldest[0].received.astimezone(UTC).isoformat() if oldest else None,
            "oldest_open_hours": round(oldest[1] / 3600, 2) if oldest else None,
            "oldest_open_seconds": oldest[1] if oldest else None}


def by_group(rows: list[Determination], now: datetime) -> tuple[dict, dict]:
    """(measures, timeliness) for all requests and for each priority."""
    parts = {"all": rows, **{p: [r for r in rows if r.priority == p] for p in PRIORITIES}}
    return ({g: measure(part) for g, part in parts.items()},
            {g: timeliness(part, now, None if g == "all" else g) for g, part in parts.items()})


def build_report(rows: list[Determination], start: date, end: date, payer: str | None, generated: datetime,
                 payers: Iterable[str] = ()) -> dict:
    """The report as JSON: the period, the payer (or null for all), notes, each group's measures and
    timeliness, and the same for each payer (those named, and any found in the rows)."""
    groups, timely = by_group(rows, generated)
    each: dict[str, dict] = {}
    for pid in sorted(set(payers) | {r.payer for r in rows if r.payer}):
        measures, times = by_group([r for r in rows if r.payer == pid], generated)
        each[pid] = {"groups": measures, "timeliness": times}
    return {"report": "CMS-0057-F prior authorization metrics", "from": start.isoformat(), "to": end.isoformat(),
            "payer": payer, "generated": generated.isoformat(), "notes": NOTES, "groups": groups,
            "timeliness": timely, "payers": each}


def write_rows(writer, head: tuple, groups: dict, timely: dict) -> None:
    for group in GROUPS:
        values, times = groups[group], timely.get(group, {})
        for name in MEASURES:
            writer.writerow((*head, group, name, "" if values[name] is None else values[name]))
        for name in TIMELINESS:
            if name in times:
                writer.writerow((*head, group, name, "" if times[name] is None else times[name]))
        for code, count in values["reasons"].items():
            writer.writerow((*head, group, f"reason:{code}", count))


def report_csv(report: dict, by_payer: bool = False) -> str:
    """One row per (priority, measure), columns CSV_COLUMNS; reasons as measure `reason:<code>`; with
    `by_payer`, the same rows again for each payer (payer column = its id) after the report's own."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    dates = (report["from"], report["to"])
    write_rows(writer, (*dates, report["payer"] or "all"), report["groups"], report.get("timeliness", {}))
    for pid, part in report.get("payers", {}).items() if by_payer else ():
        write_rows(writer, (*dates, pid), part["groups"], part["timeliness"])
    return out.getvalue()
