"""PAS repository: one claim per idempotency key, every ClaimResponse version kept (PAS 2.2)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from typing import cast as typed

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Insert,
    String,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    delete,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from service.errors import conflict, not_found
from service.fhir.adjudication import reason_codes
from service.storage.db import Storage, changed
from service.storage.subscriptions import enqueue_claim_event
from service.storage.tables import (
    Base,
    Claim,
    ClaimEvent,
    ClaimReason,
    ClaimResponseRow,
    QuestionnaireResponseRow,
    utcnow,
)

UNAUTHENTICATED = "unauthenticated client"  # the submitter when authorization is off (AUTH_DISABLED)


@dataclass(frozen=True)
class Stored:
    claim: Claim
    response: ClaimResponseRow
    created: bool = False


def find_by_claim_identifier(storage: Storage, key: str, owner: str | None) -> Stored | None:
    """The request a claim update names by its Claim.identifier (the caller's own, when isolated)."""
    return find_chain(storage, identifiers=[key], references=[], owner=owner)


def find_chain(storage: Storage, *, identifiers: Sequence[str], references: Sequence[str],
               owner: str | None) -> Stored | None:
    """The authorization chain a claim update names by any Claim of it (PAS claim-update Claim.related.claim):
    the first request's Claim as its claims row keeps it, each later one as the ClaimResponse version it
    produced records it (ClaimResponse.request). Identifiers before references; newest first; the
    caller's own when isolated."""
    with storage.sessions() as session:
        claim = (_named_first(session, Claim.claim_identifier.in_(identifiers), owner) if identifiers else None) \
            or _named_by_version(session, identifiers, [], owner) \
            or (_named_first(session, Claim.request_ref.in_(reference_keys(references)), owner) if references else None) \
            or _named_by_version(session, [], references, owner)
        return _current(session, claim) if claim else None


def reference_keys(references: Sequence[str]) -> list[str]:
    """References as the claims row keys them (Type/id, a urn as is)."""
    return [r if r.startswith("urn:") else "/".join(r.rstrip("/").split("/")[-2:]) for r in references]


def _named_first(session, condition, owner: str | None) -> Claim | None:
    query = select(Claim).where(condition).order_by(Claim.created_at.desc())
    if owner is not None:
        query = query.where(Claim.owner == owner)
    return session.scalars(query).first()


def _named_by_version(session, identifiers: Sequence[str], references: Sequence[str],
                      owner: str | None) -> Claim | None:
    """A chain whose stored versions answered a Claim with one of these identifier keys or references."""
    request = ClaimResponseRow.resource
    if identifiers:
        values = sorted({k.split("|", 1)[1] for k in identifiers if "|" in k})
        condition = request[("request", "identifier", "value")].as_string().in_(values)
    elif references:
        condition = request[("request", "reference")].as_string().in_(list(references))
    else:
        return None
    query = (select(ClaimResponseRow.claim_id, request[("request", "identifier", "system")].as_string(),
                    request[("request", "identifier", "value")].as_string())
             .join(Claim, Claim.id == ClaimResponseRow.claim_id).where(condition)
             .order_by(ClaimResponseRow.created_at.desc(), ClaimResponseRow.id.desc()))
    if owner is not None:
        query = query.where(Claim.owner == owner)
    for claim_id, system, value in session.execute(query):
        if not identifiers or f"{system or ''}|{value}" in identifiers:
            return session.get(Claim, claim_id)
    return None


def find_update(storage: Storage, key: str) -> Stored | None:
    """The version a claim update with this idempotency key made, for replaying a retried update."""
    with storage.sessions() as session:
        row = session.scalar(select(ClaimResponseRow).where(ClaimResponseRow.source_key == key))
        if row is None:
            return None
        claim = session.get(Claim, row.claim_id)
        return Stored(claim, row) if claim else None


def find_by_key(storage: Storage, key: str) -> Stored | None:
    """The claim stored under an idempotency key with its current ClaimResponse."""
    with storage.sessions() as session:
        claim = session.scalar(select(Claim).where(Claim.idempotency_key == key))
        return _current(session, claim) if claim else None


def _current(session, claim: Claim) -> Stored:
    row = session.scalar(select(ClaimResponseRow).where(
        ClaimResponseRow.claim_id == claim.id, ClaimResponseRow.version == claim.current_version))
    return Stored(claim, row)


def save_submission(storage: Storage, *, claim: dict, questionnaire: dict | None, response: dict) -> Stored:
    """Store claim, answers and determination v1 in one transaction; a duplicate key replays.

    `response` holds resource, decision, review_code, auth_number. Under concurrent retries the
    unique idempotency key lets exactly one insert win; the losers read the winner's row.
    """
    # The writer lock before a connection, in the order Storage.write() takes them (the other order
    # deadlocks once every pooled connection waits on the lock).
    with storage.write_lock, storage.engine.connect() as conn:
        return _insert_submission(conn, claim, questionnaire, response)


def submit_once(storage: Storage, key: str, build: Callable[[], dict]) -> Stored:
    """The determination stored under `key` (a claim's idempotency key, else the update version that
    recorded it as its source_key); else `build()`'s claim, questionnaire and response stored as v1.

    Issue 25: one indexed lookup, Core inserts and one commit; `build` runs only for a key never seen.
    PostgreSQL keeps one connection and transaction from lookup to commit (no writer lock: the unique
    index decides); SQLite builds outside its writer lock, then takes the lock and a connection.
    """
    with storage.engine.connect() as conn:
        found = conn.execute(KNOWN, {"key": key}).first()
        if found is not None:
            return _load(conn, found.claim_id, found.row_id)
        if storage.engine.dialect.name != "sqlite":
            return _insert_submission(conn, **build())
    return save_submission(storage, **build())


CLAIMS, VERSIONS = typed(Table, Claim.__table__), typed(Table, ClaimResponseRow.__table__)
KEY = bindparam("key", type_=String)
# The claim stored under an idempotency key and its current version's row id (unique index).
BY_KEY = (select(literal_column("0").label("rank"), CLAIMS.c.id.label("claim_id"), VERSIONS.c.id.label("row_id"))
          .select_from(CLAIMS.outerjoin(VERSIONS, (VERSIONS.c.claim_id == CLAIMS.c.id)
                                        & (VERSIONS.c.version == CLAIMS.c.current_version)))
          .where(CLAIMS.c.idempotency_key == KEY))
# find_by_key, then find_update, in one statement: two unique-index lookups. Built once (issue 25).
KNOWN = union_all(BY_KEY, select(literal_column("1").label("rank"), VERSIONS.c.claim_id,
                                 VERSIONS.c.id.label("row_id")).where(VERSIONS.c.source_key == KEY)
                  ).order_by("rank").limit(1)


class CompactJSON(TypeDecorator):
    """A JSON value written by orjson, the parser the service reads bodies with: the standard library's
    encoder was the write path's largest serialisation cost (issue 25). Reads keep the column's JSON type."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else orjson.dumps(value).decode()


@cache
def inserts(dialect: str) -> dict[type[Base], Insert]:
    """Each table's INSERT, built once per dialect, its JSON columns bound as CompactJSON (PostgreSQL casts
    the text to json; SQLite stores JSON as text)."""
    def json_value(column):
        param = bindparam(column.key, type_=CompactJSON())
        return cast(param, JSON) if dialect == "postgresql" else param
    return {model: insert(model).values({c.key: json_value(c) for c in json_columns(model)})
            for model in (Claim, QuestionnaireResponseRow, ClaimResponseRow, ClaimReason, ClaimEvent)}


@cache
def json_columns(model: type[Base]) -> tuple[Column, ...]:
    return tuple(c for c in typed(Table, model.__table__).c if isinstance(c.type, JSON))


def _load(conn: Connection, claim_id: str, row_id: int | None) -> Stored:
    """A stored claim and one of its versions by primary key, as detached objects (no session)."""
    claim = conn.execute(select(CLAIMS).where(CLAIMS.c.id == claim_id)).one()
    row = None if row_id is None else conn.execute(select(VERSIONS).where(VERSIONS.c.id == row_id)).one()
    # A claim whose current version is missing replays as it did from the ORM: with no response.
    return Stored(Claim(**claim._mapping), None if row is None else ClaimResponseRow(**row._mapping))  # type: ignore[arg-type]


def _insert(conn: Connection, model: type[Base], values: dict):
    # Every JSON column is a bound parameter: one not given is NULL, as an unset ORM attribute was.
    absent = {c.key: None for c in json_columns(model) if c.key not in values}
    return conn.execute(inserts(conn.dialect.name)[model], {**absent, **values})


def _insert_one(conn: Connection, model: type[Base], values: dict) -> dict:
    """One row inserted (Core): its values as stored, column defaults applied, generated key included."""
    result = _insert(conn, model, values)
    key = result.inserted_primary_key
    return {**typed(Mapping[str, Any], result.last_inserted_params()), **(key._mapping if key is not None else {})}


def _insert_submission(conn: Connection, claim: dict, questionnaire: dict | None, response: dict) -> Stored:
    """The inserts of a new request, committed before returning; a duplicate idempotency key reads the
    winner's rows instead (the unique index decides between concurrent retries). SQLite: under its lock."""
    # The caller's receipt time (whole seconds, as decided_at is) so the report never reads a
    # decision as made before its receipt (issue 22).
    now = utcnow()
    values = {"created_at": now, **claim, "current_version": 1}
    try:
        params = _insert_one(conn, Claim, values)
        claim_id = params["id"]
        if questionnaire is not None:  # PAS does not require DTR
            _insert(conn, QuestionnaireResponseRow, {"claim_id": claim_id, "created_at": now,
                                                            **questionnaire})
        version = _insert_one(conn, ClaimResponseRow, {"claim_id": claim_id, "response_id": params["response_id"],
                                               "version": 1, "created_at": now, "human_reviewed": False,
                                               **response})
        reasons = [{"claim_id": claim_id, "code": c} for c in reason_codes(version["resource"])]
        if reasons:  # one executemany (one multi-row INSERT where the driver batches)
            conn.execute(inserts(conn.dialect.name)[ClaimReason], reasons)
        _insert(conn, ClaimEvent, {
            "created_at": now, "action": "submit", "claim_id": claim_id,
            "actor": params.get("owner") or UNAUTHENTICATED, "outcome": params["decision"],
            "detail": {"payer": params["payer_id"], "version": 1}})
        conn.commit()
        return Stored(Claim(**params), ClaimResponseRow(**version), created=True)
    except IntegrityError as exc:
        conn.rollback()
        collided = exc
    found = conn.execute(BY_KEY, {"key": claim["idempotency_key"]}).first()
    if found is None:  # a different unique column collided: a genuine fault
        raise collided
    return _load(conn, found.claim_id, found.row_id)


def get_response(storage: Storage, response_id: str, version: int | None = None, *, owner: str | None = None) -> Stored | None:
    """A ClaimResponse by id: the current version, or a given one from history; with `owner`, only
    that client's or organization's (another's is as unknown as a missing one)."""
    query = select(Claim).where(Claim.response_id == response_id)
    if owner is not None:
        query = query.where(Claim.owner == owner)
    with storage.sessions() as session:
        claim = session.scalar(query)
        if claim is None:
            return None
        if version is None:
            return _current(session, claim)
        row = session.scalar(select(ClaimResponseRow).where(
            ClaimResponseRow.claim_id == claim.id, ClaimResponseRow.version == version))
        return Stored(claim, row) if row else None


def search(storage: Storage, *, patient_ref: str | None = None, request_ref: str | None = None,
           member_keys: list[str] | None = None, decision: str | None = None,
           owner: str | None = None, limit: int = 100) -> list[Stored]:
    """Claims with their current response, filtered by any of the given keys, newest first."""
    query = select(Claim).order_by(Claim.created_at.desc()).limit(limit)
    if owner is not None:
        query = query.where(Claim.owner == owner)
    if patient_ref:
        query = query.where(Claim.patient_ref == patient_ref)
    if request_ref:
        query = query.where(Claim.request_ref == request_ref)
    if member_keys is not None:
        query = query.where(Claim.member_key.in_(member_keys))
    if decision:
        query = query.where(Claim.decision == decision)
    with storage.sessions() as session:
        return [_current(session, c) for c in session.scalars(query).all()]


def add_review(storage: Storage, response_id: str, actor: str, build: Callable[[Stored], dict], *,
               human: bool = True, action: str = "review", request: dict | None = None,
               request_hash: str | None = None, questionnaire: dict | None = None,
               source_key: str | None = None) -> Stored:
    """Append a new ClaimResponse version (a reviewer's decision, or a provider's update re-scored);
    compare-and-set on current_version so two writers never race. Subscribers are told in the same
    transaction (an outbox row each), so a stored change is never left unannounced.

    `build(current)` returns resource, decision, review_code, auth_number for the new version; an
    update also replaces the stored request and adds its QuestionnaireResponse.
    """
    current = get_response(storage, response_id)
    if current is None:
        raise not_found(f"ClaimResponse/{response_id}")
    fields = build(current)
    version, now = current.claim.current_version + 1, utcnow()
    changes: dict = {"current_version": version, "decision": fields["decision"],
                     "decided_at": current.claim.decided_at or (now if fields["decision"] != "pend" else None)}
    if request is not None:
        changes.update(request=request, request_hash=request_hash)
    try:
        with storage.write() as session:
            moved = session.execute(
                update(Claim).where(Claim.id == current.claim.id, Claim.current_version == version - 1)
                .values(**changes))
            if changed(moved) != 1:
                raise conflict("the determination changed while it was being reviewed")
            session.add(ClaimResponseRow(claim_id=current.claim.id, response_id=response_id, version=version,
                                         created_at=now, human_reviewed=human, source_key=source_key, **fields))
            if questionnaire is not None:
                session.add(QuestionnaireResponseRow(claim_id=current.claim.id, created_at=now, **questionnaire))
            # The reasons are the current version's: replaced, never accumulated.
            session.execute(delete(ClaimReason).where(ClaimReason.claim_id == current.claim.id))
            session.add_all(ClaimReason(claim_id=current.claim.id, code=c) for c in reason_codes(fields["resource"]))
            session.add(ClaimEvent(created_at=now, action=action, claim_id=current.claim.id,
                                   actor=actor, outcome=fields["decision"], detail={"version": version}))
            enqueue_claim_event(session, owner=current.claim.owner, response_id=response_id, version=version)
    except IntegrityError:
        raise conflict("another version was stored first") from None
    stored = get_response(storage, response_id)
    assert stored is not None  # just written
    return stored


def history(storage: Storage, response_id: str) -> list[ClaimResponseRow]:
    with storage.sessions() as session:
        return list(session.scalars(select(ClaimResponseRow).where(
            ClaimResponseRow.response_id == response_id).order_by(ClaimResponseRow.version)))
