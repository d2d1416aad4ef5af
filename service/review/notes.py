"""What the case page tells a reviewer beyond the criteria (issue 22): every decision with who made it and
their note, what the provider was told, data that disagree, and the next case to open."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.review.queue import STATES
from service.storage.tables import ClaimEvent, ClaimResponseRow

WORDS = {"approve": "Approved", "deny": "Denied", "pend": "Pended", "cancel": "Cancelled"}
REVIEWER_NOTE = "Reviewer: "


@dataclass(frozen=True)
class NoteRow:
    """One entry of the case's story: when, who, what, and the words they wrote."""

    when: datetime | None
    who: str
    what: str
    note: str


def reviewer_note(resource: dict) -> str:
    """The reviewer's own words on a version (the processNote pas/claimresponse.py writes as 'Reviewer: …')."""
    for note in resource.get("processNote") or ():
        text = note.get("text", "") if isinstance(note, dict) else ""
        if text.startswith(REVIEWER_NOTE):
            return text[len(REVIEWER_NOTE):]
    return ""


def case_story(history: list[ClaimResponseRow], trail: list[ClaimEvent]) -> list[NoteRow]:
    """Every version and every hand-off, oldest first, each naming who made it (the trail's actor)."""
    actors = {(e.detail or {}).get("version"): e.actor for e in trail if isinstance(e.detail, dict)}
    rows = [NoteRow(h.created_at, actors.get(h.version) or ("the provider's system" if not h.human_reviewed else "—"),
                    version_words(h), reviewer_note(h.resource)) for h in history]
    rows += [NoteRow(e.created_at, e.actor or "—", STATES["physician"], (e.detail or {}).get("note", ""))
             for e in trail if e.action == "route-to-physician"]
    return sorted(rows, key=lambda r: (r.when is None, r.when))


def version_words(row: ClaimResponseRow) -> str:
    what = WORDS.get(row.decision, row.decision)
    if row.version == 1:
        return f"{what} on receipt (version 1)"
    if row.human_reviewed:
        return f"{'Information requested' if row.decision == 'pend' else what} on review (version {row.version})"
    return f"{what} after the provider's update (version {row.version})"


def provider_told(resource: dict) -> list[str]:
    """What the provider received: the disposition, then each note, as the ClaimResponse says them."""
    told = [resource["disposition"]] if resource.get("disposition") else []
    return told + [n["text"] for n in resource.get("processNote") or () if isinstance(n, dict) and n.get("text")]


def conflicts(summary: dict, answers: dict[str, object]) -> list[str]:
    """Where the chart and the answers disagree (the answered age against the birth date at receipt)."""
    found = []
    answered = answers.get("age-years")
    if summary.get("age_source", "").startswith("birth date") and isinstance(answered, (int, float)) \
            and summary.get("age") is not None and int(answered) != summary["age"]:
        found.append(f"The answered age ({answered:g}) differs from the age the birth date gives at receipt "
                     f"({summary['age']}).")
    return found
