"""Subscriptions (R4 Subscriptions Backport, PAS topic) and their notification outbox.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(256)),
        sa.Column("client_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("content", sa.String(16), nullable=False),
        sa.Column("org_filter", sa.String(256)),
        sa.Column("heartbeat_seconds", sa.Integer),
        sa.Column("timeout_seconds", sa.Integer),
        sa.Column("max_count", sa.Integer),
        sa.Column("end_at", sa.Float),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("error", sa.String(512)),
        sa.Column("last_sent_at", sa.Float),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("deleted_at", TS),
        sa.Column("resource", sa.JSON, nullable=False),
    )
    op.create_index("ix_subscriptions_owner", "subscriptions", ["owner"])
    op.create_index("ix_subscriptions_status", "subscriptions", ["status"])
    op.create_table(
        "subscription_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(64), sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("event_number", sa.Integer, nullable=False),
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("last_error", sa.String(512)),
    )
    op.create_index("ix_subscription_outbox_subscription_id", "subscription_outbox", ["subscription_id"])
    op.create_index("ix_subscription_outbox_state_due", "subscription_outbox", ["state", "due_at"])


def downgrade() -> None:
    op.drop_table("subscription_outbox")
    op.drop_table("subscriptions")
