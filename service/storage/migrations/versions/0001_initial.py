"""Initial tables: claims, questionnaire_responses, claim_responses, audit_events, hook log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("idempotency_key", sa.String(512), nullable=False, unique=True),
        sa.Column("payer_id", sa.String(64), nullable=False),
        sa.Column("claim_identifier", sa.String(512)),
        sa.Column("patient_ref", sa.String(256)),
        sa.Column("provider_ref", sa.String(256)),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("response_id", sa.String(64), nullable=False, unique=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
    )
    op.create_index("ix_claims_claim_identifier", "claims", ["claim_identifier"])
    op.create_index("ix_claims_patient_ref", "claims", ["patient_ref"])
    op.create_index("ix_claims_decision", "claims", ["decision"])
    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(64), sa.ForeignKey("claims.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("questionnaire", sa.String(512), nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("resource", sa.JSON, nullable=False),
    )
    op.create_index("ix_questionnaire_responses_claim_id", "questionnaire_responses", ["claim_id"])
    op.create_table(
        "claim_responses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(64), sa.ForeignKey("claims.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("review_code", sa.String(8), nullable=False),
        sa.Column("auth_number", sa.String(64)),
        sa.Column("human_reviewed", sa.Boolean, nullable=False),
        sa.Column("resource", sa.JSON, nullable=False),
        sa.UniqueConstraint("claim_id", "version", name="uq_claim_responses_version"),
    )
    op.create_index("ix_claim_responses_claim_id", "claim_responses", ["claim_id"])
    op.create_index("ix_claim_responses_response_id", "claim_responses", ["response_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("claim_id", sa.String(64)),
        sa.Column("actor", sa.String(128)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_events_claim_id", "audit_events", ["claim_id"])
    op.create_table(
        "hook_call",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("hook_instance", sa.String(128)),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("hook", sa.String(64)),
        sa.Column("payer_id", sa.String(64)),
        sa.Column("orders_matched", sa.Integer, nullable=False),
        sa.Column("answer", sa.JSON),
        sa.Column("latency_ms", sa.Float),
        sa.Column("status_code", sa.Integer),
    )
    op.create_index("ix_hook_call_service_id", "hook_call", ["service_id"])
    op.create_table(
        "hook_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("card_id", sa.String(128)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("payload", sa.JSON),
    )
    op.create_index("ix_hook_feedback_service_id", "hook_feedback", ["service_id"])


def downgrade() -> None:
    for table in ("hook_feedback", "hook_call", "audit_events", "claim_responses",
                  "questionnaire_responses", "claims"):
        op.drop_table(table)
