"""The audit page's words: one name per action, details decoded for people, the CSV export (no PHI, ever).

Events come from service.storage.desk.audit_search as (event, PA number, claim owner, ClaimResponse id).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from service.storage.tables import ClaimEvent

PAGE_SIZE = 50
CSV_LIMIT = 10_000  # one export; narrow the filters for more
# slug -> (words, stored action, outcome it must have, outcome it must not have): a reviewer's request for
# information is stored as action "review" with outcome "pend", a cancel as an update whose outcome is "cancel".
ACTIONS: dict[str, tuple[str, str, str | None, str | None]] = {
    "submit": ("submitted", "submit", None, None),
    "update": ("updated", "update", None, "cancel"),
    "cancel": ("cancelled", "update", "cancel", None),
    "approve": ("approved", "review", "approve", None),
    "deny": ("denied", "review", "deny", None),
    "request-info": ("asked for information", "review", "pend", None),
    "route-to-physician": ("routed to a physician reviewer", "route-to-physician", None, None),
    "peer-to-peer": ("recorded a peer-to-peer step", "peer-to-peer", None, None),
}
OUTCOMES = {"approve": "approved", "deny": "denied", "pend": "pended", "cancel": "cancelled"}
SUBMITTER = "pas-client"  # how storage logs a submission; the claim's owner names the client when known
# Detail keys never shown: they could name or point at a patient (the trail should hold none; this is the belt).
PRIVATE = ("patient", "member", "name", "birth", "dob", "ssn", "address", "phone", "email", "mrn", "identifier",
           "subscriber", "text")
CSV_COLUMNS = ("when", "action", "by", "outcome", "pa_number", "details")


@dataclass(frozen=True)
class AuditLine:
    """One event as the page and the export show it."""

    when: datetime
    action: str
    by: str
    outcome: str
    number: str
    response_id: str | None
    details: str


def action_words(action: str, outcome: str | None) -> str:
    """The action in words ("asked for information", not "pend"); an action not known here by its own name."""
    for words, stored, must, must_not in ACTIONS.values():
        if stored == action and (must is None or outcome == must) and (must_not is None or outcome != must_not):
            return words
    return action.replace("-", " ")


def actor_words(actor: str | None, owner: str | None) -> str:
    """Who did it: a reviewer or system by id; a submission by the client that owns the claim."""
    if actor == SUBMITTER:
        return owner or "unidentified PAS client (no client id: sign-in was off)"
    return actor or "—"


def detail_words(detail: dict | None, payers: dict[str, str]) -> str:
    """The stored detail in words; a reviewer's note (free text) is said to exist, not repeated here."""
    said: list[str] = []
    known = ("payer", "version", "to", "note")  # in this order, whatever order storage kept
    for key, value in sorted((detail or {}).items(), key=lambda kv: known.index(kv[0]) if kv[0] in known else 9):
        if key == "payer":
            said.append(f"payer {payers.get(str(value), value)}")
        elif key == "version":
            said.append(f"response version {value}")
        elif key == "to":
            said.append("to a physician reviewer" if value == "physician" else f"to {value}")
        elif key == "note":
            said.append("with a reviewer's note (on the case)" if value else "no note")
        elif any(word in key.lower() for word in PRIVATE) or isinstance(value, dict | list):
            continue
        elif value is not None:
            said.append(f"{key.replace('_', ' ')} {str(value)[:80]}")
    return "; ".join(said)


def audit_line(row: tuple[ClaimEvent, str | None, str | None, str | None], payers: dict[str, str]) -> AuditLine:
    event, number, owner, response_id = row
    return AuditLine(event.created_at, action_words(event.action, event.outcome), actor_words(event.actor, owner),
                     OUTCOMES.get(event.outcome or "", event.outcome or ""), number or "", response_id,
                     detail_words(event.detail, payers))


def cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv(lines: list[AuditLine]) -> str:
    """The filtered events as CSV (columns CSV_COLUMNS), times in ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow((line.when.isoformat(), *(cell(v) for v in (line.action, line.by, line.outcome, line.number,
                                                                      line.details))))
    return out.getvalue()
