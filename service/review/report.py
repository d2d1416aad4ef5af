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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


@dataclass
class Tally:
    """One group's additive counts and the middle of its sorted times to decision: what the report is made of,
    counted from rows here (the reference) or in SQL (reporting.collect), then finished the same way."""

    requests: int = 0
    decisions: dict[str, int] = field(default_factory=dict)  # by decision code
    decided: int = 0
    seconds: int = 0  # the sum of whole seconds to decision
    within: int = 0
    open: int = 0
    open_past_due: int = 0
    oldest_open: datetime | None = None
    middle: tuple[int, int] | None = None  # the lower and upper middle seconds to decision (one value when odd)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        """Fold another group in (everything but the middle, which is counted per group)."""
        self.requests += other.requests
        for code, n in other.decisions.items():
            self.decisions[code] = self.decisions.get(code, 0) + n
        self.decided, self.seconds, self.within = (self.decided + other.decided, self.seconds + other.seconds,
                                                   self.within + other.within)
        self.open, self.open_past_due = self.open + other.open, self.open_past_due + other.open_past_due
        if other.oldest_open is not None and (self.oldest_open is None or other.oldest_open < self.oldest_open):
            self.oldest_open = other.oldest_open
        for code, n in other.reasons.items():
            self.reasons[code] = self.reasons.get(code, 0) + n


def limit_of(priority: str) -> int:
    """The decision timeframe in seconds (standard for anything not expedited)."""
    return int(TIMEFRAMES.get(priority, TIMEFRAMES["standard"]).total_seconds())


def middle_of(ordered: list[int]) -> tuple[int, int] | None:
    n = len(ordered)
    return (ordered[(n - 1) // 2], ordered[n // 2]) if n else None


def tally(rows: list[Determination], now: datetime | None = None) -> Tally:
    """Count one group of rows (open past due only with `now`)."""
    out = Tally(requests=len(rows))
    taken: list[int] = []
    for r in rows:
        out.decisions[r.decision] = out.decisions.get(r.decision, 0) + 1
        for code in r.reasons:
            out.reasons[code] = out.reasons.get(code, 0) + 1
        if r.decided is not None:
            taken.append(seconds_between(r.received, r.decided))
            out.within += taken[-1] <= limit_of(r.priority)
        elif r.decision == "pend":
            out.open += 1
            out.open_past_due += now is not None and seconds_between(r.received, now) > limit_of(r.priority)
            if out.oldest_open is None or r.received < out.oldest_open:
                out.oldest_open = r.received
    out.decided, out.seconds, out.middle = len(taken), sum(taken), middle_of(sorted(taken))
    return out


def mean_median(t: Tally, unit: int) -> tuple[float | None, float | None]:
    """Mean and median time to decision in `unit` seconds, unrounded (exact sums, no float accumulation)."""
    if not t.decided or t.middle is None:
        return None, None
    return t.seconds / t.decided / unit, (t.middle[0] + t.middle[1]) / 2 / unit


def measures(t: Tally) -> dict:
    """Every measure of one group, plus its counts by pa-criteria reason (most named first)."""
    out: dict = {"requests": t.requests}
    for code, word in DECISIONS.items():
        out[word], out[f"{word}_percent"] = t.decisions.get(code, 0), percent(t.decisions.get(code, 0), t.requests)
    for word in ("approved_after_appeal", "approved_extended_review"):
        out[word], out[f"{word}_percent"] = 0, percent(0, t.requests)
    mean, median = mean_median(t, 3600)
    out["decided"] = t.decided
    out["mean_hours_to_decision"] = None if mean is None else round(mean, 2)
    out["median_hours_to_decision"] = None if median is None else round(median, 2)
    out["reasons"] = dict(sorted(t.reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def timely(t: Tally, now: datetime, priority: str | None = None) -> dict:
    """Decided within the timeframe (share of those decided), open past due and the oldest open, as of `now`."""
    mean, median = mean_median(t, 1)
    oldest = t.oldest_open
    age = seconds_between(oldest, now) if oldest is not None else None
    return {"timeframe_hours": int(TIMEFRAMES[priority].total_seconds() // 3600) if priority in TIMEFRAMES else None,
            "decided_within_timeframe": t.within, "decided_within_timeframe_percent": percent(t.within, t.decided),
            "decided_past_timeframe": t.decided - t.within,
            "mean_seconds_to_decision": None if mean is None else round(mean, 1),
            "median_seconds_to_decision": None if median is None else round(median, 1),
            "open": t.open, "open_past_due": t.open_past_due,
            "oldest_open_received": oldest.astimezone(UTC).isoformat() if oldest is not None else None,
            "oldest_open_hours": round(age / 3600, 2) if age is not None else None,
            "oldest_open_seconds": age}


def measure(rows: list[Determination]) -> dict:
    """Every measure of one group of requests, plus counts by pa-criteria reason."""
    return measures(tally(rows))


def timeliness(rows: list[Determination], now: datetime, priority: str | None = None) -> dict:
    """Timeliness of one group of requests as of `now` (see timely)."""
    return timely(tally(rows, now), now, priority)


def assemble(group: Callable[[str | None, str], Tally], payer_ids: Iterable[str], start: date, end: date,
             payer: str | None, generated: datetime) -> dict:
    """The report as JSON from each group's tally (`group(payer or None for all, "all" or a priority)`)."""
    def both(pid: str | None) -> tuple[dict, dict]:
        tallies = {g: group(pid, g) for g in GROUPS}
        return ({g: measures(t) for g, t in tallies.items()},
                {g: timely(t, generated, None if g == "all" else g) for g, t in tallies.items()})

    groups, timely_all = both(None)
    each: dict[str, dict] = {}
    for pid in sorted(payer_ids):
        measured, times = both(pid)
        each[pid] = {"groups": measured, "timeliness": times}
    return {"report": "CMS-0057-F prior authorization metrics", "from": start.isoformat(), "to": end.isoformat(),
            "payer": payer, "generated": generated.isoformat(), "notes": NOTES, "groups": groups,
            "timeliness": timely_all, "payers": each}


def build_report(rows: list[Determination], start: date, end: date, payer: str | None, generated: datetime,
                 payers: Iterable[str] = ()) -> dict:
    """The report over rows in memory (the reference the SQL path is tested against): the period, the payer
    (or null for all), notes, each group's measures and timeliness, and the same for each payer (those
    named, and any found in the rows)."""
    def group(pid: str | None, name: str) -> Tally:
        return tally([r for r in rows if (pid is None or r.payer == pid) and name in ("all", r.priority)], generated)

    return assemble(group, set(payers) | {r.payer for r in rows if r.payer}, start, end, payer, generated)


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
