"""One session table for the SMART app and the reviewer desk (issue 27): web_sessions replaces smart_sessions
(float expiry) and reviewer_sessions (datetime expiry). Sessions are short-lived and are not carried over:
everyone signs in (or launches the app) again after the upgrade.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the cookie's random id
        sa.Column("app", sa.String(8), nullable=False),  # "smart" | "desk"
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE")),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
    )
    op.create_index("ix_web_sessions_reviewer_id", "web_sessions", ["reviewer_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.drop_table("smart_sessions")  # its index goes with it
    op.drop_table("reviewer_sessions")


def downgrade() -> None:
    """The two tables of 0004 and 0005, empty: sessions are not carried back either."""
    op.create_table(
        "smart_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_smart_sessions_expires_at", "smart_sessions", ["expires_at"])
    op.create_table(
        "reviewer_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
    )
    op.create_index("ix_reviewer_sessions_reviewer_id", "reviewer_sessions", ["reviewer_id"])
    op.create_index("ix_reviewer_sessions_expires_at", "reviewer_sessions", ["expires_at"])
    op.drop_table("web_sessions")
