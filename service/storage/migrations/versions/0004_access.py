"""Access control and timelines: who owns a claim, its priority and due time, when it was decided;
SMART app sessions shared by every worker; the access trail (FHIR AuditEvent) of patient data;
secrets every worker must share (token and cookie signing keys), made once by whichever starts first.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("owner", sa.String(256)))
        batch.add_column(sa.Column("priority", sa.String(16), nullable=False, server_default="standard"))
        batch.add_column(sa.Column("due_at", TS))
        batch.add_column(sa.Column("decided_at", TS))
    op.create_index("ix_claims_owner", "claims", ["owner"])
    op.create_table(
        "smart_sessions",
        sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the session id
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_smart_sessions_expires_at", "smart_sessions", ["expires_at"])
    op.create_table(
        "access_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("agent", sa.String(256), nullable=False),
        sa.Column("action", sa.String(1), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64)),
        sa.Column("outcome", sa.String(2), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_access_events_recorded_at", "access_events", ["recorded_at"])
    op.create_index("ix_access_events_agent", "access_events", ["agent"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_table("access_events")
    op.drop_table("smart_sessions")
    op.drop_index("ix_claims_owner", "claims")
    with op.batch_alter_table("claims") as batch:
        for column in ("decided_at", "due_at", "priority", "owner"):
            batch.drop_column(column)
