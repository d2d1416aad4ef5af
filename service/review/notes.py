"""What the case page tells a reviewer beyond the criteria (issue 22): every decision with who made it and
their note, what the provider was told, data that disagree, and the next case to open."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from service.policies.concepts import CONCEPTS
from service.review.queue import STATES
from service.storage.peer import PeerStep, allowed_after
from service.storage.tables import ClaimEvent, ClaimResponseRow

WORDS = {"approve": "Approved", "deny": "Denied", "pend": "Pended", "cancel": "Cancelled"}
REVIEWER_NOTE = "Reviewer: "
OUTCOME_WORDS = {"upheld": "the decision was upheld", "overturned": "the decision was overturned",
                 "withdrawn": "the request for a peer-to-peer was withdrawn"}


@dataclass(frozen=True)
class NoteRow:
    """One entry of the case's story: when, who, what, and the words they wrote."""

    when: datetime | None
    who: str
    what: str
    note: str
    kind: str = "version"  # version | route | peer-to-peer


def reviewer_note(resource: dict) -> str:
    """The reviewer's own words on a version (the processNote pas/claimresponse.py writes as 'Reviewer: …')."""
    for note in resource.get("processNote") or ():
        text = note.get("text", "") if isinstance(note, dict) else ""
        if text.startswith(REVIEWER_NOTE):
            return text[len(REVIEWER_NOTE):]
    return ""


def case_story(history: list[ClaimResponseRow], trail: list[ClaimEvent],
               peer: Sequence[PeerStep] = ()) -> list[NoteRow]:
    """Every version, every hand-off and every peer-to-peer step, oldest first, each naming who made it."""
    actors = {(e.detail or {}).get("version"): e.actor for e in trail if isinstance(e.detail, dict)}
    rows = [NoteRow(h.created_at, actors.get(h.version) or ("the provider's system" if not h.human_reviewed else "—"),
                    version_words(h), reviewer_note(h.resource)) for h in history]
    rows += [NoteRow(e.created_at, e.actor or "—", STATES["physician"], (e.detail or {}).get("note", ""), "route")
             for e in trail if e.action == "route-to-physician"]
    rows += [NoteRow(p.recorded, p.actor or "—", step_words(p), p.note, "peer-to-peer") for p in peer]
    return sorted(rows, key=lambda r: (r.when is None, r.when))


def last_decision(story: list[NoteRow]) -> NoteRow | None:
    """The newest version in the story (what a letter names as the decision), not a later peer-to-peer step."""
    return next((r for r in reversed(story) if r.kind == "version"), None)


@dataclass(frozen=True)
class PeerView:
    """What the case page says of the peer-to-peer: its state in words and the steps it can take next."""

    state: str
    next_steps: tuple[str, ...]
    scheduled_with: str
    last: str = ""  # the last step recorded ("" for none)


def moment(text: str | None) -> datetime | None:
    """A stored step time (ISO 8601, UTC) as a datetime; None when absent or unreadable."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC) if text else None
    except ValueError:
        return None


def shown(text: str | None) -> str:
    found = moment(text)
    return found.strftime("%Y-%m-%d %H:%M UTC") if found else ""


def step_words(step: PeerStep) -> str:
    """'Peer-to-peer scheduled for 2026-11-27 14:30 UTC with Dr Rao', as the notes timeline says it."""
    with_ = f" with {step.with_}" if step.with_ else ""
    if step.step == "requested":
        return "Peer-to-peer requested" + (f" by {step.with_}" if step.with_ else "")
    if step.step == "scheduled":
        return f"Peer-to-peer scheduled for {shown(step.when) or 'a time not stated'}{with_}"
    if step.step == "held":
        return f"Peer-to-peer held{(' on ' + shown(step.when)) if step.when else ''}{with_}"
    return f"Peer-to-peer outcome: {OUTCOME_WORDS.get(step.outcome or '', step.outcome or 'not stated')}"


def peer_view(steps: list[PeerStep]) -> PeerView:
    """The current state (the last step's words, or none asked) and the next steps the form offers."""
    last = steps[-1] if steps else None
    scheduled = next((s.with_ for s in reversed(steps) if s.step == "scheduled" and s.with_), "")
    state = step_words(last) if last else "No peer-to-peer has been requested on this case."
    return PeerView(state, allowed_after(last), scheduled or "", last.step if last else "")


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


def option(concept: str, code: object) -> str:
    """A coded answer as the desk says it: 'positive', 'B-lymphoblastic lymphoma'."""
    words = CONCEPTS[concept].option_display(str(code)) if concept in CONCEPTS else str(code)
    return words.lower() if concept == "cd22-status" else words


def conflicts(summary: dict, answers: dict[str, object]) -> list[str]:
    """Where the chart in the request and the answers disagree (issue 22): the answered age against the birth
    date at receipt, the answered CD22 status and percent against a coded CD22 result, the answered diagnosis
    against the Bundle's Conditions."""
    found = []
    answered = answers.get("age-years")
    if summary.get("age_source", "").startswith("birth date") and isinstance(answered, (int, float)) \
            and summary.get("age") is not None and int(answered) != summary["age"]:
        found.append(f"The answered age ({answered:g}) differs from the age the birth date gives at receipt "
                     f"({summary['age']}).")
    chart = summary.get("chart") or {}
    status, lab = answers.get("cd22-status"), chart.get("cd22-status")
    if lab is not None and status in ("positive", "negative") and status != lab.value:
        stated = f", {lab.percent:g} %" if lab.percent is not None else ""
        found.append(f"Answered CD22 {option('cd22-status', status)}; the request's lab result ({lab.source}) "
                     f"says {lab.value}{stated}.")
    percent, lab = answers.get("cd22-percent"), chart.get("cd22-percent")
    if lab is not None and isinstance(percent, (int, float)) and not isinstance(percent, bool) \
            and abs(float(percent) - float(lab.value)) > 0.05:
        found.append(f"Answered {float(percent):g} % CD22-positive blasts; the request's lab result ({lab.source}) "
                     f"says {float(lab.value):g} %.")
    diagnosis, coded = answers.get("diagnosis"), chart.get("diagnosis")
    if coded is not None and isinstance(diagnosis, str) and diagnosis not in coded.all_values:
        found.append(f"Answered indication: {option('diagnosis', diagnosis)}; the request's diagnosis ({coded.source}) "
                     f"is coded as {option('diagnosis', coded.value)}.")
    return found
