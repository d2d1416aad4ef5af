"""What the desk searches and the report counts, kept as columns (issues 22, 25): the patient's names
(claims.patient_name) and the current ClaimResponse's pa-criteria reason codes (claim_reasons), both
filled from the stored JSON for requests already here; whether a version's scoring found a criterion not met or excluding
(claim_responses.unmet; left empty for older versions, which the queue scores as before).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

from service.fhir.adjudication import reason_codes, search_name

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("patient_name", sa.String(256)))
    with op.batch_alter_table("claim_responses") as batch:
        batch.add_column(sa.Column("unmet", sa.Boolean()))
    op.create_table(
        "claim_reasons",
        sa.Column("claim_id", sa.String(64), sa.ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
    )
    op.create_index("ix_claim_reasons_code", "claim_reasons", ["code"])
    backfill(op.get_bind())


def backfill(bind) -> None:
    """Existing requests: names from the Bundle's Patient, reasons from the current version's JSON."""
    claims = sa.table("claims", sa.column("id"), sa.column("request", sa.JSON), sa.column("current_version"),
                      sa.column("patient_name"))
    responses = sa.table("claim_responses", sa.column("claim_id"), sa.column("version"),
                         sa.column("resource", sa.JSON))
    reasons = sa.table("claim_reasons", sa.column("claim_id"), sa.column("code"))
    rows = bind.execute(sa.select(claims.c.id, claims.c.request, responses.c.resource).join(
        responses, (responses.c.claim_id == claims.c.id) & (responses.c.version == claims.c.current_version)))
    for claim_id, request, resource in rows.all():
        patients = [e.get("resource") for e in (request or {}).get("entry", []) if isinstance(e, dict)
                    and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Patient"]
        name = search_name(patients[0]) if patients else None
        if name:
            bind.execute(sa.update(claims).where(claims.c.id == claim_id).values(patient_name=name))
        codes = reason_codes(resource or {})
        if codes:
            bind.execute(sa.insert(reasons), [{"claim_id": claim_id, "code": c} for c in codes])


def downgrade() -> None:
    op.drop_index("ix_claim_reasons_code", "claim_reasons")
    op.drop_table("claim_reasons")
    with op.batch_alter_table("claim_responses") as batch:
        batch.drop_column("unmet")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("patient_name")
