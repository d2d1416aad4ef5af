"""The reviewer desk: reviewer accounts (argon2id hashes, lockout) and their server-side sessions.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("npi", sa.String(10)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
        sa.Column("locked_until", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS),
    )
    op.create_table(
        "reviewer_sessions",
        sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the cookie's token
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
    )
    op.create_index("ix_reviewer_sessions_reviewer_id", "reviewer_sessions", ["reviewer_id"])
    op.create_index("ix_reviewer_sessions_expires_at", "reviewer_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("reviewer_sessions")
    op.drop_table("reviewers")
